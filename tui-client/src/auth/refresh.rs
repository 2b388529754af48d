//! Trading a refresh token for fresh tokens, and handing a refresh token
//! back when logging out.

use openidconnect::core::{CoreRevocableToken, CoreTokenResponse};
use openidconnect::url::Url;
use openidconnect::{RefreshToken, RequestTokenError};

use super::discovery::{Provider, error_chain, http_failure, is_loopback};
use super::error::AuthError;
use super::tokens::{TokenSet, token_endpoint_error};

/// Fresh tokens for `tokens.username`. When Keycloak no longer honours the
/// refresh token (session ended, revoked, idle too long) the answer is
/// [`AuthError::LoginAgain`], once: nothing here retries.
pub async fn refresh(provider: &Provider, tokens: &TokenSet) -> Result<TokenSet, AuthError> {
    let Some(refresh_token) = tokens.refresh_token.clone() else {
        return Err(AuthError::LoginAgain {
            reason: "Keycloak gave no refresh token".to_owned(),
        });
    };
    let secret = RefreshToken::new(refresh_token.clone());
    let client = provider.client();
    let response: CoreTokenResponse = client
        .exchange_refresh_token(&secret)
        .map_err(|e| AuthError::TokenRequest(e.to_string()))?
        .request_async(provider.http())
        .await
        .map_err(|e| {
            token_endpoint_error(provider, e, |reason| AuthError::LoginAgain { reason })
        })?;
    let fresh = TokenSet::from_response(tokens.username.clone(), &response, Some(refresh_token));
    tracing::info!(user = %fresh.username, "access token refreshed");
    Ok(fresh)
}

/// Asks Keycloak to revoke a refresh token (RFC 7009), which also ends the
/// Keycloak session it belongs to for this client.
pub async fn revoke(provider: &Provider, refresh_token: &str) -> Result<(), AuthError> {
    let client = provider
        .revocation_client()
        .ok_or_else(|| AuthError::Revocation("the realm has no revocation endpoint".into()))?;
    let endpoint = client.revocation_url().url().clone();
    if endpoint.scheme() == "http" && is_loopback(&endpoint) {
        return revoke_on_loopback(provider, &endpoint, refresh_token).await;
    }
    client
        .revoke_token(CoreRevocableToken::RefreshToken(RefreshToken::new(
            refresh_token.to_owned(),
        )))
        .map_err(|e| AuthError::Revocation(e.to_string()))?
        .request_async(provider.http())
        .await
        .map_err(|e| match e {
            RequestTokenError::Request(e) => AuthError::IssuerUnreachable {
                keycloak: provider.keycloak_base(),
                reason: http_failure(&e),
            },
            other => AuthError::Revocation(error_chain(&other)),
        })
}

/// The RFC 7009 request made by hand. openidconnect refuses revocation
/// endpoints without TLS, as RFC 7009 asks; a Keycloak on this very machine
/// (the development stack) speaks plain HTTP, and the refresh token never
/// leaves the machine there.
async fn revoke_on_loopback(
    provider: &Provider,
    endpoint: &Url,
    refresh_token: &str,
) -> Result<(), AuthError> {
    let reply = provider
        .http()
        .post(endpoint.clone())
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", provider.client_id()),
        ])
        .send()
        .await
        .map_err(|e| AuthError::IssuerUnreachable {
            keycloak: provider.keycloak_base(),
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else {
                error_chain(&e)
            },
        })?;
    let status = reply.status();
    if status.is_success() {
        return Ok(());
    }
    let body = reply.text().await.unwrap_or_default();
    Err(AuthError::Revocation(format!("{status}: {body}")))
}
