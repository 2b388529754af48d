//! The callout's Prometheus metrics.

use std::fmt::Write;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::metrics::Metrics;

/// How one callout request ended; the `result` label and the span's
/// `auth.result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthResult {
    Authorized,
    Rejected,
    DecryptError,
    DecodeError,
}

impl AuthResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Authorized => "authorized",
            AuthResult::Rejected => "rejected",
            AuthResult::DecryptError => "decrypt_error",
            AuthResult::DecodeError => "decode_error",
        }
    }
}

impl EncodeLabelValue for AuthResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: AuthResult,
}

/// `auth_requests_total{result}` and `auth_request_duration_seconds`.
#[derive(Clone)]
pub struct CalloutMetrics {
    requests: Family<ResultLabel, Counter>,
    duration: Histogram,
}

impl CalloutMetrics {
    /// Creates the metrics and registers them in `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        let requests = Family::<ResultLabel, Counter>::default();
        // 100 µs to about 1.6 s: a callout answer is sub-millisecond when
        // warm and seconds only when Keycloak must be asked for keys.
        let duration = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        metrics.register(|registry| {
            registry.register(
                "auth_requests",
                "Auth callout requests by outcome",
                requests.clone(),
            );
            registry.register(
                "auth_request_duration_seconds",
                "Time to decide one auth callout request",
                duration.clone(),
            );
        });
        CalloutMetrics { requests, duration }
    }

    /// Counts one finished request.
    pub fn observe(&self, result: AuthResult, seconds: f64) {
        self.requests.get_or_create(&ResultLabel { result }).inc();
        self.duration.observe(seconds);
    }
}
