//! The chat's NATS side: one connection authenticated with a fresh access
//! token on every (re)connect, live delivery of every room, publishing with
//! message ids, and history requests. Everything that arrives becomes a
//! [`crate::ui::Action`] on one channel, in arrival order.

mod connection;
mod history;
mod refusal;

pub use connection::{ChatConnection, NetError, NetOptions, TokenSource};
pub use history::fetch_history;
pub use refusal::classify_server_error;
