//! What the history service counts, for Prometheus.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::metrics::Metrics;

/// How a history request ended, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// The history service's metrics, registered once per process.
#[derive(Clone)]
pub struct HistoryMetrics {
    /// Requests by result: `ok`, `bad_request`, `unavailable`.
    pub requests: Family<ResultLabel, Counter>,
    /// Time from receiving a request to sending its reply.
    pub duration: Histogram,
}

impl HistoryMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = HistoryMetrics {
            requests: Family::default(),
            // 0.25 ms to about 4 s.
            duration: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
        };
        metrics.register(|r| {
            r.register(
                "history_requests",
                "History requests answered, by result",
                m.requests.clone(),
            );
            r.register(
                "history_request_duration_seconds",
                "Time to answer a history request",
                m.duration.clone(),
            );
        });
        m
    }
}
