//! A private PostgreSQL cluster for tests that must stop or restart the
//! database. It runs the stack's binaries (`PG_BINDIR`) on a free loopback
//! port in a temp folder, with one database `chatdb`.
//!
//! `initdb` and `pg_ctl` refuse to run as root, so as root they run as the
//! `postgres` system user on a folder it owns.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::nats_server::free_port;
use crate::stack::Stack;

/// Name of the database the cluster is created with.
pub const DATABASE: &str = "chatdb";

/// A running private cluster; stopped and deleted when dropped.
pub struct PostgresCluster {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PostgresCluster {
    /// Creates the cluster and its database, and starts it.
    pub fn start() -> anyhow::Result<PostgresCluster> {
        let stack = Stack::load()?;
        let bindir = PathBuf::from(stack.var("PG_BINDIR")?);
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("natschat-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("run"))?;
        let as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&dir))?;
        }
        let mut cluster = PostgresCluster {
            bindir,
            dir,
            port,
            as_postgres,
            running: false,
        };
        let data = cluster.data();
        run(cluster.tool("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]))
        .context("initdb of a private PostgreSQL cluster failed")?;
        cluster.start_server()?;
        run(cluster
            .tool("createdb")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(port.to_string())
            .arg(DATABASE))?;
        Ok(cluster)
    }

    /// Connection string of the cluster's database (trust authentication,
    /// loopback only).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: sessions are cut, committed data
    /// stays).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.running {
            run(self
                .tool("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "stop"]))?;
            self.running = false;
        }
        Ok(())
    }

    /// Starts the server again on the same port and data.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        if !self.running {
            self.start_server()?;
        }
        Ok(())
    }

    fn start_server(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.dir.join("run").display()
        );
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]))
        .with_context(|| {
            format!(
                "private PostgreSQL did not start; log: {}",
                self.dir.join("postgres.log").display()
            )
        })?;
        self.running = true;
        Ok(())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL tool, run as `postgres` when this process is root.
    fn tool(&self, name: &str) -> Command {
        let binary = self.bindir.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        }
    }

    /// The folder holding data, socket and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = run(self.tool("pg_ctl").arg("-D").arg(self.data()).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
