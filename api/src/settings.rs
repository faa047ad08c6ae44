//! Typed settings of the service: defaults, then an optional TOML file, then
//! `TANBA_…` environment variables, then command-line flags; validated once at
//! start-up with messages that name the key.
//!
//! The defaults are the embedded configuration a newcomer gets from
//! `tanba serve`: SQLite in a file in the working directory, an emission key
//! generated next to it on first start, logs for a human.
//!
//! Settings are passed into the application, never read from a global, so a
//! test can start as many differently configured services as it likes.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for a log collector.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on. `TANBA_LISTEN`, `--listen`.
    pub listen: String,
    /// `sqlite://FILE` (created when missing) or `postgres://…`.
    /// `TANBA_DATABASE_URL`.
    pub database_url: String,
    /// Upper bound on pooled database connections.
    pub database_max_connections: u32,
    /// The operator's private emission key (JSON, mode 0600). Generated on
    /// first start when `emission_key_generate` is on and the file is missing.
    pub emission_key_file: PathBuf,
    /// Generate the emission key file when it is missing. Off in production,
    /// where keys are made by `tanba keys generate` under the operator's control.
    pub emission_key_generate: bool,
    /// Public base of GS1 Digital Link URIs, e.g. `https://id.tanba.kz`.
    pub public_base_url: String,
    /// `json` or `pretty`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `tanba_api=debug,info`.
    pub log_filter: String,
    /// Seconds the server waits for requests in flight when asked to stop.
    pub shutdown_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest document body (`POST /v1/documents`), in bytes: a shipment
    /// lists every code, about 100 bytes each, so the default of 64 MiB
    /// carries some 600,000 codes.
    pub document_max_bytes: usize,
    /// PEM files of the certificate authorities whose EDS certificates are
    /// trusted for sign-in and documents (the national CA in production, a
    /// test CA in tests).
    pub eds_trust_roots: Vec<PathBuf>,
    /// PEM files of certificate revocation lists of those authorities.
    pub eds_crls: Vec<PathBuf>,
    /// Lifetime of a bearer token, in seconds.
    pub session_ttl_secs: u64,
    /// Run the emission worker in this process (fills orders with codes).
    pub emission_worker: bool,
    /// Redis for the scan cache, e.g. `redis://127.0.0.1:6379`
    /// (`TANBA_REDIS_URL`). Unset: an in-process cache. Never the source of
    /// truth: with Redis down, scans are answered from the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key Tanba writes, so that several services (or
    /// test runs) can share one Redis.
    pub redis_prefix: String,
    /// Seconds a scanned code's card stays cached.
    pub cache_ttl_secs: u64,
    /// Seconds "no such code" stays cached: short, so a code emitted just
    /// after a scan is found soon, yet a flood of scans of a made-up code
    /// does not reach the database each time.
    pub cache_not_found_secs: u64,
    /// Most codes held by the in-process cache (and as many product cards,
    /// and as many codes' recent sightings).
    pub cache_capacity: u64,
    /// Violation reports (`POST /v1/reports`) one client address may send
    /// in an hour, as a burst or spread out. Generous enough for a shop's
    /// or a campus's shared address; the device limit is the tight one.
    pub report_limit_per_ip_per_hour: u32,
    /// Violation reports one device (header `X-Device-Id`, sent by the app)
    /// may send in an hour.
    pub report_limit_per_device_per_hour: u32,
    /// Longest time, in seconds, a client may take to send one violation
    /// report's upload (up to 5 photos). A client that sends slower is
    /// answered 408 and its upload slot goes to the next report: 16 slow
    /// senders cannot hold every slot. Two minutes carry 50 MB at about
    /// 3.5 Mbit/s, a weak mobile uplink.
    pub report_upload_timeout_secs: u64,
    /// Longest wait, in milliseconds, for a Redis connect or command. A scan
    /// never waits for a connect (that happens in the background); a
    /// command that takes longer is given up, and the database answers.
    pub redis_timeout_ms: u64,
    /// Record every scan in the scans table (written behind the answer, in
    /// batches). Off: nothing is recorded; clone detection still works, it
    /// does not read the table.
    pub scan_record: bool,
    /// Scan records that may wait in memory for the writer. When the queue
    /// is full (the database is slow or down), new records are dropped and
    /// counted; the scan is answered all the same.
    pub scan_record_queue: usize,
    /// A code scanned from two places further apart than this, in
    /// kilometres, within `clone_window_secs`, is `suspected_clone`.
    pub clone_distance_km: u32,
    /// The window of the rule above, in seconds. With the defaults (300 km
    /// within an hour) a genuine product would have to travel faster than
    /// any car or train, door to door faster than a flight.
    pub clone_window_secs: u64,
    /// Reverse proxies and load balancers whose `X-Forwarded-For` is
    /// believed: addresses or networks (`10.0.0.0/8`), a list in the file or
    /// comma-separated in `TANBA_TRUSTED_PROXIES`. Empty (the default): the
    /// client's address is the connection's peer and the header is ignored,
    /// since anyone can write it. The address goes into the audit log and
    /// keys the per-address rate limits.
    pub trusted_proxies: TrustedProxies,
}

