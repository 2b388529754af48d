//! The history service answers a room's history from the store: the
//! compatible form for existing browser clients, the paged forms, and
//! service errors instead of empty successes.

mod persist_fixture;

use std::time::Duration;

use futures::StreamExt;

use async_nats::Client;
use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest};
use persist_fixture::*;
use serde_json::Value;

/// A private nats-server and store with persist and history running, and
/// `count` messages published in a fresh room.
struct Fixture {
    _nats: natschat_testkit::nats_server::NatsServer,
    _persist: Daemon,
    _history: Daemon,
    /// Last, so it is dropped after the daemons that use it.
    _schema: TestSchema,
    client: Client,
    room: String,
    /// Stream sequences of the room's messages, in publish order.
    seqs: Vec<u64>,
}

impl Fixture {
    async fn with_messages(count: usize) -> anyhow::Result<Fixture> {
        let nats = start_nats()?;
        let schema = fresh_schema().await?;
        let db_url = schema.url();
        let persist = persist_daemon(&nats.url(), db_url, &[])?;
        let history = history_daemon(&nats.url(), db_url)?;
        let (client, js) = publisher(&nats.url()).await?;
        let room = unique_room("hist");
        let subject = format!("chat.{room}");
        let mut seqs = Vec::with_capacity(count);
        for n in 0..count {
            // Every three messages share a client timestamp.
            let body = chat_json(
                &room,
                "carol",
                &format!("m{n}"),
                1_000 + n as i64 / 3,
                Some(&format!("id-{n}")),
            );
            seqs.push(publish_acked(&js, &subject, body, None).await?);
        }
        let db = Db::connect(db_url).await?;
        wait_until(
            "the room's messages are stored",
            Duration::from_secs(30),
            || async { Ok(db.message_count().await? >= count as i64) },
        )
        .await?;
        Ok(Fixture {
            _nats: nats,
            _persist: persist,
            _history: history,
            client,
            room,
            seqs,
            _schema: schema,
        })
    }

    async fn ask(&self, body: &[u8]) -> anyhow::Result<async_nats::Message> {
        let subject = format!("chat.history.{}", self.room);
        Ok(self.client.request(subject, body.to_vec().into()).await?)
    }

    async fn page(&self, request: HistoryRequest) -> anyhow::Result<HistoryPage> {
        let reply = self.ask(&request.to_json()).await?;
        assert_eq!(service_error(&reply), None);
        Ok(serde_json::from_slice(&reply.payload)?)
    }
}

/// The service error code of a reply, if it is an error.
fn service_error(reply: &async_nats::Message) -> Option<String> {
    reply
        .headers
        .as_ref()?
        .get("Nats-Service-Error-Code")
        .map(|v| v.to_string())
}

#[tokio::test]
async fn empty_body_returns_the_last_50_oldest_first_in_the_legacy_shape() -> anyhow::Result<()> {
    let f = Fixture::with_messages(80).await?;
    let reply = f.ask(b"").await?;
    assert_eq!(service_error(&reply), None);

    let raw: Vec<Value> = serde_json::from_slice(&reply.payload)?;
    assert_eq!(raw.len(), 50);
    for item in &raw {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert!(
            !keys.iter().any(|k| *k == "seq"),
            "legacy shape has no seq: {item}"
        );
    }
    let messages: Vec<ChatMessage> = serde_json::from_value(Value::Array(raw))?;
    let texts: Vec<String> = messages.iter().map(|m| m.text.clone()).collect();
    let want: Vec<String> = (30..80).map(|n| format!("m{n}")).collect();
    assert_eq!(texts, want);
    assert_eq!(messages[0].room.as_str(), f.room);
    assert_eq!(messages[0].id.as_deref(), Some("id-30"));
    Ok(())
}

