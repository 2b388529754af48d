//! Keeping tokens: in a real Secret Service (GNOME Keyring on a private
//! D-Bus session), and in the opt-in 0600 file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use natschat_tui::auth::{
    AuthError, Session, StoreError, StoreKind, TokenKey, TokenSet, TokenStore, logout,
};

fn sample_tokens(username: &str) -> TokenSet {
    TokenSet {
        username: username.to_owned(),
        access_token: "header.access.signature".to_owned(),
        refresh_token: Some("header.refresh.signature".to_owned()),
        access_expires_at: 1_900_000_000,
        refresh_expires_at: Some(1_900_001_800),
    }
}

fn key(username: &str) -> TokenKey {
    TokenKey {
        issuer: "http://127.0.0.1:8080/realms/nats-chat".to_owned(),
        client_id: "natschat-tui".to_owned(),
        username: username.to_owned(),
    }
}

/// Save, load, replace, delete: what every store must do the same way.
fn round_trip(store: &TokenStore) {
    let alice = key(&common::unique("alice"));
    let bob = key(&common::unique("bob"));
    assert_eq!(store.load(&alice).unwrap(), None);

    store.save(&alice, &sample_tokens("alice")).unwrap();
    store.save(&bob, &sample_tokens("bob")).unwrap();
    assert_eq!(store.load(&alice).unwrap(), Some(sample_tokens("alice")));

    let mut newer = sample_tokens("alice");
    newer.access_token = "header.newer.signature".to_owned();
    store.save(&alice, &newer).unwrap();
    assert_eq!(store.load(&alice).unwrap(), Some(newer));
    assert_eq!(store.load(&bob).unwrap(), Some(sample_tokens("bob")));

    assert!(store.delete(&alice).unwrap());
    assert!(!store.delete(&alice).unwrap());
    assert_eq!(store.load(&alice).unwrap(), None);
    assert!(store.delete(&bob).unwrap());
}

#[test]
fn file_store_keeps_tokens_readable_only_by_their_owner() {
    let state = common::temp_dir("natschat-file-store");
    let store = TokenStore::file(&state);
    assert_eq!(store.kind(), StoreKind::File);

    let alice = key("alice");
    store.save(&alice, &sample_tokens("alice")).unwrap();
    let path = store.file_path(&alice).unwrap();
    let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(file_mode, 0o600);
    assert_eq!(dir_mode, 0o700);
    store.delete(&alice).unwrap();

    round_trip(&store);
}

#[test]
fn without_a_secret_service_the_file_store_is_used_only_when_allowed() {
    // A child process with no session bus to find, so the check does not
    // depend on the machine running the tests.
    if std::env::var_os("NATSCHAT_TEST_NO_BUS").is_none() {
        let runtime_dir = common::temp_dir("natschat-no-bus");
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "without_a_secret_service_the_file_store_is_used_only_when_allowed",
                "--nocapture",
            ])
            .env("NATSCHAT_TEST_NO_BUS", "1")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let state = common::temp_dir("natschat-state");

    let refused = TokenStore::choose(&state, false).err().unwrap();
    assert!(
        matches!(refused, StoreError::NoSecretService { .. }),
        "{refused}"
    );
    let message = refused.to_string();
    assert!(message.contains("--insecure-file-store"), "{message}");
    assert!(message.contains(&state.display().to_string()), "{message}");

    let allowed = TokenStore::choose(&state, true).unwrap();
    assert_eq!(allowed.kind(), StoreKind::File);
}

/// Runs `test` again in a child process inside `dbus-run-session`, with a
/// GNOME Keyring whose fresh login keyring is unlocked by a password on
/// stdin, and everything it writes under a temporary folder.
fn under_a_session_bus_with_gnome_keyring(test: &str) -> bool {
    if std::env::var_os("NATSCHAT_TEST_INSIDE_BUS").is_some() {
        return false;
    }
    let home = common::temp_dir("natschat-keyring");
    let runtime_dir = home.join("run");
    std::fs::create_dir_all(&runtime_dir).unwrap();
    std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let script = r#"printf '%s' "$NATSCHAT_TEST_KEYRING_PASSWORD" \
          | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1
        exec "$0" --exact "$1" --nocapture"#;
    let status = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .arg(std::env::current_exe().unwrap())
        .arg(test)
        .env("NATSCHAT_TEST_INSIDE_BUS", "1")
        .env("NATSCHAT_TEST_KEYRING_PASSWORD", common::unique("keyring"))
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .status()
        .expect("dbus-run-session runs (Debian packages dbus and gnome-keyring; `./dev test` installs them)");
    assert!(status.success(), "the test failed inside the session bus");
    true
}

#[test]
fn secret_service_store_round_trips_tokens() {
    if under_a_session_bus_with_gnome_keyring("secret_service_store_round_trips_tokens") {
        return;
    }
    let store = TokenStore::secret_service().unwrap();
    assert_eq!(store.kind(), StoreKind::SecretService);
    assert!(store.file_path(&key("alice")).is_none());

    round_trip(&store);

    // `choose` prefers it even when the file store is allowed.
    let state = common::temp_dir("natschat-state");
    let chosen = TokenStore::choose(&state, true).unwrap();
    assert_eq!(chosen.kind(), StoreKind::SecretService);
}

