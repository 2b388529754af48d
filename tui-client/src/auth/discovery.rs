//! The Keycloak realm as its OpenID configuration describes it: endpoints,
//! signing keys, and the two endpoints the core metadata leaves out (device
//! authorization and revocation).

use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::url::{Host, Url};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, DeviceAuthorizationUrl, DiscoveryError, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpClientError, IssuerUrl, ProviderMetadata, RevocationUrl,
};
use serde::{Deserialize, Serialize};

use super::error::AuthError;
use crate::config::Config;

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
    /// signing keys. The issuer must be https://, or http:// on this
    /// computer.
    pub async fn discover(issuer: &str, client_id: &str) -> Result<Provider, AuthError> {
        Provider::discover_with(issuer, client_id, InsecureHttp::LoopbackOnly).await
    }

    /// [`Provider::discover`] for the issuer and client of `config`,
    /// honouring its `allow_insecure_http`.
    pub async fn for_config(config: &Config) -> Result<Provider, AuthError> {
        Provider::discover_with(
            &config.issuer,
            &config.client_id,
            InsecureHttp::allowed_if(config.allow_insecure_http),
        )
        .await
    }

    /// [`Provider::discover`] with a choice about plain http:// issuers.
    pub async fn discover_with(
        issuer: &str,
        client_id: &str,
        http: InsecureHttp,
    ) -> Result<Provider, AuthError> {
        let issuer_url = check_issuer(issuer, http)?;
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

/// Where a plain http:// issuer is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsecureHttp {
    /// Only on this computer (127.0.0.0/8, ::1, localhost), where nothing
    /// crosses a network: the development stack.
    LoopbackOnly,
    /// Anywhere: someone said the network is trusted.
    Allowed,
}

impl InsecureHttp {
    pub fn allowed_if(allowed: bool) -> InsecureHttp {
        if allowed {
            InsecureHttp::Allowed
        } else {
            InsecureHttp::LoopbackOnly
        }
    }
}

/// The issuer as a URL natschat may talk to: https://, or http:// as
/// `http` allows. Anything else is refused before any request is made.
fn check_issuer(issuer: &str, http: InsecureHttp) -> Result<IssuerUrl, AuthError> {
    let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| AuthError::BadUrl {
        what: format!("the issuer {issuer}"),
        reason: e.to_string(),
    })?;
    let url = issuer_url.url();
    match url.scheme() {
        "https" => Ok(issuer_url),
        "http" if http == InsecureHttp::Allowed || is_loopback(url) => Ok(issuer_url),
        "http" => Err(AuthError::InsecureIssuer {
            issuer: issuer.to_owned(),
        }),
        scheme => Err(AuthError::UnsupportedScheme {
            issuer: issuer.to_owned(),
            scheme: scheme.to_owned(),
        }),
    }
}

/// Whether `url` points at this computer.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(issuer: &str, http: InsecureHttp) -> String {
        check_issuer(issuer, http).unwrap_err().to_string()
    }

    #[test]
    fn plain_http_is_accepted_on_this_computer_only() {
        for issuer in [
            "http://127.0.0.1:8080/realms/nats-chat",
            "http://127.1.2.3/realms/r",
            "http://[::1]:8080/realms/r",
            "http://localhost:8080/realms/r",
            "https://sso.example.org/realms/r",
        ] {
            assert!(
                check_issuer(issuer, InsecureHttp::LoopbackOnly).is_ok(),
                "{issuer}"
            );
        }
        let message = refusal(
            "http://sso.example.org/realms/r",
            InsecureHttp::LoopbackOnly,
        );
        assert!(message.contains("--allow-insecure-http"), "{message}");
        assert!(
            refusal("http://10.0.0.1/realms/r", InsecureHttp::LoopbackOnly).contains("https://")
        );
    }

    #[test]
    fn plain_http_elsewhere_needs_the_explicit_opt_in() {
        assert!(check_issuer("http://sso.example.org/realms/r", InsecureHttp::Allowed).is_ok());
    }

    #[test]
    fn other_schemes_are_refused_as_unsupported_not_unreachable() {
        let message = refusal("ftp://127.0.0.1/realms/r", InsecureHttp::Allowed);
        assert!(message.contains("the scheme ftp:"), "{message}");
        assert!(message.contains("does not speak"), "{message}");
        assert!(!message.contains("is it running"), "{message}");
    }
}
