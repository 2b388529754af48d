//! Latency and rate of `natschatd history` serving 50-message pages from a
//! table of 1,000,000 messages over 100 rooms, on loopback.
//!
//! `cargo bench -p natschat-daemons --bench history_latency`

#[path = "../tests/persist_fixture/mod.rs"]
mod persist_fixture;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use natschat_proto::HistoryRequest;
use persist_fixture::*;
use rand::Rng;

const MESSAGES: i64 = 1_000_000;
const ROOMS: i64 = 100;
const REQUESTS: usize = 5_000;
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let nats = start_nats()?;
    let schema = fresh_schema().await?;
    let db_url = schema.url();
    migrate(db_url)?;
    let db = Db::connect(db_url).await?;
    let rooms: Vec<String> = (0..ROOMS).map(|i| unique_room(&format!("h{i}"))).collect();

    println!("filling the table with {MESSAGES} messages over {ROOMS} rooms...");
    let mut text = String::with_capacity(MESSAGES as usize * 90);
    for seq in 1..=MESSAGES {
        let room = &rooms[(seq % ROOMS) as usize];
        text.push_str(&format!(
            "{seq}\t{room}\tuser{}\thistory benchmark message {seq}\t{}\th-{seq}\t2026-01-01 00:00:00+00\n",
            seq % 40,
            1_700_000_000_000 + seq
        ));
    }
    let sink = db
        .client
        .copy_in("COPY messages (seq, room, username, text, client_ts, message_id, received_at) FROM STDIN")
        .await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(text)).await?;
    sink.finish().await?;
    db.client.batch_execute("VACUUM ANALYZE messages").await?;

    let _history = history_daemon(&nats.url(), db_url)?;
    let (client, _js) = publisher(&nats.url()).await?;
    let request = |rng: &mut rand::rngs::ThreadRng| {
        let room = &rooms[rng.gen_range(0..ROOMS) as usize];
        // Half newest pages, half scrollback somewhere in the room.
        let body = if rng.gen_bool(0.5) {
            HistoryRequest::Latest { limit: 50 }
        } else {
            HistoryRequest::Before {
                limit: 50,
                before: rng.gen_range(1_000..MESSAGES as u64),
            }
        };
        (format!("chat.history.{room}"), body.to_json())
    };

    // Warm-up: connections, prepared statements, caches.
    let mut rng = rand::thread_rng();
    for _ in 0..500 {
        let (subject, body) = request(&mut rng);
        client.request(subject, body.into()).await?;
    }

    let mut latencies = Vec::with_capacity(REQUESTS);
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let (subject, body) = request(&mut rng);
        let t = Instant::now();
        let reply = client.request(subject, body.into()).await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(reply.headers.is_none(), "history answered an error");
        anyhow::ensure!(reply.payload.len() > 1000, "a 50-message page");
    }
    let sequential_rate = REQUESTS as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    let requests: Vec<(String, Vec<u8>)> = (0..REQUESTS).map(|_| request(&mut rng)).collect();
    let started = Instant::now();
    let answered = futures::stream::iter(requests)
        .map(|(subject, body)| {
            let client = client.clone();
            async move { client.request(subject, body.into()).await }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    let concurrent_rate = answered as f64 / started.elapsed().as_secs_f64();

    println!();
    println!(
        "history, 50-message pages, {MESSAGES} messages in {ROOMS} rooms, {REQUESTS} requests"
    );
    println!("  p50 {:>8.3} ms", ms(pct(0.50)));
    println!("  p99 {:>8.3} ms (target <= 2 ms)", ms(pct(0.99)));
    println!(
        "  max {:>8.3} ms",
        ms(*latencies.last().unwrap_or(&Duration::ZERO))
    );
    println!("  one at a time:        {sequential_rate:>7.0} req/s");
    println!("  {CONCURRENCY} in flight:          {concurrent_rate:>7.0} req/s");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
