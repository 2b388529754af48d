//! Messages that are not storable chat messages become dead letters with a
//! reason, and the worker carries on with the messages behind them.

mod persist_fixture;

use std::time::Duration;

use natschat_testkit::nats_server::free_port;
use persist_fixture::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_a_reason_and_do_not_stall_the_consumer()
-> anyhow::Result<()> {
    let nats = start_nats()?;
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    let _persist = persist_daemon(&nats.url(), db_url, &[])?;
    let (_client, js) = publisher(&nats.url()).await?;
    let room = unique_room("poison");
    let subject = format!("chat.{room}");

    let poison: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "not a chat message",
            subject.clone(),
            b"{this is not json".to_vec(),
        ),
        (
            "not a chat message",
            subject.clone(),
            br#"{"user":42,"text":"hi","timestamp":1,"room":"x"}"#.to_vec(),
        ),
        (
            "not a chat message",
            subject.clone(),
            br#"{"user":"a","text":"hi","timestamp":"soon","room":"x"}"#.to_vec(),
        ),
        (
            "not a chat message",
            subject.clone(),
            chat_json("a.b", "alice", "hi", 1, None),
        ),
        (
            "text has 1048576 characters",
            subject.clone(),
            chat_json(&room, "alice", &"t".repeat(1 << 20), 1, None),
        ),
        (
            "user name has 300 characters",
            subject.clone(),
            chat_json(&room, &"u".repeat(300), "hi", 1, None),
        ),
        (
            "but was published for room",
            subject.clone(),
            chat_json("elsewhere", "alice", "hi", 1, None),
        ),
        (
            "not a room's chat subject",
            "chat.__admin__".into(),
            chat_json("__admin__", "alice", "hi", 1, None),
        ),
        (
            "NUL character",
            subject.clone(),
            chat_json(&room, "alice", "a\0b", 1, None),
        ),
    ];
    let mut poison_seqs = Vec::new();
    for (_, subject, payload) in &poison {
        poison_seqs.push(publish_acked(&js, subject, payload.clone(), None).await?);
    }
    let good = chat_json(&room, "alice", "still here", 2, Some("after-poison"));
    let good_seq = publish_acked(&js, &subject, good, None).await?;

    let db = Db::connect(db_url).await?;
    wait_until(
        "the message behind the poison is stored",
        Duration::from_secs(30),
        || async {
            Ok(db.message_count().await? == 1
                && db.dead_letter_count().await? == poison.len() as i64)
        },
    )
    .await?;

    let rows = db.rows().await?;
    assert_eq!(rows[0].seq, good_seq as i64);
    assert_eq!(rows[0].text, "still here");
    let letters = db.dead_letters().await?;
    for ((want_reason, want_subject, want_payload), (seq, subject, payload, reason)) in
        poison.iter().zip(&letters)
    {
        assert!(poison_seqs.contains(&(*seq as u64)));
        assert_eq!(subject, want_subject);
        assert_eq!(payload, want_payload, "payload kept byte for byte");
        assert!(
            reason.contains(want_reason),
            "{reason:?} should mention {want_reason:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_persist_instances_sharing_the_consumer_store_each_message_once() -> anyhow::Result<()>
{
    const MESSAGES: usize = 5_000;
    let nats = start_nats()?;
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    // Small batches so that both instances get work.
    let metrics = [free_port(), free_port()].map(|p| format!("127.0.0.1:{p}"));
    let _instances = metrics
        .iter()
        .map(|addr| {
            persist_daemon(
                &nats.url(),
                db_url,
                &["--batch-size", "20", "--metrics-addr", addr],
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (_client, js) = publisher(&nats.url()).await?;
    let room = unique_room("shared");
    let subject = format!("chat.{room}");
    let mut acks = Vec::with_capacity(MESSAGES);
    for n in 0..MESSAGES {
        let body = chat_json(&room, "bob", &format!("n{n}"), n as i64, None);
        acks.push(js.publish(subject.clone(), body.into()).await?);
    }
    for ack in acks {
        ack.await?;
    }

    let db = Db::connect(db_url).await?;
    wait_until("every message stored", Duration::from_secs(60), || async {
        Ok(db.message_count().await? >= MESSAGES as i64)
    })
    .await?;
    let rows = db.rows().await?;
    assert_eq!(rows.len(), MESSAGES);
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, n as i64 + 1);
        assert_eq!(row.text, format!("n{n}"), "stored in stream order, intact");
    }
    let mut total = 0;
    for addr in &metrics {
        let persisted = counter(addr, "messages_persisted_total").await?;
        assert!(persisted > 0, "instance at {addr} shared the work");
        total += persisted;
    }
    assert_eq!(total, MESSAGES as u64, "no message was stored twice");
    Ok(())
}

/// The value of a counter on a daemon's /metrics endpoint.
async fn counter(addr: &str, name: &str) -> anyhow::Result<u64> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await?;
    let mut page = String::new();
    stream.read_to_string(&mut page).await?;
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {name} in:\n{page}"))
}
