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
    assert!(
        shown.contains('▀') || shown.contains('▄'),
        "no QR code in: {shown}"
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
