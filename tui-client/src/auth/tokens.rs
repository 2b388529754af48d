//! The tokens a login yields and what natschat reads out of them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreErrorResponseType, CoreTokenResponse};
use openidconnect::{
    HttpClientError, Nonce, OAuth2TokenResponse, RequestTokenError, StandardErrorResponse,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::discovery::{Provider, error_chain, http_failure};
use super::error::AuthError;

type CoreErrorResponse = StandardErrorResponse<CoreErrorResponseType>;

/// How far this computer's clock may differ from Keycloak's before a login
/// is refused: past this, five-minute access tokens look expired (or not
/// yet valid) to whoever checks them.
const CLOCK_SKEW_LIMIT: i64 = 120;

/// Tokens for one person, as kept in the token store.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    /// `preferred_username` of the person signed in.
    pub username: String,
    /// What NATS gets at CONNECT.
    pub access_token: String,
    /// Trades for fresh access tokens until the Keycloak session ends.
    pub refresh_token: Option<String>,
    /// When the access token expires, Unix seconds by this computer's clock.
    pub access_expires_at: u64,
    /// When the refresh token expires, Unix seconds, when Keycloak says.
    pub refresh_expires_at: Option<u64>,
}

// Tokens are bearer secrets: keep them out of logs and panics.
impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("username", &self.username)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

/// The access-token claims natschat shows and acts on.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccessClaims {
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub realm_access: RealmAccess,
    #[serde(default)]
    pub exp: Option<u64>,
    #[serde(default)]
    pub iat: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RealmAccess {
    #[serde(default)]
    pub roles: Vec<String>,
}

impl TokenSet {
    /// Builds the token set from a token endpoint answer to a login. Checks
    /// the ID token (signature, issuer, audience, expiry, and the nonce when
    /// the login sent one) and takes the username from it.
    pub(crate) fn from_login(
        provider: &Provider,
        response: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> Result<TokenSet, AuthError> {
        let access = AccessClaims::decode(response.access_token().secret())?;
        check_clock(&access)?;

        let id_token = response
            .id_token()
            .ok_or_else(|| AuthError::IdToken("Keycloak sent no ID token".to_owned()))?;
        let client = provider.client();
        let verifier = client.id_token_verifier();
        let claims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce),
            // The device grant has no nonce: the token comes straight from
            // the token endpoint in answer to our own device code.
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|e| AuthError::IdToken(e.to_string()))?;
        let username = claims
            .preferred_username()
            .map(|u| u.as_str().to_owned())
            .or(access.preferred_username)
            .ok_or_else(|| AuthError::IdToken("no preferred_username".to_owned()))?;

        Ok(TokenSet::from_response(username, response, None))
    }

    /// Builds the token set from any token endpoint answer; a refresh answer
    /// without a new refresh token keeps `previous_refresh`.
    pub(crate) fn from_response(
        username: String,
        response: &CoreTokenResponse,
        previous_refresh: Option<String>,
    ) -> TokenSet {
        let now = unix_now();
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(60))
            .as_secs();
        let refresh_token = response
            .refresh_token()
            .map(|t| t.secret().clone())
            .or(previous_refresh);
        // Keycloak's refresh tokens are JWTs whose `exp` ends the session;
        // other servers' opaque refresh tokens simply have no known end.
        let refresh_expires_at = refresh_token
            .as_deref()
            .and_then(|t| jwt_payload::<AccessClaims>(t).ok())
            .and_then(|c| c.exp.zip(c.iat))
            .map(|(exp, iat)| now + exp.saturating_sub(iat));
        TokenSet {
            username,
            access_token: response.access_token().secret().clone(),
            refresh_token,
            access_expires_at: now + lifetime,
            refresh_expires_at,
        }
    }

    /// The access token's claims (roles, username). A token set is read
    /// back from the token store, so a token that does not decode is the
    /// store's problem, not Keycloak's.
    pub fn access_claims(&self) -> Result<AccessClaims, AuthError> {
        AccessClaims::decode(&self.access_token).map_err(|e| match e {
            AuthError::MalformedToken(reason) => AuthError::StoredTokenUnreadable(reason),
            other => other,
        })
    }

    /// Time left before the Keycloak session can no longer be refreshed,
    /// when Keycloak said.
    pub fn refresh_time_left(&self) -> Option<Duration> {
        self.refresh_expires_at
            .map(|end| Duration::from_secs(end.saturating_sub(unix_now())))
    }

    /// The Keycloak session the tokens belong to (`sid` of the refresh
    /// token), when the refresh token says.
    pub fn session_id(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Sid {
            sid: Option<String>,
        }
        let token = self.refresh_token.as_deref()?;
        jwt_payload::<Sid>(token).ok()?.sid
    }

    /// Time left on the access token; zero once expired.
    pub fn access_time_left(&self) -> Duration {
        Duration::from_secs(self.access_expires_at.saturating_sub(unix_now()))
    }
}

