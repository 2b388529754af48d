//! Logging in through the system browser: authorization code with PKCE,
//! redirected to a one-shot listener on 127.0.0.1 (RFC 8252 loopback
//! redirect). The realm accepts `http://127.0.0.1/*` on any port.

use std::borrow::Cow;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreTokenResponse};
use openidconnect::url::Url;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::discovery::Provider;
use super::error::AuthError;
use super::tokens::{TokenSet, token_endpoint_error};

/// The path Keycloak redirects the browser to.
const CALLBACK_PATH: &str = "/callback";

/// Longest request head the listener reads; a browser's is far smaller.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// How long one browser connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser login in progress: the URL to open and the listener waiting
/// for Keycloak's redirect.
pub struct LoopbackLogin {
    provider: Provider,
    listener: TcpListener,
    redirect: RedirectUrl,
    authorization_url: Url,
    state: CsrfToken,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
}

/// What one request to the listener amounted to.
enum Callback {
    /// Keycloak's redirect with a code and the right state.
    Code(AuthorizationCode),
    /// Keycloak reported a failure (the person refused, the client is not
    /// allowed, ...).
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Something else: a wrong state, a favicon, a stray request. Answered
    /// and otherwise ignored, so it cannot end or hijack the login.
    Ignored,
}

impl LoopbackLogin {
    /// Listens on an ephemeral port of 127.0.0.1 and prepares the
    /// authorization URL (fresh state, nonce and PKCE S256 challenge).
    pub async fn start(provider: &Provider) -> Result<LoopbackLogin, AuthError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(AuthError::Loopback)?;
        let port = listener.local_addr().map_err(AuthError::Loopback)?.port();
        let redirect = RedirectUrl::new(format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))
            .map_err(|e| AuthError::BadUrl {
                what: "the loopback redirect".to_owned(),
                reason: e.to_string(),
            })?;

        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorization_url, state, nonce) = provider
            .client()
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect.clone()))
            .url();
        tracing::info!(port, "waiting for the browser on the loopback listener");
        Ok(LoopbackLogin {
            provider: provider.clone(),
            listener,
            redirect,
            authorization_url,
            state,
            nonce,
            pkce_verifier,
        })
    }

    /// The page to open in the browser.
    pub fn authorization_url(&self) -> &Url {
        &self.authorization_url
    }

    /// Where Keycloak sends the browser back to.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    /// Waits up to `timeout` for Keycloak's redirect, answers the browser
    /// with a short page, and trades the code for tokens.
    pub async fn finish(self, timeout: Duration) -> Result<TokenSet, AuthError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let (mut stream, _) = match accepted {
                Err(_) => return Err(AuthError::BrowserTimeout { waited: timeout }),
                Ok(Err(e)) => return Err(AuthError::Loopback(e)),
                Ok(Ok(connection)) => connection,
            };
            let target = match read_request_target(&mut stream).await {
                Some(target) => target,
                None => {
                    respond(
                        &mut stream,
                        400,
                        "natschat-tui could not read that request.",
                    )
                    .await;
                    continue;
                }
            };
            match self.judge(&target) {
                Callback::Ignored => self.answer_ignored(&mut stream, &target).await,
                Callback::Refused { error, description } => {
                    respond(
                        &mut stream,
                        400,
                        "Keycloak did not sign you in. Go back to the terminal for details.",
                    )
                    .await;
                    return Err(match error.as_str() {
                        "access_denied" => AuthError::AccessDenied {
                            reason: description,
                        },
                        _ => AuthError::TokenRequest(description.unwrap_or(error)),
                    });
                }
                Callback::Code(code) => {
                    let result = self.exchange(code).await;
                    match &result {
                        Ok(tokens) => {
                            let page = format!(
                                "Signed in to natschat as {}. You can close this tab.",
                                html_escape(&tokens.username)
                            );
                            respond(&mut stream, 200, &page).await;
                        }
                        Err(_) => {
                            respond(
                                &mut stream,
                                500,
                                "Signing in failed. Go back to the terminal for details.",
                            )
                            .await;
                        }
                    }
                    return result;
                }
            }
        }
    }

    /// Sorts a request the browser (or anyone on this machine) sent.
    fn judge(&self, target: &str) -> Callback {
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
            return Callback::Ignored;
        };
        if url.path() != CALLBACK_PATH {
            return Callback::Ignored;
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        // A redirect without our state was not caused by this login
        // (another tab, or a page trying to slip in its own code): never act
        // on it.
        if param("state").as_deref() != Some(self.state.secret().as_str()) {
            return Callback::Ignored;
        }
        if let Some(error) = param("error") {
            return Callback::Refused {
                error,
                description: param("error_description"),
            };
        }
        match param("code") {
            Some(code) => Callback::Code(AuthorizationCode::new(code)),
            None => Callback::Ignored,
        }
    }

    async fn answer_ignored(&self, stream: &mut TcpStream, target: &str) {
        if target.starts_with(CALLBACK_PATH) {
            tracing::warn!("refused a redirect whose state does not match this login");
            respond(
                stream,
                400,
                "This sign-in answer does not belong to the login natschat-tui is waiting for. \
                 Start again from the terminal.",
            )
            .await;
        } else {
            respond(stream, 404, "Nothing here.").await;
        }
    }

    async fn exchange(&self, code: AuthorizationCode) -> Result<TokenSet, AuthError> {
        let client = self.provider.client();
        let response: CoreTokenResponse = client
            .exchange_code(code)
            .map_err(|e| AuthError::TokenRequest(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(self.pkce_verifier.secret().clone()))
            .set_redirect_uri(Cow::Borrowed(&self.redirect))
            .request_async(self.provider.http())
            .await
            .map_err(|e| {
                token_endpoint_error(&self.provider, e, |reason| {
                    AuthError::TokenRequest(format!(
                        "{reason}; the sign-in took too long or was used twice, run `natschat-tui login` again"
                    ))
                })
            })?;
        let tokens = TokenSet::from_login(&self.provider, &response, Some(&self.nonce))?;
        tracing::info!(user = %tokens.username, "browser login completed");
        Ok(tokens)
    }
}

/// Reads a request head and returns its target (`/callback?code=...`).
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
            let n = stream.read(&mut buffer).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        Some(())
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    let text = String::from_utf8_lossy(&head);
    let mut request_line = text.lines().next()?.split_whitespace();
    match (request_line.next(), request_line.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

/// Sends a small HTML page and closes the connection. Failures to write
/// are not worth reporting: the browser went away, the login goes on.
async fn respond(stream: &mut TcpStream, status: u16, message: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>natschat</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>natschat</h1><p>{message}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
