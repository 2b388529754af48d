//! A private nats-server for tests that must stop, kill or restart the
//! server, or need a configuration of their own. It runs the same binary as
//! the stack (`NATS_SERVER_BIN`), on free loopback ports, in a temp folder.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::stack::Stack;

/// Ports a private server listens on.
#[derive(Debug, Clone, Copy)]
pub struct NatsPorts {
    pub client: u16,
    pub monitor: u16,
}

/// A running private nats-server; killed when dropped.
pub struct NatsServer {
    binary: PathBuf,
    dir: PathBuf,
    pub ports: NatsPorts,
    child: Option<Child>,
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests
/// that start the server right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS hands out an ephemeral loopback port")
}

impl NatsServer {
    /// Starts a server whose configuration `config` writes, given its ports
    /// and its folder (for `store_dir`, include files, keys). The config must
    /// listen on `ports.client` and serve monitoring on `ports.monitor`
    /// (`/healthz` is waited for). [`NatsServer::basic_config`] is a start.
    pub fn start(config: impl FnOnce(NatsPorts, &Path) -> String) -> anyhow::Result<NatsServer> {
        let stack = Stack::load()?;
        let binary = PathBuf::from(stack.var("NATS_SERVER_BIN")?);
        let dir = std::env::temp_dir().join(format!(
            "natschat-nats-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir)?;
        let ports = NatsPorts {
            client: free_port(),
            monitor: free_port(),
        };
        std::fs::write(dir.join("nats.conf"), config(ports, &dir))?;
        let mut server = NatsServer {
            binary,
            dir,
            ports,
            child: None,
        };
        server.spawn()?;
        Ok(server)
    }

    /// A config with JetStream in this folder and the given `accounts`/
    /// `authorization` blocks appended (pass "" for an open server).
    pub fn basic_config(ports: NatsPorts, dir: &Path, rest: &str) -> String {
        format!(
            "host: 127.0.0.1\nport: {}\nhttp_port: {}\nmax_payload: 2MB\n\
             jetstream {{ store_dir: \"{}\" }}\n{rest}\n",
            ports.client,
            ports.monitor,
            dir.join("jetstream").display()
        )
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports.client)
    }

    /// The folder holding the config and the JetStream store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.join("nats.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_healthy()
    }

    fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = format!("127.0.0.1:{}", self.ports.monitor);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!(
                    "private nats-server exited with {status}; log: {}",
                    self.dir.join("nats.log").display()
                );
            }
            if healthz(&addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "private nats-server not healthy after 30s; log: {}",
                    self.dir.join("nats.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            child.wait()?;
        }
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same ports with the same store.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn()
    }
}

/// A minimal HTTP GET of `/healthz`, so this module needs no HTTP client.
fn healthz(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
