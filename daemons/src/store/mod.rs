//! PostgreSQL: the connection pool, the schema and the queries shared by the
//! persist worker and the history service.

pub mod dead_letters;
pub mod messages;
pub mod migrations;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::shutdown::Shutdown;

/// Where the database is, for every subcommand that needs it.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Most connections this process opens.
    #[arg(long, default_value_t = 4)]
    pub database_pool_size: usize,
}

/// How long a connection attempt may take before the database counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL is not a PostgreSQL connection string: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    #[error("cannot build the PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("PostgreSQL is unreachable ({0}); is it running? `./dev status` shows the stack")]
    Unavailable(String),
    #[error("PostgreSQL refused a statement: {0}")]
    Query(#[source] tokio_postgres::Error),
}

impl StoreError {
    /// Whether retrying later may succeed without changing the data: the
    /// server is down, restarting, or out of connections. Anything else is a
    /// statement the server will keep refusing.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Query(e) => match e.code() {
                // No SQLSTATE means the connection broke mid-statement.
                None => true,
                Some(state) => {
                    let class = &state.code()[..2];
                    // 08 connection exception, 53 insufficient resources,
                    // 57 operator intervention (shutdown, crash recovery),
                    // 40 serialization failure or deadlock.
                    matches!(class, "08" | "53" | "57" | "40")
                }
            },
            StoreError::BadUrl(_) | StoreError::Pool(_) => false,
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Query(e)
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// Opens a pool of at most `max_size` connections to `url`. Connections are
/// made on first use, so this succeeds while the database is still down.
pub fn connect(url: &str, max_size: usize) -> Result<Pool, StoreError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(StoreError::BadUrl)?;
    config.connect_timeout(CONNECT_TIMEOUT);
    if config.get_application_name().is_none() {
        config.application_name("natschatd");
    }
    // Fast recycling trusts a connection whose socket is still open; a
    // connection that died with a restarted server fails its next statement
    // once and is then dropped, which callers already handle as transient.
    let manager = Manager::from_config(
        config,
        // LIMITATION: connections are plain TCP. That is right for the
        // loopback database of a single host; a remote database needs
        // tokio-postgres-rustls here.
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// Applies pending migrations, waiting for the database while it is
/// unreachable (daemons may start before it); gives up on shutdown or on an
/// error that waiting will not fix.
pub async fn migrate_until_done(pool: &Pool, shutdown: &mut Shutdown) -> Result<(), StoreError> {
    let mut delay = Duration::from_millis(250);
    loop {
        match migrations::run(pool).await {
            Ok(applied) => {
                tracing::info!(applied, "database schema is up to date");
                return Ok(());
            }
            Err(e) if e.is_transient() && !shutdown.is_requested() => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "waiting for the database");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.requested() => return Err(e),
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// `natschatd migrate`: applies pending migrations once.
pub async fn migrate_once(args: DatabaseArgs) -> anyhow::Result<()> {
    let pool = connect(&args.database_url, 1)?;
    let applied = migrations::run(&pool).await?;
    tracing::info!(applied, "database schema is up to date");
    Ok(())
}
