//! `natschatd auth-callout`: turns a Keycloak access token presented on
//! CONNECT into a least-privilege NATS user for the `CHAT` account.
//!
//! The server asks on `$SYS.REQ.USER.AUTH` with a request sealed to the
//! callout's xkey; the callout checks the token against the realm's keys,
//! maps realm roles to permissions and answers with a user JWT signed by the
//! account issuer key, sealed back to the server.

pub mod access_token;
pub mod authorizer;
pub mod claims;
pub mod config;
pub mod jwks;
pub mod jwt;
pub mod metrics;
pub mod sealing;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use natschat_proto::InboxMode;

use self::access_token::{AccessTokenValidator, TokenPolicy};
use self::authorizer::{Authorizer, GrantPolicy};
use self::config::{CalloutArgs, ConfigError};
use self::jwks::{JwksCache, JwksError};
use self::metrics::CalloutMetrics;
use self::sealing::{Sealing, SealingError};
use crate::config::NatsConnectError;
use crate::keys::{CalloutKeys, KeyError};
use crate::metrics::MetricsError;
use crate::shutdown::Shutdown;

/// Why the callout could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CalloutError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Jwks(#[from] JwksError),
    #[error("the callout xkey cannot be used: {0}")]
    Sealing(#[from] SealingError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot build the HTTP client for Keycloak: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Connect(#[from] NatsConnectError),
    #[error(transparent)]
    Service(#[from] service::ServiceError),
}

/// Runs the callout until SIGTERM/SIGINT.
pub async fn run(args: CalloutArgs, shutdown: Shutdown) -> Result<(), CalloutError> {
    // Self-check first: broken seeds or settings fail here, before anyone
    // depends on the callout.
    let algorithms = args.algorithms()?;
    if args.allowed_clients.iter().all(|c| c.trim().is_empty()) {
        return Err(ConfigError::NoClient.into());
    }
    let (issuer_file, xkey_file) = args.seed_files()?;
    let keys = CalloutKeys::load(&issuer_file, &xkey_file)?;
    let xkey_seed = keys.xkey.seed().map_err(|_| SealingError::OwnKey)?;
    let sealing = Sealing::from_seed(&xkey_seed)?;
    tracing::info!(
        issuer = %keys.issuer.public_key(),
        xkey = %keys.xkey.public_key(),
        "loaded callout keys"
    );

    let metrics = args.connection.metrics().await?;
    let callout_metrics = CalloutMetrics::register(&metrics);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let jwks = Arc::new(
        JwksCache::fetch_at_start(
            args.jwks_url(),
            http,
            Duration::from_secs(args.jwks_min_refetch_secs),
            Duration::from_secs(args.keycloak_wait_secs),
        )
        .await?,
    );
    let _refresh = jwks
        .clone()
        .spawn_refresh(Duration::from_secs(args.jwks_refresh_secs.max(1)));

    let policy = TokenPolicy {
        issuer: args.issuer(),
        audience: args.audience.clone(),
        allowed_clients: args.allowed_clients.clone(),
        algorithms,
        leeway_secs: args.leeway_secs,
        max_token_bytes: args.max_token_bytes,
    };
    let grants = GrantPolicy {
        max_user_jwt: args.max_user_jwt(),
        inbox: if args.compat_shared_inbox {
            InboxMode::SharedCompat
        } else {
            InboxMode::PerUser
        },
        user_account: args.user_account.clone(),
        require_encryption: !args.allow_unencrypted,
    };
    if args.compat_shared_inbox {
        // LIMITATION: with the shared inbox any user can subscribe to
        // `_INBOX.>` and read replies meant for others; it exists only for
        // browser clients that cannot set an inbox prefix.
        tracing::warn!("granting plain _INBOX.> to every user (--compat-shared-inbox)");
    }
    let authorizer = Arc::new(Authorizer::new(
        keys,
        sealing,
        AccessTokenValidator::new(policy, jwks),
        grants,
    ));

    let client = args
        .connection
        .nats_login()
        .connect(async_nats::ConnectOptions::new().name("natschatd auth-callout"))
        .await?;

    service::serve(
        client,
        args.queue_group.clone(),
        authorizer,
        callout_metrics,
        shutdown,
    )
    .await?;
    Ok(())
}
