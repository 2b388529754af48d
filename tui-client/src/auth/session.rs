//! A signed-in person as the rest of natschat-tui sees them: whose tokens,
//! kept where, and a valid access token on request.

use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};

use super::discovery::Provider;
use super::error::AuthError;
use super::refresh::{refresh, revoke};
use super::token_store::{StoreError, StoredLogin, TokenKey, TokenStore};
use super::tokens::TokenSet;
use crate::config::Config;

/// An access token with less than this left is refreshed before use, so it
/// does not expire between being handed out and being checked by NATS.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// How long logout waits for Keycloak before giving up on revocation.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The person logged in under a profile.
pub struct Session {
    issuer: String,
    client_id: String,
    login: StoredLogin,
    store: TokenStore,
    tokens: Mutex<TokenSet>,
    provider: OnceCell<Provider>,
}

/// What `logout` managed to do.
#[derive(Debug)]
pub struct LogoutOutcome {
    pub username: String,
    /// Whether Keycloak revoked the refresh token, and why not.
    pub revocation: Result<(), AuthError>,
    /// Whether tokens were found and deleted from the store.
    pub deleted: bool,
}

impl Session {
    /// Keeps the tokens of a fresh login in `store` and remembers the login
    /// under the profile, replacing any earlier one.
    pub async fn begin(
        config: &Config,
        store: TokenStore,
        tokens: TokenSet,
    ) -> Result<Session, AuthError> {
        let login = StoredLogin {
            key: TokenKey {
                issuer: config.issuer.clone(),
                client_id: config.client_id.clone(),
                username: tokens.username.clone(),
            },
            store: store.kind(),
        };
        let (state_dir, profile) = (config.state_dir.clone(), config.profile.clone());
        let previous = StoredLogin::load(&state_dir, &profile)?;
        {
            let (store, login, tokens) = (store.clone(), login.clone(), tokens.clone());
            blocking(move || {
                store.save(&login.key, &tokens)?;
                login.save(&state_dir, &profile)
            })
            .await?;
        }
        // Someone else was logged in under this profile: their tokens would
        // otherwise linger in the store with nothing pointing at them.
        if let Some(previous) = previous.filter(|p| p.key != login.key)
            && let Ok(old_store) = TokenStore::reopen(&config.state_dir, previous.store)
        {
            let _ = blocking(move || old_store.delete(&previous.key)).await;
        }
        Ok(Session::new(config, login, store, tokens))
    }

    /// The login remembered under the profile, with its tokens.
    pub async fn open(config: &Config) -> Result<Session, AuthError> {
        let not_logged_in = || AuthError::NotLoggedIn {
            profile: config.profile.clone(),
        };
        let login = StoredLogin::load(&config.state_dir, &config.profile)?
            .filter(|l| l.key.issuer == config.issuer && l.key.client_id == config.client_id)
            .ok_or_else(not_logged_in)?;
        let store = TokenStore::reopen(&config.state_dir, login.store)?;
        let tokens = {
            let (store, key) = (store.clone(), login.key.clone());
            blocking(move || store.load(&key)).await?
        }
        .ok_or_else(not_logged_in)?;
        Ok(Session::new(config, login, store, tokens))
    }

    fn new(config: &Config, login: StoredLogin, store: TokenStore, tokens: TokenSet) -> Session {
        Session {
            issuer: config.issuer.clone(),
            client_id: config.client_id.clone(),
            login,
            store,
            tokens: Mutex::new(tokens),
            provider: OnceCell::new(),
        }
    }

    pub fn username(&self) -> &str {
        &self.login.key.username
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The store holding the tokens, in words.
    pub fn store_description(&self) -> String {
        self.store.describe()
    }

    /// A copy of the current tokens.
    pub async fn tokens(&self) -> TokenSet {
        self.tokens.lock().await.clone()
    }

    /// An access token good for at least [`REFRESH_MARGIN`], refreshed (and
    /// stored) first when needed. Concurrent callers share one refresh.
    pub async fn valid_access_token(&self) -> Result<String, AuthError> {
        let mut tokens = self.tokens.lock().await;
        if tokens.access_time_left() > REFRESH_MARGIN {
            return Ok(tokens.access_token.clone());
        }
        let provider = self.provider().await?;
        let fresh = refresh(provider, &tokens).await?;
        {
            let (store, key, fresh) = (self.store.clone(), self.login.key.clone(), fresh.clone());
            blocking(move || store.save(&key, &fresh)).await?;
        }
        *tokens = fresh;
        Ok(tokens.access_token.clone())
    }

    async fn provider(&self) -> Result<&Provider, AuthError> {
        self.provider
            .get_or_try_init(|| Provider::discover(&self.issuer, &self.client_id))
            .await
    }
}

/// The store a new login will use (see [`TokenStore::choose`]). Ask before
/// the person goes through the login, so a missing store stops them early.
pub async fn choose_store(config: &Config) -> Result<TokenStore, AuthError> {
    let (state_dir, allowed) = (config.state_dir.clone(), config.insecure_file_store);
    Ok(blocking(move || TokenStore::choose(&state_dir, allowed)).await?)
}

/// Logs the profile's user out: revokes the refresh token at Keycloak when
/// it answers, and deletes the stored tokens either way.
pub async fn logout(config: &Config) -> Result<LogoutOutcome, AuthError> {
    let login = StoredLogin::load(&config.state_dir, &config.profile)?.ok_or_else(|| {
        AuthError::NotLoggedIn {
            profile: config.profile.clone(),
        }
    })?;
    let store = TokenStore::reopen(&config.state_dir, login.store)?;
    let tokens = {
        let (store, key) = (store.clone(), login.key.clone());
        blocking(move || store.load(&key)).await?
    };

    let revocation = match tokens.as_ref().and_then(|t| t.refresh_token.clone()) {
        None => Ok(()),
        Some(refresh_token) => {
            let attempt = async {
                let provider = Provider::discover(&login.key.issuer, &login.key.client_id).await?;
                revoke(&provider, &refresh_token).await
            };
            match tokio::time::timeout(REVOKE_TIMEOUT, attempt).await {
                Ok(result) => result,
                Err(_) => Err(AuthError::IssuerUnreachable {
                    keycloak: super::discovery::keycloak_base(&login.key.issuer),
                    reason: "timed out".to_owned(),
                }),
            }
        }
    };
    if let Err(e) = &revocation {
        tracing::warn!(user = %login.key.username, error = %e, "revocation failed; deleting tokens anyway");
    }

    let deleted = {
        let key = login.key.clone();
        blocking(move || store.delete(&key)).await?
    };
    StoredLogin::forget(&config.state_dir, &config.profile)?;
    tracing::info!(user = %login.key.username, "logged out");
    Ok(LogoutOutcome {
        username: login.key.username,
        revocation,
        deleted,
    })
}

/// Runs a token store call on a blocking thread: the Secret Service client
/// drives D-Bus with a runtime of its own, which must not run on one of
/// tokio's worker threads.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(call).await.unwrap_or_else(|e| {
        Err(StoreError::SecretService(format!(
            "the store call failed: {e}"
        )))
    })
}
