//! The `natschat-tui` binary as a person uses it, against the real Keycloak.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use natschat_testkit::keycloak::approve_device;
use natschat_testkit::stack::Stack;

/// The binary with its own config, state and runtime folders and no session
/// bus, pointed at the local stack.
fn natschat_tui(home: &Path, stack: &Stack) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_natschat-tui"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("NATSCHAT_ISSUER", stack.issuer());
    command
}

fn output_of(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn login_without_a_secret_service_refuses_and_names_the_opt_in() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");

    let (ok, _, stderr) = output_of(natschat_tui(&home, &stack).args(["login", "--device"]));

    assert!(!ok);
    assert!(stderr.contains("no Secret Service"), "{stderr}");
    assert!(stderr.contains("--insecure-file-store"), "{stderr}");
    assert!(!home.join("state/natschat/tokens").exists());
}

#[tokio::test]
async fn device_login_with_the_file_store_then_whoami_and_logout() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");

    let mut login = natschat_tui(&home, &stack)
        .args(["--insecure-file-store", "login", "--device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(login.stdout.take().unwrap());
    let mut shown = String::new();
    let link = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no link in: {shown}"
        );
        shown.push_str(&line);
        if let Some(link) = line.trim().strip_prefix("(direct link: ") {
            break link.trim_end_matches(')').to_owned();
        }
    };
    assert!(shown.contains("enter the code"), "{shown}");
    // Nobody scans a QR code out of a pipe.
    assert!(
        !shown.contains('▀') && !shown.contains('▄'),
        "a QR code in: {shown}"
    );

    approve_device(&link, "alice", "alice123").await.unwrap();
    let status = login.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "{shown}{rest}");
    assert!(
        rest.contains("Logged in as alice (roles: admin, user)"),
        "{rest}"
    );

    let tokens = std::fs::read_dir(home.join("state/natschat/tokens"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        tokens.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (ok, whoami, stderr) = output_of(natschat_tui(&home, &stack).arg("whoami"));
    assert!(ok, "{stderr}");
    assert!(whoami.starts_with("alice at "), "{whoami}");
    assert!(whoami.contains("roles: admin, user"), "{whoami}");
    assert!(
        whoami.contains("read and post in the admin channel"),
        "{whoami}"
    );
    assert!(whoami.contains("access token: valid for"), "{whoami}");
    assert!(whoami.contains("insecure file store"), "{whoami}");

    let (ok, logout, stderr) = output_of(natschat_tui(&home, &stack).arg("logout"));
    assert!(ok, "{stderr}");
    assert!(
        logout.contains("Keycloak ended the session of alice"),
        "{logout}"
    );
    assert!(logout.contains("Deleted the tokens"), "{logout}");

    let (ok, _, stderr) = output_of(natschat_tui(&home, &stack).arg("whoami"));
    assert!(!ok);
    assert!(
        stderr.contains("not logged in; run `natschat-tui login`"),
        "{stderr}"
    );
}

#[test]
fn prints_completion_scripts_for_bash_zsh_and_fish() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    for shell in ["bash", "zsh", "fish"] {
        let (ok, script, stderr) =
            output_of(natschat_tui(&home, &stack).args(["completions", shell]));
        assert!(ok, "{stderr}");
        assert!(script.contains("whoami"), "{shell}: {script}");
    }
}

#[test]
fn a_profile_missing_from_the_config_file_is_an_error() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    std::fs::create_dir_all(home.join("config/natschat")).unwrap();
    std::fs::write(
        home.join("config/natschat/config.toml"),
        "[profiles.prod]\nissuer = \"https://sso.example.org/realms/chat\"\n",
    )
    .unwrap();

    let (ok, _, stderr) =
        output_of(natschat_tui(&home, &stack).args(["--profile", "staging", "whoami"]));

    assert!(!ok);
    assert!(
        stderr.contains("profile 'staging'") && stderr.contains("prod"),
        "{stderr}"
    );
}

