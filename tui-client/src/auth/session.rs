//! A signed-in person as the rest of natschat-tui sees them: whose tokens,
//! kept where, and a valid access token on request.

use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};

use super::discovery::{InsecureHttp, Provider};
use super::error::{AuthError, LoginElsewhere};
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
    http: InsecureHttp,
    login: StoredLogin,
    store: TokenStore,
    tokens: Mutex<TokenSet>,
    provider: OnceCell<Provider>,
    replaced: Option<ReplacedLogin>,
}

/// What `logout` managed to do.
#[derive(Debug)]
pub struct LogoutOutcome {
    /// Whose login ended (user, Keycloak, client); `None` when the login
    /// record was corrupt, so nobody can tell.
    pub login: Option<TokenKey>,
    /// Whether Keycloak revoked the refresh token, and why not.
    pub revocation: Result<(), AuthError>,
    /// Whether tokens were found and deleted from the store.
    pub deleted: bool,
}

/// Someone else's login that a new login under the same profile replaced:
/// their tokens are deleted and, when Keycloak answers, revoked.
#[derive(Debug)]
pub struct ReplacedLogin {
    pub username: String,
    pub issuer: String,
    /// Whether Keycloak revoked the replaced refresh token, and why not.
    pub revocation: Result<(), AuthError>,
}

