//! Private servers and real `natschatd` processes for the persist and
//! history tests: a nats-server with static users (so tests can publish
//! chat messages without Keycloak), a database (a private cluster, or a
//! fresh schema in the stack's PostgreSQL), and the daemons themselves.

#![allow(dead_code)] // each test file uses a different part of this

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;
use async_nats::HeaderMap;
use async_nats::jetstream;
use natschat_testkit::nats_server::NatsServer;
use natschat_testkit::postgres::PostgresCluster;
use natschat_testkit::stack::Stack;
use rand::Rng;
use tokio_postgres::NoTls;

pub const PERSIST: (&str, &str) = ("persist", "persist-secret");
pub const HISTORY: (&str, &str) = ("history", "history-secret");
pub const PUBLISHER: (&str, &str) = ("publisher", "publisher-secret");

/// A private nats-server with JetStream and the three static users.
pub fn start_nats() -> anyhow::Result<NatsServer> {
    NatsServer::start(|ports, dir| {
        let users = format!(
            "accounts {{ CHAT {{ jetstream: enabled, users: [\n\
             {{ user: {}, password: {} }}\n\
             {{ user: {}, password: {} }}\n\
             {{ user: {}, password: {} }}\n] }} }}",
            PERSIST.0, PERSIST.1, HISTORY.0, HISTORY.1, PUBLISHER.0, PUBLISHER.1
        );
        NatsServer::basic_config(ports, dir, &users)
    })
}

/// A room name no other test uses.
pub fn unique_room(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::thread_rng().r#gen::<u32>())
}

/// A fresh, empty schema in the stack's database, isolating the tables of
/// one test (its private stream numbers sequences from 1 like every
/// other). Dropping it drops the schema and everything in it, so repeated
/// runs leave nothing behind; keep it alive until the daemons using it are
/// gone (declare it before them).
pub struct TestSchema {
    name: String,
    base_url: String,
    url: String,
}

impl TestSchema {
    /// A connection string whose sessions use this schema.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop cannot await, and blocking on the test's own runtime would
        // stall it; a short-lived thread with a runtime of its own can.
        let base_url = self.base_url.clone();
        // A killed daemon's session may still hold a lock for a moment;
        // wait for it, but never hang a test run on cleanup.
        let sql = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        );
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let db = Db::connect(&base_url).await?;
                    db.client.batch_execute(&sql).await?;
                    Ok(())
                })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop test schema {}: {e:#}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

/// Creates a [`TestSchema`].
pub async fn fresh_schema() -> anyhow::Result<TestSchema> {
    let stack = Stack::load()?;
    let base_url = stack.var("DATABASE_URL")?.to_owned();
    let name = format!("test_{:016x}", rand::thread_rng().r#gen::<u64>());
    let db = Db::connect(&base_url).await?;
    db.client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await?;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
    Ok(TestSchema {
        name,
        base_url,
        url,
    })
}

pub use natschat_testkit::daemon::Daemon;

/// `natschatd persist` of this workspace against these servers, ready.
pub fn persist_daemon(nats_url: &str, database_url: &str, args: &[&str]) -> anyhow::Result<Daemon> {
    Daemon::persist(natschatd(), nats_url, PERSIST, database_url, args)
}

/// `natschatd history` of this workspace against these servers, ready.
pub fn history_daemon(nats_url: &str, database_url: &str) -> anyhow::Result<Daemon> {
    Daemon::history(natschatd(), nats_url, HISTORY, database_url)
}

fn natschatd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_natschatd"))
}

/// A plain connection to a test database, for looking at what was stored.
pub struct Db {
    pub client: tokio_postgres::Client,
}

/// One row of `messages`, as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: i64,
    pub room: String,
    pub username: String,
    pub text: String,
    pub client_ts: i64,
    pub message_id: Option<String>,
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(connection);
        Ok(Db { client })
    }

    pub async fn message_count(&self) -> anyhow::Result<i64> {
        Ok(self
            .client
            .query_one("SELECT count(*) FROM messages", &[])
            .await?
            .get(0))
    }

    pub async fn dead_letter_count(&self) -> anyhow::Result<i64> {
        Ok(self
            .client
            .query_one("SELECT count(*) FROM dead_letters", &[])
            .await?
            .get(0))
    }

    pub async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let rows = self
            .client
            .query(
                "SELECT seq, room, username, text, client_ts, message_id FROM messages ORDER BY seq",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Row {
                seq: r.get(0),
                room: r.get(1),
                username: r.get(2),
                text: r.get(3),
                client_ts: r.get(4),
                message_id: r.get(5),
            })
            .collect())
    }

    /// Dead letters as (seq, subject, payload, reason), by sequence.
    pub async fn dead_letters(&self) -> anyhow::Result<Vec<(i64, String, Vec<u8>, String)>> {
        let rows = self
            .client
            .query(
                "SELECT seq, subject, payload, reason FROM dead_letters ORDER BY seq",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }
}

/// Polls `probe` until it says yes; fails with `what` after `limit`. A
/// deadline on waiting, not an assertion on speed.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(true) => return Ok(()),
            Ok(false) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(false) => bail!("gave up waiting: {what}"),
            Err(e) => return Err(e.context(format!("gave up waiting: {what}"))),
        }
    }
}

/// A publisher connected as the static publishing user.
pub async fn publisher(nats_url: &str) -> anyhow::Result<(async_nats::Client, jetstream::Context)> {
    let client =
        async_nats::ConnectOptions::with_user_and_password(PUBLISHER.0.into(), PUBLISHER.1.into())
            .max_reconnects(None)
            .connect(nats_url)
            .await?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}

/// Publishes a payload and waits for JetStream's acknowledgement; returns
/// its stream sequence.
pub async fn publish_acked(
    js: &jetstream::Context,
    subject: &str,
    payload: Vec<u8>,
    msg_id: Option<&str>,
) -> anyhow::Result<u64> {
    let mut headers = HeaderMap::new();
    if let Some(id) = msg_id {
        headers.insert("Nats-Msg-Id", id);
    }
    let ack = js
        .publish_with_headers(subject.to_owned(), headers, payload.into())
        .await?
        .await?;
    Ok(ack.sequence)
}

/// A chat message body in the compatible form.
pub fn chat_json(room: &str, user: &str, text: &str, timestamp: i64, id: Option<&str>) -> Vec<u8> {
    let mut value = serde_json::json!({
        "user": user, "text": text, "timestamp": timestamp, "room": room,
    });
    if let Some(id) = id {
        value["id"] = id.into();
    }
    value.to_string().into_bytes()
}

/// Starts a private PostgreSQL cluster (for tests that stop it).
pub fn private_postgres() -> anyhow::Result<PostgresCluster> {
    PostgresCluster::start()
}

/// Creates the schema with `natschatd migrate`, for tests and benchmarks
/// that write to the tables without a daemon.
pub fn migrate(database_url: &str) -> anyhow::Result<()> {
    let output = Command::new(env!("CARGO_BIN_EXE_natschatd"))
        .arg("migrate")
        .env("DATABASE_URL", database_url)
        .output()?;
    if !output.status.success() {
        bail!(
            "natschatd migrate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
