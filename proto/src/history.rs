//! History requests on `chat.history.<room>` and their replies.

use serde::{Deserialize, Serialize};

use crate::message::ChatMessage;

/// Messages in a compatible-form reply.
pub const COMPATIBLE_LIMIT: u32 = 50;
/// Largest page a paged request may ask for.
pub const MAX_LIMIT: u32 = 200;
/// Page size when a paged request names none.
pub const DEFAULT_LIMIT: u32 = 50;

/// What a history request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRequest {
    /// Empty body: the last 50 messages as a bare JSON array (browser form).
    Compatible,
    /// `{"limit":n}`: the newest `limit` messages, paged form.
    Latest { limit: u32 },
    /// `{"limit":n,"before":seq}`: older messages, for scrollback.
    Before { limit: u32, before: u64 },
    /// `{"limit":n,"after":seq}`: newer messages, to fill a gap.
    After { limit: u32, after: u64 },
}

/// Why a history request body cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "history request body is not valid JSON of the form {{\"limit\":50,\"before\":123}}: {0}"
    )]
    Malformed(String),
    #[error("limit must be between 1 and {MAX_LIMIT}, got {0}")]
    BadLimit(u64),
    #[error("give either \"before\" or \"after\", not both")]
    BothDirections,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PagedBody {
    limit: Option<u64>,
    before: Option<u64>,
    after: Option<u64>,
}

impl HistoryRequest {
    /// Parses a request body; an empty (or all-whitespace) body is the
    /// compatible form.
    pub fn parse(body: &[u8]) -> Result<Self, HistoryError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(HistoryRequest::Compatible);
        }
        let paged: PagedBody =
            serde_json::from_slice(body).map_err(|e| HistoryError::Malformed(e.to_string()))?;
        let limit = match paged.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as u32,
            Some(n) => return Err(HistoryError::BadLimit(n)),
        };
        match (paged.before, paged.after) {
            (Some(_), Some(_)) => Err(HistoryError::BothDirections),
            (Some(before), None) => Ok(HistoryRequest::Before { limit, before }),
            (None, Some(after)) => Ok(HistoryRequest::After { limit, after }),
            (None, None) => Ok(HistoryRequest::Latest { limit }),
        }
    }

    /// Encodes the request body as a client sends it.
    pub fn to_json(&self) -> Vec<u8> {
        let value = match *self {
            HistoryRequest::Compatible => return Vec::new(),
            HistoryRequest::Latest { limit } => serde_json::json!({ "limit": limit }),
            HistoryRequest::Before { limit, before } => {
                serde_json::json!({ "limit": limit, "before": before })
            }
            HistoryRequest::After { limit, after } => {
                serde_json::json!({ "limit": limit, "after": after })
            }
        };
        value.to_string().into_bytes()
    }

    /// How many messages the reply holds at most.
    pub fn limit(&self) -> u32 {
        match *self {
            HistoryRequest::Compatible => COMPATIBLE_LIMIT,
            HistoryRequest::Latest { limit }
            | HistoryRequest::Before { limit, .. }
            | HistoryRequest::After { limit, .. } => limit,
        }
    }
}

/// A stored chat message with its stream sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    #[serde(flatten)]
    pub message: ChatMessage,
    /// JetStream stream sequence: the gap-free server order of messages.
    pub seq: u64,
}

/// Reply to a paged request: `{"messages":[...],"hasMore":true}`, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<StoredMessage>,
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_the_compatible_form() {
        assert_eq!(HistoryRequest::parse(b""), Ok(HistoryRequest::Compatible));
        assert_eq!(
            HistoryRequest::parse(b" \n"),
            Ok(HistoryRequest::Compatible)
        );
    }

    #[test]
    fn parses_paged_forms() {
        assert_eq!(
            HistoryRequest::parse(br#"{"limit":10,"before":99}"#),
            Ok(HistoryRequest::Before {
                limit: 10,
                before: 99
            })
        );
        assert_eq!(
            HistoryRequest::parse(br#"{"after":5}"#),
            Ok(HistoryRequest::After {
                limit: 50,
                after: 5
            })
        );
        assert_eq!(
            HistoryRequest::parse(br#"{}"#),
            Ok(HistoryRequest::Latest { limit: 50 })
        );
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert!(matches!(
            HistoryRequest::parse(b"{"),
            Err(HistoryError::Malformed(_))
        ));
        assert!(matches!(
            HistoryRequest::parse(br#"{"limit":"x"}"#),
            Err(HistoryError::Malformed(_))
        ));
        assert!(matches!(
            HistoryRequest::parse(br#"{"limt":5}"#),
            Err(HistoryError::Malformed(_))
        ));
        assert_eq!(
            HistoryRequest::parse(br#"{"limit":0}"#),
            Err(HistoryError::BadLimit(0))
        );
        assert_eq!(
            HistoryRequest::parse(br#"{"limit":201}"#),
            Err(HistoryError::BadLimit(201))
        );
        assert_eq!(
            HistoryRequest::parse(br#"{"before":1,"after":2}"#),
            Err(HistoryError::BothDirections)
        );
    }

    #[test]
    fn request_round_trips() {
        for r in [
            HistoryRequest::Compatible,
            HistoryRequest::Latest { limit: 3 },
            HistoryRequest::Before {
                limit: 7,
                before: 100,
            },
            HistoryRequest::After {
                limit: 200,
                after: 1,
            },
        ] {
            assert_eq!(HistoryRequest::parse(&r.to_json()), Ok(r));
        }
    }

    #[test]
    fn page_carries_seq_inline_and_has_more() {
        let page = HistoryPage {
            messages: vec![StoredMessage {
                message: ChatMessage {
                    user: "bob".into(),
                    text: "yo".into(),
                    timestamp: 2,
                    room: "general".parse().unwrap(),
                    id: Some("m1".into()),
                },
                seq: 1234,
            }],
            has_more: true,
        };
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"messages":[{"user":"bob","text":"yo","timestamp":2,"room":"general","id":"m1","seq":1234}],"hasMore":true}"#
        );
    }
}
