//! The Keycloak realm as its OpenID configuration describes it: endpoints,
//! signing keys, and the two endpoints the core metadata leaves out (device
//! authorization and revocation).

use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, DeviceAuthorizationUrl, DiscoveryError, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpClientError, IssuerUrl, ProviderMetadata, RevocationUrl,
};
use serde::{Deserialize, Serialize};

use super::error::AuthError;

/// Endpoints Keycloak publishes beyond the core OpenID metadata.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KeycloakEndpoints {
    #[serde(default)]
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
    #[serde(default)]
    revocation_endpoint: Option<RevocationUrl>,
}

impl AdditionalProviderMetadata for KeycloakEndpoints {}

type RealmMetadata = ProviderMetadata<
    KeycloakEndpoints,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// An OpenID client for the realm, with its authorization endpoint set and
/// its token endpoint taken from discovery.
pub(crate) type RealmClient<Device = EndpointNotSet, Revocation = EndpointNotSet> =
    CoreClient<EndpointSet, Device, EndpointNotSet, Revocation, EndpointMaybeSet, EndpointMaybeSet>;

/// How long one HTTP exchange with Keycloak may take. Generous, because a
/// Keycloak that has just started answers its first requests slowly.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// A realm discovered from its issuer URL, plus the public client
/// natschat-tui signs in as.
#[derive(Clone, Debug)]
pub struct Provider {
    issuer: String,
    client_id: ClientId,
    metadata: RealmMetadata,
    http: reqwest::Client,
}

impl Provider {
    /// Reads `<issuer>/.well-known/openid-configuration` and the realm's
    /// signing keys.
    pub async fn discover(issuer: &str, client_id: &str) -> Result<Provider, AuthError> {
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| AuthError::BadUrl {
            what: format!("the issuer {issuer}"),
            reason: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            // Following redirects from an identity provider lets a hostile
            // answer send our requests anywhere; Keycloak never needs it.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| AuthError::IssuerUnreachable {
                keycloak: keycloak_base(issuer),
                reason: e.to_string(),
            })?;
        let metadata = RealmMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| discovery_error(issuer, e))?;
        tracing::debug!(issuer, "discovered the realm's OpenID configuration");
        Ok(Provider {
            issuer: issuer.to_owned(),
            client_id: ClientId::new(client_id.to_owned()),
            metadata,
            http,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    /// The HTTP client every request to Keycloak goes through.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A client for the authorization code, refresh and token endpoints.
    pub(crate) fn client(&self) -> RealmClient {
        CoreClient::from_provider_metadata(self.metadata.clone(), self.client_id.clone(), None)
    }

    /// A client that can also start device logins.
    pub(crate) fn device_client(&self) -> Result<RealmClient<EndpointSet>, AuthError> {
        let url = self
            .metadata
            .additional_metadata()
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| AuthError::NoDeviceEndpoint {
                issuer: self.issuer.clone(),
            })?;
        Ok(self.client().set_device_authorization_url(url))
    }

    /// A client that can revoke tokens, when the realm has a revocation
    /// endpoint.
    pub(crate) fn revocation_client(&self) -> Option<RealmClient<EndpointNotSet, EndpointSet>> {
        let url = self
            .metadata
            .additional_metadata()
            .revocation_endpoint
            .clone()?;
        Some(self.client().set_revocation_url(url))
    }

    /// Where to say Keycloak is when it does not answer.
    pub(crate) fn keycloak_base(&self) -> String {
        keycloak_base(&self.issuer)
    }
}

/// Keycloak's base URL, the issuer without `/realms/<name>`.
pub(crate) fn keycloak_base(issuer: &str) -> String {
    match issuer.find("/realms/") {
        Some(at) => issuer[..at].to_owned(),
        None => issuer.to_owned(),
    }
}

fn discovery_error(
    issuer: &str,
    error: DiscoveryError<HttpClientError<reqwest::Error>>,
) -> AuthError {
    match error {
        DiscoveryError::Request(e) => AuthError::IssuerUnreachable {
            keycloak: keycloak_base(issuer),
            reason: http_failure(&e),
        },
        DiscoveryError::Response(status, _, _) if status.as_u16() == 404 => {
            AuthError::UnknownRealm {
                issuer: issuer.to_owned(),
            }
        }
        DiscoveryError::Validation(reason) => AuthError::Discovery {
            issuer: issuer.to_owned(),
            reason: format!(
                "{reason}; the issuer must be written exactly as Keycloak names itself \
                 (compare with `issuer` in {issuer}/.well-known/openid-configuration)"
            ),
        },
        other => AuthError::Discovery {
            issuer: issuer.to_owned(),
            reason: error_chain(&other),
        },
    }
}

/// A short reason for a failed HTTP exchange ("connection refused",
/// "timed out"), without the URL the caller already names.
pub(crate) fn http_failure(error: &HttpClientError<reqwest::Error>) -> String {
    match error {
        HttpClientError::Reqwest(e) if e.is_timeout() => "timed out".to_owned(),
        HttpClientError::Reqwest(e) if e.is_connect() => "connection refused".to_owned(),
        other => error_chain(other),
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
