//! Logging setup shared by every subcommand.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Structured logs on stderr; `RUST_LOG` filters (default `info`), and
/// `NATSCHAT_LOG_FORMAT=json` switches to one JSON object per line for log
/// collectors. Colours only when stderr is a terminal, so log files stay
/// plain text.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("NATSCHAT_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
