//! Real `natschatd` processes for tests that need a daemon of their own
//! (a private server, a short token lifetime, a process to kill).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::nats_server::free_port;

/// A running `natschatd` subcommand; killed when dropped.
pub struct Daemon {
    binary: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    kind: &'static str,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Daemon {
    /// Starts `natschatd persist` from `binary` against these servers, as
    /// the NATS user `login` (name, password), and waits until it is ready.
    pub fn persist(
        binary: &Path,
        nats_url: &str,
        login: (&str, &str),
        database_url: &str,
        args: &[&str],
    ) -> anyhow::Result<Daemon> {
        let env = vec![
            ("NATS_URL".into(), nats_url.into()),
            ("NATSCHAT_PERSIST_USER".into(), login.0.into()),
            ("NATSCHAT_PERSIST_PASSWORD".into(), login.1.into()),
            ("DATABASE_URL".into(), database_url.into()),
        ];
        Daemon::start(binary, "persist", env, args)
    }

    /// Starts `natschatd history` from `binary` against these servers, as
    /// the NATS user `login`, and waits until it is ready.
    pub fn history(
        binary: &Path,
        nats_url: &str,
        login: (&str, &str),
        database_url: &str,
    ) -> anyhow::Result<Daemon> {
        let env = vec![
            ("NATS_URL".into(), nats_url.into()),
            ("NATSCHAT_HISTORY_USER".into(), login.0.into()),
            ("NATSCHAT_HISTORY_PASSWORD".into(), login.1.into()),
            ("DATABASE_URL".into(), database_url.into()),
        ];
        Daemon::start(binary, "history", env, &[])
    }

    /// Starts `natschatd <kind> <args>` with `env` and waits until it logs
    /// that it is ready.
    pub fn start(
        binary: &Path,
        kind: &'static str,
        env: Vec<(String, String)>,
        args: &[&str],
    ) -> anyhow::Result<Daemon> {
        let log = std::env::temp_dir().join(format!(
            "natschatd-{kind}-{}-{}.log",
            std::process::id(),
            free_port()
        ));
        let mut daemon = Daemon {
            binary: binary.to_owned(),
            child: None,
            log,
            kind,
            env,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let ready_before = self.ready_lines();
        let child = Command::new(&self.binary)
            .arg(self.kind)
            .args(&self.args)
            .env_remove("NATSCHAT_METRICS_ADDR")
            .env_remove("NATSCHAT_LOG_FORMAT")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start natschatd")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.ready_lines() == ready_before {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "natschatd {} exited with {status}:\n{}",
                    self.kind,
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "natschatd {} not ready after 60 s:\n{}",
                    self.kind,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn ready_lines(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(" ready"))
            .count()
    }

    /// Everything the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the same subcommand again, logging to the same file.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.spawn()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
