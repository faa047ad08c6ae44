//! Builds the application on a listener and runs it until it is told to stop.
//!
//! The server takes its listener, so tests bind port 0 and learn the port;
//! `tanba serve` binds the configured address. SIGINT and SIGTERM start a
//! graceful shutdown: no new connections, requests in flight finish (up to
//! `shutdown_timeout_secs`), then the scan recorder writes what it holds,
//! then the database pool closes.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use tracing_actix_web::TracingLogger;

use crate::error::{self, ApiError};
use crate::settings::Settings;
pub use crate::state::AppState;
use crate::store::Store;
use crate::{keys, routes};

/// A built application, bound and ready to run.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    store: Store,
    cards: Arc<crate::cache::CardCache>,
    scans: Arc<crate::scans::ScanRecorder>,
    scan_writer: Option<crate::scans::ScanWriter>,
    shutdown_timeout: std::time::Duration,
    worker: Option<tokio::task::JoinHandle<()>>,
    document_worker: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Binds `settings.listen` and builds the application.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let addr = settings.listen_addr()?;
        let listener =
            TcpListener::bind(addr).with_context(|| format!("binding {addr} (is it in use?)"))?;
        Self::build_on(settings, listener).await
    }

    /// Builds the application on a listener the caller bound.
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let eds = crate::auth::eds::Verifier::load(&settings.eds_trust_roots, &settings.eds_crls)
            .context("loading the EDS trust store")?;
        let store = Store::connect(&settings).await?;
        let emission_key =
            keys::load_or_generate(&settings.emission_key_file, settings.emission_key_generate)?;
        store
            .register_emission_key(&emission_key.public().entry())
            .await
            .context("registering the emission key")?;
        let addr = listener.local_addr()?;
        let shutdown_timeout = settings.shutdown_timeout_secs;
        let max_body = settings.max_body_bytes;
        let emission_key = Arc::new(emission_key);
        let emission = crate::emission::Emission::default();
        let worker = settings
            .emission_worker
            .then(|| emission.spawn(store.clone(), emission_key.clone()));
        // One connection for the cache and the sightings. Start-up waits for
        // one connection attempt (at most `redis_timeout_ms`); scans never do.
        let redis = match &settings.redis_url {
            Some(url) => Some(
                crate::redis_link::RedisLink::connect(
                    url,
                    &settings.redis_prefix,
                    std::time::Duration::from_millis(settings.redis_timeout_ms),
                )
                .await
                .context("setting up Redis")?,
            ),
            None => None,
        };
        let cards = Arc::new(crate::cache::CardCache::from_settings(
            &settings,
            redis.clone(),
        ));
        let sightings = Arc::new(crate::sightings::Sightings::from_settings(&settings, redis));
        // Always on: it also finishes documents a stop or crash left
        // IN_PROGRESS (each is applied in one transaction, so redoing is safe).
        let documents = crate::documents::worker::Documents::default();
        let document_worker = documents.spawn(store.clone(), cards.clone());
        let (scans, scan_writer) = if settings.scan_record {
            let (recorder, writer) =
                crate::scans::ScanRecorder::start(store.clone(), settings.scan_record_queue);
            (Arc::new(recorder), Some(writer))
        } else {
            (Arc::new(crate::scans::ScanRecorder::disabled()), None)
        };
        let scan_keys = Arc::new(
            crate::cache::ScanKeys::load(&store)
                .await
                .context("loading emission keys for scans")?,
        );
        let report_limits = Arc::new(crate::reports::limits::ReportLimits::new(
            settings.report_limit_per_ip_per_hour,
            settings.report_limit_per_device_per_hour,
        ));
        let state = web::Data::new(AppState {
            settings,
            store: store.clone(),
            emission_key,
            emission,
            documents,
            eds: Arc::new(eds),
            reference: crate::reference::Reference::sync_and_load(&store)
                .await
                .context("loading reference data")?,
            cards: cards.clone(),
            sightings,
            scans: scans.clone(),
            scan_keys,
            report_limits,
            photos: crate::reports::photos::PhotoWorker::start()
                .context("starting the photo worker thread")?,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .error_handler(|err, _req| json_error(err).into()),
                )
                .app_data(web::PayloadConfig::default().limit(max_body))
                .wrap(from_fn(error::localize))
                .wrap(TracingLogger::default())
                // The scan first: the router tries routes in order, and the
                // scan is most of the traffic (each dynamic pattern before it
                // costs a regex match per request).
                // A code's history between the two scans: before the app's
                // scan, whose `{code:.*}` would take `/history` as part of
                // the code, and after the Digital Link scan, which so pays
                // for no pattern but its own.
                .configure(routes::codes::configure_digital_link)
                .configure(routes::documents::configure_history)
                .configure(routes::codes::configure_scan)
                .service(routes::health::health)
                .service(routes::keys::keys)
                .configure(routes::auth::configure)
                .configure(routes::participants::configure)
                .configure(routes::reference::configure)
                .configure(routes::products::configure)
                .configure(routes::orders::configure)
                .configure(routes::reports::configure)
                .configure(routes::inspections::configure)
                .configure(routes::documents::configure)
                .configure(routes::packages::configure)
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(shutdown_timeout)
        .listen(listener)?
        .run();
        tracing::info!(%addr, database = ?store.kind(), "tanba listening");
        Ok(Self {
            addr,
            server,
            store,
            cards,
            scans,
            scan_writer,
            // The writer's own grace period: at least a few seconds even when
            // requests get none, so that a stop still writes the queue.
            shutdown_timeout: std::time::Duration::from_secs(shutdown_timeout.max(5)),
            worker,
            document_worker,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The scan cache, e.g. to read its counters in tests.
    pub fn cards(&self) -> Arc<crate::cache::CardCache> {
        self.cards.clone()
    }

    /// The scan recorder, e.g. to read its counters in tests.
    pub fn scans(&self) -> Arc<crate::scans::ScanRecorder> {
        self.scans.clone()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A handle that stops the server gracefully, as SIGTERM does.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await.context("running the HTTP server")?;
        // A chunk in flight is one transaction: stopping here loses at most
        // that chunk, which the next start makes again.
        if let Some(worker) = self.worker {
            worker.abort();
            let _ = worker.await;
        }
        // A document in flight is one transaction: stopping here loses it
        // whole, and the next start processes it again.
        self.document_worker.abort();
        let _ = self.document_worker.await;
        // The requests in flight have finished: every scan they answered is
        // queued. Write the queue before the pool closes.
        if let Some(writer) = self.scan_writer {
            writer.finish(self.shutdown_timeout).await;
        }
        self.store.close().await;
        tracing::info!("tanba stopped");
        Ok(())
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as J;
    use actix_web::http::StatusCode;
    match err {
        J::OverflowKnownLength { length, limit } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
                .arg("limit", limit)
                .arg("length", length)
        }
        J::Overflow { limit } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .arg("limit", limit)
            .arg("length", "?"),
        J::ContentType => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json"),
        other => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", other),
    }
}
