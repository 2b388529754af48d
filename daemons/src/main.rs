//! `natschatd`: one binary for the natschat daemons.

mod keys;
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
    }
}
