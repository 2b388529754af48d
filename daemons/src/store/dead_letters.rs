//! Messages the persist worker could not store as chat messages, kept with
//! the reason so that nothing the stream accepted disappears silently.

/// A stream message that is not a storable chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Stream sequence; a redelivered message is dead-lettered once.
    pub seq: i64,
    pub subject: String,
    /// The payload exactly as published.
    pub payload: Vec<u8>,
    /// Why it was refused, in words an operator can act on.
    pub reason: String,
}
