//! `natschatd persist`: moves every chat message from the JetStream stream
//! `CHAT_MESSAGES` into PostgreSQL, exactly once, dead-lettering what is not
//! a valid chat message.

mod metrics;
mod stream;
mod triage;
mod worker;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};

use self::metrics::PersistMetrics;
use self::stream::StreamSettings;
use self::worker::{RetryDelay, Worker};
use crate::config::{ConnectionArgs, LoginNames};
use crate::shutdown::Shutdown;
use crate::store::{self, DatabaseArgs};

/// The persist login flags: `--nats-user`, `--nats-password`.
#[derive(Debug, Clone)]
pub struct PersistLogin;

impl LoginNames for PersistLogin {
    const WHO: &'static str = "the persist worker";
    const USER_FLAG: &'static str = "nats-user";
    const USER_ENV: &'static str = "NATSCHAT_PERSIST_USER";
    const DEFAULT_USER: &'static str = "natschat-persist";
    const PASSWORD_FLAG: &'static str = "nats-password";
    const PASSWORD_ENV: &'static str = "NATSCHAT_PERSIST_PASSWORD";
}

/// Settings of `natschatd persist`.
#[derive(Debug, clap::Args)]
pub struct PersistArgs {
    /// NATS server, user, password, and the metrics endpoint.
    #[command(flatten)]
    pub connection: ConnectionArgs<PersistLogin>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Most messages stored per database round trip.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// Name of the durable consumer every persist instance shares.
    #[arg(long, default_value = "natschat-persist")]
    pub consumer: String,
    /// Seconds a delivered message may stay unacknowledged before the
    /// server hands it to another worker.
    #[arg(long, default_value_t = 10)]
    pub ack_wait_secs: u64,
    /// Most unacknowledged messages across all instances.
    #[arg(long, default_value_t = 5000)]
    pub max_ack_pending: i64,
    /// Days the stream keeps a message (the database keeps it for good).
    #[arg(long, default_value_t = 30)]
    pub stream_max_age_days: u64,
    /// Size limit of the stream in MiB; the oldest messages go first.
    #[arg(long, default_value_t = 10 * 1024)]
    pub stream_max_mib: i64,
    /// Seconds within which a repeated Nats-Msg-Id is dropped as duplicate.
    #[arg(long, default_value_t = 120)]
    pub duplicate_window_secs: u64,
    /// Seconds between log lines reporting the consumer's backlog.
    #[arg(long, default_value_t = 30)]
    pub lag_log_secs: u64,
}

impl PersistArgs {
    fn stream_settings(&self) -> StreamSettings {
        StreamSettings {
            max_age: Duration::from_secs(self.stream_max_age_days * 24 * 3600),
            max_bytes: self.stream_max_mib * 1024 * 1024,
            duplicate_window: Duration::from_secs(self.duplicate_window_secs),
            consumer: self.consumer.clone(),
            ack_wait: Duration::from_secs(self.ack_wait_secs.max(1)),
            max_ack_pending: self.max_ack_pending,
        }
    }
}

/// Runs the persist worker until SIGTERM/SIGINT.
pub async fn run(args: PersistArgs, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let metrics = args.connection.metrics().await?;
    let persist_metrics = PersistMetrics::register(&metrics);

    let pool = store::connect(
        &args.database.database_url,
        args.database.database_pool_size,
    )?;
    store::migrate_until_done(&pool, &mut shutdown).await?;

    let client = args
        .connection
        .nats_login()
        .connect(
            async_nats::ConnectOptions::new()
                .name("natschatd persist")
                .retry_on_initial_connect(),
        )
        .await?;
    let js = jetstream::new(client.clone());
    let settings = args.stream_settings();

    let mut worker = Worker {
        pool,
        metrics: persist_metrics.clone(),
        batch_size: args.batch_size as usize,
        retry: RetryDelay::new(),
    };
    let mut setup_retry = RetryDelay::new();
    let mut announced = false;
    let mut lag_logger: Option<tokio::task::JoinHandle<()>> = None;
    while !shutdown.is_requested() {
        let consumer = match setup(&js, &settings).await {
            Ok(consumer) => consumer,
            Err(e) => {
                let delay = setup_retry.next_delay();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot set up the stream and consumer");
                pause(delay, &mut shutdown).await;
                continue;
            }
        };
        setup_retry.reset();
        if let Some(task) = lag_logger.take() {
            task.abort();
        }
        lag_logger = Some(tokio::spawn(log_lag(
            consumer.clone(),
            persist_metrics.pending.clone(),
            Duration::from_secs(args.lag_log_secs.max(1)),
        )));
        if !announced {
            tracing::info!(
                stream = natschat_proto::subject::STREAM,
                consumer = %settings.consumer,
                batch_size = args.batch_size,
                "persist ready"
            );
            announced = true;
        }
        if let Err(e) = worker.consume(&consumer, &mut shutdown).await {
            let delay = setup_retry.next_delay();
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "consuming stopped; starting again");
            pause(delay, &mut shutdown).await;
        }
    }
    if let Some(task) = lag_logger {
        task.abort();
    }
    // Acknowledgements are buffered by the client; send them before leaving.
    if let Err(e) = client.flush().await {
        tracing::warn!(error = %e, "cannot flush the last acknowledgements");
    }
    tracing::info!("persist stopped");
    Ok(())
}

async fn setup(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<PullConsumer, stream::StreamError> {
    let stream = stream::ensure_stream(js, settings).await?;
    stream::ensure_consumer(&stream, settings).await
}

/// Sleeps, unless shutdown comes first.
async fn pause(delay: Duration, shutdown: &mut Shutdown) {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = shutdown.requested() => {}
    }
}

/// Logs the consumer's backlog now and then, so an operator sees a worker
/// falling behind before the stream's limits bite.
async fn log_lag(
    consumer: PullConsumer,
    pending: prometheus_client::metrics::gauge::Gauge,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match consumer.get_info().await {
            Ok(info) => {
                pending.set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                let idle = info.num_pending == 0 && info.num_ack_pending == 0;
                // An idle worker has nothing to report every interval.
                if idle {
                    tracing::debug!(pending = 0, ack_pending = 0, "consumer lag");
                } else {
                    tracing::info!(
                        pending = info.num_pending,
                        ack_pending = info.num_ack_pending,
                        redelivered = info.num_redelivered,
                        "consumer lag"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the consumer's backlog"),
        }
    }
}