#[tokio::test]
async fn paging_backwards_visits_every_message_once_and_equal_timestamps_keep_stream_order()
-> anyhow::Result<()> {
    let f = Fixture::with_messages(130).await?;
    let mut page = f.page(HistoryRequest::Latest { limit: 17 }).await?;
    let mut seen: Vec<u64> = Vec::new();
    loop {
        let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "each page oldest first"
        );
        seen.splice(0..0, seqs);
        if !page.has_more {
            break;
        }
        let before = page.messages[0].seq;
        page = f.page(HistoryRequest::Before { limit: 17, before }).await?;
    }
    assert_eq!(seen, f.seqs, "every message once, in stream order");
    Ok(())
}

#[tokio::test]
async fn after_returns_exactly_what_followed_a_sequence() -> anyhow::Result<()> {
    let f = Fixture::with_messages(60).await?;
    let after = f.seqs[40];
    let page = f.page(HistoryRequest::After { limit: 200, after }).await?;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, f.seqs[41..].to_vec());
    assert!(!page.has_more);
    assert_eq!(page.messages[0].message.text, "m41");

    let page = f.page(HistoryRequest::After { limit: 5, after }).await?;
    assert_eq!(page.messages.len(), 5);
    assert!(page.has_more);
    Ok(())
}

#[tokio::test]
async fn malformed_bodies_and_rooms_get_400() -> anyhow::Result<()> {
    let f = Fixture::with_messages(1).await?;
    for body in [
        &b"{"[..],
        br#"{"limit":"ten"}"#,
        br#"{"limit":0}"#,
        br#"{"limit":201}"#,
        br#"{"before":1,"after":2}"#,
        br#"{"bogus":1}"#,
    ] {
        let reply = f.ask(body).await?;
        assert_eq!(
            service_error(&reply).as_deref(),
            Some("400"),
            "{}",
            String::from_utf8_lossy(body)
        );
        assert!(reply.payload.is_empty());
    }
    let reply = f
        .client
        .request("chat.history.Not_A_Room", "".into())
        .await?;
    assert_eq!(service_error(&reply).as_deref(), Some("400"));
    Ok(())
}

#[tokio::test]
async fn admin_room_history_is_served_and_the_service_answers_ping() -> anyhow::Result<()> {
    let f = Fixture::with_messages(0).await?;
    let js = async_nats::jetstream::new(f.client.clone());
    let body = chat_json("__admin__", "alice", "admins only", 5, None);
    publish_acked(&js, "admin.chat", body, None).await?;
    wait_until(
        "the admin message is served",
        Duration::from_secs(30),
        || async {
            let reply = f
                .client
                .request("chat.history.__admin__", "".into())
                .await?;
            let messages: Vec<ChatMessage> = serde_json::from_slice(&reply.payload)?;
            Ok(messages.iter().any(|m| m.text == "admins only"))
        },
    )
    .await?;

    let pong = f
        .client
        .request("$SRV.PING.natschat-history", "".into())
        .await?;
    let pong: Value = serde_json::from_slice(&pong.payload)?;
    assert_eq!(pong["name"], "natschat-history");
    Ok(())
}

#[tokio::test]
async fn replies_go_only_to_inboxes_never_to_a_subject_the_requester_names() -> anyhow::Result<()> {
    let f = Fixture::with_messages(3).await?;
    let subject = format!("chat.history.{}", f.room);
    // Where a malicious requester would aim the reply: a room, or the
    // JetStream API (an empty error body would delete a stream).
    let mut aimed = f.client.subscribe("chat.general").await?;
    f.client
        .publish_with_reply(subject.clone(), "chat.general", "{\"limit\":0}".into())
        .await?;
    f.client
        .publish_with_reply(subject.clone(), "chat.general", "".into())
        .await?;
    f.client.flush().await?;

    // A proper request still gets its answer.
    let page = f.page(HistoryRequest::Latest { limit: 3 }).await?;
    assert_eq!(page.messages.len(), 3);
    let stray = tokio::time::timeout(Duration::from_secs(2), aimed.next()).await;
    assert!(
        stray.is_err(),
        "history answered to a non-inbox subject: {stray:?}"
    );
    Ok(())
}