/// A login stored by hand, as `login --insecure-file-store` would store it,
/// at a Keycloak on `issuer`, with an access token valid for an hour.
async fn stored_login(home: &Path, issuer: &str, username: &str) {
    use base64::Engine;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(
        r#"{{"preferred_username":"{username}","realm_access":{{"roles":["user"]}},"iat":{now}}}"#
    );
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
    let config = natschat_tui::config::Config {
        profile: "default".to_owned(),
        issuer: issuer.to_owned(),
        client_id: "natschat-tui".to_owned(),
        nats_url: "nats://127.0.0.1:4222".to_owned(),
        insecure_file_store: true,
        allow_insecure_http: false,
        state_dir: home.join("state/natschat"),
        config_file: None,
    };
    let tokens = natschat_tui::auth::TokenSet {
        username: username.to_owned(),
        access_token: format!("e30.{payload}.sig"),
        refresh_token: Some("e30.e30.sig".to_owned()),
        access_expires_at: now + 3600,
        refresh_expires_at: None,
    };
    let store = natschat_tui::auth::TokenStore::file(&config.state_dir);
    natschat_tui::auth::Session::begin(&config, store, tokens)
        .await
        .unwrap();
}

/// An issuer on a port of this computer where nothing listens.
fn issuer_nobody_answers() -> String {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    format!("http://127.0.0.1:{port}/realms/nats-chat")
}

/// Runs `command` with a stdout pipe whose reading end is already closed,
/// as `| head -1` leaves it.
fn into_a_closed_pipe(command: &mut Command) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = command
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn printing_into_a_closed_pipe_ends_quietly() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    let issuer = issuer_nobody_answers();
    stored_login(&home, &issuer, "bob").await;

    for args in [
        &["whoami"][..],
        &["completions", "bash"],
        &["--profile", "default", "--help"],
    ] {
        let (status, stderr) = into_a_closed_pipe(
            natschat_tui(&home, &stack)
                .env("NATSCHAT_ISSUER", &issuer)
                .args(args),
        );
        assert!(status.success(), "{args:?}: {status} {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let (status, stderr) = into_a_closed_pipe(
        natschat_tui(&home, &stack)
            .env("NATSCHAT_ISSUER", &issuer)
            .arg("logout"),
    );
    assert!(status.success(), "{status} {stderr}");
}

#[test]
fn the_browser_wait_must_be_between_one_second_and_an_hour() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    for timeout in ["0", "3601", "18446744073709551615"] {
        let output = natschat_tui(&home, &stack)
            .args(["login", "--browser", "--no-open", "--timeout", timeout])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{timeout}: {stderr}");
        assert!(stderr.contains("1..=3600"), "{timeout}: {stderr}");
        assert!(!stderr.contains("panicked"), "{timeout}: {stderr}");
    }
}

#[tokio::test]
async fn logout_without_keycloak_says_so_once_and_logs_without_colour_codes() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    let issuer = issuer_nobody_answers();

    stored_login(&home, &issuer, "bob").await;
    let (ok, stdout, stderr) = output_of(
        natschat_tui(&home, &stack)
            .env("NATSCHAT_ISSUER", &issuer)
            .arg("logout"),
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "Logging out bob at {issuer}: could not revoke the session"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Deleted the tokens"), "{stdout}");
    assert_eq!(stderr, "", "said twice");

    stored_login(&home, &issuer, "bob").await;
    let (ok, _, stderr) = output_of(
        natschat_tui(&home, &stack)
            .env("NATSCHAT_ISSUER", &issuer)
            .args(["-v", "logout"]),
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("logged out"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in: {stderr:?}");
}

#[tokio::test]
async fn whoami_with_another_issuer_names_the_stored_login_and_logout_ends_it() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    let issuer = issuer_nobody_answers();
    stored_login(&home, &issuer, "bob").await;

    let (ok, _, stderr) = output_of(natschat_tui(&home, &stack).arg("whoami"));
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "logged in as bob at {issuer}, not at {}",
            stack.issuer()
        )),
        "{stderr}"
    );

    let (ok, stdout, stderr) = output_of(natschat_tui(&home, &stack).arg("logout"));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "bob at {issuer} (client natschat-tui), the login stored under profile 'default'"
        )),
        "{stdout}"
    );
}

#[test]
fn an_issuer_that_is_not_http_is_refused_as_unsupported() {
    let stack = Stack::load().unwrap();
    let home = common::temp_dir("natschat-home");
    let (ok, _, stderr) = output_of(
        natschat_tui(&home, &stack)
            .args([
                "--insecure-file-store",
                "--issuer",
                "ftp://127.0.0.1/realms/chat",
            ])
            .args(["login", "--device"]),
    );
    assert!(!ok);
    assert!(stderr.contains("has the scheme ftp:"), "{stderr}");
    assert!(!stderr.contains("is it running"), "{stderr}");
}
