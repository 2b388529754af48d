//! Validation of the Keycloak access token a client presents as its CONNECT
//! `auth_token`.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::{JwksCache, KeyLookupError};

/// What a token must satisfy, beyond a valid realm signature.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Exact `iss`: `<keycloak>/realms/<realm>`.
    pub issuer: String,
    /// A value `aud` must contain.
    pub audience: String,
    /// Clients (`azp`) whose tokens are accepted.
    pub allowed_clients: Vec<String>,
    /// Signature algorithms accepted; asymmetric only.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Tokens longer than this are refused before any parsing.
    pub max_token_bytes: usize,
}

/// The claims of an accepted access token that the callout uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessTokenClaims {
    #[serde(default)]
    pub preferred_username: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub realm_access: RealmAccess,
}

/// `realm_access` of a Keycloak token.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RealmAccess {
    #[serde(default)]
    pub roles: Vec<String>,
}

/// An access token that passed every check.
#[derive(Debug, Clone)]
pub struct ValidToken {
    /// The `preferred_username`; never empty.
    pub user: String,
    pub claims: AccessTokenClaims,
}

/// Why a token was refused. The text goes back to the server as the
/// response's `error`, so it names the check and never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no token presented")]
    Missing,
    #[error("token too large ({size} bytes, limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("token is not a JWT")]
    Malformed,
    #[error("token algorithm {0} is not allowed")]
    Algorithm(String),
    #[error("token header names no key (kid)")]
    MissingKid,
    #[error("token signed by unknown key")]
    UnknownKid,
    #[error("realm keys unavailable")]
    KeysUnavailable,
    #[error("token signature is invalid")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer is not trusted")]
    Issuer,
    #[error("token audience does not include the NATS audience")]
    Audience,
    #[error("token claims are invalid")]
    Claims,
    #[error("token is not an access token (typ {0})")]
    NotBearer(String),
    #[error("token client {0} is not allowed")]
    Client(String),
    #[error("token names no user")]
    NoUser,
}

/// A refusal together with what can safely be logged about the token.
#[derive(Debug)]
pub struct Refused {
    pub reason: Rejection,
    /// The key id the header named, if it had one.
    pub kid: Option<String>,
}

/// Checks access tokens against the realm's keys and a [`TokenPolicy`].
pub struct AccessTokenValidator {
    policy: TokenPolicy,
    jwks: Arc<JwksCache>,
    validation: Validation,
}

impl AccessTokenValidator {
    pub fn new(policy: TokenPolicy, jwks: Arc<JwksCache>) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = policy.algorithms.clone();
        validation.leeway = policy.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&policy.issuer]);
        validation.set_audience(&[&policy.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        AccessTokenValidator {
            policy,
            jwks,
            validation,
        }
    }

    /// Validates `token`; returns the user it names or why it is refused.
    pub async fn validate(&self, token: Option<&str>) -> Result<ValidToken, Refused> {
        let refuse = |reason, kid: Option<&str>| Refused {
            reason,
            kid: kid.map(str::to_owned),
        };
        let token = match token {
            Some(t) if !t.is_empty() => t,
            _ => return Err(refuse(Rejection::Missing, None)),
        };
        // Before anything parses it: a megabyte of garbage costs nothing.
        if token.len() > self.policy.max_token_bytes {
            return Err(refuse(
                Rejection::TooLarge {
                    size: token.len(),
                    limit: self.policy.max_token_bytes,
                },
                None,
            ));
        }

        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            // `alg: none` is no algorithm jsonwebtoken knows, so its header
            // does not parse; name the algorithm anyway for the log.
            let reason = match raw_algorithm(token) {
                Some(alg) if alg.parse::<Algorithm>().is_err() => Rejection::Algorithm(alg),
                _ => Rejection::Malformed,
            };
            refuse(reason, None)
        })?;
        let kid = header.kid.as_deref();
        if !self.policy.algorithms.contains(&header.alg) {
            return Err(refuse(
                Rejection::Algorithm(format!("{:?}", header.alg)),
                kid,
            ));
        }
        let Some(kid) = kid else {
            return Err(refuse(Rejection::MissingKid, None));
        };
        let realm_key = self.jwks.key(kid).await.map_err(|e| {
            let reason = match e {
                KeyLookupError::UnknownKid(_) => Rejection::UnknownKid,
                KeyLookupError::Refresh(_) => Rejection::KeysUnavailable,
            };
            refuse(reason, Some(kid))
        })?;
        if realm_key.algorithm.is_some_and(|alg| alg != header.alg) {
            return Err(refuse(
                Rejection::Algorithm(format!("{:?}", header.alg)),
                Some(kid),
            ));
        }

        let data =
            jsonwebtoken::decode::<AccessTokenClaims>(token, &realm_key.key, &self.validation)
                .map_err(|e| {
                    let reason = match e.kind() {
                        ErrorKind::InvalidSignature => Rejection::Signature,
                        ErrorKind::ExpiredSignature => Rejection::Expired,
                        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                        ErrorKind::InvalidIssuer => Rejection::Issuer,
                        ErrorKind::InvalidAudience => Rejection::Audience,
                        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
                            Rejection::Audience
                        }
                        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => {
                            Rejection::Issuer
                        }
                        ErrorKind::InvalidAlgorithm => {
                            Rejection::Algorithm(format!("{:?}", header.alg))
                        }
                        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                            Rejection::Malformed
                        }
                        _ => Rejection::Claims,
                    };
                    refuse(reason, Some(kid))
                })?;
        let claims = data.claims;

        let typ = claims.typ.as_deref().unwrap_or("");
        if !typ.eq_ignore_ascii_case("Bearer") {
            return Err(refuse(Rejection::NotBearer(typ.to_owned()), Some(kid)));
        }
        let azp = claims.azp.as_deref().unwrap_or("");
        if !self.policy.allowed_clients.iter().any(|c| c == azp) {
            return Err(refuse(Rejection::Client(azp.to_owned()), Some(kid)));
        }
        let user = match claims.preferred_username.as_deref() {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => return Err(refuse(Rejection::NoUser, Some(kid))),
        };
        Ok(ValidToken { user, claims })
    }
}

/// The `alg` a JWT header names, if the header is JSON at all; cut short
/// because it is attacker-chosen text.
fn raw_algorithm(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let alg = header.get("alg")?.as_str()?;
    Some(
        alg.chars()
            .filter(|c| c.is_ascii_graphic())
            .take(16)
            .collect(),
    )
}

/// The user and client a token claims, read without checking it, for logs
/// about refused tokens. Never trust these for a decision.
pub fn claimed_identity(token: &str) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Claimed {
        preferred_username: Option<String>,
        azp: Option<String>,
    }
    let claimed = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Claimed>(&bytes).ok());
    match claimed {
        Some(c) => (c.preferred_username, c.azp),
        None => (None, None),
    }
}
