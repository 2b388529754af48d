//! Turning what the NATS client reports into connection events the chat
//! understands.

use async_nats::{Event, ServerError};

use crate::ui::ConnectionEvent;

/// The connection event behind a NATS client event, if it matters to the
/// person chatting.
pub fn classify_event(event: Event) -> Option<ConnectionEvent> {
    match event {
        Event::Connected => Some(ConnectionEvent::Connected),
        Event::Disconnected => Some(ConnectionEvent::Disconnected {
            reason: "connection lost".to_owned(),
        }),
        Event::ServerError(ServerError::AuthorizationViolation) => {
            Some(ConnectionEvent::Problem {
                text: "NATS refused the login (authorization violation); run `natschat-tui whoami`, or log in again".to_owned(),
            })
        }
        Event::ServerError(ServerError::Other(text)) => Some(classify_server_error(&text)),
        Event::ServerError(ServerError::SlowConsumer(_)) | Event::SlowConsumer(_) => {
            Some(ConnectionEvent::Problem {
                text: "messages arrive faster than they can be shown; some may be missing until the next reconnect".to_owned(),
            })
        }
        Event::ClientError(error) => Some(ConnectionEvent::Problem {
            text: format!("NATS client error: {error}"),
        }),
        Event::LameDuckMode => Some(ConnectionEvent::Problem {
            text: "the NATS server is shutting down; the chat will move to another".to_owned(),
        }),
        Event::Draining | Event::Closed => None,
    }
}

/// A server's `-ERR` text as a connection event: an expired login, a
/// refused operation, or something else.
pub fn classify_server_error(text: &str) -> ConnectionEvent {
    let lower = text.to_ascii_lowercase();
    if lower.contains("authentication expired") {
        ConnectionEvent::AuthExpired
    } else if lower.contains("permissions violation") {
        ConnectionEvent::Refused {
            server_text: text.to_owned(),
        }
    } else {
        ConnectionEvent::Problem {
            text: format!("NATS server: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_expiry_and_refusals() {
        assert_eq!(
            classify_server_error("user authentication expired"),
            ConnectionEvent::AuthExpired
        );
        assert!(matches!(
            classify_server_error("Permissions Violation for Publish to \"admin.chat\""),
            ConnectionEvent::Refused { .. }
        ));
    }
}
