//! Forged and broken tokens are refused at once with an explicit reason,
//! and the callout keeps serving valid logins afterwards.
//!
//! Each test runs its own nats-server and callout so that the callout's log
//! shows which check refused the token. Tokens that need a valid realm
//! signature over wrong claims are signed with a demo key imported into the
//! realm for the length of the test.

mod callout_fixture;

use std::time::Duration;

use callout_fixture::forge::*;
use callout_fixture::*;
use natschat_testkit::keycloak_admin::KeycloakAdmin;
use natschat_testkit::stack::Stack;
use serde_json::json;

/// A test-only client without the NATS audience mapper.
const NO_AUDIENCE_CLIENT: &str = "natschat-test-no-audience";
/// A test-only client whose access tokens live two seconds.
const SHORT_LIVED_CLIENT: &str = "natschat-test-short-lived";

async fn admin() -> KeycloakAdmin {
    KeycloakAdmin::login(&Stack::load().expect("stack"))
        .await
        .expect("Keycloak admin login")
}

/// Signs alice's real claims, changed by `change`, with the imported demo
/// realm key, and asserts the callout refuses them for `reason`.
async fn refuses_realm_signed_claims(change: impl FnOnce(&mut serde_json::Value), reason: &str) {
    let key = ImportedRealmKey::import().await;
    let mut case = RefusalCase::start(&["--leeway-secs", "0"]).await;
    let mut claims = claims_of(&case.valid);
    change(&mut claims);
    let token = key.sign(&claims);
    case.assert_refused(Some(&token), reason).await;
    key.remove().await;
}

#[tokio::test]
async fn rejects_token_with_alg_none() {
    let mut case = RefusalCase::start(&[]).await;
    let mut header = header_of(&case.valid);
    header["alg"] = json!("none");
    let token = assemble(&header, &claims_of(&case.valid), "");
    case.assert_refused(Some(&token), "algorithm none is not allowed")
        .await;
}

#[tokio::test]
async fn rejects_token_signed_with_hs256_using_the_realm_public_key_as_secret() {
    let mut case = RefusalCase::start(&[]).await;
    let kid = header_of(&case.valid)["kid"].as_str().unwrap().to_owned();
    let secret = realm_public_key_pem().await;
    let token = sign_hs256(&claims_of(&case.valid), &kid, secret.as_bytes());
    case.assert_refused(Some(&token), "HS256 is not allowed")
        .await;
}

#[tokio::test]
async fn rejects_expired_token() {
    admin()
        .await
        .ensure_device_client(SHORT_LIVED_CLIENT, Some(2), true)
        .await
        .unwrap();
    // The client is allowed here so that only the expiry check can refuse.
    let clients = format!("natschat-tui,{SHORT_LIVED_CLIENT}");
    let mut case = RefusalCase::start(&["--allowed-client", &clients, "--leeway-secs", "0"]).await;
    let token = login_with(SHORT_LIVED_CLIENT, "alice").await.access_token;
    let exp = claims_of(&token)["exp"].as_i64().unwrap();
    let wait = (exp + 2 - now()).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    case.assert_refused(Some(&token), "token expired").await;
}

#[tokio::test]
async fn rejects_token_not_valid_before_a_future_time() {
    refuses_realm_signed_claims(
        |claims| claims["nbf"] = json!(now() + 3600),
        "token not yet valid",
    )
    .await;
}

#[tokio::test]
async fn rejects_token_from_another_issuer() {
    // The same realm reached under another host name: a different issuer.
    refuses_realm_signed_claims(
        |claims| claims["iss"] = json!("http://localhost:8080/realms/nats-chat"),
        "issuer is not trusted",
    )
    .await;
}

#[tokio::test]
async fn rejects_id_token_shaped_claims_even_with_the_nats_audience() {
    refuses_realm_signed_claims(|claims| claims["typ"] = json!("ID"), "not an access token").await;
}

#[tokio::test]
async fn rejects_token_without_the_nats_audience() {
    admin()
        .await
        .ensure_device_client(NO_AUDIENCE_CLIENT, None, false)
        .await
        .unwrap();
    // The client is allowed here so that only the audience check can refuse.
    let clients = format!("natschat-tui,{NO_AUDIENCE_CLIENT}");
    let mut case = RefusalCase::start(&["--allowed-client", &clients]).await;
    let token = login_with(NO_AUDIENCE_CLIENT, "alice").await.access_token;
    case.assert_refused(Some(&token), "audience").await;
}

#[tokio::test]
async fn rejects_id_token_instead_of_access_token() {
    let mut case = RefusalCase::start(&[]).await;
    let id_token = login("alice")
        .await
        .id_token
        .expect("openid scope gives an ID token");
    // Keycloak addresses ID tokens to the client, not to NATS.
    case.assert_refused(Some(&id_token), "audience").await;
}

#[tokio::test]
async fn rejects_token_of_a_client_outside_the_allow_list() {
    let mut case = RefusalCase::start(&[]).await;
    let token = login_with("natschat-untrusted", "alice").await.access_token;
    case.assert_refused(Some(&token), "client natschat-untrusted is not allowed")
        .await;
}

#[tokio::test]
async fn rejects_token_signed_by_a_key_the_realm_does_not_have() {
    let mut case = RefusalCase::start(&[]).await;
    let claims = claims_of(&case.valid);
    let token = sign_rs256(&claims, "natschat-test-unknown-kid", STRANGER_KEY_PEM);
    case.assert_refused(Some(&token), "unknown key").await;
}

#[tokio::test]
async fn rejects_foreign_signature_under_the_realm_kid() {
    let mut case = RefusalCase::start(&[]).await;
    let kid = header_of(&case.valid)["kid"].as_str().unwrap().to_owned();
    let token = sign_rs256(&claims_of(&case.valid), &kid, STRANGER_KEY_PEM);
    case.assert_refused(Some(&token), "signature is invalid")
        .await;
}

#[tokio::test]
async fn rejects_tampered_payload() {
    let mut case = RefusalCase::start(&[]).await;
    let real = login("bob").await.access_token;
    let mut claims = claims_of(&real);
    claims["realm_access"]["roles"] = json!(["admin", "user"]);
    let signature = real.rsplit('.').next().unwrap();
    let token = assemble(&header_of(&real), &claims, signature);
    case.assert_refused(Some(&token), "signature is invalid")
        .await;
}

#[tokio::test]
async fn rejects_truncated_token() {
    let mut case = RefusalCase::start(&[]).await;
    let token = case.valid[..case.valid.len() / 2].to_owned();
    case.assert_refused(Some(&token), "not a JWT").await;
}

#[tokio::test]
async fn rejects_text_that_is_not_a_jwt() {
    let mut case = RefusalCase::start(&[]).await;
    case.assert_refused(Some("let-me-in-please"), "not a JWT")
        .await;
}

#[tokio::test]
async fn rejects_64_kib_of_garbage_before_parsing_it() {
    let mut case = RefusalCase::start(&[]).await;
    let garbage: String = std::iter::repeat("x.y-z_0")
        .flat_map(str::chars)
        .take(64 * 1024)
        .collect();
    case.assert_refused(Some(&garbage), "token too large").await;
}

#[tokio::test]
async fn rejects_empty_token() {
    let mut case = RefusalCase::start(&[]).await;
    case.assert_refused(Some(""), "no token presented").await;
}

#[tokio::test]
async fn rejects_connection_without_token() {
    let mut case = RefusalCase::start(&[]).await;
    case.assert_refused(None, "no token presented").await;
}
