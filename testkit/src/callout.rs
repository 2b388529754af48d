//! A private nats-server configured for auth callout, with keys made for it
//! by `natschatd keygen`, and private `natschatd auth-callout` processes
//! serving it. The caller names the `natschatd` binary, so crates that do
//! not build it can still use these.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::nats_server::{NatsPorts, NatsServer, free_port};
use crate::stack::Stack;

/// The AUTH account's callout user on a private callout server.
pub const CALLOUT_USER: &str = "natschat-callout";

/// How a private callout server differs from the bare minimum (an AUTH
/// account holding the callout user, a SYS account and the callout block).
#[derive(Debug, Clone, Default)]
pub struct CalloutServerSettings {
    /// Top-level settings written before the accounts (e.g. `max_connections`).
    pub settings: String,
    /// Body of the CHAT account: `jetstream`, users that log in by password.
    pub chat_account: String,
    /// Users besides the callout user that log in by password instead of
    /// through the callout.
    pub auth_users: Vec<String>,
    /// How long the server waits for the callout, in seconds (nats-server's
    /// default is 2 s).
    pub auth_timeout_secs: Option<u32>,
    /// Send callout requests unsealed (no `xkey` in the callout block).
    pub unsealed: bool,
}

/// A running private nats-server whose auth callout trusts keys made for it.
pub struct PrivateCallout {
    pub server: NatsServer,
    /// Holds `issuer.nk` and `xkey.xk`.
    pub key_dir: PathBuf,
    pub callout_password: String,
    natschatd: PathBuf,
}

/// A password no one can guess, for users of private servers.
pub fn random_secret() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Makes callout keys in `dir` with `natschatd keygen`; returns the public
/// (issuer, xkey) keys.
pub fn keygen(natschatd: &Path, dir: &Path) -> anyhow::Result<(String, String)> {
    let out = Command::new(natschatd)
        .arg("keygen")
        .arg("--dir")
        .arg(dir)
        .output()
        .with_context(|| format!("cannot run {} keygen", natschatd.display()))?;
    if !out.status.success() {
        bail!("natschatd keygen failed: {out:?}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
            .with_context(|| format!("natschatd keygen printed no {name}"))
    };
    Ok((field("ISSUER=")?, field("XKEY=")?))
}

impl PrivateCallout {
    /// Makes keys with `natschatd` (the binary's path) and starts the server.
    pub fn start(
        natschatd: &Path,
        settings: &CalloutServerSettings,
    ) -> anyhow::Result<PrivateCallout> {
        let callout_password = random_secret();
        let mut key_dir = PathBuf::new();
        let mut keys = Ok((String::new(), String::new()));
        let server = NatsServer::start(|ports: NatsPorts, dir: &Path| {
            key_dir = dir.join("keys");
            keys = keygen(natschatd, &key_dir);
            let (issuer, xkey) = keys.as_ref().cloned().unwrap_or_default();
            let rest = server_config(settings, &callout_password, &issuer, &xkey);
            NatsServer::basic_config(ports, dir, &rest)
        });
        // A failed keygen leaves the server without an issuer; its error
        // says more than the server's.
        keys?;
        Ok(PrivateCallout {
            server: server?,
            key_dir,
            callout_password,
            natschatd: natschatd.to_owned(),
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Starts a callout instance for this server, logging JSON, with extra
    /// flags, and waits until it is serving.
    pub fn callout(&self, extra: &[&str]) -> anyhow::Result<CalloutProcess> {
        let stack = Stack::load()?;
        let log = self
            .server
            .dir()
            .join(format!("callout-{}.log", free_port()));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&self.natschatd)
            .env_clear()
            .env("NATSCHAT_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .arg("auth-callout")
            .args(["--nats-url", &self.url()])
            .args(["--callout-user", CALLOUT_USER])
            .args(["--callout-password", &self.callout_password])
            .args(["--keycloak-url", stack.keycloak_url()])
            .args(["--realm", stack.var("KEYCLOAK_REALM")?])
            .arg("--key-dir")
            .arg(&self.key_dir)
            // Tests rotate realm keys while others run; let every private
            // instance refetch on the first unknown kid.
            .args(["--jwks-min-refetch-secs", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {}", self.natschatd.display()))?;
        let mut process = CalloutProcess { child, log };
        process.wait_for_message("auth callout ready", Duration::from_secs(60))?;
        Ok(process)
    }
}

/// The accounts and authorization blocks of a private callout server.
fn server_config(
    settings: &CalloutServerSettings,
    callout_password: &str,
    issuer: &str,
    xkey: &str,
) -> String {
    let timeout = settings
        .auth_timeout_secs
        .map(|s| format!("timeout: {s}"))
        .unwrap_or_default();
    let xkey = if settings.unsealed {
        String::new()
    } else {
        format!("xkey: {xkey}")
    };
    let auth_users = std::iter::once(CALLOUT_USER)
        .chain(settings.auth_users.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    let CalloutServerSettings {
        settings,
        chat_account,
        ..
    } = settings;
    format!(
        r#"
{settings}
accounts {{
  AUTH {{ users: [ {{ user: {CALLOUT_USER}, password: "{callout_password}",
    permissions: {{ subscribe: {{ allow: ["$SYS.REQ.USER.AUTH"] }}, publish: {{ deny: [">"] }}, allow_responses: true }} }} ] }}
  CHAT {{ {chat_account} }}
  SYS {{}}
}}
system_account: SYS
authorization {{ {timeout}
auth_callout {{
  issuer: {issuer}
  {xkey}
  account: AUTH
  auth_users: [ {auth_users} ]
}} }}
"#
    )
}

/// A running `natschatd auth-callout`; killed when dropped.
pub struct CalloutProcess {
    child: Child,
    log: PathBuf,
}

impl CalloutProcess {
    /// Its log, one JSON object per line.
    pub fn events(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Log events whose message is `message`.
    pub fn events_named(&self, message: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == message)
            .collect()
    }

    /// Waits (bounded) until an event with this message has been logged.
    pub fn wait_for_message(&mut self, message: &str, patience: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(event) = self.events_named(message).pop() {
                return Ok(event);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("natschatd exited with {status}:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                bail!("no {message:?} from natschatd:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The reasons of every rejection logged so far.
    pub fn rejection_reasons(&self) -> Vec<String> {
        self.events_named("rejected")
            .iter()
            .filter_map(|e| e["fields"]["reason"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for CalloutProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
