//! Connect benchmark: what the auth callout costs a client's connect.
//!
//! On one private nats-server (auth callout configured, one release-built
//! callout instance) it measures in the same run:
//!   (a) the static user `natschat-bench` (password, skips the callout);
//!   (b) Keycloak-token users through the callout;
//! and prints connects/s, p50/p99 latency and the ratio b/a; then a burst
//! of concurrent callout connects, counting timeouts.
//!
//! `cargo bench -p natschat-daemons --bench connect` (needs `./dev up`).
//! `CONNECT_BENCH_SAMPLES` and `CONNECT_BENCH_BURST` change the sizes;
//! `CONNECT_BENCH_AUTH_TIMEOUT` the server's wait for the callout.

#[path = "../tests/callout_fixture/mod.rs"]
mod callout_fixture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callout_fixture::*;
use natschat_testkit::nats_server::free_port;
use tokio::sync::Semaphore;

/// Connects measured one at a time, per kind.
const SAMPLES: usize = 400;
/// Connects at once in the throughput run.
const PARALLEL: usize = 16;
/// Connects in the burst.
const BURST: usize = 4000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone)]
enum Credentials {
    Password { user: String, password: String },
    Token(String),
}

impl Credentials {
    async fn connect(&self, url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
        let options = match self {
            Credentials::Password { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            Credentials::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
        };
        options
            .connection_timeout(Duration::from_secs(10))
            .connect(url)
            .await
    }
}

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Latency of one connect at a time (connect until the server's PONG),
/// alternating kinds so drift hits both alike.
async fn latencies(url: &str, kinds: &[Credentials], samples: usize) -> Vec<Vec<Duration>> {
    let mut out = vec![Vec::with_capacity(samples); kinds.len()];
    for _ in 0..samples {
        for (i, kind) in kinds.iter().enumerate() {
            let started = Instant::now();
            let client = kind.connect(url).await.expect("connect");
            out[i].push(started.elapsed());
            drop(client);
        }
    }
    for list in &mut out {
        list.sort();
    }
    out
}

/// Connects per second with `PARALLEL` connects in flight.
async fn throughput(url: &str, kind: &Credentials, total: usize) -> f64 {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for _ in 0..total {
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let kind = kind.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = kind.connect(&url).await.expect("connect");
            drop(client);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.expect("connect task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// `auth_request_duration_seconds` (sum, count) of the callout instance.
async fn decision_seconds(metrics_addr: &str) -> (f64, f64) {
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("callout metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("auth_request_duration_seconds_sum "),
        value("auth_request_duration_seconds_count "),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let samples = env_usize("CONNECT_BENCH_SAMPLES", SAMPLES);
    let burst = env_usize("CONNECT_BENCH_BURST", BURST);

    // `CONNECT_BENCH_AUTH_TIMEOUT` (seconds) changes how long the server
    // waits for the callout; unset, nats-server's default applies, as on
    // the stack.
    let auth_timeout = std::env::var("CONNECT_BENCH_AUTH_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok());
    let server = CalloutServer::start_with_auth_timeout(auth_timeout).expect("private nats-server");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let _callout = server
        .callout(&["--metrics-addr", &metrics_addr])
        .expect("callout instance");
    let url = server.url();
    let token = login("alice").await.access_token;
    let kinds = [
        Credentials::Password {
            user: BENCH_USER.to_owned(),
            password: server.bench_password.clone(),
        },
        Credentials::Token(token),
    ];

    // Warm up both paths (JIT-free, but caches, the callout's key cache and
    // the server's account lookups).
    latencies(&url, &kinds, 50).await;

    let before = decision_seconds(&metrics_addr).await;
    let measured = latencies(&url, &kinds, samples).await;
    let after = decision_seconds(&metrics_addr).await;
    let decision = Duration::from_secs_f64((after.0 - before.0) / (after.1 - before.1).max(1.0));
    let mut figures = Vec::new();
    for (kind, sorted) in kinds.iter().zip(&measured) {
        figures.push(Figures {
            p50: percentile(sorted, 0.50),
            p99: percentile(sorted, 0.99),
            per_second: throughput(&url, kind, samples * 2).await,
        });
    }
    let (a, b) = (&figures[0], &figures[1]);
    println!(
        "connect benchmark: {samples} sequential connects per kind, throughput with {PARALLEL} in flight"
    );
    for (name, f) in [
        ("(a) static user natschat-bench", a),
        ("(b) token via auth callout", b),
    ] {
        println!(
            "  {name:34} p50 {:7.3} ms  p99 {:7.3} ms  {:8.0} connects/s",
            ms(f.p50),
            ms(f.p99),
            f.per_second
        );
    }
    println!(
        "  ratio b/a: p50 {:.2}  p99 {:.2}  throughput {:.2}",
        b.p50.as_secs_f64() / a.p50.as_secs_f64(),
        b.p99.as_secs_f64() / a.p99.as_secs_f64(),
        b.per_second / a.per_second
    );

    println!(
        "  the callout's own decision took {:.3} ms on average of the {:.3} ms p50 difference; \
         the rest is nats-server's side of the callout (user nkey, request JWT, sealing, \
         response and user JWT checks) and the extra round trip",
        ms(decision),
        ms(b.p50.saturating_sub(a.p50))
    );

    // Burst: every connect at once; the server gives the callout its
    // authorization timeout (2 s by default) for each.
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(burst);
    for _ in 0..burst {
        let kind = kinds[1].clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let result = kind.connect(&url).await;
            (result, started.elapsed())
        }));
    }
    let (mut ok, mut timeouts, mut refused, mut other) = (0, 0, 0, 0);
    let mut clients = Vec::with_capacity(burst);
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (result, took) = task.await.expect("burst task");
        slowest = slowest.max(took);
        match result {
            Ok(client) => {
                ok += 1;
                clients.push(client);
            }
            Err(e) if e.kind() == async_nats::ConnectErrorKind::TimedOut => timeouts += 1,
            Err(e) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation => {
                refused += 1
            }
            Err(e) => {
                if other == 0 {
                    println!("  first other error: {e}");
                }
                other += 1
            }
        }
    }
    let wall = started.elapsed();
    println!(
        "burst of {burst} concurrent callout connects: {ok} connected, {timeouts} timed out, \
         {refused} refused (callout answer late), {other} other errors; {:.2} s wall, \
         {:.0} connects/s, slowest {:.0} ms",
        wall.as_secs_f64(),
        ok as f64 / wall.as_secs_f64(),
        ms(slowest)
    );
    drop(clients);
}
