//! The device authorization grant against the real Keycloak.

mod common;

use std::time::Duration;

use natschat_testkit::keycloak::approve_device;
use natschat_testkit::stack::Stack;
use natschat_tui::auth::{AuthError, DeviceAuthorization, PollPace, Provider};

#[tokio::test]
async fn device_login_for_alice_yields_her_tokens_and_roles() {
    let stack = Stack::load().unwrap();
    let provider = Provider::discover(&stack.issuer(), "natschat-tui")
        .await
        .unwrap();

    let tokens = common::device_login(&provider, "alice", "alice123")
        .await
        .unwrap();

    assert_eq!(tokens.username, "alice");
    let claims = tokens.access_claims().unwrap();
    assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
    assert!(claims.realm_access.roles.iter().any(|r| r == "admin"));
    assert!(tokens.refresh_token.is_some());
    assert!(!tokens.access_time_left().is_zero());
}

#[tokio::test]
async fn device_login_shows_a_user_code_and_a_complete_verification_url() {
    let stack = Stack::load().unwrap();
    let provider = Provider::discover(&stack.issuer(), "natschat-tui")
        .await
        .unwrap();

    let device = DeviceAuthorization::start(&provider).await.unwrap();

    assert!(device.verification_uri().starts_with(&stack.issuer()));
    let complete = device.verification_uri_complete().unwrap();
    assert!(complete.contains(device.user_code()), "{complete}");
    assert!(!device.expires_in().is_zero());
}

#[tokio::test]
async fn polling_faster_than_allowed_makes_the_interval_grow() {
    let stack = Stack::load().unwrap();
    let provider = Provider::discover(&stack.issuer(), "natschat-tui")
        .await
        .unwrap();
    let device = DeviceAuthorization::start(&provider).await.unwrap();

    // Nobody approves: Keycloak answers authorization_pending, then
    // slow_down to every poll that comes sooner than its interval.
    let grew = async {
        for _ in 0..200 {
            let waits = device.waits();
            if waits.len() >= 3 {
                return waits;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        device.waits()
    };
    let waits = tokio::select! {
        result = device.finish(PollPace::Every(Duration::from_millis(200))) => {
            panic!("polling ended early: {:?}", result.map(|t| t.username))
        }
        waits = grew => waits,
    };

    assert!(waits.len() >= 3, "too few polls: {waits:?}");
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "the interval did not grow after slow_down: {waits:?}"
    );
    assert_eq!(waits[2] - waits[1], Duration::from_secs(5), "{waits:?}");
}

#[tokio::test]
async fn a_login_approved_after_the_first_poll_completes() {
    let stack = Stack::load().unwrap();
    let provider = Provider::discover(&stack.issuer(), "natschat-tui")
        .await
        .unwrap();
    let device = DeviceAuthorization::start(&provider).await.unwrap();
    let uri = device.verification_uri_complete().unwrap().to_owned();

    let approve = async {
        // Let the poller see authorization_pending at least once.
        while device.waits().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        approve_device(&uri, "bob", "bob123").await.unwrap();
    };
    let (tokens, ()) = tokio::join!(device.finish(PollPace::AsServerAsks), approve);

    assert_eq!(tokens.unwrap().username, "bob");
}

#[tokio::test]
async fn a_client_without_the_device_grant_is_told_to_use_the_browser() {
    let stack = Stack::load().unwrap();
    let provider = Provider::discover(&stack.issuer(), "nats-chat-app")
        .await
        .unwrap();

    let error = DeviceAuthorization::start(&provider).await.err().unwrap();

    assert!(
        matches!(error, AuthError::DeviceGrantNotAllowed { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--browser"), "{error}");
}

#[tokio::test]
async fn a_realm_that_does_not_exist_is_reported_as_such() {
    let stack = Stack::load().unwrap();
    let issuer = format!("{}/realms/no-such-realm", stack.keycloak_url());

    let error = Provider::discover(&issuer, "natschat-tui")
        .await
        .unwrap_err();

    assert!(matches!(error, AuthError::UnknownRealm { .. }), "{error}");
    assert!(error.to_string().contains("no such realm"), "{error}");
}

#[tokio::test]
async fn an_unreachable_keycloak_points_at_the_stack_status() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}/realms/nats-chat");

    let error = Provider::discover(&issuer, "natschat-tui")
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(error, AuthError::IssuerUnreachable { .. }),
        "{message}"
    );
    assert!(
        message.contains(&format!("http://127.0.0.1:{port} did not answer")),
        "{message}"
    );
    assert!(message.contains("./dev status"), "{message}");
}
