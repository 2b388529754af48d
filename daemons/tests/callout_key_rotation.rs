//! A realm key rotated in through the admin API is picked up by the
//! callout with one JWKS refetch, and tokens of the old key keep working.

mod callout_fixture;

use callout_fixture::forge::{header_of, now};
use callout_fixture::*;
use natschat_testkit::keycloak_admin::KeycloakAdmin;
use natschat_testkit::stack::Stack;

const ROTATION_PREFIX: &str = "natschat-test-rotation-";

#[tokio::test]
async fn accepts_tokens_of_a_rotated_in_key_after_one_refetch() {
    // Started first, so its cached key set predates the new key.
    let (server, mut callout) = private_callout(&[]);
    let admin = KeycloakAdmin::login(&Stack::load().unwrap()).await.unwrap();

    // Keys of earlier runs: every token they signed has expired by now
    // (access tokens live 300 s), so they can go.
    for provider in admin.key_providers().await.unwrap() {
        let stale = provider["name"]
            .as_str()
            .and_then(|n| n.strip_prefix(ROTATION_PREFIX))
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t < now() - 900);
        if stale {
            admin
                .delete_component(provider["id"].as_str().unwrap())
                .await
                .unwrap();
        }
    }

    let old_token = login("alice").await.access_token;
    let old_kid = header_of(&old_token)["kid"].as_str().unwrap().to_owned();
    let top = admin
        .keys()
        .await
        .unwrap()
        .iter()
        .filter(|k| k.algorithm == "RS256" && k.status == "ACTIVE")
        .map(|k| k.priority)
        .max()
        .unwrap();
    let provider = admin
        .add_generated_rsa_key(&format!("{ROTATION_PREFIX}{}", now()), top + 10)
        .await
        .unwrap();
    let new_kid = admin.kid_of(&provider).await.unwrap();
    let new_token = login("alice").await.access_token;
    // Other tests share the realm: let Keycloak sign with its usual key
    // again right away. The new key stays active, so it still verifies.
    admin.set_key_priority(&provider, 1).await.unwrap();
    assert_eq!(header_of(&new_token)["kid"], new_kid.as_str());
    assert_ne!(new_kid, old_kid);

    let (client, _) = connect(&server.url(), Some(&new_token), "alice")
        .await
        .expect("a token of the new key is accepted");
    client.flush().await.unwrap();
    let refetches = callout.events_named("unknown kid; refetching realm keys");
    assert_eq!(refetches.len(), 1, "{}", callout.log_text());
    assert_eq!(refetches[0]["fields"]["kid"], new_kid.as_str());

    // The old key was never retired: its tokens keep working, with no
    // further refetch.
    let (client, _) = connect(&server.url(), Some(&old_token), "alice")
        .await
        .expect("a token of the old key is still accepted");
    client.flush().await.unwrap();
    assert_eq!(
        callout
            .events_named("unknown kid; refetching realm keys")
            .len(),
        1
    );
    callout
        .wait_for_message("authorized", std::time::Duration::from_secs(5))
        .unwrap();
}
