//! NATS subjects of natschat, built only from validated names.

use crate::room::RoomName;

/// Prefix of every room's chat subject.
pub const CHAT_PREFIX: &str = "chat.";
/// Subject of the admin channel.
pub const ADMIN_CHAT: &str = "admin.chat";
/// Prefix of history requests.
pub const HISTORY_PREFIX: &str = "chat.history.";
/// Wildcard the history service listens on.
pub const HISTORY_WILDCARD: &str = "chat.history.*";
/// Subject on which NATS asks the auth callout to decide a CONNECT.
pub const AUTH_CALLOUT: &str = "$SYS.REQ.USER.AUTH";
/// JetStream stream that captures every chat message.
pub const STREAM: &str = "CHAT_MESSAGES";
/// Subjects captured by [`STREAM`].
pub const STREAM_SUBJECTS: [&str; 2] = ["chat.*", "admin.*"];

/// The subject a room's messages are published on.
pub fn chat(room: &RoomName) -> String {
    if room.is_admin() {
        ADMIN_CHAT.to_owned()
    } else {
        format!("{CHAT_PREFIX}{room}")
    }
}

/// The subject a room's history is requested on.
pub fn history(room: &RoomName) -> String {
    format!("{HISTORY_PREFIX}{room}")
}

/// The room a chat subject belongs to, if it is one.
///
/// `chat.__admin__` is not the admin channel (that is `admin.chat`), so it
/// maps to no room; neither does anything with more tokens.
pub fn room_of_chat_subject(subject: &str) -> Option<RoomName> {
    if subject == ADMIN_CHAT {
        return Some(RoomName::admin());
    }
    let name = subject.strip_prefix(CHAT_PREFIX)?;
    let room: RoomName = name.parse().ok()?;
    (!room.is_admin()).then_some(room)
}

/// The room a history subject asks about, if it is one.
pub fn room_of_history_subject(subject: &str) -> Option<RoomName> {
    subject.strip_prefix(HISTORY_PREFIX)?.parse().ok()
}

/// The inbox prefix of a user: `_INBOX.<token>`, where `<token>` is the user
/// name encoded so that it is exactly one subject token and no two names share
/// one.
///
/// Keycloak user names may hold `.`, `@` or `*`; put raw into a subject they
/// would split into several tokens, and `_INBOX.john.>` would then cover
/// `john.doe`'s replies. Lowercase letters, digits and `-` stay as they are;
/// every other byte becomes `_` and two lowercase hex digits, `_` included,
/// which keeps the encoding injective.
pub fn inbox_prefix(user: &str) -> String {
    let mut token = String::with_capacity(user.len() + 7);
    token.push_str("_INBOX.");
    for byte in user.bytes() {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => token.push(byte as char),
            other => token.push_str(&format!("_{other:02x}")),
        }
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        s.parse().unwrap()
    }

    #[test]
    fn admin_channel_has_its_own_subject() {
        assert_eq!(chat(&RoomName::admin()), "admin.chat");
        assert_eq!(history(&RoomName::admin()), "chat.history.__admin__");
        assert_eq!(chat(&room("general")), "chat.general");
    }

    #[test]
    fn maps_subjects_back_to_rooms() {
        assert_eq!(room_of_chat_subject("chat.general"), Some(room("general")));
        assert_eq!(room_of_chat_subject("admin.chat"), Some(RoomName::admin()));
        assert_eq!(room_of_chat_subject("chat.__admin__"), None);
        assert_eq!(room_of_chat_subject("chat.a.b"), None);
        assert_eq!(room_of_chat_subject("chat.history"), None);
        assert_eq!(room_of_chat_subject("admin.other"), None);
        assert_eq!(
            room_of_history_subject("chat.history.__admin__"),
            Some(RoomName::admin())
        );
        assert_eq!(room_of_history_subject("chat.history.A"), None);
    }

    #[test]
    fn inbox_prefix_is_one_token_and_injective() {
        assert_eq!(inbox_prefix("alice"), "_INBOX.alice");
        assert_eq!(inbox_prefix("john.doe"), "_INBOX.john_2edoe");
        assert_eq!(inbox_prefix("a_2e"), "_INBOX.a_5f2e");
        assert_ne!(inbox_prefix("a.b"), inbox_prefix("a_2eb"));
        for name in ["x.y", "*", ">", "a b", "ü"] {
            let prefix = inbox_prefix(name);
            assert_eq!(prefix.matches('.').count(), 1, "{prefix}");
            assert!(!prefix.contains(['*', '>', ' ']));
        }
    }
}
