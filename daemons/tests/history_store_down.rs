//! While PostgreSQL is down, history requests fail with 503 rather than an
//! empty success, and are served again once it is back.

mod persist_fixture;

use std::time::Duration;

use persist_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_answers_503_while_the_database_is_down_and_recovers() -> anyhow::Result<()> {
    let nats = start_nats()?;
    let mut postgres = private_postgres()?;
    let _persist = persist_daemon(&nats.url(), &postgres.url(), &[])?;
    let _history = history_daemon(&nats.url(), &postgres.url())?;
    let (client, js) = publisher(&nats.url()).await?;
    let room = unique_room("down");
    let body = chat_json(&room, "dave", "before the outage", 1, None);
    publish_acked(&js, &format!("chat.{room}"), body, None).await?;
    let subject = format!("chat.history.{room}");
    let served = || async {
        let reply = client.request(subject.clone(), "".into()).await?;
        Ok(reply.headers.is_none() && reply.payload.len() > 2)
    };
    wait_until("the message is served", Duration::from_secs(30), served).await?;

    tokio::task::block_in_place(|| postgres.stop())?;
    let reply = client.request(subject.clone(), "".into()).await?;
    let headers = reply.headers.expect("an error reply carries headers");
    assert_eq!(
        headers
            .get("Nats-Service-Error-Code")
            .map(|v| v.to_string())
            .as_deref(),
        Some("503")
    );
    assert!(headers.get("Nats-Service-Error").is_some());
    assert!(reply.payload.is_empty(), "no empty success");

    tokio::task::block_in_place(|| postgres.start_again())?;
    wait_until("history is served again", Duration::from_secs(30), served).await?;
    Ok(())
}
