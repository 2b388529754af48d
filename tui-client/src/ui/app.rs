//! The chat's whole state. Nothing else holds UI state: `update` changes
//! it, `render` draws it.

use std::collections::VecDeque;

use natschat_proto::{ChatMessage, InboxMode, Permissions, Role, RoomName};
use tui_input::Input;

use super::settings::ChatSettings;
use super::timeline::Timeline;

/// Rooms everyone starts with.
pub const DEFAULT_ROOMS: [&str; 3] = ["general", "random", "help"];

/// How long a notice stays in the status bar.
pub const NOTICE_MS: i64 = 8_000;

/// The state of the NATS connection, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    /// Lost; the client is reconnecting.
    Reconnecting {
        reason: String,
    },
}

/// One joined room.
#[derive(Debug)]
pub struct Room {
    pub name: RoomName,
    pub timeline: Timeline,
    /// Messages that arrived while another room was shown.
    pub unread: usize,
    /// Whether one of the unread messages mentions the user.
    pub mentioned: bool,
    /// Rows scrolled up from the newest message; 0 follows new messages.
    pub scroll: usize,
    /// A page of older history has been asked for and not yet arrived.
    pub loading_older: bool,
    /// The latest page has been asked for and not yet arrived.
    pub loading_latest: bool,
    /// What was being typed here when another room was shown.
    pub draft: Input,
}

impl Room {
    pub fn new(name: RoomName) -> Room {
        Room {
            name,
            timeline: Timeline::default(),
            unread: 0,
            mentioned: false,
            scroll: 0,
            loading_older: false,
            loading_latest: false,
            draft: Input::default(),
        }
    }

    /// The name shown in the room list and status bar.
    pub fn label(&self) -> String {
        room_label(&self.name)
    }
}

/// How a room is named on screen: the admin channel has a name of its own.
pub fn room_label(room: &RoomName) -> String {
    if room.is_admin() {
        "admin-channel".to_owned()
    } else {
        format!("#{room}")
    }
}

/// A notice in the status bar: what happened, and until when to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
    pub until_ms: i64,
}

/// The chat.
#[derive(Debug)]
pub struct App {
    /// The user's `preferred_username`.
    pub user: String,
    pub roles: Vec<Role>,
    pub permissions: Permissions,
    pub rooms: Vec<Room>,
    /// Index into `rooms` of the room shown.
    pub active: usize,
    pub input: Input,
    /// Lines sent before, oldest first, for Up/Down.
    pub input_history: Vec<String>,
    /// Position while walking the input history, and the draft it replaced.
    pub history_cursor: Option<(usize, String)>,
    pub connection: Connection,
    /// Whether the connection has been up at least once (so the next
    /// `Connected` is a reconnect that may have missed messages).
    pub was_connected: bool,
    /// Own messages typed while disconnected, oldest first.
    pub outbox: VecDeque<ChatMessage>,
    pub notice: Option<Notice>,
    pub show_help: bool,
    /// Terminal size in cells.
    pub width: u16,
    pub height: u16,
    /// Wall clock in milliseconds, set by the loop before each update.
    pub now_ms: i64,
    /// Unique to this run: message ids are `<prefix>-<counter>`.
    pub id_prefix: String,
    pub sent_count: u64,
    pub settings: ChatSettings,
    /// Set by `update` when the screen must be drawn again.
    pub dirty: bool,
    pub quit: bool,
    /// A quit was asked for while messages were queued unsent; the next
    /// one discards them.
    pub quit_confirming: bool,
}

impl App {
    /// A chat for `user` with these realm roles, showing `rooms` (the
    /// defaults, plus the admin channel for admins, when `rooms` is empty).
    pub fn new(
        user: &str,
        realm_roles: &[String],
        rooms: Vec<RoomName>,
        id_prefix: String,
        settings: ChatSettings,
    ) -> App {
        let roles = Role::from_realm_roles(realm_roles);
        let permissions = Permissions::for_roles(&roles, user, InboxMode::PerUser);
        let rooms = if rooms.is_empty() {
            default_rooms(permissions.admin_channel)
        } else {
            rooms
        };
        App {
            user: user.to_owned(),
            roles,
            permissions,
            rooms: rooms.into_iter().map(Room::new).collect(),
            active: 0,
            input: Input::default(),
            input_history: Vec::new(),
            history_cursor: None,
            connection: Connection::Connecting,
            was_connected: false,
            outbox: VecDeque::new(),
            notice: None,
            show_help: false,
            width: 80,
            height: 24,
            now_ms: 0,
            id_prefix,
            sent_count: 0,
            settings,
            dirty: true,
            quit: false,
            quit_confirming: false,
        }
    }

