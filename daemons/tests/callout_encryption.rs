//! The callout insists on sealed requests unless told otherwise: a server
//! configured without an xkey gets an explicit refusal, not a silent hang.

mod callout_fixture;

use std::time::Duration;

use callout_fixture::*;

#[tokio::test]
async fn refuses_unsealed_requests_by_default() {
    let server = CalloutServer::start_unsealed().unwrap();
    let mut callout = server.callout(&[]).unwrap();
    let token = login("alice").await.access_token;
    let error = match connect(&server.url(), Some(&token), "alice").await {
        Ok(_) => panic!("an unsealed callout exchange let alice in"),
        Err(e) => e,
    };
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation,
        "{error}"
    );
    callout
        .wait_for_message(
            "refusing an unsealed request; configure the server's auth_callout xkey or run with --allow-unencrypted",
            Duration::from_secs(10),
        )
        .unwrap();
    assert!(callout.events_named("authorized").is_empty());
}

#[tokio::test]
async fn serves_unsealed_requests_when_allowed() {
    let server = CalloutServer::start_unsealed().unwrap();
    let mut callout = server.callout(&["--allow-unencrypted"]).unwrap();
    let token = login("alice").await.access_token;
    let (client, _) = connect(&server.url(), Some(&token), "alice")
        .await
        .expect("alice connects through an unsealed exchange");
    client.flush().await.unwrap();
    callout
        .wait_for_message("authorized", Duration::from_secs(10))
        .unwrap();
}