/// The networks of [`Settings::trusted_proxies`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind a chain of proxies: the connection's `peer`, or,
    /// when the peer is trusted, the nearest address in `forwarded`
    /// (`X-Forwarded-For` entries, oldest first, as each proxy appends the
    /// one it heard from) that is not itself trusted. A malformed entry ends
    /// the walk at the last trusted hop: what lies before it was written by
    /// someone nobody vouches for.
    pub fn client<'a>(
        &self,
        peer: std::net::IpAddr,
        forwarded: impl DoubleEndedIterator<Item = &'a str>,
    ) -> std::net::IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded.rev() {
            let Ok(ip) = hop.trim().parse::<std::net::IpAddr>() else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            List(Vec<String>),
            Text(String),
        }
        let items = match Given::deserialize(d)? {
            Given::List(items) => items,
            Given::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        items
            .iter()
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        serde::de::Error::custom(format!(
                            "{item:?} is not an address or a network such as 10.0.0.0/8"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            database_url: "sqlite://tanba.db".to_owned(),
            database_max_connections: 16,
            emission_key_file: PathBuf::from("tanba-emission.key"),
            emission_key_generate: true,
            public_base_url: "https://id.tanba.kz".to_owned(),
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            shutdown_timeout_secs: 10,
            max_body_bytes: 1 << 20,
            document_max_bytes: 64 << 20,
            eds_trust_roots: Vec::new(),
            eds_crls: Vec::new(),
            session_ttl_secs: 3600,
            emission_worker: true,
            redis_url: None,
            redis_prefix: "tanba:".to_owned(),
            cache_ttl_secs: 300,
            cache_not_found_secs: 30,
            cache_capacity: 100_000,
            report_limit_per_ip_per_hour: 20,
            report_limit_per_device_per_hour: 5,
            report_upload_timeout_secs: 120,
            redis_timeout_ms: 500,
            scan_record: true,
            scan_record_queue: 65_536,
            clone_distance_km: 300,
            clone_window_secs: 3600,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

// The database URL may carry a password: never print it whole.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database", &self.database_kind())
            .field("database_max_connections", &self.database_max_connections)
            .field("emission_key_file", &self.emission_key_file)
            .field("emission_key_generate", &self.emission_key_generate)
            .field("public_base_url", &self.public_base_url)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("document_max_bytes", &self.document_max_bytes)
            .field("eds_trust_roots", &self.eds_trust_roots)
            .field("eds_crls", &self.eds_crls)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("emission_worker", &self.emission_worker)
            // The URL may carry a password.
            .field("redis", &self.redis_url.as_ref().map(|_| "set"))
            .field("redis_prefix", &self.redis_prefix)
            .field("cache_ttl_secs", &self.cache_ttl_secs)
            .field("cache_not_found_secs", &self.cache_not_found_secs)
            .field("cache_capacity", &self.cache_capacity)
            .field(
                "report_limit_per_ip_per_hour",
                &self.report_limit_per_ip_per_hour,
            )
            .field(
                "report_limit_per_device_per_hour",
                &self.report_limit_per_device_per_hour,
            )
            .field(
                "report_upload_timeout_secs",
                &self.report_upload_timeout_secs,
            )
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("scan_record", &self.scan_record)
            .field("scan_record_queue", &self.scan_record_queue)
            .field("clone_distance_km", &self.clone_distance_km)
            .field("clone_window_secs", &self.clone_window_secs)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// A setting that cannot be used, named by its key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("settings: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
}

fn invalid(key: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        problem: problem.into(),
    }
}

impl Settings {
    /// Defaults, then `file` (or `tanba.toml` in the working directory if it
    /// exists), then `TANBA_…` variables from `env`. Validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(invalid(
                        "config",
                        format!("file {} does not exist", path.display()),
                    ));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            // Only the working directory: `Toml::file` would also search
            // parent directories, which surprises more than it helps.
            None if Path::new("tanba.toml").exists() => {
                figment = figment.merge(Toml::file_exact("tanba.toml"));
            }
            None => {}
        }
        // Read from the given environment rather than the process's, so tests
        // can pass their own; `TANBA_CONFIG` names the file and is not a setting.
        for (name, value) in env {
            let Some(key) = name.strip_prefix("TANBA_") else {
                continue;
            };
            if key == "CONFIG" || key.starts_with("TEST_") {
                continue;
            }
            let key = key.to_ascii_lowercase();
            figment = figment.merge(Serialized::default(&key, parse_env_value(&value)));
        }
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every setting and names the first one that cannot work.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.listen_addr()?;
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres:// (secrets are not shown)",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if self.emission_key_file.as_os_str().is_empty() {
            return Err(invalid("emission_key_file", "must name a file"));
        }
        let base = url::Url::parse(&self.public_base_url)
            .map_err(|e| invalid("public_base_url", format!("is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.query().is_some() {
            return Err(invalid(
                "public_base_url",
                "must be an http(s) URL without a query",
            ));
        }
        if self.shutdown_timeout_secs > 600 {
            return Err(invalid("shutdown_timeout_secs", "must be at most 600"));
        }
        if !(60..=86_400).contains(&self.session_ttl_secs) {
            return Err(invalid("session_ttl_secs", "must be between 60 and 86400"));
        }
        for (key, paths) in [
            ("eds_trust_roots", &self.eds_trust_roots),
            ("eds_crls", &self.eds_crls),
        ] {
            if let Some(path) = paths.iter().find(|p| !p.is_file()) {
                return Err(invalid(
                    key,
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        // TLS (`rediss://`) is not built in: Redis sits next to the service.
        if let Some(url) = &self.redis_url
            && !url.starts_with("redis://")
        {
            return Err(invalid(
                "redis_url",
                "must start with redis:// (secrets are not shown)",
            ));
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.len() > 64 {
            return Err(invalid("redis_prefix", "must be 1 to 64 characters"));
        }
        if !(1..=86_400).contains(&self.cache_ttl_secs) {
            return Err(invalid("cache_ttl_secs", "must be between 1 and 86400"));
        }
        if !(1..=self.cache_ttl_secs).contains(&self.cache_not_found_secs) {
            return Err(invalid(
                "cache_not_found_secs",
                "must be at least 1 and at most cache_ttl_secs",
            ));
        }
        if self.cache_capacity == 0 {
            return Err(invalid("cache_capacity", "must be at least 1"));
        }
        for (key, value) in [
            (
                "report_limit_per_ip_per_hour",
                self.report_limit_per_ip_per_hour,
            ),
            (
                "report_limit_per_device_per_hour",
                self.report_limit_per_device_per_hour,
            ),
        ] {
            if !(1..=100_000).contains(&value) {
                return Err(invalid(key, "must be between 1 and 100000"));
            }
        }
        if !(1..=3600).contains(&self.report_upload_timeout_secs) {
            return Err(invalid(
                "report_upload_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(10..=10_000).contains(&self.redis_timeout_ms) {
            return Err(invalid("redis_timeout_ms", "must be between 10 and 10000"));
        }
        if !(1..=10_000_000).contains(&self.scan_record_queue) {
            return Err(invalid(
                "scan_record_queue",
                "must be between 1 and 10000000",
            ));
        }
        // Half the Earth's circumference: no two places are further apart.
        if !(1..=20_000).contains(&self.clone_distance_km) {
            return Err(invalid("clone_distance_km", "must be between 1 and 20000"));
        }
        if !(1..=86_400).contains(&self.clone_window_secs) {
            return Err(invalid("clone_window_secs", "must be between 1 and 86400"));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        if !(1024..=(1 << 30)).contains(&self.document_max_bytes) {
            return Err(invalid(
                "document_max_bytes",
                "must be between 1024 and 1073741824",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_filter)
            .map_err(|e| invalid("log_filter", e.to_string()))?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
            )
        })
    }

    pub fn database_kind(&self) -> DatabaseKind {
        if self.database_url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else {
            DatabaseKind::Postgres
        }
    }
}

/// Environment values are strings; numbers and booleans are recognized so that
/// `TANBA_DATABASE_MAX_CONNECTIONS=4` fills a number field.
fn parse_env_value(value: &str) -> serde_json::Value {
    if let Ok(n) = value.parse::<u64>() {
        return serde_json::Value::from(n);
    }
    match value {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_defaults_are_sqlite_on_localhost() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_kind(), DatabaseKind::Sqlite);
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            env(&[
                ("TANBA_LISTEN", "127.0.0.1:9100"),
                ("TANBA_DATABASE_MAX_CONNECTIONS", "4"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:9100");
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.database_max_connections, 4);
    }

    #[test]
    fn a_bad_setting_is_named() {
        let err =
            |pairs: &[(&str, &str)]| Settings::load(None, env(pairs)).unwrap_err().to_string();
        assert!(err(&[("TANBA_LISTEN", "nowhere")]).contains("`listen`"));
        assert!(err(&[("TANBA_DATABASE_URL", "mysql://x")]).contains("`database_url`"));
        assert!(
            err(&[("TANBA_DATABASE_MAX_CONNECTIONS", "0")]).contains("database_max_connections")
        );
        assert!(err(&[("TANBA_PUBLIC_BASE_URL", "ftp://x")]).contains("public_base_url"));
        assert!(err(&[("TANBA_LOG_FORMAT", "xml")]).contains("log_format"));
        assert!(err(&[("TANBA_NO_SUCH_THING", "1")]).contains("no_such_thing"));
        assert!(err(&[("TANBA_REDIS_URL", "http://x")]).contains("`redis_url`"));
        assert!(err(&[("TANBA_CACHE_TTL_SECS", "0")]).contains("`cache_ttl_secs`"));
        assert!(err(&[("TANBA_CACHE_NOT_FOUND_SECS", "301")]).contains("cache_not_found_secs"));
        assert!(
            err(&[("TANBA_REPORT_LIMIT_PER_IP_PER_HOUR", "0")])
                .contains("`report_limit_per_ip_per_hour`")
        );
        assert!(
            err(&[("TANBA_REPORT_LIMIT_PER_DEVICE_PER_HOUR", "100001")])
                .contains("`report_limit_per_device_per_hour`")
        );
        assert!(err(&[("TANBA_REDIS_TIMEOUT_MS", "0")]).contains("`redis_timeout_ms`"));
        assert!(err(&[("TANBA_SCAN_RECORD_QUEUE", "0")]).contains("`scan_record_queue`"));
        assert!(err(&[("TANBA_SCAN_RECORD", "maybe")]).contains("scan_record"));
        assert!(err(&[("TANBA_CLONE_DISTANCE_KM", "0")]).contains("`clone_distance_km`"));
        assert!(err(&[("TANBA_CLONE_DISTANCE_KM", "20001")]).contains("`clone_distance_km`"));
        assert!(err(&[("TANBA_CLONE_WINDOW_SECS", "0")]).contains("`clone_window_secs`"));
        assert!(err(&[("TANBA_CLONE_WINDOW_SECS", "86401")]).contains("`clone_window_secs`"));
    }

    #[test]
    fn a_password_in_the_database_url_is_not_shown() {
        let s = Settings {
            database_url: "postgres://u:secret@db/tanba".to_owned(),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn trusted_proxies_come_from_a_list_or_a_comma_separated_variable() {
        let s = Settings::load(
            None,
            env(&[("TANBA_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5,::1")]),
        )
        .unwrap();
        let nets: Vec<String> = s.trusted_proxies.0.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.5/32", "::1/128"]);
        let err = Settings::load(None, env(&[("TANBA_TRUSTED_PROXIES", "10.0.0.0/8,proxy")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"proxy\" is not an address"), "{err}");
        assert!(
            Settings::load(None, env(&[]))
                .unwrap()
                .trusted_proxies
                .is_empty()
        );
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop_and_only_behind_a_trusted_peer() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let chain = |s: &'static str| s.split(',');
        // A trusted balancer, one client.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), chain("203.0.113.7")),
            ip("203.0.113.7")
        );
        // Two trusted hops; the client wrote a lie in front of them.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), chain("1.1.1.1, 203.0.113.7, 10.0.0.9")),
            ip("203.0.113.7")
        );
        // Not from a trusted proxy: the header is the client's word, ignored.
        assert_eq!(
            proxies.client(ip("198.51.100.4"), chain("203.0.113.7")),
            ip("198.51.100.4")
        );
        // No header, or nonsense in it: the last trusted hop.
        assert_eq!(proxies.client(ip("10.0.0.2"), chain("")), ip("10.0.0.2"));
        assert_eq!(
            proxies.client(ip("10.0.0.2"), chain("203.0.113.7, bogus, 10.0.0.9")),
            ip("10.0.0.9")
        );
        // Nothing trusted: the peer, always.
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), chain("203.0.113.7")),
            ip("10.0.0.2")
        );
    }
}
