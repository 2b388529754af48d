//! Several callout instances in one queue group share the requests.

mod callout_fixture;

use callout_fixture::*;
use natschat_testkit::nats_server::free_port;

const CONNECTS: usize = 24;

/// `auth_requests_total{result="authorized"}` of an instance.
async fn authorized_count(metrics_addr: &str) -> u64 {
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("metrics endpoint answers")
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("auth_requests_total{result=\"authorized\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map(|n| n.parse().expect("a count"))
        .unwrap_or(0)
}

#[tokio::test]
async fn two_instances_in_the_queue_group_both_serve_requests() {
    let server = CalloutServer::start().unwrap();
    let first = format!("127.0.0.1:{}", free_port());
    let second = format!("127.0.0.1:{}", free_port());
    let _a = server.callout(&["--metrics-addr", &first]).unwrap();
    let _b = server.callout(&["--metrics-addr", &second]).unwrap();

    let token = login("alice").await.access_token;
    for _ in 0..CONNECTS {
        let (client, _) = connect(&server.url(), Some(&token), "alice")
            .await
            .expect("alice connects");
        client.flush().await.unwrap();
    }

    let (a, b) = (
        authorized_count(&first).await,
        authorized_count(&second).await,
    );
    assert_eq!(a + b, CONNECTS as u64, "every connect was answered once");
    // Queue groups spread requests at random: with 24 requests the chance
    // that one instance gets none is about one in eight million.
    assert!(a > 0 && b > 0, "one instance served everything ({a} / {b})");
}
