//! `natschatd`: one binary for the natschat daemons.

mod callout;
mod config;
mod history;
mod keys;
mod metrics;
mod persist;
mod shutdown;
mod store;
mod telemetry;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// natschat daemons: auth callout, persist worker and history service.
#[derive(Parser)]
#[command(name = "natschatd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the account signing nkey and the callout xkey; print public keys.
    ///
    /// Seeds are written with mode 0600 as `issuer.nk` and `xkey.xk` in the
    /// folder. Existing seeds are kept unless `--force` is given.
    Keygen {
        /// Folder for the seed files.
        #[arg(long, env = "NATSCHAT_KEY_DIR", default_value = ".")]
        dir: PathBuf,
        /// Replace existing seeds (every running server must then be
        /// reconfigured with the new public keys).
        #[arg(long)]
        force: bool,
    },
    /// Authorize NATS connections by their Keycloak access token (serves
    /// `$SYS.REQ.USER.AUTH`).
    AuthCallout(callout::config::CalloutArgs),
    /// Store every chat message from JetStream in PostgreSQL, exactly once.
    Persist(persist::PersistArgs),
    /// Serve room history on `chat.history.*` from PostgreSQL.
    History(history::HistoryArgs),
    /// Apply pending database migrations, then exit.
    Migrate(store::DatabaseArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        Command::Keygen { dir, force } => {
            let public = keys::generate(&dir, force)?;
            println!("ISSUER={}", public.issuer);
            println!("XKEY={}", public.xkey);
            Ok(())
        }
        Command::AuthCallout(args) => daemon_runtime()?
            .block_on(async { Ok(callout::run(args, shutdown::Shutdown::on_signals()?).await?) }),
        Command::Persist(args) => daemon_runtime()?
            .block_on(async { persist::run(args, shutdown::Shutdown::on_signals()?).await }),
        Command::History(args) => daemon_runtime()?
            .block_on(async { history::run(args, shutdown::Shutdown::on_signals()?).await }),
        Command::Migrate(args) => daemon_runtime()?.block_on(store::migrate_once(args)),
    }
}

/// The async runtime of a long-running subcommand.
fn daemon_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