impl Session {
    /// Keeps the tokens of a fresh login in `store` and remembers the login
    /// under the profile. An earlier login under the profile is ended: its
    /// refresh token revoked at its Keycloak (unless it belongs to the very
    /// Keycloak session of the new login) and, if someone else's, its
    /// tokens deleted. [`Session::replaced`] says what became of it.
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
        let previous = match StoredLogin::load(&state_dir, &profile) {
            Ok(previous) => previous,
            // The new record replaces a corrupt one; nothing to end that
            // can be named.
            Err(e @ StoreError::CorruptLogin { .. }) => {
                tracing::info!(error = %e, "replacing a corrupt login record");
                None
            }
            Err(e) => return Err(e.into()),
        };
        // Read before saving: with the same key, saving overwrites them.
        let previous = match previous {
            Some(previous) => {
                let old_tokens = match TokenStore::reopen(&state_dir, previous.store) {
                    Ok(old_store) => {
                        let key = previous.key.clone();
                        let old_tokens = blocking(move || {
                            old_store.load_to_revoke(&key).map(|t| (t, old_store))
                        })
                        .await;
                        old_tokens.map(|(t, old_store)| (t, Some(old_store)))
                    }
                    Err(e) => Err(e),
                };
                Some((previous, old_tokens))
            }
            None => None,
        };
        {
            let (store, login, tokens) = (store.clone(), login.clone(), tokens.clone());
            blocking(move || {
                store.save(&login.key, &tokens)?;
                login.save(&state_dir, &profile)
            })
            .await?;
        }
        let replaced = match previous {
            Some((previous, old_tokens)) => {
                end_replaced_login(config, &login.key, &tokens, previous, old_tokens).await
            }
            None => None,
        };
        let mut session = Session::new(config, login, store, tokens);
        session.replaced = replaced;
        Ok(session)
    }

    /// The login remembered under the profile, with its tokens.
    pub async fn open(config: &Config) -> Result<Session, AuthError> {
        let not_logged_in = || AuthError::NotLoggedIn {
            profile: config.profile.clone(),
        };
        let login =
            StoredLogin::load(&config.state_dir, &config.profile)?.ok_or_else(not_logged_in)?;
        if login.key.issuer != config.issuer || login.key.client_id != config.client_id {
            return Err(AuthError::LoggedInElsewhere(Box::new(LoginElsewhere {
                profile: config.profile.clone(),
                stored: login.key,
                issuer: config.issuer.clone(),
                client_id: config.client_id.clone(),
            })));
        }
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
            http: InsecureHttp::allowed_if(config.allow_insecure_http),
            login,
            store,
            tokens: Mutex::new(tokens),
            provider: OnceCell::new(),
            replaced: None,
        }
    }

    /// The other person's login this one replaced, from [`Session::begin`].
    pub fn replaced(&self) -> Option<&ReplacedLogin> {
        self.replaced.as_ref()
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
            .get_or_try_init(|| Provider::discover_with(&self.issuer, &self.client_id, self.http))
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
/// it answers, and deletes the stored tokens either way, even tokens that
/// cannot be read. A corrupt login record is removed.
pub async fn logout(config: &Config) -> Result<LogoutOutcome, AuthError> {
    let login = match StoredLogin::load(&config.state_dir, &config.profile) {
        Ok(Some(login)) => login,
        Ok(None) => {
            return Err(AuthError::NotLoggedIn {
                profile: config.profile.clone(),
            });
        }
        Err(e @ StoreError::CorruptLogin { .. }) => {
            StoredLogin::forget(&config.state_dir, &config.profile)?;
            tracing::info!(profile = %config.profile, "removed a corrupt login record");
            return Ok(LogoutOutcome {
                login: None,
                revocation: Err(e.into()),
                deleted: false,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let store = TokenStore::reopen(&config.state_dir, login.store)?;
    let tokens = {
        let (store, key) = (store.clone(), login.key.clone());
        blocking(move || store.load_to_revoke(&key)).await
    };
    let revocation = match tokens {
        Ok(tokens) => revoke_stored(&login.key, tokens.as_ref(), config.allow_insecure_http).await,
        // Unreadable tokens cannot be revoked, but they can be deleted.
        Err(e) => Err(e.into()),
    };
    if let Err(e) = &revocation {
        // Info, not a warning: the command tells the person itself.
        tracing::info!(user = %login.key.username, error = %e, "revocation failed; deleting tokens anyway");
    }
    let deleted = {
        let key = login.key.clone();
        blocking(move || store.delete(&key)).await?
    };
    StoredLogin::forget(&config.state_dir, &config.profile)?;
    tracing::info!(user = %login.key.username, "logged out");
    Ok(LogoutOutcome {
        login: Some(login.key),
        revocation,
        deleted,
    })
}

/// Ends the login a new one replaced under the same profile: revokes its
/// refresh token unless it is of the new login's own Keycloak session, and
/// deletes its tokens unless the new ones took their place. Reports it
/// when it was someone else's (another user, Keycloak or client).
async fn end_replaced_login(
    config: &Config,
    new_key: &TokenKey,
    new_tokens: &TokenSet,
    previous: StoredLogin,
    old_tokens: Result<(Option<TokenSet>, Option<TokenStore>), StoreError>,
) -> Option<ReplacedLogin> {
    let same_key = previous.key == *new_key;
    let (old_tokens, old_store) = match old_tokens {
        Ok((tokens, store)) => (Ok(tokens), store),
        Err(e) => (Err(e), None),
    };
    let same_session = match &old_tokens {
        Ok(Some(old)) => {
            previous.key.issuer == new_key.issuer
                && match (old.session_id(), new_tokens.session_id()) {
                    (Some(old), Some(new)) => old == new,
                    // Without session ids, one user's logins may share a
                    // Keycloak session: revoking could end the new one.
                    _ => previous.key.username == new_key.username,
                }
        }
        _ => false,
    };
    let revocation = match old_tokens {
        Ok(_) if same_session => Ok(()),
        Ok(tokens) => {
            revoke_stored(&previous.key, tokens.as_ref(), config.allow_insecure_http).await
        }
        Err(e) => Err(e.into()),
    };
    if same_key {
        if let Err(e) = &revocation {
            tracing::info!(error = %e, "could not revoke the earlier session of the same login");
        }
        return None;
    }
    if let Some(old_store) = old_store {
        let key = previous.key.clone();
        if let Err(e) = blocking(move || old_store.delete(&key)).await {
            tracing::warn!(error = %e, "could not delete the replaced login's tokens");
        }
    }
    tracing::info!(user = %previous.key.username, "replaced an earlier login");
    Some(ReplacedLogin {
        username: previous.key.username,
        issuer: previous.key.issuer,
        revocation,
    })
}

/// Revokes the refresh token of `tokens` at the Keycloak of `key`, giving
/// up after [`REVOKE_TIMEOUT`]. Nothing to revoke is a success.
async fn revoke_stored(
    key: &TokenKey,
    tokens: Option<&TokenSet>,
    allow_insecure_http: bool,
) -> Result<(), AuthError> {
    let Some(refresh_token) = tokens.and_then(|t| t.refresh_token.clone()) else {
        return Ok(());
    };
    let attempt = async {
        let http = InsecureHttp::allowed_if(allow_insecure_http);
        let provider = Provider::discover_with(&key.issuer, &key.client_id, http).await?;
        revoke(&provider, &refresh_token).await
    };
    match tokio::time::timeout(REVOKE_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(AuthError::IssuerUnreachable {
            keycloak: super::discovery::keycloak_base(&key.issuer),
            reason: "timed out".to_owned(),
        }),
    }
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
