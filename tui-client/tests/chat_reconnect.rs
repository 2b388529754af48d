//! A chat session outlives its NATS login expiring again and again: the
//! real net layer and `update`, headless, against a private nats-server
//! whose auth callout issues user JWTs that live three seconds, with the
//! real persist and history daemons behind it, while another client keeps
//! publishing.

mod chat_support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use chat_support::{log_in, unique};
use natschat_proto::{ChatMessage, RoomName, subject};
use natschat_testkit::callout::{CalloutProcess, CalloutServerSettings, PrivateCallout};
use natschat_testkit::daemon::Daemon;
use natschat_testkit::postgres::PostgresCluster;
use natschat_testkit::stack::{Stack, workspace_root};
use natschat_tui::auth::AccessClaims;
use natschat_tui::net::{ChatConnection, NetOptions, TokenSource};
use natschat_tui::ui::{Action, App, ChatSettings, ConnectionEvent, Delivery, perform, update};
use tokio::sync::mpsc;

const PERSIST: (&str, &str) = ("persist", "persist-secret");
const HISTORY: (&str, &str) = ("history", "history-secret");
const PUBLISHER: (&str, &str) = ("publisher", "publisher-secret");

/// How many expiries in a row the session must live through.
const EXPIRIES: usize = 3;

/// The `natschatd` binary of this workspace, built when missing.
fn natschatd() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let binary = target.join("debug/natschatd");
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "natschat-daemons", "--bin", "natschatd"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "natschatd does not build");
    }
    binary
}

/// The whole chat backend on private ports: nats-server with JetStream and
/// the auth callout (user JWTs live `jwt_secs`), PostgreSQL, and the
/// callout, persist and history daemons.
struct PrivateBackend {
    // Dropped in this order: daemons before the servers they use.
    _daemons: Vec<Daemon>,
    _callout: CalloutProcess,
    nats: PrivateCallout,
    _database: PostgresCluster,
}

impl PrivateBackend {
    fn start(jwt_secs: u64) -> PrivateBackend {
        let user = |(name, password): (&str, &str)| {
            format!("{{ user: {name}, password: \"{password}\" }}")
        };
        let settings = CalloutServerSettings {
            chat_account: format!(
                "jetstream: enabled, users: [ {}, {}, {} ]",
                user(PERSIST),
                user(HISTORY),
                user(PUBLISHER)
            ),
            auth_users: [PERSIST, HISTORY, PUBLISHER]
                .map(|(name, _)| name.to_owned())
                .into(),
            ..CalloutServerSettings::default()
        };
        let nats = PrivateCallout::start(&natschatd(), &settings)
            .expect("private nats-server with the auth callout starts");
        let callout = nats
            .callout(&["--max-user-jwt-secs", &jwt_secs.to_string()])
            .expect("private callout starts");
        let database = PostgresCluster::start().expect("private PostgreSQL starts");
        let (nats_url, database_url) = (nats.url(), database.url());
        let persist = Daemon::persist(&natschatd(), &nats_url, PERSIST, &database_url, &[])
            .expect("private persist starts");
        let history = Daemon::history(&natschatd(), &nats_url, HISTORY, &database_url)
            .expect("private history starts");
        PrivateBackend {
            _daemons: vec![history, persist],
            _callout: callout,
            nats,
            _database: database,
        }
    }
}

