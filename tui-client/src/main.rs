//! `natschat-tui`: natschat in a terminal.

use clap::Parser;

/// Chat on natschat from a terminal.
#[derive(Parser)]
#[command(name = "natschat-tui", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("the chat client is not built yet")
}
