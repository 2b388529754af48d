//! The natschat wire contract, shared by the daemons and the terminal client.
//!
//! Everything here is pure: parsing and validation of what crosses NATS, no
//! I/O. Types carry their validation, so a [`RoomName`] that exists is valid.
//!
//! ```
//! use natschat_proto::{RoomName, subject};
//!
//! let room: RoomName = "general".parse().unwrap();
//! assert_eq!(subject::chat(&room), "chat.general");
//! assert_eq!(subject::history(&room), "chat.history.general");
//! ```

pub mod history;
pub mod message;
pub mod permissions;
pub mod room;
pub mod subject;

pub use history::{HistoryError, HistoryPage, HistoryRequest, StoredMessage};
pub use message::{ChatMessage, MessageError};
pub use permissions::{InboxMode, Permissions, Role, SubjectRules};
pub use room::{RoomName, RoomNameError};
