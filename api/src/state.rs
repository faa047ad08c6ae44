//! What every handler can reach: the application's shared state, built by
//! [`crate::startup`] and handed to each request. Its own module, so that the
//! handlers and the extractors that read it do not import the module that
//! registers them.

use std::sync::Arc;

use tanba_core::crypto::EmissionKey;

use crate::settings::Settings;
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    /// The key that signs new codes. Its public half is registered in the
    /// store at start-up, so `/v1/keys` always includes it.
    pub emission_key: Arc<EmissionKey>,
    /// Wakes the emission worker when an order arrives.
    pub emission: crate::emission::Emission,
    /// Wakes the document worker when a document arrives.
    pub documents: crate::documents::worker::Documents,
    /// Trusted EDS roots and CRLs, loaded from `eds_trust_roots` and
    /// `eds_crls` at start-up.
    pub eds: Arc<crate::auth::eds::Verifier>,
    /// The reference data (НСИ), synced into the store at start-up and read
    /// back from it: what every input is checked against.
    pub reference: crate::reference::Reference,
    /// The scan cache: codes' and products' cards (in process or Redis).
    pub cards: Arc<crate::cache::CardCache>,
    /// Where codes were seen lately, for the clone verdict.
    pub sightings: Arc<crate::sightings::Sightings>,
    /// Records every scan behind the answer.
    pub scans: Arc<crate::scans::ScanRecorder>,
    /// The operator's public keys, for codes the store does not hold.
    pub scan_keys: Arc<crate::cache::ScanKeys>,
    /// Rate limits on violation reports, per client address and device.
    pub report_limits: Arc<crate::reports::limits::ReportLimits>,
    /// Decodes report photos, one at a time for the whole process.
    pub photos: crate::reports::photos::PhotoWorker,
}
