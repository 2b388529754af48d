//! `natschatd history`: a NATS micro service on `chat.history.*` that serves
//! a room's stored messages, newest page first or paged by sequence.

mod metrics;
mod reply;

use std::sync::Arc;
use std::time::Instant;

use async_nats::service::{self, ServiceExt};
use futures::StreamExt;
use natschat_proto::subject;
use tracing::Instrument;

use self::metrics::{HistoryMetrics, ResultLabel};
use crate::config::{ConnectionArgs, LoginNames};
use crate::shutdown::Shutdown;
use crate::store::{self, DatabaseArgs};

/// Name under which instances announce themselves on `$SRV.*`.
const SERVICE_NAME: &str = "natschat-history";

/// The history login flags: `--nats-user`, `--nats-password`.
#[derive(Debug, Clone)]
pub struct HistoryLogin;

impl LoginNames for HistoryLogin {
    const WHO: &'static str = "the history service";
    const USER_FLAG: &'static str = "nats-user";
    const USER_ENV: &'static str = "NATSCHAT_HISTORY_USER";
    const DEFAULT_USER: &'static str = "natschat-history";
    const PASSWORD_FLAG: &'static str = "nats-password";
    const PASSWORD_ENV: &'static str = "NATSCHAT_HISTORY_PASSWORD";
}

/// Settings of `natschatd history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// NATS server, user, password, and the metrics endpoint.
    #[command(flatten)]
    pub connection: ConnectionArgs<HistoryLogin>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Queue group shared by every history instance.
    #[arg(long, default_value = "natschat-history")]
    pub queue_group: String,
}

/// Runs the history service until SIGTERM/SIGINT.
pub async fn run(args: HistoryArgs, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let metrics = args.connection.metrics().await?;
    let history_metrics = HistoryMetrics::register(&metrics);

    let pool = store::connect(
        &args.database.database_url,
        args.database.database_pool_size,
    )?;
    store::migrate_until_done(&pool, &mut shutdown).await?;

    let client = args
        .connection
        .nats_login()
        .connect(async_nats::ConnectOptions::new().name("natschatd history"))
        .await?;
    let service = client
        .service_builder()
        .description("Stored chat messages of a room, by page")
        .queue_group(&args.queue_group)
        .start(SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the history service: {e}"))?;
    let mut requests = service
        .endpoint_builder()
        .name("history")
        .add(subject::HISTORY_WILDCARD)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", subject::HISTORY_WILDCARD))?;
    tracing::info!(subject = subject::HISTORY_WILDCARD, queue_group = %args.queue_group, "history ready");

    let pool = Arc::new(pool);
    loop {
        let request = tokio::select! {
            _ = shutdown.requested() => break,
            request = requests.next() => request,
        };
        let Some(request) = request else {
            tracing::warn!("the history endpoint closed");
            break;
        };
        let pool = pool.clone();
        let metrics = history_metrics.clone();
        // One task per request: a slow page must not hold up the others;
        // the pool bounds how many reach the database at once.
        tokio::spawn(async move {
            let subject = request.message.subject.to_string();
            let span = tracing::info_span!(
                "history request",
                messaging.system = "nats",
                messaging.destination.name = %subject,
                chat.room = subject.strip_prefix(subject::HISTORY_PREFIX).unwrap_or_default(),
                history.message_count = tracing::field::Empty,
            );
            serve(&pool, &metrics, request).instrument(span).await;
        });
    }
    if let Err(e) = service.stop().await {
        tracing::warn!(error = %e, "cannot stop the history service cleanly");
    }
    tracing::info!("history stopped");
    Ok(())
}

/// Answers one request and records how it went.
async fn serve(
    pool: &deadpool_postgres::Pool,
    metrics: &HistoryMetrics,
    request: service::Request,
) {
    let started = Instant::now();
    // The reply subject is the requester's choice. Answering anything but an
    // inbox would let a requester aim this daemon's reply at another subject,
    // such as the JetStream API or a chat room; nats/dev.conf also lets the
    // history user publish to inboxes only.
    let to_inbox = request
        .message
        .reply
        .as_ref()
        .is_some_and(|reply| reply.starts_with("_INBOX."));
    if !to_inbox {
        tracing::warn!(
            reply = request.message.reply.as_deref().unwrap_or(""),
            "refused a history request whose reply subject is not an inbox"
        );
        metrics
            .requests
            .get_or_create(&ResultLabel {
                result: "bad_reply",
            })
            .inc();
        return;
    }
    let answer = reply::answer(
        pool,
        request.message.subject.as_str(),
        &request.message.payload,
    )
    .await;
    let (response, result) = match answer {
        Ok(reply) => {
            tracing::Span::current().record("history.message_count", reply.message_count);
            (Ok(reply.body), "ok")
        }
        Err(failure) => {
            match &failure {
                reply::HistoryFailure::BadRequest(why) => {
                    tracing::info!(reason = %why, "refused a history request")
                }
                reply::HistoryFailure::Unavailable(e) => {
                    tracing::warn!(error = %e, "history request failed: database unavailable")
                }
            }
            let error = service::error::Error {
                status: failure.to_string(),
                code: failure.code(),
            };
            (Err(error), failure.label())
        }
    };
    if let Err(e) = request.respond(response).await {
        tracing::warn!(error = %e, "cannot send a history reply");
    }
    metrics
        .requests
        .get_or_create(&ResultLabel { result })
        .inc();
    metrics.duration.observe(started.elapsed().as_secs_f64());
}
