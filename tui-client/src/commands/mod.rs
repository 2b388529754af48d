//! One module per subcommand: each reads the settings, does its job through
//! the library, and prints for a person.

pub mod login;
pub mod logout;
pub mod whoami;

use std::io::Write;
use std::time::Duration;

use natschat_tui::auth::error::printable;

/// `println!` for what a command tells the person: control characters in
/// the text (which may come from Keycloak or a browser) are dropped, and a
/// closed stdout ends the command quietly (see [`write_stdout`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::commands::say_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// One line of [`say!`].
pub fn say_line(text: &str) {
    let mut line = printable(text);
    line.push('\n');
    write_stdout(line.as_bytes());
}

/// Writes to stdout. When stdout is a pipe whose reader has gone
/// (`natschat-tui whoami | head -1`), the process exits with success, as
/// command-line tools ended by SIGPIPE do, instead of panicking the way
/// `println!` does.
pub fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// "4 min 10 s", "2 h 5 min": durations as a person reads them.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}
