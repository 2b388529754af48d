//! Logging in with the OAuth 2.0 device authorization grant (RFC 8628): the
//! terminal shows a URL and a code, the person approves on any device with a
//! browser, and the terminal polls Keycloak until it answers.

use std::sync::Mutex;
use std::time::Duration;

use openidconnect::core::{CoreDeviceAuthorizationResponse, CoreTokenResponse};
use openidconnect::{
    DeviceCodeErrorResponse, DeviceCodeErrorResponseType, HttpClientError, PkceCodeChallenge,
    PkceCodeVerifier, RequestTokenError, Scope,
};

use super::discovery::{Provider, error_chain, http_failure};
use super::error::AuthError;
use super::tokens::TokenSet;

/// How fast to poll the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PollPace {
    /// Wait as long as Keycloak asks (its `interval`, longer after each
    /// `slow_down`). What people get.
    #[default]
    AsServerAsks,
    /// Wait this long whatever Keycloak asks. Polling faster than allowed is
    /// only useful to check that `slow_down` answers are honoured.
    Every(Duration),
}

/// A device login Keycloak has started: what to show the person, and the
/// secrets needed to collect the tokens once they approve.
pub struct DeviceAuthorization {
    provider: Provider,
    details: CoreDeviceAuthorizationResponse,
    pkce_verifier: PkceCodeVerifier,
    waits: Mutex<Vec<Duration>>,
}

impl DeviceAuthorization {
    /// Asks Keycloak for a device code and a user code. The request carries
    /// a PKCE S256 challenge because the realm demands PKCE from the
    /// terminal client for every grant, this one included.
    pub async fn start(provider: &Provider) -> Result<DeviceAuthorization, AuthError> {
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let client = provider.device_client()?;
        let details: CoreDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scope(Scope::new("openid".to_owned()))
            .add_extra_param("code_challenge", challenge.as_str().to_owned())
            .add_extra_param("code_challenge_method", "S256")
            .request_async(provider.http())
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer)
                    if answer.error().as_ref() == "unauthorized_client" =>
                {
                    AuthError::DeviceGrantNotAllowed {
                        client: provider.client_id().to_owned(),
                        reason: answer
                            .error_description()
                            .cloned()
                            .unwrap_or_else(|| "unauthorized_client".to_owned()),
                    }
                }
                RequestTokenError::ServerResponse(answer) => AuthError::TokenRequest(
                    answer
                        .error_description()
                        .cloned()
                        .unwrap_or_else(|| answer.error().as_ref().to_owned()),
                ),
                RequestTokenError::Request(e) => AuthError::IssuerUnreachable {
                    keycloak: provider.keycloak_base(),
                    reason: http_failure(&e),
                },
                other => AuthError::TokenRequest(error_chain(&other)),
            })?;
        tracing::info!(
            client = provider.client_id(),
            expires_in = details.expires_in().as_secs(),
            "device login started"
        );
        Ok(DeviceAuthorization {
            provider: provider.clone(),
            details,
            pkce_verifier,
            waits: Mutex::new(Vec::new()),
        })
    }

    /// The page where the person enters [`Self::user_code`].
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }

    /// The page with the code already filled in (for the QR code).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.details
            .verification_uri_complete()
            .map(|u| u.secret().as_str())
    }

    /// The code the person types on the verification page.
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    /// How long the codes stay valid.
    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }

    /// The waits between polls so far, as Keycloak asked for them (the
    /// interval grows by 5 s after every `slow_down`).
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Polls until Keycloak hands out tokens or ends the login. Stops on
    /// `expired_token` and `access_denied` with a message saying what to do;
    /// drop the future (e.g. on Ctrl-C) to cancel.
    pub async fn finish(&self, pace: PollPace) -> Result<TokenSet, AuthError> {
        let client = self.provider.device_client()?;
        let request = client
            .exchange_device_access_token(&self.details)
            .map_err(|e| AuthError::TokenRequest(e.to_string()))?
            .add_extra_param("code_verifier", self.pkce_verifier.secret().to_owned());
        let sleep = |interval: Duration| {
            if let Ok(mut waits) = self.waits.lock() {
                waits.push(interval);
            }
            tracing::debug!(interval_secs = interval.as_secs(), "waiting for approval");
            tokio::time::sleep(match pace {
                PollPace::AsServerAsks => interval,
                PollPace::Every(fixed) => fixed,
            })
        };
        let response: CoreTokenResponse = request
            .request_async(self.provider.http(), sleep, None)
            .await
            .map_err(|e| self.poll_error(e))?;
        let tokens = TokenSet::from_login(&self.provider, &response, None)?;
        tracing::info!(user = %tokens.username, "device login approved");
        Ok(tokens)
    }

    fn poll_error(
        &self,
        error: RequestTokenError<HttpClientError<reqwest::Error>, DeviceCodeErrorResponse>,
    ) -> AuthError {
        match error {
            RequestTokenError::ServerResponse(answer) => match answer.error() {
                DeviceCodeErrorResponseType::ExpiredToken => AuthError::DeviceCodeExpired {
                    valid_for: self.expires_in(),
                },
                DeviceCodeErrorResponseType::AccessDenied => AuthError::AccessDenied {
                    reason: answer.error_description().cloned(),
                },
                other => AuthError::TokenRequest(
                    answer
                        .error_description()
                        .cloned()
                        .unwrap_or_else(|| other.as_ref().to_owned()),
                ),
            },
            RequestTokenError::Request(e) => AuthError::IssuerUnreachable {
                keycloak: self.provider.keycloak_base(),
                reason: http_failure(&e),
            },
            other => AuthError::TokenRequest(error_chain(&other)),
        }
    }
}