    pub fn active_room(&self) -> &Room {
        &self.rooms[self.active]
    }

    pub fn active_room_mut(&mut self) -> &mut Room {
        &mut self.rooms[self.active]
    }

    pub fn room_index(&self, name: &RoomName) -> Option<usize> {
        self.rooms.iter().position(|r| &r.name == name)
    }

    pub fn room_names(&self) -> Vec<RoomName> {
        self.rooms.iter().map(|r| r.name.clone()).collect()
    }

    /// Where an own message of this run comes in the order of typing: the
    /// counter of its id `<prefix>-<counter>` (`None` for any other).
    pub fn sent_number(&self, message: &ChatMessage) -> Option<u64> {
        message
            .id
            .as_deref()?
            .strip_prefix(self.id_prefix.as_str())?
            .strip_prefix('-')?
            .parse()
            .ok()
    }

    /// Whether the user may post in the room shown.
    pub fn can_post_here(&self) -> bool {
        self.permissions.can_post
            && (!self.active_room().name.is_admin() || self.permissions.admin_channel)
    }

    /// Shows `text` in the status bar for a while.
    pub fn notify(&mut self, text: impl Into<String>, is_error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            is_error,
            until_ms: self.now_ms + NOTICE_MS,
        });
    }

    /// What to tell the person when the chat ends with messages still
    /// queued unsent, so that they are not lost without a trace.
    pub fn unsent_report(&self) -> Option<String> {
        if self.outbox.is_empty() {
            return None;
        }
        let mut report = format!(
            "natschat: {} message(s) were not sent:\n",
            self.outbox.len()
        );
        for message in &self.outbox {
            report.push_str(&format!(
                "  {}: {}\n",
                room_label(&message.room),
                message.text
            ));
        }
        Some(report)
    }

    /// Whether `text` mentions the user: the name as a whole word, with or
    /// without `@`, in any case.
    pub fn mentions_me(&self, text: &str) -> bool {
        mentions(&self.user, text)
    }
}

/// Whether `text` mentions `user`: the name as a whole word, with or
/// without `@`, in any case.
pub fn mentions(user: &str, text: &str) -> bool {
    let me = user.to_lowercase();
    if me.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    text.match_indices(&me).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + me.len()..].chars().next();
        !before.is_some_and(word_char) && !after.is_some_and(word_char)
    })
}

/// The rooms a user starts with: general, random, help, and the admin
/// channel for admins.
pub fn default_rooms(admin: bool) -> Vec<RoomName> {
    let mut rooms: Vec<RoomName> = DEFAULT_ROOMS
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    if admin {
        rooms.push(RoomName::admin());
    }
    rooms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(user: &str, roles: &[&str]) -> App {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        App::new(
            user,
            &roles,
            Vec::new(),
            "t".into(),
            ChatSettings::default(),
        )
    }

    #[test]
    fn admins_also_get_the_admin_channel() {
        let names = |a: &App| a.rooms.iter().map(Room::label).collect::<Vec<_>>();
        assert_eq!(
            names(&app("bob", &["user"])),
            ["#general", "#random", "#help"]
        );
        assert_eq!(
            names(&app("alice", &["admin", "user"])),
            ["#general", "#random", "#help", "admin-channel"]
        );
    }

    #[test]
    fn mentions_are_whole_words_in_any_case() {
        let a = app("bob", &["user"]);
        assert!(a.mentions_me("hey @Bob, look"));
        assert!(a.mentions_me("bob"));
        assert!(!a.mentions_me("bobby tables"));
        assert!(!a.mentions_me("kebob"));
    }
}
