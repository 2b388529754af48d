//! Refreshing, ending and revoking Keycloak sessions. Each test signs in a
//! user and client of its own, so ending their sessions disturbs nobody.

mod common;

use std::time::Duration;

use common::Fixture;
use natschat_testkit::stack::Stack;
use natschat_tui::auth::refresh::refresh;
use natschat_tui::auth::{AuthError, Provider, Session, TokenSet, TokenStore, logout};
use natschat_tui::config::Config;

/// Signs the fixture's user in with the device flow; settings with a state
/// folder of their own.
async fn sign_in(stack: &Stack, fixture: &Fixture) -> (Config, Provider, TokenSet) {
    let config = common::config(stack, &fixture.client_id);
    let provider = Provider::discover(&config.issuer, &config.client_id)
        .await
        .unwrap();
    let tokens = common::device_login(&provider, &fixture.username, &fixture.password)
        .await
        .unwrap();
    (config, provider, tokens)
}

async fn userinfo_status(stack: &Stack, access_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "{}/protocol/openid-connect/userinfo",
            stack.issuer()
        ))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_stored() {
    let stack = Stack::load().unwrap();
    let fixture = Fixture::short_lived(&stack).await.unwrap();
    let (config, _, tokens) = sign_in(&stack, &fixture).await;
    let first = tokens.clone();
    let store = TokenStore::file(&config.state_dir);
    let session = Session::begin(&config, store, tokens).await.unwrap();

    while !session.tokens().await.access_time_left().is_zero() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Past the token's end by Keycloak's clock too, which counts whole
    // seconds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(userinfo_status(&stack, &first.access_token).await, 401);

    let fresh = session.valid_access_token().await.unwrap();

    assert_ne!(fresh, first.access_token);
    assert_eq!(userinfo_status(&stack, &fresh).await, 200);
    let reopened = Session::open(&config).await.unwrap();
    assert_eq!(reopened.tokens().await.access_token, fresh);
    fixture.remove().await.unwrap();
}

#[tokio::test]
async fn an_ended_keycloak_session_asks_to_log_in_again_once() {
    let stack = Stack::load().unwrap();
    let fixture = Fixture::short_lived(&stack).await.unwrap();
    let (config, _, tokens) = sign_in(&stack, &fixture).await;
    let session = Session::begin(&config, TokenStore::file(&config.state_dir), tokens)
        .await
        .unwrap();

    fixture.logout_user().await.unwrap();

    for _ in 0..2 {
        let error = session.valid_access_token().await.unwrap_err();
        assert!(matches!(error, AuthError::LoginAgain { .. }), "{error}");
        assert!(
            error.to_string().contains("run `natschat-tui login` again"),
            "{error}"
        );
    }
    fixture.remove().await.unwrap();
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_deletes_the_stored_tokens() {
    let stack = Stack::load().unwrap();
    let fixture = Fixture::create(&stack, "natschat-tui").await.unwrap();
    let (config, provider, tokens) = sign_in(&stack, &fixture).await;
    let store = TokenStore::file(&config.state_dir);
    Session::begin(&config, store, tokens.clone())
        .await
        .unwrap();
    // The refresh token works before logout.
    refresh(&provider, &tokens).await.unwrap();

    let outcome = logout(&config).await.unwrap();

    assert!(outcome.revocation.is_ok(), "{:?}", outcome.revocation);
    assert!(outcome.deleted);
    let error = refresh(&provider, &tokens).await.unwrap_err();
    assert!(matches!(error, AuthError::LoginAgain { .. }), "{error}");
    let error = Session::open(&config).await.err().unwrap();
    assert!(matches!(error, AuthError::NotLoggedIn { .. }), "{error}");
    fixture.remove().await.unwrap();
}

#[tokio::test]
async fn logout_without_keycloak_still_deletes_the_tokens_and_says_so() {
    let stack = Stack::load().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = common::config(&stack, "natschat-tui");
    config.issuer = format!("http://127.0.0.1:{port}/realms/nats-chat");
    let tokens = TokenSet {
        username: "alice".to_owned(),
        access_token: "a.b.c".to_owned(),
        refresh_token: Some("r.s.t".to_owned()),
        access_expires_at: 0,
        refresh_expires_at: None,
    };
    let store = TokenStore::file(&config.state_dir);
    let session = Session::begin(&config, store.clone(), tokens)
        .await
        .unwrap();
    let key = natschat_tui::auth::TokenKey {
        issuer: config.issuer.clone(),
        client_id: config.client_id.clone(),
        username: session.username().to_owned(),
    };
    assert!(store.file_path(&key).unwrap().exists());

    let outcome = logout(&config).await.unwrap();

    let revocation = outcome.revocation.unwrap_err();
    assert!(
        matches!(revocation, AuthError::IssuerUnreachable { .. }),
        "{revocation}"
    );
    assert!(outcome.deleted);
    assert!(!store.file_path(&key).unwrap().exists());
}

#[tokio::test]
async fn a_new_login_under_the_profile_revokes_and_reports_the_one_it_replaces() {
    let stack = Stack::load().unwrap();
    let alice = Fixture::create(&stack, "natschat-tui").await.unwrap();
    let bob = Fixture::create(&stack, "natschat-tui").await.unwrap();
    let (config, provider, alice_tokens) = sign_in(&stack, &alice).await;
    let bob_tokens = common::device_login(&provider, &bob.username, &bob.password)
        .await
        .unwrap();
    let store = TokenStore::file(&config.state_dir);
    let first = Session::begin(&config, store.clone(), alice_tokens.clone())
        .await
        .unwrap();
    assert!(first.replaced().is_none());

    let second = Session::begin(&config, store.clone(), bob_tokens)
        .await
        .unwrap();

    let replaced = second.replaced().expect("alice's login was replaced");
    assert_eq!(replaced.username, alice.username);
    assert!(replaced.revocation.is_ok(), "{:?}", replaced.revocation);
    let error = refresh(&provider, &alice_tokens).await.unwrap_err();
    assert!(matches!(error, AuthError::LoginAgain { .. }), "{error}");
    let alice_key = natschat_tui::auth::TokenKey {
        issuer: config.issuer.clone(),
        client_id: config.client_id.clone(),
        username: alice.username.clone(),
    };
    assert_eq!(store.load(&alice_key).unwrap(), None);
    assert_eq!(
        Session::open(&config).await.unwrap().username(),
        bob.username
    );
    alice.remove().await.unwrap();
    bob.remove().await.unwrap();
}

#[tokio::test]
async fn logging_in_again_as_the_same_person_keeps_the_new_session_alive() {
    let stack = Stack::load().unwrap();
    let fixture = Fixture::create(&stack, "natschat-tui").await.unwrap();
    let (config, provider, first) = sign_in(&stack, &fixture).await;
    let second = common::device_login(&provider, &fixture.username, &fixture.password)
        .await
        .unwrap();
    let store = TokenStore::file(&config.state_dir);
    Session::begin(&config, store.clone(), first.clone())
        .await
        .unwrap();

    let session = Session::begin(&config, store, second.clone())
        .await
        .unwrap();

    assert!(session.replaced().is_none());
    refresh(&provider, &second).await.unwrap();
    // Two device logins are two Keycloak sessions: the first one, with
    // nothing pointing at it any more, is ended.
    assert!(first.session_id().is_some());
    assert_ne!(first.session_id(), second.session_id());
    let error = refresh(&provider, &first).await.unwrap_err();
    assert!(matches!(error, AuthError::LoginAgain { .. }), "{error}");
    fixture.remove().await.unwrap();
}
