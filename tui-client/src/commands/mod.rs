//! One module per subcommand: each reads the settings, does its job through
//! the library, and prints for a person.

pub mod login;
pub mod logout;
pub mod whoami;

use std::time::Duration;

/// "4 min 10 s", "2 h 5 min": durations as a person reads them.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}
