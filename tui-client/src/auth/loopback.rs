//! Logging in through the system browser: authorization code with PKCE,
//! redirected to a one-shot listener on 127.0.0.1 (RFC 8252 loopback
//! redirect). The realm accepts `http://127.0.0.1/*` on any port.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreTokenResponse};
use openidconnect::url::Url;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::discovery::Provider;
use super::error::{AuthError, printable};
use super::tokens::{TokenSet, token_endpoint_error};

/// The path Keycloak redirects the browser to.
const CALLBACK_PATH: &str = "/callback";

/// Longest request head the listener reads; a browser's is far smaller.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// How long one connection may take to send its request. A browser sends
/// it at once; connections are served side by side, so a slow one only
/// ties up itself.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

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

/// Keycloak's redirect for this login.
enum Found {
    /// A code to trade for tokens.
    Code(AuthorizationCode),
    /// Keycloak reported a failure (the person refused, the client is not
    /// allowed, ...).
    Refused {
        error: String,
        description: Option<String>,
    },
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
    /// with a short page, and trades the code for tokens. Every connection
    /// is served on its own, so one that sends nothing cannot hold up the
    /// browser's; the first callback with this login's state wins.
    pub async fn finish(self, timeout: Duration) -> Result<TokenSet, AuthError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let state = Arc::new(self.state.secret().clone());
        let (found, mut callbacks) = mpsc::channel::<(Found, TcpStream)>(4);
        // Dropped on return, which stops the connections still being read.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(AuthError::Loopback)?;
                    while connections.try_join_next().is_some() {}
                    connections.spawn(sort_connection(stream, state.clone(), found.clone()));
                }
                Some((callback, mut stream)) = callbacks.recv() => {
                    return self.conclude(callback, &mut stream).await;
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(AuthError::BrowserTimeout { waited: timeout });
                }
            }
        }
    }

    /// Ends the login with Keycloak's answer, telling the browser how it
    /// went.
    async fn conclude(
        &self,
        callback: Found,
        stream: &mut TcpStream,
    ) -> Result<TokenSet, AuthError> {
        match callback {
            Found::Refused { error, description } => {
                respond(
                    stream,
                    400,
                    "Keycloak did not sign you in. Go back to the terminal for details.",
                )
                .await;
                Err(match error.as_str() {
                    "access_denied" => AuthError::AccessDenied {
                        reason: description,
                    },
                    _ => AuthError::TokenRequest(description.unwrap_or(error)),
                })
            }
            Found::Code(code) => {
                let result = self.exchange(code).await;
                match &result {
                    Ok(tokens) => {
                        let page = format!(
                            "Signed in to natschat as {}. You can close this tab.",
                            html_escape(&tokens.username)
                        );
                        respond(stream, 200, &page).await;
                    }
                    Err(_) => {
                        respond(
                            stream,
                            500,
                            "Signing in failed. Go back to the terminal for details.",
                        )
                        .await;
                    }
                }
                result
            }
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

/// Reads one connection's request and answers it, unless it is Keycloak's
/// redirect for this login: that goes to `found`, to be answered once the
/// code is traded.
async fn sort_connection(
    mut stream: TcpStream,
    state: Arc<String>,
    found: mpsc::Sender<(Found, TcpStream)>,
) {
    let Some(target) = read_request_target(&mut stream).await else {
        respond(
            &mut stream,
            400,
            "natschat-tui could not read that request.",
        )
        .await;
        return;
    };
    match judge(&target, &state) {
        None => answer_ignored(&mut stream, &target).await,
        Some(callback) => {
            // Sending fails only once the login is over; the connection
            // then simply closes.
            let _ = found.send((callback, stream)).await;
        }
    }
}

/// Sorts a request the browser (or anyone on this machine) sent: Keycloak's
/// redirect for the login with `state`, or `None` for anything else (a
/// wrong state, a favicon, a stray request), which is answered and
/// otherwise ignored, so it cannot end or hijack the login.
fn judge(target: &str, state: &str) -> Option<Found> {
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != CALLBACK_PATH {
        return None;
    }
    // Whatever comes in a redirect may end up on the terminal: no control
    // characters (escape sequences could rewrite the screen).
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| printable(&v))
    };
    // A redirect without our state was not caused by this login (another
    // tab, or a page trying to slip in its own code): never act on it.
    if param("state").as_deref() != Some(state) {
        return None;
    }
    if let Some(error) = param("error") {
        return Some(Found::Refused {
            error,
            description: param("error_description"),
        });
    }
    param("code").map(|code| Found::Code(AuthorizationCode::new(code)))
}

async fn answer_ignored(stream: &mut TcpStream, target: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_description_from_the_redirect_loses_its_control_characters() {
        let target = "/callback?state=s&error=access_denied\
                      &error_description=no%1B%5B2J%1B%5D0%3Bpwned%07%0Dthanks";
        match judge(target, "s") {
            Some(Found::Refused { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("no[2J]0;pwnedthanks"));
            }
            _ => panic!("the redirect carries an error"),
        }
    }

    #[test]
    fn only_a_redirect_with_this_logins_state_counts() {
        assert!(judge("/callback?state=other&code=c", "s").is_none());
        assert!(judge("/favicon.ico", "s").is_none());
        assert!(matches!(
            judge("/callback?state=s&code=c", "s"),
            Some(Found::Code(_))
        ));
    }
}
