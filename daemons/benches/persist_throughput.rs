//! How fast `natschatd persist` moves a pre-filled stream into an empty
//! table, against two references measured in the same run on the same
//! rows: one INSERT and one ack per message (the naive worker), and a raw
//! COPY of the rows (the floor no worker can beat).
//!
//! `cargo bench -p natschat-daemons --bench persist_throughput`

#[path = "../tests/persist_fixture/mod.rs"]
mod persist_fixture;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, pull};
use futures::{SinkExt, StreamExt};
use natschat_proto::{ChatMessage, subject};
use persist_fixture::*;

/// Messages in the stream for the batched worker and for COPY.
const MESSAGES: usize = 100_000;
/// Messages the one-by-one baseline handles (it is ~30x slower).
const BASELINE_MESSAGES: usize = 10_000;
const ROOMS: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let nats = start_nats()?;
    let (_client, js) = publisher(&nats.url()).await?;
    js.create_stream(async_nats::jetstream::stream::Config {
        name: subject::STREAM.into(),
        subjects: subject::STREAM_SUBJECTS.map(str::to_owned).to_vec(),
        ..Default::default()
    })
    .await?;

    println!("pre-filling the stream with {MESSAGES} messages...");
    let rooms: Vec<String> = (0..ROOMS)
        .map(|i| unique_room(&format!("bench{i}")))
        .collect();
    let mut bodies = Vec::with_capacity(MESSAGES);
    let mut acks = Vec::with_capacity(MESSAGES);
    for n in 0..MESSAGES {
        let room = &rooms[n % ROOMS];
        let text = format!("benchmark message number {n}, of a typical chat length");
        let body = chat_json(
            room,
            &format!("user{}", n % 50),
            &text,
            1_700_000_000_000 + n as i64,
            Some(&format!("b-{n}")),
        );
        bodies.push(body.clone());
        acks.push(js.publish(format!("chat.{room}"), body.into()).await?);
        if acks.len() == 1000 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks {
        ack.await?;
    }

    let batched = batched_worker(&nats.url()).await?;
    let baseline = one_by_one(&js).await?;
    let copy = copy_floor(&bodies).await?;

    println!();
    println!("persist throughput, {MESSAGES} messages ({BASELINE_MESSAGES} for the baseline)");
    println!("  batched worker (natschatd persist): {batched:>9.0} msg/s");
    println!("  one INSERT + ack per message:       {baseline:>9.0} msg/s");
    println!("  raw COPY of the same rows:          {copy:>9.0} rows/s");
    println!(
        "  batched / baseline = {:.1}x (target >= 15x)",
        batched / baseline
    );
    println!(
        "  batched / COPY     = {:.0}% (target >= 50%)",
        100.0 * batched / copy
    );
    Ok(())
}

/// The real daemon, from "ready" until the table holds every message.
async fn batched_worker(nats_url: &str) -> anyhow::Result<f64> {
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    let db = Db::connect(db_url).await?;
    let started = Instant::now();
    let _persist = persist_daemon(nats_url, db_url, &[])?;
    // The migration ran before "ready"; the clock starts there.
    let ready = Instant::now();
    wait_until(
        "the worker stores everything",
        Duration::from_secs(600),
        || async { Ok(db.message_count().await? >= MESSAGES as i64) },
    )
    .await?;
    let elapsed = ready.elapsed();
    println!("  (worker start-up took {:?})", ready - started);
    Ok(MESSAGES as f64 / elapsed.as_secs_f64())
}

/// The naive worker: for each message one autocommitted INSERT, then its
/// ack, then the next message.
async fn one_by_one(js: &async_nats::jetstream::Context) -> anyhow::Result<f64> {
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    let db = Db::connect(db_url).await?;
    migrate(db_url)?;
    let insert = db
        .client
        .prepare(
            "INSERT INTO messages (seq, room, username, text, client_ts, message_id, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (seq) DO NOTHING",
        )
        .await?;
    let stream = js.get_stream(subject::STREAM).await?;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("baseline".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?.take(BASELINE_MESSAGES);
    let started = Instant::now();
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| anyhow::anyhow!("{e}"))?;
        let seq = message
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence as i64;
        let chat = ChatMessage::parse(&message.payload)?;
        db.client
            .execute(
                &insert,
                &[
                    &seq,
                    &chat.room.as_str(),
                    &chat.user,
                    &chat.text,
                    &chat.timestamp,
                    &chat.id,
                ],
            )
            .await?;
        message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(BASELINE_MESSAGES as f64 / started.elapsed().as_secs_f64())
}

/// COPY of the same rows into an empty table of the same shape.
async fn copy_floor(bodies: &[Vec<u8>]) -> anyhow::Result<f64> {
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    let db = Db::connect(db_url).await?;
    migrate(db_url)?;
    let mut text = String::new();
    for (i, body) in bodies.iter().enumerate() {
        let chat = ChatMessage::parse(body)?;
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t2026-01-01 00:00:00+00\n",
            i + 1,
            chat.room,
            chat.user,
            chat.text,
            chat.timestamp,
            chat.id.unwrap_or_default()
        ));
    }
    let started = Instant::now();
    let sink = db
        .client
        .copy_in("COPY messages (seq, room, username, text, client_ts, message_id, received_at) FROM STDIN")
        .await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(text)).await?;
    sink.finish().await?;
    Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
}
