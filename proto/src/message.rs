//! The chat message every client publishes on `chat.<room>` or `admin.chat`.

use serde::{Deserialize, Serialize};

use crate::room::RoomName;

/// Longest user name accepted in a message, in characters.
pub const MAX_USER_LEN: usize = 64;
/// Longest message text accepted, in characters.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest client-generated message id, in characters.
pub const MAX_ID_LEN: usize = 64;

/// A chat message in its compatible JSON form:
/// `{"user":"alice","text":"hi","timestamp":1739500000000,"room":"general"}`,
/// with an optional `id`. Unknown fields are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The sender's `preferred_username`, as the client claims it.
    pub user: String,
    pub text: String,
    /// Milliseconds since the Unix epoch, by the client's clock.
    pub timestamp: i64,
    pub room: RoomName,
    /// Client-generated unique id, also sent as the `Nats-Msg-Id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Why a payload is not a chat message that can be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("not a chat message: {0}")]
    Malformed(String),
    #[error("user name is empty")]
    EmptyUser,
    #[error("user name has {0} characters, at most {MAX_USER_LEN} are allowed")]
    UserTooLong(usize),
    #[error("text has {0} characters, at most {MAX_TEXT_LEN} are allowed")]
    TextTooLong(usize),
    #[error("message id has {0} characters, at most {MAX_ID_LEN} are allowed")]
    IdTooLong(usize),
    #[error("message names room {body} but was published for room {subject}")]
    RoomMismatch { body: String, subject: String },
}

impl ChatMessage {
    /// Parses and checks a payload; the result can be stored as it is.
    pub fn parse(payload: &[u8]) -> Result<Self, MessageError> {
        let message: ChatMessage =
            serde_json::from_slice(payload).map_err(|e| MessageError::Malformed(e.to_string()))?;
        message.validate()?;
        Ok(message)
    }

    /// Checks the limits that a stored message must respect.
    pub fn validate(&self) -> Result<(), MessageError> {
        if self.user.is_empty() {
            return Err(MessageError::EmptyUser);
        }
        let user_len = self.user.chars().count();
        if user_len > MAX_USER_LEN {
            return Err(MessageError::UserTooLong(user_len));
        }
        let text_len = self.text.chars().count();
        if text_len > MAX_TEXT_LEN {
            return Err(MessageError::TextTooLong(text_len));
        }
        if let Some(id) = &self.id {
            let id_len = id.chars().count();
            if id_len > MAX_ID_LEN {
                return Err(MessageError::IdTooLong(id_len));
            }
        }
        Ok(())
    }

    /// The JSON body as it goes on the wire.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_vec(self).expect("a ChatMessage always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compatible_form_and_ignores_unknown_fields() {
        let m = ChatMessage::parse(
            br#"{"user":"alice","text":"hi","timestamp":1739500000000,"room":"general","x":[1]}"#,
        )
        .unwrap();
        assert_eq!(m.user, "alice");
        assert_eq!(m.room.as_str(), "general");
        assert_eq!(m.id, None);
    }

    #[test]
    fn writes_the_compatible_form_byte_for_byte() {
        let m = ChatMessage {
            user: "alice".into(),
            text: "hi".into(),
            timestamp: 1739500000000,
            room: "general".parse().unwrap(),
            id: None,
        };
        assert_eq!(
            String::from_utf8(m.to_json()).unwrap(),
            r#"{"user":"alice","text":"hi","timestamp":1739500000000,"room":"general"}"#
        );
    }

    #[test]
    fn rejects_what_cannot_be_stored() {
        let base = |user: &str, text: &str, room: &str| {
            format!(r#"{{"user":"{user}","text":"{text}","timestamp":1,"room":"{room}"}}"#)
        };
        assert!(matches!(
            ChatMessage::parse(b"not json"),
            Err(MessageError::Malformed(_))
        ));
        assert!(matches!(
            ChatMessage::parse(br#"{"user":1,"text":"a","timestamp":1,"room":"a"}"#),
            Err(MessageError::Malformed(_))
        ));
        assert!(matches!(
            ChatMessage::parse(base("a", "b", "a.b").as_bytes()),
            Err(MessageError::Malformed(_))
        ));
        assert_eq!(
            ChatMessage::parse(base(&"u".repeat(300), "b", "a").as_bytes()),
            Err(MessageError::UserTooLong(300))
        );
        assert_eq!(
            ChatMessage::parse(base("a", &"t".repeat(5000), "a").as_bytes()),
            Err(MessageError::TextTooLong(5000))
        );
        assert_eq!(
            ChatMessage::parse(base("", "b", "a").as_bytes()),
            Err(MessageError::EmptyUser)
        );
    }
}
