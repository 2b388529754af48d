//! The user JWT never outlives the callout's maximum: when it expires the
//! server disconnects the client with "User Authentication Expired".

mod callout_fixture;

use std::time::Duration;

use callout_fixture::*;

#[tokio::test]
async fn server_disconnects_the_client_when_its_user_jwt_expires() {
    let (server, _callout) = private_callout(&["--max-user-jwt-secs", "3"]);
    let token = login("alice").await.access_token;
    let (client, mut errors) = connect(&server.url(), Some(&token), "alice")
        .await
        .expect("alice connects");
    client.flush().await.unwrap();
    // The access token lives 300 s; only the 3 s maximum can end this.
    let expired = errors
        .wait_for("authentication expired", Duration::from_secs(30))
        .await;
    assert!(expired.is_some(), "the server never expired the connection");
}
