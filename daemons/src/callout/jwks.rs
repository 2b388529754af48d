//! The realm's signing keys (JWKS), fetched from Keycloak and kept fresh.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A realm key usable for verifying signatures.
pub struct RealmKey {
    pub key: DecodingKey,
    /// The algorithm the realm declares for the key, if any; a token must
    /// then use exactly that one.
    pub algorithm: Option<Algorithm>,
}

/// Why the JWKS could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error(
        "Keycloak's JWKS at {url} did not answer ({source}); is Keycloak running? `./dev status` shows the stack"
    )]
    Unreachable { url: String, source: reqwest::Error },
    #[error("Keycloak's JWKS at {url} is not a key set: {reason}")]
    Invalid { url: String, reason: String },
    #[error("Keycloak's JWKS at {url} holds no signing key the callout can use")]
    Empty { url: String },
}

/// Why no key was found for a token.
#[derive(Debug, thiserror::Error)]
pub enum KeyLookupError {
    #[error("no realm key has kid {0:?}")]
    UnknownKid(String),
    #[error("the realm key set could not be refreshed: {0}")]
    Refresh(#[from] JwksError),
}

/// The realm's verification keys by `kid`.
///
/// Refreshed in the background; a token naming an unknown `kid` triggers at
/// most one refetch per `min_refetch`, so a flood of made-up kids cannot
/// turn the callout into a hammer on Keycloak.
pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, Arc<RealmKey>>>,
    /// When the key set was last fetched (or tried); held across a refetch so
    /// that concurrent lookups of unknown kids wait for one fetch.
    last_fetch: tokio::sync::Mutex<Instant>,
    min_refetch: Duration,
}

impl JwksCache {
    /// Fetches the key set, retrying with backoff until Keycloak answers or
    /// `patience` has passed (Keycloak often starts after the callout).
    pub async fn fetch_at_start(
        url: String,
        http: reqwest::Client,
        min_refetch: Duration,
        patience: Duration,
    ) -> Result<JwksCache, JwksError> {
        let deadline = Instant::now() + patience;
        let mut backoff = Duration::from_millis(250);
        let keys = loop {
            match fetch(&http, &url).await {
                Ok(keys) => break keys,
                Err(error) if Instant::now() + backoff < deadline => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "JWKS not available yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(error) => return Err(error),
            }
        };
        tracing::info!(url = %url, keys = keys.len(), "fetched realm keys");
        Ok(JwksCache {
            url,
            http,
            keys: RwLock::new(keys),
            last_fetch: tokio::sync::Mutex::new(Instant::now()),
            min_refetch,
        })
    }

    /// The key with this `kid`, refetching the set once if it is unknown and
    /// the last fetch is older than the refetch interval.
    pub async fn key(&self, kid: &str) -> Result<Arc<RealmKey>, KeyLookupError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another lookup may have refetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if last_fetch.elapsed() < self.min_refetch {
            return Err(KeyLookupError::UnknownKid(kid.to_owned()));
        }
        *last_fetch = Instant::now();
        tracing::info!(kid, "unknown kid; refetching realm keys");
        self.store(fetch(&self.http, &self.url).await?);
        self.cached(kid)
            .ok_or_else(|| KeyLookupError::UnknownKid(kid.to_owned()))
    }

    /// Refetches the key set now.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        let mut last_fetch = self.last_fetch.lock().await;
        *last_fetch = Instant::now();
        self.store(fetch(&self.http, &self.url).await?);
        Ok(())
    }

    /// Refreshes the key set every `every` until the task is dropped, so
    /// keys Keycloak retires disappear and new ones arrive without waiting
    /// for an unknown kid.
    pub fn spawn_refresh(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(error) = self.refresh().await {
                    // Keep the keys we have: Keycloak being briefly down must
                    // not lock everyone out.
                    tracing::warn!(%error, "periodic JWKS refresh failed; keeping cached keys");
                }
            }
        })
    }

    fn cached(&self, kid: &str) -> Option<Arc<RealmKey>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(kid).cloned()
    }

    fn store(&self, fresh: HashMap<String, Arc<RealmKey>>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() != fresh.len() || fresh.keys().any(|k| !keys.contains_key(k)) {
            tracing::info!(keys = fresh.len(), "realm keys changed");
        }
        *keys = fresh;
    }
}

async fn fetch(
    http: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, Arc<RealmKey>>, JwksError> {
    let unreachable = |source| JwksError::Unreachable {
        url: url.to_owned(),
        source,
    };
    let body: serde_json::Value = http
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(unreachable)?
        .json()
        .await
        .map_err(unreachable)?;
    let entries =
        body.get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| JwksError::Invalid {
                url: url.to_owned(),
                reason: "no \"keys\" array".into(),
            })?;
    let keys = signing_keys(entries);
    if keys.is_empty() {
        return Err(JwksError::Empty {
            url: url.to_owned(),
        });
    }
    Ok(keys)
}

/// The signing keys among JWKS entries. Entries are read one by one, so an
/// encryption key or an algorithm this crate does not know is skipped rather
/// than spoiling the whole set.
fn signing_keys(entries: &[serde_json::Value]) -> HashMap<String, Arc<RealmKey>> {
    let mut keys = HashMap::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let algorithm = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok());
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.insert(kid, Arc::new(RealmKey { key, algorithm }));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_signing_keys_and_skips_encryption_and_unknown_entries() {
        // Shape of Keycloak 26's certs endpoint: one RS256 signing key, one
        // RSA-OAEP encryption key, plus an entry no parser knows.
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let entries = vec![
            serde_json::json!({"kid":"sig","kty":"RSA","alg":"RS256","use":"sig","n":n,"e":"AQAB"}),
            serde_json::json!({"kid":"enc","kty":"RSA","alg":"RSA-OAEP","use":"enc","n":n,"e":"AQAB"}),
            serde_json::json!({"kid":"odd","kty":"XYZ"}),
        ];
        let keys = signing_keys(&entries);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["sig"].algorithm, Some(Algorithm::RS256));
    }
}
