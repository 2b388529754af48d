//! Fixtures shared by the auth callout tests and the connect benchmark: a
//! private nats-server configured for auth callout, private callout
//! processes built from this crate, logins and NATS connections.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use natschat_proto::subject::inbox_prefix;
use natschat_testkit::callout::{
    CalloutProcess, CalloutServerSettings, PrivateCallout, random_secret,
};
use natschat_testkit::keycloak::{TokenSet, device_login};
use natschat_testkit::stack::Stack;
use tokio::sync::mpsc;

pub mod forge;

/// The terminal client: the usual way tests get tokens.
pub const TUI_CLIENT: &str = "natschat-tui";
pub const BENCH_USER: &str = "natschat-bench";

/// Demo users and their passwords.
pub fn password_of(user: &str) -> String {
    format!("{user}123")
}

/// A device login of a demo user through `client`.
///
/// Keycloak's brute-force guard briefly locks a user after quick failed
/// logins (other tests try wrong passwords on purpose) and then answers
/// even the right password with "Invalid username or password"; such a
/// login is retried for up to two minutes.
pub async fn login_with(client: &str, user: &str) -> TokenSet {
    let stack = Stack::load().expect("the local stack is up (`./dev up`)");
    // Concurrent logins of one user can trip the guard too, so the tests
    // of one binary log in one at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match device_login(&stack, client, user, &password_of(user)).await {
            Ok(tokens) => return tokens,
            Err(e) if e.to_string().contains("Invalid username") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => panic!("device login of {user} via {client}: {e:#}"),
        }
    }
}

/// A device login of a demo user through the terminal client.
pub async fn login(user: &str) -> TokenSet {
    login_with(TUI_CLIENT, user).await
}

/// Server errors (permission violations, expiry) a connection reported.
pub struct ServerErrors {
    rx: mpsc::UnboundedReceiver<String>,
}

impl ServerErrors {
    /// Waits (bounded) for an error whose text contains `needle`
    /// (case-insensitive); returns it, or None if none came.
    pub async fn wait_for(&mut self, needle: &str, patience: Duration) -> Option<String> {
        let needle = needle.to_lowercase();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(error)) if error.to_lowercase().contains(&needle) => return Some(error),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// Connects with `token` (None: no token at all), with the inbox prefix of
/// `user`, collecting server errors.
pub async fn connect(
    url: &str,
    token: Option<&str>,
    user: &str,
) -> Result<(async_nats::Client, ServerErrors), async_nats::ConnectError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = match token {
        Some(token) => async_nats::ConnectOptions::with_token(token.to_owned()),
        None => async_nats::ConnectOptions::new(),
    };
    let client = options
        .custom_inbox_prefix(inbox_prefix(user))
        .connection_timeout(Duration::from_secs(10))
        .max_reconnects(Some(3))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let text = match event {
                    async_nats::Event::ServerError(e) => e.to_string(),
                    async_nats::Event::ClientError(e) => e.to_string(),
                    async_nats::Event::Disconnected => "disconnected".to_owned(),
                    _ => return,
                };
                let _ = tx.send(text);
            }
        })
        .connect(url)
        .await?;
    Ok((client, ServerErrors { rx }))
}

/// A private nats-server whose auth callout trusts keys made for it.
pub struct CalloutServer {
    pub private: PrivateCallout,
    pub bench_password: String,
}

impl CalloutServer {
    /// Starts the server; CHAT users come from the callout, `natschat-bench`
    /// logs in by password as on the shared stack.
    pub fn start() -> anyhow::Result<CalloutServer> {
        Self::start_with_auth_timeout(None)
    }

    /// Like [`CalloutServer::start`], with the server's `authorization`
    /// timeout (how long it waits for the callout; nats-server's default is
    /// 2 s) set to `seconds`.
    pub fn start_with_auth_timeout(seconds: Option<u32>) -> anyhow::Result<CalloutServer> {
        Self::start_configured(seconds, false)
    }

