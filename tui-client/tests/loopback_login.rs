//! Authorization code + PKCE through the loopback listener, with the
//! browser played by the testkit against the real Keycloak.

mod common;

use std::time::Duration;

use natschat_testkit::keycloak::browser_login;
use natschat_testkit::stack::Stack;
use natschat_tui::auth::{AuthError, LoopbackLogin, Provider};

async fn provider() -> Provider {
    let stack = Stack::load().unwrap();
    Provider::discover(&stack.issuer(), "natschat-tui")
        .await
        .unwrap()
}

#[tokio::test]
async fn browser_login_for_bob_completes_through_the_loopback_listener() {
    let login = LoopbackLogin::start(&provider().await).await.unwrap();
    let redirect_uri = login.redirect_uri().to_owned();
    let url = login.authorization_url().to_string();
    let waiting = tokio::spawn(login.finish(Duration::from_secs(60)));

    let redirect = browser_login(&url, "bob", "bob123").await.unwrap();
    assert!(
        redirect.starts_with(&redirect_uri),
        "{redirect} vs {redirect_uri}"
    );
    let page = reqwest::get(&redirect).await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("You can close this tab"), "{text}");

    let tokens = waiting.await.unwrap().unwrap();
    assert_eq!(tokens.username, "bob");
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test]
async fn a_redirect_with_a_wrong_state_is_rejected_and_the_login_goes_on() {
    let login = LoopbackLogin::start(&provider().await).await.unwrap();
    let url = login.authorization_url().to_string();
    let waiting = tokio::spawn(login.finish(Duration::from_secs(60)));
    let redirect = browser_login(&url, "charlie", "charlie123").await.unwrap();

    let mut forged = reqwest::Url::parse(&redirect).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "not-the-state".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let refused = reqwest::get(forged).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("does not belong"));
    assert!(!waiting.is_finished());

    let accepted = reqwest::get(&redirect).await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(waiting.await.unwrap().unwrap().username, "charlie");
}

#[tokio::test]
async fn each_login_listens_on_its_own_port_and_keycloak_accepts_any() {
    let provider = provider().await;
    let first = LoopbackLogin::start(&provider).await.unwrap();
    let second = LoopbackLogin::start(&provider).await.unwrap();
    assert_ne!(first.redirect_uri(), second.redirect_uri());

    for login in [first, second] {
        let redirect_uri = login.redirect_uri().to_owned();
        // Each test in this file signs in a different user: Keycloak's
        // brute-force protection refuses simultaneous logins of one user.
        let redirect = browser_login(login.authorization_url().as_str(), "alice", "alice123")
            .await
            .unwrap();
        assert!(redirect.starts_with(&redirect_uri), "{redirect}");
    }
}

#[tokio::test]
async fn a_browser_that_never_comes_back_times_out_with_advice() {
    let login = LoopbackLogin::start(&provider().await).await.unwrap();

    let error = login.finish(Duration::from_millis(300)).await.unwrap_err();

    assert!(matches!(error, AuthError::BrowserTimeout { .. }), "{error}");
    assert!(error.to_string().contains("--device"), "{error}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_does_not_hold_up_the_browser() {
    let stack = Stack::load().unwrap();
    let fixture = common::Fixture::create(&stack, "natschat-tui")
        .await
        .unwrap();
    let login = LoopbackLogin::start(&provider().await).await.unwrap();
    let url = login.authorization_url().to_string();
    let listener = reqwest::Url::parse(login.redirect_uri()).unwrap();
    let redirect = browser_login(&url, &fixture.username, &fixture.password)
        .await
        .unwrap();
    // Connected before the browser comes back, and silent from then on.
    let idle = tokio::net::TcpStream::connect((
        "127.0.0.1",
        listener.port().expect("the redirect names its port"),
    ))
    .await
    .unwrap();
    // Shorter than one connection's read timeout ever was: served one at a
    // time, the idle connection would use up the whole wait.
    let waiting = tokio::spawn(login.finish(Duration::from_secs(5)));

    let page = reqwest::get(&redirect).await.unwrap();

    assert_eq!(page.status(), 200);
    assert_eq!(waiting.await.unwrap().unwrap().username, fixture.username);
    drop(idle);
    fixture.remove().await.unwrap();
}