/// Publishes `msg-001`, `msg-002`, … as bob into `room` every 100 ms until
/// told to stop, each acknowledged by JetStream (a failed publish is
/// retried with the same message id, so it is stored once). Returns how
/// many were published.
async fn keep_publishing(
    nats_url: String,
    room: RoomName,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> usize {
    let client =
        async_nats::ConnectOptions::with_user_and_password(PUBLISHER.0.into(), PUBLISHER.1.into())
            .max_reconnects(None)
            .connect(nats_url)
            .await
            .expect("the publisher connects");
    let js = async_nats::jetstream::new(client);
    let mut published = 0;
    while !*stop.borrow_and_update() {
        let n = published + 1;
        let message = ChatMessage {
            user: "bob".into(),
            text: format!("msg-{n:03}"),
            timestamp: 1_700_000_000_000 + n as i64,
            room: room.clone(),
            id: Some(format!("{room}-{n}")),
        };
        for attempt in 1.. {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", message.id.clone().unwrap().as_str());
            let acked = match js
                .publish_with_headers(subject::chat(&room), headers, message.to_json().into())
                .await
            {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            };
            match acked {
                true => break,
                false => {
                    assert!(attempt < 50, "JetStream never acknowledged msg-{n:03}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        published = n;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    published
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_lives_through_repeated_login_expiry_and_shows_every_message_once_in_order() {
    let stack = Stack::load().unwrap();
    let backend = PrivateBackend::start(3);
    let alice = log_in(&stack, "alice", "alice123").await;
    let roles = AccessClaims::decode(&alice.access_token)
        .unwrap()
        .realm_access
        .roles;
    let room: RoomName = format!("reconnect-{}", unique()).parse().unwrap();

    // The access token lives minutes; only the 3 s user JWT expires. Every
    // (re)connect asks the token source again.
    let token_requests = Arc::new(AtomicUsize::new(0));
    let tokens: TokenSource = {
        let (token, requests) = (alice.access_token.clone(), token_requests.clone());
        Arc::new(move || {
            requests.fetch_add(1, Ordering::SeqCst);
            let token = token.clone();
            Box::pin(async move { Ok(token) })
        })
    };
    let mut app = App::new(
        "alice",
        &roles,
        vec![room.clone()],
        unique(),
        ChatSettings::default(),
    );
    let (actions, mut incoming) = mpsc::unbounded_channel();
    let connection = ChatConnection::connect(
        NetOptions {
            nats_url: backend.nats.url(),
            user: "alice".into(),
            admin: false,
            tokens,
        },
        actions,
    )
    .await
    .expect("the chat connects");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(keep_publishing(backend.nats.url(), room.clone(), stopped));

    // The chat's own loop, minus the terminal: every action through
    // `update`, every command through `perform`.
    let mut expiries = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let shown = |app: &App| -> Vec<String> {
        app.active_room()
            .timeline
            .entries()
            .iter()
            .map(|e| e.message.text.clone())
            .collect()
    };
    loop {
        let action = match tokio::time::timeout_at(deadline, incoming.recv()).await {
            Ok(Some(action)) => action,
            Ok(None) => panic!("the connection stopped reporting"),
            Err(_) => panic!("gave up after {expiries} expiries; shown {:?}", shown(&app)),
        };
        if action == Action::Connection(ConnectionEvent::AuthExpired) {
            expiries += 1;
            if expiries == EXPIRIES {
                // A little more after the last expiry, then stop.
                tokio::time::sleep(Duration::from_millis(500)).await;
                stop.send(true).unwrap();
            }
        }
        for command in update(&mut app, action) {
            perform(&mut app, &connection, command, None).await;
        }
        if expiries >= EXPIRIES && publisher.is_finished() {
            break;
        }
    }
    let published = publisher.await.expect("the publisher ran");
    assert!(published > 0);
    let expected: Vec<String> = (1..=published).map(|n| format!("msg-{n:03}")).collect();

    // Whatever is still on its way (the last live messages, a gap fill).
    let settle = tokio::time::Instant::now() + Duration::from_secs(20);
    while shown(&app) != expected && tokio::time::Instant::now() < settle {
        if let Ok(Some(action)) =
            tokio::time::timeout(Duration::from_millis(500), incoming.recv()).await
        {
            for command in update(&mut app, action) {
                perform(&mut app, &connection, command, None).await;
            }
        }
    }
    assert_eq!(
        shown(&app),
        expected,
        "every message once, in order: {:?}",
        app.active_room()
            .timeline
            .entries()
            .iter()
            .map(|e| (e.message.text.as_str(), e.seq, e.order()))
            .collect::<Vec<_>>()
    );
    assert!(expiries >= EXPIRIES);
    assert!(
        token_requests.load(Ordering::SeqCst) > EXPIRIES,
        "each reconnect logged in with the token source"
    );
    assert!(
        app.active_room()
            .timeline
            .entries()
            .iter()
            .all(|e| e.delivery == Delivery::Delivered)
    );
}
