//! Prometheus metrics: one registry per process, served as text on
//! `GET /metrics` at `NATSCHAT_METRICS_ADDR`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The process-wide metric registry, shared by the daemons that register
/// into it and the endpoint that serves it.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {source} (set NATSCHAT_METRICS_ADDR to a free host:port)")]
pub struct MetricsError {
    addr: SocketAddr,
    source: std::io::Error,
}

impl Metrics {
    /// Registers metrics (counters, histograms, families) under the registry.
    pub fn register(&self, f: impl FnOnce(&mut Registry)) {
        // A poisoned lock only means a registering thread panicked; the
        // registry itself is still consistent, so keep going with it.
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut registry);
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }

    /// Binds `addr` and answers every HTTP request with the metrics, in the
    /// background. Binding errors come back at once so a daemon fails at
    /// start, not later.
    pub async fn serve(&self, addr: SocketAddr) -> Result<SocketAddr, MetricsError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| MetricsError { addr, source })?;
        let metrics = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    // The request itself does not matter: there is one page.
                    let mut request = [0u8; 1024];
                    let _ = stream.read(&mut request).await;
                    let body = metrics.encode();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                });
            }
        });
        tracing::info!(addr = %bound, "metrics endpoint listening");
        Ok(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[tokio::test]
    async fn serves_registered_metrics_over_http() {
        let metrics = Metrics::default();
        let counter = Counter::<u64>::default();
        metrics.register(|r| r.register("demo_events", "Demo events", counter.clone()));
        counter.inc();
        let addr = metrics.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();

        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.contains("demo_events_total 1"), "{reply}");
    }
}
