//! The local stack is real and wired as natschat expects: Keycloak's realm,
//! its clients and tokens, nats-server with the auth callout, PostgreSQL.

use natschat_testkit::keycloak::{self, Pkce};
use natschat_testkit::stack::Stack;

#[tokio::test]
async fn realm_discovery_document_is_served_with_a_fixed_issuer() {
    let stack = Stack::load().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!(
            "{}/.well-known/openid-configuration",
            stack.issuer().replace("127.0.0.1", host)
        );
        let doc: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(doc["issuer"], stack.issuer(), "issuer seen through {host}");
        assert!(doc["device_authorization_endpoint"].is_string());
        assert!(doc["revocation_endpoint"].is_string());
    }
}

async fn assert_device_login(user: &str, password: &str, roles: &[&str], absent: &[&str]) {
    let stack = Stack::load().unwrap();
    let tokens = keycloak::device_login(&stack, "natschat-tui", user, password)
        .await
        .unwrap();
    let claims = tokens.access_claims().unwrap();
    assert_eq!(claims["iss"], stack.issuer());
    assert_eq!(claims["preferred_username"], user);
    assert_eq!(claims["azp"], "natschat-tui");
    assert_eq!(claims["typ"], "Bearer");
    let aud = &claims["aud"];
    let audiences: Vec<&str> = match aud {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    assert!(audiences.contains(&"nats-chat"), "aud = {aud}");
    let granted: Vec<&str> = claims["realm_access"]["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    for role in roles {
        assert!(
            granted.contains(role),
            "{user} should have {role}: {granted:?}"
        );
    }
    for role in absent {
        assert!(
            !granted.contains(role),
            "{user} must not have {role}: {granted:?}"
        );
    }
    let lifespan = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifespan, 300, "access token lifespan");
}

#[tokio::test]
async fn device_grant_for_alice_carries_admin_and_user_roles() {
    assert_device_login("alice", "alice123", &["admin", "user"], &[]).await;
}

#[tokio::test]
async fn device_grant_for_bob_carries_user_role_only() {
    assert_device_login("bob", "bob123", &["user"], &["admin"]).await;
}

#[tokio::test]
async fn device_grant_for_charlie_carries_no_chat_role() {
    assert_device_login("charlie", "charlie123", &[], &["admin", "user"]).await;
}

#[tokio::test]
async fn device_grant_with_wrong_password_is_not_approved() {
    let stack = Stack::load().unwrap();
    let pkce = Pkce::new();
    let device = keycloak::start_device(&stack, "natschat-tui", &pkce)
        .await
        .unwrap();
    let err = keycloak::approve_device(&device.verification_uri_complete, "bob", "wrong")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("device login"), "{err}");
}