    /// A server whose auth callout sends requests unsealed (no `xkey`).
    pub fn start_unsealed() -> anyhow::Result<CalloutServer> {
        Self::start_configured(None, true)
    }

    fn start_configured(seconds: Option<u32>, unsealed: bool) -> anyhow::Result<CalloutServer> {
        let bench_password = random_secret();
        let settings = CalloutServerSettings {
            settings: "max_connections: 10000\n\
                # Far above the shared stack's 4 KB, so oversized tokens reach the callout\n\
                # and its own size limit is what refuses them.\n\
                max_control_line: 256KB"
                .to_owned(),
            chat_account: format!(
                r#"users: [ {{ user: {BENCH_USER}, password: "{bench_password}",
    permissions: {{ publish: {{ allow: ["_INBOX.bench.>"] }}, subscribe: {{ allow: ["_INBOX.bench.>"] }} }} }} ]"#
            ),
            auth_users: vec![BENCH_USER.to_owned()],
            auth_timeout_secs: seconds,
            unsealed,
        };
        Ok(CalloutServer {
            private: PrivateCallout::start(Path::new(env!("CARGO_BIN_EXE_natschatd")), &settings)?,
            bench_password,
        })
    }

    pub fn url(&self) -> String {
        self.private.url()
    }

    /// Starts a callout instance for this server with extra flags, and waits
    /// until it is serving.
    pub fn callout(&self, extra: &[&str]) -> anyhow::Result<CalloutProcess> {
        self.private.callout(extra)
    }
}

/// A private server with one callout instance (extra flags as given).
pub fn private_callout(extra: &[&str]) -> (CalloutServer, CalloutProcess) {
    let server = CalloutServer::start().expect("private nats-server starts");
    let callout = server.callout(extra).expect("private callout starts");
    (server, callout)
}

/// One refusal scenario: a private server and callout (extra flags as
/// given) plus a valid token of alice to show the callout still serves.
pub struct RefusalCase {
    pub server: CalloutServer,
    pub callout: CalloutProcess,
    /// A valid access token of alice through the terminal client.
    pub valid: String,
}

impl RefusalCase {
    pub async fn start(extra: &[&str]) -> RefusalCase {
        let (server, callout) = private_callout(extra);
        let valid = login("alice").await.access_token;
        RefusalCase {
            server,
            callout,
            valid,
        }
    }

    /// Asserts that connecting with `token` is refused as an authorization
    /// failure, that the callout answered it with a rejection whose reason
    /// contains `reason`, and that the valid token still connects after.
    pub async fn assert_refused(&mut self, token: Option<&str>, reason: &str) {
        let callout = &mut self.callout;
        let before = callout.rejection_reasons().len();
        let error = match connect(&self.server.url(), token, "mallory").await {
            Ok(_) => panic!("a connection with a bad token was let in"),
            Err(e) => e,
        };
        assert_eq!(
            error.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation,
            "{error}"
        );
        // The callout's own record shows it answered with a reason (the
        // server would also refuse after its timeout if the callout stayed
        // silent).
        let deadline = Instant::now() + Duration::from_secs(10);
        let reasons = loop {
            let reasons = callout.rejection_reasons();
            if reasons.len() > before || Instant::now() > deadline {
                break reasons;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let answered = &reasons[before.min(reasons.len())..];
        assert!(
            answered.iter().any(|r| r.contains(reason)),
            "expected a rejection for {reason:?}, callout logged {answered:?}\n{}",
            callout.log_text()
        );
        if let Some(token) = token.filter(|t| t.len() > 20) {
            assert!(
                !callout.log_text().contains(token),
                "the callout logged the token"
            );
        }

        let (client, _) = connect(&self.server.url(), Some(&self.valid), "alice")
            .await
            .expect("a valid login still works after the refusal");
        client
            .flush()
            .await
            .expect("the healthy connection answers");
    }
}
