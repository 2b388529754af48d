//! The NATS side of the callout: answers `$SYS.REQ.USER.AUTH` in a queue
//! group, one task per request, until shutdown.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use natschat_proto::subject::AUTH_CALLOUT;
use tracing::Instrument;

use super::authorizer::Authorizer;
use super::metrics::CalloutMetrics;
use crate::shutdown::Shutdown;

/// Header in which the server sends its curve public key.
const SERVER_XKEY_HEADER: &str = "Nats-Server-Xkey";

/// Why the service stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot subscribe to {AUTH_CALLOUT}: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("the subscription to {AUTH_CALLOUT} ended; the NATS connection is gone")]
    SubscriptionEnded,
}

/// Serves callout requests on `client` until `shutdown` fires.
pub async fn serve(
    client: async_nats::Client,
    queue_group: String,
    authorizer: Arc<Authorizer>,
    metrics: CalloutMetrics,
    mut shutdown: Shutdown,
) -> Result<(), ServiceError> {
    let mut requests = client
        .queue_subscribe(AUTH_CALLOUT, queue_group.clone())
        .await?;
    // LIMITATION: async-nats's flush only writes the SUB out; it does not
    // wait for the server to have read it, and the callout user may not
    // publish, so no round trip can prove it. "ready" can therefore come a
    // moment (well under a millisecond on loopback) before the server routes
    // requests here.
    if let Err(error) = client.flush().await {
        tracing::warn!(%error, "flush after subscribing failed");
    }
    tracing::info!(subject = AUTH_CALLOUT, queue_group, "auth callout ready");

    loop {
        let message = tokio::select! {
            message = requests.next() => message,
            _ = shutdown.requested() => break,
        };
        let Some(message) = message else {
            return Err(ServiceError::SubscriptionEnded);
        };
        let Some(reply) = message.reply.clone() else {
            tracing::warn!("callout request without a reply subject; ignored");
            continue;
        };
        let client = client.clone();
        let authorizer = authorizer.clone();
        let metrics = metrics.clone();
        // A request is a few hundred microseconds of CPU; one task each lets
        // a burst of connects use every core while a JWKS refetch waits.
        tokio::spawn(
            async move {
                let started = Instant::now();
                let server_xkey = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(SERVER_XKEY_HEADER))
                    .map(|v| v.as_str().to_owned());
                let decision = authorizer
                    .decide(server_xkey.as_deref(), &message.payload)
                    .await;
                let span = tracing::Span::current();
                span.record("auth.result", decision.result.as_str());
                if let Some(user) = &decision.user {
                    span.record("auth.user", user.as_str());
                }
                if let Some(body) = decision.reply
                    && let Err(error) = client.publish(reply, body.into()).await
                {
                    tracing::warn!(%error, "cannot send the callout response");
                }
                metrics.observe(decision.result, started.elapsed().as_secs_f64());
            }
            .instrument(tracing::info_span!(
                "auth callout",
                auth.result = tracing::field::Empty,
                auth.user = tracing::field::Empty,
                messaging.system = "nats",
                messaging.destination.name = AUTH_CALLOUT,
            )),
        );
    }

    tracing::info!("draining the callout subscription");
    let _ = requests.unsubscribe().await;
    if let Err(error) = client.flush().await {
        tracing::warn!(%error, "flush at shutdown failed");
    }
    Ok(())
}