#[tokio::test]
async fn device_grant_without_pkce_is_refused() {
    let stack = Stack::load().unwrap();
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/protocol/openid-connect/auth/device",
            stack.issuer()
        ))
        .form(&[("client_id", "natschat-tui"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
}

fn authorization_url(stack: &Stack, redirect: &str, pkce: &Pkce) -> String {
    let mut url =
        reqwest::Url::parse(&format!("{}/protocol/openid-connect/auth", stack.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "natschat-tui")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "s-123")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

#[tokio::test]
async fn loopback_redirect_is_accepted_on_any_port() {
    let stack = Stack::load().unwrap();
    for port in [49152u16, 61234] {
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let pkce = Pkce::new();
        let landed = keycloak::browser_login(
            &authorization_url(&stack, &redirect, &pkce),
            "bob",
            "bob123",
        )
        .await
        .unwrap();
        assert!(landed.starts_with(&redirect), "{landed}");
        assert!(
            landed.contains("code=") && landed.contains("state=s-123"),
            "{landed}"
        );
    }
}

#[tokio::test]
async fn redirect_to_another_host_is_refused() {
    let stack = Stack::load().unwrap();
    let pkce = Pkce::new();
    let url = authorization_url(&stack, "http://example.invalid/callback", &pkce);
    let reply = reqwest::get(&url).await.unwrap();
    assert_eq!(reply.status(), 400);
    assert!(
        reply
            .text()
            .await
            .unwrap()
            .contains("Invalid parameter: redirect_uri")
    );
}

/// Starts a private nats-server from the project's configuration and the
/// stack's generated keys, on its own ports, with no callout service.
fn private_server_from_project_config() -> natschat_testkit::nats_server::NatsServer {
    let stack = Stack::load().unwrap();
    let generated = std::fs::read_to_string(format!(
        "{}/nats/generated.conf",
        stack.var("NATSCHAT_STATE").unwrap()
    ))
    .unwrap();
    natschat_testkit::nats_server::NatsServer::start(|ports, dir| {
        let ws_port = natschat_testkit::nats_server::free_port();
        let generated: String = generated
            .lines()
            .map(|line| match line.split(':').next().unwrap_or("") {
                "NATS_PORT" => format!("NATS_PORT: {}", ports.client),
                "NATS_MONITOR_PORT" => format!("NATS_MONITOR_PORT: {}", ports.monitor),
                "NATS_WS_PORT" => format!("NATS_WS_PORT: {ws_port}"),
                "JETSTREAM_DIR" => format!("JETSTREAM_DIR: \"{}\"", dir.join("js").display()),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join("generated.conf"), generated).unwrap();
        std::fs::read_to_string(natschat_testkit::stack::workspace_root().join("nats/dev.conf"))
            .unwrap()
    })
    .unwrap()
}

#[tokio::test]
async fn project_nats_config_refuses_a_token_when_no_callout_answers() {
    let server = private_server_from_project_config();
    let stack = Stack::load().unwrap();
    let tokens = keycloak::device_login(&stack, "natschat-tui", "bob", "bob123")
        .await
        .unwrap();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        async_nats::ConnectOptions::with_token(tokens.access_token).connect(server.url()),
    )
    .await;
    match outcome {
        // The server waits for the callout, then refuses.
        Ok(Err(err)) => assert!(
            err.to_string().to_lowercase().contains("authorization"),
            "unexpected connect error: {err}"
        ),
        // Or still waiting when the test gives up: also not connected.
        Err(_) => {}
        // The client library may report success on the server's first
        // PING while the server still waits for the callout; the server then
        // closes the connection, so no round trip ever completes.
        Ok(Ok(client)) => {
            use futures::StreamExt;
            let inbox = client.new_inbox();
            let echo = async {
                let mut sub = client.subscribe(inbox.clone()).await.ok()?;
                client.publish(inbox, "echo".into()).await.ok()?;
                sub.next().await
            };
            let served = tokio::time::timeout(std::time::Duration::from_secs(10), echo).await;
            assert!(
                !matches!(served, Ok(Some(_))),
                "a token was served although no callout service is running"
            );
        }
    }
}

#[tokio::test]
async fn project_nats_config_lets_the_storage_daemons_in_with_their_passwords_only() {
    let server = private_server_from_project_config();
    let stack = Stack::load().unwrap();
    let persist = async_nats::ConnectOptions::with_user_and_password(
        stack.var("NATSCHAT_PERSIST_USER").unwrap().into(),
        stack.var("NATSCHAT_PERSIST_PASSWORD").unwrap().into(),
    )
    .connect(server.url())
    .await
    .unwrap();
    persist.flush().await.unwrap();

    let wrong = async_nats::ConnectOptions::with_user_and_password(
        stack.var("NATSCHAT_PERSIST_USER").unwrap().into(),
        "not-the-password".into(),
    )
    .connect(server.url())
    .await;
    assert!(wrong.is_err(), "a wrong password connected");
}

#[tokio::test]
async fn postgres_accepts_the_chat_role_on_chatdb() {
    let stack = Stack::load().unwrap();
    let (client, connection) =
        tokio_postgres::connect(stack.var("DATABASE_URL").unwrap(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "chat");
    assert_eq!(row.get::<_, String>(1), "chatdb");
}

#[test]
fn second_dev_up_downloads_nothing_and_starts_nothing() {
    let root = natschat_testkit::stack::workspace_root();
    let out = std::process::Command::new(root.join("dev"))
        .arg("up")
        .env("NATSCHAT_SKIP_BUILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for word in ["fetching", "installing", "creating", "started"] {
        assert!(
            !stdout.contains(word),
            "a second `./dev up` should only find everything running, but it said {word:?}:\n{stdout}"
        );
    }
    assert!(stdout.contains("keycloak      running"), "{stdout}");
}

#[tokio::test]
async fn one_person_signing_in_from_several_terminals_at_once_is_not_refused() {
    let stack = Stack::load().unwrap();
    let logins = (0..3).map(|_| keycloak::device_login(&stack, "natschat-tui", "bob", "bob123"));
    for outcome in futures::future::join_all(logins).await {
        let tokens = outcome.unwrap();
        assert_eq!(tokens.access_claims().unwrap()["preferred_username"], "bob");
    }
}
