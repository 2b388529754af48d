//! Everything that can happen to the chat ([`Action`]) and everything the
//! chat asks the outside world to do ([`Command`]).

use crossterm::event::KeyEvent;
use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest, RoomName};

/// One thing that happened: a key, a paste, a resize, a NATS message, a
/// history page, a connection change, a token refresh or a timer tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    /// Bracketed paste: the whole text at once, newlines included.
    Paste(String),
    /// Mouse wheel: positive scrolls towards older messages.
    Scroll(i32),
    Resize {
        width: u16,
        height: u16,
    },
    Connection(ConnectionEvent),
    /// A message delivered live on `chat.<room>` or `admin.chat`.
    Live(ChatMessage),
    HistoryLoaded {
        room: RoomName,
        request: HistoryRequest,
        page: HistoryPage,
    },
    HistoryFailed {
        room: RoomName,
        request: HistoryRequest,
        reason: String,
    },
    /// The NATS client refused to take an own message (its connection is
    /// closed); the message goes back to the queue.
    PublishFailed {
        message: ChatMessage,
        reason: String,
    },
    /// A fresh access token was obtained; its realm roles may differ.
    TokenRefreshed {
        roles: Vec<String>,
    },
    /// The once-a-second timer; `now_ms` is the wall clock.
    Tick {
        now_ms: i64,
    },
}

/// A change in the NATS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    Connected,
    /// The connection dropped; the client retries on its own.
    Disconnected {
        reason: String,
    },
    /// The server closed the connection because the token expired.
    AuthExpired,
    /// The server refused an operation, e.g.
    /// `Permissions Violation for Publish to "admin.chat"`.
    Refused {
        server_text: String,
    },
    /// Anything else worth telling the person.
    Problem {
        text: String,
    },
}

/// Something the chat wants done; only the event loop performs these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Publish on the room's subject with the `Nats-Msg-Id` header.
    Publish(ChatMessage),
    RequestHistory {
        room: RoomName,
        request: HistoryRequest,
    },
    /// Persist the joined rooms for this user.
    SaveRooms(Vec<RoomName>),
    /// Ring the terminal bell.
    Bell,
    Quit,
}
