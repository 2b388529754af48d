//! What the terminal tests share: people logged in through Keycloak's own
//! pages, a private home for each, and the chat running in tmux.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use natschat_testkit::keycloak::device_login;
use natschat_testkit::stack::Stack;
use natschat_tui::auth::token_store::StoredLogin;
use natschat_tui::auth::{StoreKind, TokenKey, TokenSet, TokenStore};

/// The terminal client's Keycloak client.
pub const CLIENT_ID: &str = "natschat-tui";

/// A person signed in for a test, with a home of their own.
pub struct Person {
    pub name: String,
    pub home: PathBuf,
    pub access_token: String,
}

/// A unique suffix for rooms and folders of this test run.
pub fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// Logs `name` in with the device grant, driven through Keycloak's pages,
/// and keeps the tokens in the opt-in file store of a fresh home folder,
/// exactly where `natschat-tui login --insecure-file-store` would.
pub async fn log_in(stack: &Stack, name: &str, password: &str) -> Person {
    // Keycloak's brute-force guard can take two simultaneous logins of one
    // user for an attack; tests of one binary log in one at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let tokens = {
        let _turn = ONE_AT_A_TIME.lock().await;
        device_login(stack, CLIENT_ID, name, password)
            .await
            .unwrap()
    };
    let home = std::env::temp_dir().join(format!("natschat-tui-test-{name}-{}", unique()));
    let state_dir = home.join("state/natschat");
    std::fs::create_dir_all(home.join("config/natschat")).unwrap();
    let key = TokenKey {
        issuer: stack.issuer(),
        client_id: CLIENT_ID.to_owned(),
        username: name.to_owned(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let set = TokenSet {
        username: name.to_owned(),
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.clone(),
        access_expires_at: now + tokens.expires_in,
        refresh_expires_at: None,
    };
    TokenStore::file(&state_dir).save(&key, &set).unwrap();
    StoredLogin {
        key,
        store: StoreKind::File,
    }
    .save(&state_dir, "default")
    .unwrap();
    Person {
        name: name.to_owned(),
        home,
        access_token: tokens.access_token,
    }
}

/// The chat running in a tmux session of a private tmux server.
pub struct Pane {
    socket: String,
    session: String,
    pub log: PathBuf,
}

impl Pane {
    /// Starts `natschat-tui` (no subcommand: the chat) for `person` in a
    /// 120×32 tmux window. `extra` is prepended to the command line (e.g.
    /// more environment variables); `after` runs in the same shell once the
    /// chat has exited.
    pub fn start(stack: &Stack, person: &Person, extra: &str, after: &str) -> Pane {
        let socket = format!("natschat-{}", unique());
        let log = person.home.join("chat.log");
        let command = format!(
            "env HOME={home} XDG_STATE_HOME={home}/state XDG_CONFIG_HOME={home}/config \
             NATSCHAT_ISSUER={issuer} NATS_URL={nats} NATSCHAT_INSECURE_FILE_STORE=1 \
             RUST_LOG=natschat_tui=debug,async_nats=info {extra} {bin} 2>{log}; {after}; sleep 600",
            home = person.home.display(),
            issuer = stack.issuer(),
            nats = stack.nats_url(),
            bin = env!("CARGO_BIN_EXE_natschat-tui"),
            log = log.display(),
        );
        let pane = Pane {
            socket,
            session: person.name.clone(),
            log,
        };
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            &pane.session,
            "-x",
            "120",
            "-y",
            "32",
            &command,
        ]);
        pane
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The process id of the chat: the child of the pane's shell.
    pub fn chat_pid(&self) -> u32 {
        let shell = self.tmux(&["list-panes", "-t", &self.session, "-F", "#{pane_pid}"]);
        let shell = shell.trim();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .expect("the pane's shell runs the chat")
            .parse()
            .unwrap()
    }

    /// Sends a signal (`TERM`, `HUP`) to the chat.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.chat_pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// Presses a key by tmux's name for it (`Enter`, `PPage`, `C-c`).
    pub fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", &self.session, key]);
    }

    /// Types a line and presses Enter.
    pub fn say(&self, line: &str) {
        self.type_text(line);
        self.press("Enter");
    }

    /// Waits until the pane shows `needle`; fails with the screen and the
    /// chat's log when it does not within `patience`.
    pub fn wait_for(&self, needle: &str, patience: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if start.elapsed() > patience {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "{} never showed {needle:?}. Screen:\n{screen}\nLog (tail):\n{}",
                    self.session,
                    log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Reads a file once it exists (written by a command run after the chat).
pub fn wait_for_file(path: &Path, patience: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        assert!(
            start.elapsed() < patience,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