impl AccessClaims {
    /// Reads the claims without checking the signature. That is sound here
    /// because the token came to us straight from Keycloak's token endpoint;
    /// whoever receives it (the NATS auth callout) checks it properly.
    pub fn decode(access_token: &str) -> Result<AccessClaims, AuthError> {
        jwt_payload(access_token)
    }
}

fn jwt_payload<T: for<'de> Deserialize<'de>>(jwt: &str) -> Result<T, AuthError> {
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| AuthError::MalformedToken("not a JWT".to_owned()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| AuthError::MalformedToken(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| AuthError::MalformedToken(e.to_string()))
}

/// Refuses a login when this computer's clock and Keycloak's disagree by
/// more than [`CLOCK_SKEW_LIMIT`], judged by the fresh token's `iat`.
fn check_clock(access: &AccessClaims) -> Result<(), AuthError> {
    let Some(iat) = access.iat else {
        return Ok(());
    };
    let skew = clock_skew(unix_now(), iat);
    if skew.abs() > CLOCK_SKEW_LIMIT {
        return Err(AuthError::ClockSkew { seconds: skew });
    }
    Ok(())
}

/// Local time minus Keycloak's time, in seconds.
fn clock_skew(local_now: u64, issued_at: u64) -> i64 {
    local_now as i64 - issued_at as i64
}

/// The error of a failed token endpoint request: Keycloak unreachable, or
/// its refusal in its own words. `invalid_grant` (the code or refresh token
/// is no longer good) goes through `on_invalid_grant`, since what to tell
/// the person depends on what was traded.
pub(crate) fn token_endpoint_error(
    provider: &Provider,
    error: RequestTokenError<HttpClientError<reqwest::Error>, CoreErrorResponse>,
    on_invalid_grant: impl FnOnce(String) -> AuthError,
) -> AuthError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            let reason = answer
                .error_description()
                .cloned()
                .unwrap_or_else(|| answer.error().as_ref().to_owned());
            if *answer.error() == CoreErrorResponseType::InvalidGrant {
                on_invalid_grant(reason)
            } else {
                AuthError::TokenRequest(reason)
            }
        }
        RequestTokenError::Request(e) => AuthError::IssuerUnreachable {
            keycloak: provider.keycloak_base(),
            reason: http_failure(&e),
        },
        other => AuthError::TokenRequest(error_chain(&other)),
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn reads_roles_and_username_from_an_access_token() {
        let claims = AccessClaims::decode(&jwt(
            r#"{"preferred_username":"alice","realm_access":{"roles":["admin","user"]},"exp":5}"#,
        ))
        .unwrap();
        assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
        assert_eq!(claims.realm_access.roles, ["admin", "user"]);
    }

    #[test]
    fn a_token_without_realm_roles_has_none() {
        let claims = AccessClaims::decode(&jwt(r#"{"preferred_username":"charlie"}"#)).unwrap();
        assert!(claims.realm_access.roles.is_empty());
    }

    #[test]
    fn a_stored_token_that_does_not_decode_is_blamed_on_the_store() {
        let tokens = TokenSet {
            username: "bob".into(),
            access_token: "garbage".into(),
            refresh_token: None,
            access_expires_at: 1,
            refresh_expires_at: None,
        };
        let message = tokens.access_claims().unwrap_err().to_string();
        assert!(message.starts_with("the stored access token"), "{message}");
        assert!(message.contains("natschat-tui logout"), "{message}");
        assert!(!message.contains("Keycloak sent"), "{message}");
    }

    #[test]
    fn refuses_garbage_instead_of_a_jwt() {
        assert!(AccessClaims::decode("not-a-token").is_err());
    }

    #[test]
    fn clock_skew_past_the_limit_is_refused_in_both_directions() {
        let now = unix_now();
        let ahead = AccessClaims {
            iat: Some(now - 600),
            ..AccessClaims::default()
        };
        match check_clock(&ahead) {
            Err(AuthError::ClockSkew { seconds }) => assert!(seconds >= 600),
            other => panic!("expected clock skew, got {other:?}"),
        }
        let behind = AccessClaims {
            iat: Some(now + 600),
            ..AccessClaims::default()
        };
        let message = check_clock(&behind).unwrap_err().to_string();
        assert!(message.contains("behind"), "{message}");
        let fine = AccessClaims {
            iat: Some(now - 3),
            ..AccessClaims::default()
        };
        assert!(check_clock(&fine).is_ok());
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let tokens = TokenSet {
            username: "alice".into(),
            access_token: "secret-access".into(),
            refresh_token: Some("secret-refresh".into()),
            access_expires_at: 1,
            refresh_expires_at: None,
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
