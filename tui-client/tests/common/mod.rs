//! Fixtures for natschat-tui's tests: settings pointing at the local stack,
//! fresh temporary folders, and test users that no other test shares.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use natschat_testkit::keycloak::approve_device;
use natschat_testkit::keycloak_admin::KeycloakAdmin;
use natschat_testkit::stack::Stack;
use natschat_tui::auth::{DeviceAuthorization, PollPace, Provider, TokenSet};
use natschat_tui::config::Config;

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty folder of its own under the system's temporary folder.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    dir
}

/// Settings for `client_id` on the local stack, with state in a fresh
/// folder and the file store allowed (most tests have no Secret Service).
pub fn config(stack: &Stack, client_id: &str) -> Config {
    Config {
        profile: "default".to_owned(),
        issuer: stack.issuer(),
        client_id: client_id.to_owned(),
        nats_url: stack.nats_url().to_owned(),
        insecure_file_store: true,
        allow_insecure_http: false,
        state_dir: temp_dir("natschat-state"),
        config_file: None,
    }
}

/// A device login through natschat-tui's own flow, approved through
/// Keycloak's pages before the first poll.
pub async fn device_login(
    provider: &Provider,
    username: &str,
    password: &str,
) -> anyhow::Result<TokenSet> {
    let device = DeviceAuthorization::start(provider).await?;
    let uri = device
        .verification_uri_complete()
        .context("Keycloak sends verification_uri_complete")?;
    approve_device(uri, username, password).await?;
    Ok(device.finish(PollPace::AsServerAsks).await?)
}

/// The test client whose access tokens live [`SHORT_LIFESPAN`] seconds,
/// created once by the testkit and shared by later runs.
pub const SHORT_LIVED_CLIENT: &str = "natschat-tui-short-lived";

/// Access tokens of [`SHORT_LIVED_CLIENT`] live this long: less than the
/// refresh margin, so every use refreshes.
pub const SHORT_LIFESPAN: u64 = 10;

/// A test user of its own, removed by `remove`, and the client to sign in
/// with.
pub struct Fixture {
    pub admin: KeycloakAdmin,
    pub client_id: String,
    pub username: String,
    pub password: String,
    user_uuid: String,
}

impl Fixture {
    /// A fresh user signing in with the short-lived client.
    pub async fn short_lived(stack: &Stack) -> anyhow::Result<Fixture> {
        KeycloakAdmin::login(stack)
            .await?
            .ensure_device_client(SHORT_LIVED_CLIENT, Some(SHORT_LIFESPAN), false)
            .await?;
        Fixture::create(stack, SHORT_LIVED_CLIENT).await
    }

    /// A fresh user signing in with `client_id`.
    pub async fn create(stack: &Stack, client_id: &str) -> anyhow::Result<Fixture> {
        let admin = KeycloakAdmin::login(stack).await?;
        let username = unique("tui-user");
        let password = unique("pw");
        let user_uuid = admin.create_user(&username, &password).await?;
        Ok(Fixture {
            admin,
            client_id: client_id.to_owned(),
            username,
            password,
            user_uuid,
        })
    }

    pub async fn logout_user(&self) -> anyhow::Result<()> {
        self.admin.logout_user(&self.user_uuid).await
    }

    pub async fn remove(self) -> anyhow::Result<()> {
        self.admin.delete_user(&self.user_uuid).await
    }
}
