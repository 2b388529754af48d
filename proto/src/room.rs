//! Room names: the only thing a client chooses that becomes part of a subject.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest room name accepted, in characters.
pub const MAX_ROOM_LEN: usize = 64;

/// The room id of the admin channel; its subject is `admin.chat`.
pub const ADMIN_ROOM: &str = "__admin__";

/// A room name that is safe to put into a NATS subject: 1–64 characters of
/// `[a-z0-9-]` other than `history`, or the admin channel `__admin__`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

/// Why a string is not a room name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("a room name cannot be empty")]
    Empty,
    #[error("a room name has at most {MAX_ROOM_LEN} characters, this one has {0}")]
    TooLong(usize),
    #[error("room names use only lowercase letters, digits and '-'; {0:?} is not allowed")]
    BadCharacter(char),
    #[error("'history' is reserved and cannot be a room name")]
    Reserved,
}

impl RoomName {
    /// The admin channel.
    pub fn admin() -> Self {
        RoomName(ADMIN_ROOM.to_owned())
    }

    /// Whether this is the admin channel, whose subject is `admin.chat`.
    pub fn is_admin(&self) -> bool {
        self.0 == ADMIN_ROOM
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RoomName {
    type Err = RoomNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == ADMIN_ROOM {
            return Ok(RoomName::admin());
        }
        if s.is_empty() {
            return Err(RoomNameError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_ROOM_LEN {
            return Err(RoomNameError::TooLong(len));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(RoomNameError::BadCharacter(bad));
        }
        if s == "history" {
            return Err(RoomNameError::Reserved);
        }
        Ok(RoomName(s.to_owned()))
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for RoomName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_the_admin_channel() {
        for ok in ["general", "a", "room-1", "0", &"x".repeat(64), "__admin__"] {
            assert!(ok.parse::<RoomName>().is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_names_that_would_change_the_subject() {
        assert_eq!("".parse::<RoomName>(), Err(RoomNameError::Empty));
        assert_eq!(
            "a.b".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter('.'))
        );
        assert_eq!(
            "*".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter('*'))
        );
        assert_eq!(
            ">".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter('>'))
        );
        assert_eq!(
            "General".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter('G'))
        );
        assert_eq!(
            "a b".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter(' '))
        );
        assert_eq!(
            "_admin_".parse::<RoomName>(),
            Err(RoomNameError::BadCharacter('_'))
        );
        assert_eq!("history".parse::<RoomName>(), Err(RoomNameError::Reserved));
        assert_eq!(
            "x".repeat(65).parse::<RoomName>(),
            Err(RoomNameError::TooLong(65))
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<RoomName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RoomName>("\"a.b\"").is_err());
    }
}
