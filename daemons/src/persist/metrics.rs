//! What the persist worker counts, for Prometheus.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::Metrics;

/// The persist worker's metrics, registered once per process.
#[derive(Clone, Default)]
pub struct PersistMetrics {
    /// Rows newly written to `messages` (redeliveries not counted).
    pub persisted: Counter,
    /// Batch or row writes that failed and were handed back to the stream.
    pub errors: Counter,
    /// Messages stored in `dead_letters` instead of `messages`.
    pub dead_lettered: Counter,
    /// Messages in the stream the consumer has not been delivered yet.
    pub pending: Gauge,
}

impl PersistMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = PersistMetrics::default();
        metrics.register(|r| {
            r.register(
                "messages_persisted",
                "Chat messages stored in PostgreSQL",
                m.persisted.clone(),
            );
            r.register(
                "messages_persist_errors",
                "Failed writes to PostgreSQL whose messages went back to the stream",
                m.errors.clone(),
            );
            r.register(
                "messages_dead_lettered",
                "Messages stored as dead letters because they are not valid chat messages",
                m.dead_lettered.clone(),
            );
            r.register(
                "persist_consumer_pending",
                "Messages of the stream not yet delivered to the persist consumer",
                m.pending.clone(),
            );
        });
        m
    }
}
