//! Deciding, for each stream message, whether it is a chat message to store
//! or a dead letter, and why.

use natschat_proto::{ChatMessage, subject};

use crate::store::dead_letters::DeadLetter;
use crate::store::messages::MessageRow;

/// A message as it came off the stream, before any parsing.
#[derive(Debug, Clone, Copy)]
pub struct Delivered<'a> {
    pub seq: u64,
    pub subject: &'a str,
    pub payload: &'a [u8],
    /// When JetStream received it, in microseconds since the Unix epoch.
    pub received_at_us: i64,
}

/// Sorts a delivered message into a storable row or a dead letter.
pub fn triage(delivered: Delivered<'_>) -> Result<MessageRow, DeadLetter> {
    let seq = i64::try_from(delivered.seq);
    let dead = |reason: String| DeadLetter {
        // Stream sequences stay far below i64::MAX in practice; saturating
        // keeps the letter storable if one ever does not.
        seq: seq.unwrap_or(i64::MAX),
        subject: delivered.subject.to_owned(),
        payload: delivered.payload.to_vec(),
        reason,
    };
    let Ok(seq) = seq else {
        return Err(dead(format!(
            "stream sequence {} does not fit the messages table",
            delivered.seq
        )));
    };

    let Some(subject_room) = subject::room_of_chat_subject(delivered.subject) else {
        return Err(dead(format!(
            "subject {} is not a room's chat subject",
            delivered.subject
        )));
    };
    let message = ChatMessage::parse(delivered.payload).map_err(|e| dead(e.to_string()))?;
    if message.room != subject_room {
        return Err(dead(format!(
            "message names room {} but was published for room {}",
            message.room, subject_room
        )));
    }
    // PostgreSQL text cannot hold NUL; such a row would fail its whole batch
    // again and again.
    let nul = |s: &str| s.contains('\0');
    if nul(&message.user) || nul(&message.text) || message.id.as_deref().is_some_and(nul) {
        return Err(dead("message contains a NUL character".to_owned()));
    }
    Ok(MessageRow {
        seq,
        message,
        received_at_us: delivered.received_at_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered<'a>(subject: &'a str, payload: &'a [u8]) -> Delivered<'a> {
        Delivered {
            seq: 7,
            subject,
            payload,
            received_at_us: 1,
        }
    }

    const GOOD: &[u8] = br#"{"user":"alice","text":"hi","timestamp":5,"room":"general"}"#;

    #[test]
    fn stores_a_valid_message_under_its_sequence() {
        let row = triage(delivered("chat.general", GOOD)).unwrap();
        assert_eq!(row.seq, 7);
        assert_eq!(row.message.text, "hi");
    }

    #[test]
    fn admin_channel_is_stored_only_from_its_own_subject() {
        let admin = br#"{"user":"alice","text":"hi","timestamp":5,"room":"__admin__"}"#;
        assert!(triage(delivered("admin.chat", admin)).is_ok());
        let letter = triage(delivered("chat.__admin__", admin)).unwrap_err();
        assert!(letter.reason.contains("not a room's chat subject"));
    }

    #[test]
    fn dead_letters_a_room_that_differs_from_the_subject() {
        let letter = triage(delivered("chat.other", GOOD)).unwrap_err();
        assert!(letter.reason.contains("general"), "{}", letter.reason);
        assert_eq!(letter.payload, GOOD);
        assert_eq!(letter.seq, 7);
    }

    #[test]
    fn dead_letters_what_postgres_cannot_store() {
        let nul = br#"{"user":"alice","text":"a\u0000b","timestamp":5,"room":"general"}"#;
        let letter = triage(delivered("chat.general", nul)).unwrap_err();
        assert!(letter.reason.contains("NUL"));
    }

    #[test]
    fn dead_letters_bad_json_with_the_parser_reason() {
        let letter = triage(delivered("chat.general", b"{nope")).unwrap_err();
        assert!(letter.reason.starts_with("not a chat message"));
    }
}