/// Settings with a state folder of their own and the file store allowed,
/// for a Keycloak that is never asked anything.
fn offline_config() -> natschat_tui::config::Config {
    natschat_tui::config::Config {
        profile: "default".to_owned(),
        issuer: "http://127.0.0.1:9/realms/nats-chat".to_owned(),
        client_id: "natschat-tui".to_owned(),
        nats_url: "nats://127.0.0.1:4222".to_owned(),
        insecure_file_store: true,
        allow_insecure_http: false,
        state_dir: common::temp_dir("natschat-state"),
        config_file: None,
    }
}

/// Tokens without a refresh token, so logging out asks Keycloak nothing.
fn unrevocable_tokens(username: &str) -> TokenSet {
    TokenSet {
        refresh_token: None,
        ..sample_tokens(username)
    }
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_token_file_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
    let state = common::temp_dir("natschat-file-store");
    let store = TokenStore::file(&state);
    let alice = key("alice");
    store.save(&alice, &sample_tokens("alice")).unwrap();
    let path = store.file_path(&alice).unwrap();

    chmod(&path, 0o644);
    let refused = store.load(&alice).unwrap_err();
    assert!(matches!(refused, StoreError::Exposed { .. }), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains(&format!("chmod 600 {}", path.display())),
        "{message}"
    );
    assert!(message.contains("natschat-tui logout"), "{message}");
    // Logging out must still be able to revoke them.
    assert_eq!(
        store.load_to_revoke(&alice).unwrap(),
        Some(sample_tokens("alice"))
    );

    chmod(&path, 0o600);
    chmod(path.parent().unwrap(), 0o755);
    let message = store.load(&alice).unwrap_err().to_string();
    assert!(
        message.contains(&format!("chmod 700 {}", path.parent().unwrap().display())),
        "{message}"
    );

    // A new login closes the folder again.
    store.save(&alice, &sample_tokens("alice")).unwrap();
    assert_eq!(store.load(&alice).unwrap(), Some(sample_tokens("alice")));
}

#[tokio::test]
async fn whoami_never_calls_a_token_file_others_can_read_private() {
    let config = offline_config();
    let store = TokenStore::file(&config.state_dir);
    let session = Session::begin(&config, store.clone(), unrevocable_tokens("alice"))
        .await
        .unwrap();
    let path = store.file_path(&login_key(&config, "alice")).unwrap();
    assert!(
        session
            .store_description()
            .contains("readable by your user only")
    );

    chmod(&path, 0o644);

    let error = Session::open(&config).await.err().unwrap();
    assert!(
        matches!(error, AuthError::Store(StoreError::Exposed { .. })),
        "{error}"
    );
}

fn login_key(config: &natschat_tui::config::Config, username: &str) -> TokenKey {
    TokenKey {
        issuer: config.issuer.clone(),
        client_id: config.client_id.clone(),
        username: username.to_owned(),
    }
}

#[tokio::test]
async fn logout_deletes_a_token_entry_that_cannot_be_read_and_says_it_was_not_revoked() {
    let config = offline_config();
    let store = TokenStore::file(&config.state_dir);
    Session::begin(&config, store.clone(), unrevocable_tokens("alice"))
        .await
        .unwrap();
    let path = store.file_path(&login_key(&config, "alice")).unwrap();
    std::fs::write(&path, "garbage").unwrap();
    assert!(Session::open(&config).await.is_err());

    let outcome = logout(&config).await.unwrap();

    let revocation = outcome.revocation.unwrap_err();
    assert!(
        matches!(revocation, AuthError::Store(StoreError::Unreadable(_))),
        "{revocation}"
    );
    assert!(outcome.deleted);
    assert!(!path.exists());
    let error = Session::open(&config).await.err().unwrap();
    assert!(matches!(error, AuthError::NotLoggedIn { .. }), "{error}");
}

#[tokio::test]
async fn a_corrupt_login_record_is_reported_and_logout_removes_it() {
    let config = offline_config();
    let store = TokenStore::file(&config.state_dir);
    Session::begin(&config, store, unrevocable_tokens("alice"))
        .await
        .unwrap();
    let record = config.state_dir.join("logins/default.json");
    std::fs::write(&record, "{ not json").unwrap();

    let error = Session::open(&config).await.err().unwrap();
    assert!(
        matches!(error, AuthError::Store(StoreError::CorruptLogin { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("natschat-tui logout"), "{error}");

    let outcome = logout(&config).await.unwrap();
    assert!(outcome.login.is_none());
    assert!(!record.exists());
    let error = Session::open(&config).await.err().unwrap();
    assert!(matches!(error, AuthError::NotLoggedIn { .. }), "{error}");
}

#[tokio::test]
async fn asking_about_another_keycloak_names_the_login_that_is_stored() {
    let config = offline_config();
    let store = TokenStore::file(&config.state_dir);
    Session::begin(&config, store, unrevocable_tokens("bob"))
        .await
        .unwrap();
    let elsewhere = natschat_tui::config::Config {
        issuer: "http://127.0.0.1:9/realms/other".to_owned(),
        ..config.clone()
    };

    let error = Session::open(&elsewhere).await.err().unwrap();

    assert!(matches!(error, AuthError::LoggedInElsewhere(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "logged in as bob at {}, not at {}",
            config.issuer, elsewhere.issuer
        )),
        "{message}"
    );
    let outcome = logout(&elsewhere).await.unwrap();
    assert_eq!(outcome.login.unwrap().issuer, config.issuer);
}
