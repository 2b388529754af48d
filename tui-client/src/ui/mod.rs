//! The chat in a terminal, in the shape of an Elm program:
//!
//! - [`App`] is the whole state;
//! - every key, paste, resize, NATS message, history page, token refresh
//!   and tick is an [`Action`];
//! - [`update`] applies an action and returns [`Command`]s, without I/O;
//! - [`render`] draws the state, as a pure function;
//! - [`run`] is the one loop that turns terminal and NATS events into
//!   actions, performs the commands and draws when something changed.
//!
//! ```
//! use natschat_tui::ui::{Action, App, ChatSettings, update};
//!
//! let mut app = App::new("bob", &["user".into()], vec![], "run1".into(), ChatSettings::default());
//! update(&mut app, Action::Paste("hello".into()));
//! assert_eq!(app.input.value(), "hello");
//! ```

mod action;
mod app;
mod keys;
mod layout;
mod render;
pub mod rooms_file;
mod run;
mod settings;
pub mod terminal;
mod timeline;
mod update;
pub mod wrap;

pub use action::{Action, Command, ConnectionEvent};
pub use app::{App, Connection, DEFAULT_ROOMS, Room, default_rooms, room_label};
pub use keys::{KeyAction, KeyBindings, KeyChord};
pub use layout::{Areas, rows_from_bottom};
pub use render::{help_lines, render};
pub use run::{ChatError, ChatOptions, perform, run};
pub use settings::{ChatSettings, SettingsError, Theme};
pub use timeline::{Added, Delivery, Entry, Timeline};
pub use update::{PAGE_SIZE, update};
