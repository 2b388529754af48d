//! The persist worker stores every message the stream acknowledged exactly
//! once, while the worker crashes, the database goes away and nats-server
//! restarts underneath it.

mod persist_fixture;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use natschat_proto::subject::STREAM;
use persist_fixture::*;

const MESSAGES: usize = 100_000;
const ROOMS: usize = 8;
/// Publishes in flight at once.
const WINDOW: usize = 512;

/// What message `n` of the run looks like.
fn expected(rooms: &[String], n: usize) -> Row {
    Row {
        seq: 0,
        room: rooms[n % ROOMS].clone(),
        username: format!("user{}", n % 13),
        text: format!("message {n} {}", "é".repeat(n % 40)),
        client_ts: 1_700_000_000_000 + (n as i64 / 3),
        message_id: Some(format!("eo-{n}")),
    }
}

/// Publishes every message, retrying with the same Nats-Msg-Id until
/// JetStream acknowledges it; returns each message's stream sequence.
async fn publish_all(
    nats_url: String,
    rooms: Vec<String>,
    acked: Arc<AtomicUsize>,
) -> anyhow::Result<Vec<u64>> {
    let (_client, js) = publisher(&nats_url).await?;
    let rooms = &rooms;
    let js = &js;
    let acked = &acked;
    let mut seqs = vec![0u64; MESSAGES];
    let mut results = futures::stream::iter(0..MESSAGES)
        .map(|n| async move {
            let row = expected(rooms, n);
            let subject = format!("chat.{}", row.room);
            let id = row.message_id.clone().unwrap_or_default();
            let body = chat_json(
                &row.room,
                &row.username,
                &row.text,
                row.client_ts,
                Some(&id),
            );
            loop {
                let attempt = publish_acked(js, &subject, body.clone(), Some(&id));
                if let Ok(Ok(seq)) = tokio::time::timeout(Duration::from_secs(10), attempt).await {
                    acked.fetch_add(1, Ordering::Relaxed);
                    return (n, seq);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .buffer_unordered(WINDOW);
    while let Some((n, seq)) = results.next().await {
        seqs[n] = seq;
    }
    Ok(seqs)
}

async fn stored(db_url: &str) -> anyhow::Result<i64> {
    Db::connect(db_url).await?.message_count().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_is_stored_once_through_crashes_and_outages()
-> anyhow::Result<()> {
    let mut nats = start_nats()?;
    let mut postgres = private_postgres()?;
    let db_url = postgres.url();
    let mut persist = persist_daemon(&nats.url(), &db_url, &["--ack-wait-secs", "5"])?;

    let rooms: Vec<String> = (0..ROOMS)
        .map(|i| unique_room(&format!("once{i}")))
        .collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let publishing = tokio::spawn(publish_all(nats.url(), rooms.clone(), acked.clone()));
    let long = Duration::from_secs(120);

    // The persist worker dies while it is busy.
    wait_until("5,000 messages stored", long, || async {
        Ok(stored(&db_url).await? >= 5_000)
    })
    .await?;
    tokio::task::block_in_place(|| persist.restart())?;

    // The database goes away for 10 s.
    wait_until("25,000 messages stored", long, || async {
        Ok(stored(&db_url).await? >= 25_000)
    })
    .await?;
    tokio::task::block_in_place(|| postgres.stop())?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    tokio::task::block_in_place(|| postgres.start_again())?;

    // nats-server restarts while messages are being published.
    wait_until("50,000 messages acknowledged", long, || async {
        Ok(acked.load(Ordering::Relaxed) >= 50_000)
    })
    .await?;
    tokio::task::block_in_place(|| nats.restart())?;

    // And the worker dies once more.
    wait_until("70,000 messages stored", long, || async {
        Ok(stored(&db_url).await? >= 70_000)
    })
    .await?;
    tokio::task::block_in_place(|| persist.restart())?;

    let seqs = publishing.await??;
    let (_client, js) = publisher(&nats.url()).await?;
    let last_seq = js
        .get_stream(STREAM)
        .await?
        .info()
        .await?
        .state
        .last_sequence;
    wait_until("every stream message stored", long, || async {
        Ok(stored(&db_url).await? >= last_seq as i64)
    })
    .await?;

    let db = Db::connect(&db_url).await?;
    let rows = db.rows().await?;
    // Retried publishes were deduplicated, so the stream holds each message
    // once, and the table holds the stream without gaps or extras.
    assert_eq!(last_seq, MESSAGES as u64, "stream holds each message once");
    assert_eq!(rows.len(), MESSAGES, "table holds each message once");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1, "no gap in stream sequence");
    }
    let distinct: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        MESSAGES,
        "every message got its own sequence"
    );
    for (n, seq) in seqs.iter().enumerate() {
        let mut want = expected(&rooms, n);
        want.seq = *seq as i64;
        assert_eq!(rows[*seq as usize - 1], want, "message {n} stored intact");
    }
    assert_eq!(db.dead_letter_count().await?, 0);
    let log = persist.log_text();
    for event in ["database unavailable", "consuming stopped", "persist ready"] {
        println!("persist log: {event:?} x{}", log.matches(event).count());
    }
    assert!(
        !log.contains("dead-lettering"),
        "no valid message was dead-lettered:\n{log}"
    );
    Ok(())
}
