//! Where things go on screen and how many rows a message takes. Shared by
//! `render` (which draws) and `update` (which must know when scrolling
//! reaches the oldest message shown).

use std::borrow::Cow;

use chrono::{Local, TimeZone};
use ratatui::layout::Rect;

use super::timeline::{Delivery, Entry, Timeline};
use super::wrap::{display_width, wrap};

/// Width of the room list, when the terminal is wide enough for one.
const ROOM_LIST_WIDTH: u16 = 20;

/// The screen's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub rooms: Rect,
    pub messages: Rect,
    pub input: Rect,
    pub status: Rect,
}

impl Areas {
    pub fn of(screen: Rect) -> Areas {
        let body_height = screen.height.saturating_sub(2);
        let rooms_width = if screen.width >= 50 {
            ROOM_LIST_WIDTH
        } else {
            0
        };
        let body = Rect::new(screen.x, screen.y, screen.width, body_height);
        Areas {
            rooms: Rect::new(body.x, body.y, rooms_width, body.height),
            messages: Rect::new(
                body.x + rooms_width,
                body.y,
                body.width.saturating_sub(rooms_width),
                body.height,
            ),
            input: Rect::new(
                screen.x,
                screen.y + body_height,
                screen.width,
                1.min(screen.height),
            ),
            status: Rect::new(
                screen.x,
                screen.y + body_height + 1,
                screen.width,
                u16::from(screen.height > 1),
            ),
        }
    }

    /// The message pane of a terminal of this size.
    pub fn message_pane(width: u16, height: u16) -> Rect {
        Areas::of(Rect::new(0, 0, width, height)).messages
    }
}

/// The local time of a message, `HH:MM`.
pub fn clock_time(timestamp_ms: i64) -> String {
    match Local.timestamp_millis_opt(timestamp_ms).single() {
        Some(t) => t.format("%H:%M").to_string(),
        None => "--:--".to_owned(),
    }
}

/// Whether a message is a `/me` action, and its action text.
pub fn action_text(text: &str) -> Option<&str> {
    text.strip_prefix("/me ")
}

/// A message laid out for a pane width: the prefix (time and name), the
/// text as shown, and the byte ranges of the text on each row.
#[derive(Debug, Clone)]
pub struct MessageRows<'a> {
    pub time: String,
    pub name: &'a str,
    pub is_action: bool,
    pub text: Cow<'a, str>,
    /// Cells before the text on later rows.
    pub indent: usize,
    pub rows: Vec<std::ops::Range<usize>>,
}

impl<'a> MessageRows<'a> {
    /// Lays a message out (and remembers its height for this width).
    pub fn of(entry: &'a Entry, width: usize) -> MessageRows<'a> {
        let message = &entry.message;
        let (is_action, body) = match action_text(&message.text) {
            Some(action) => (true, action),
            None => (false, message.text.as_str()),
        };
        // A tab would be drawn as nothing at all, yet counted as a cell.
        let body: Cow<'a, str> = if body.contains('\t') {
            Cow::Owned(body.replace('\t', " "))
        } else {
            Cow::Borrowed(body)
        };
        let text: Cow<'a, str> = match entry.delivery {
            Delivery::Delivered => body,
            Delivery::Pending => Cow::Owned(format!("{body} (sending…)")),
            Delivery::Refused => Cow::Owned(format!("{body} (refused by the server)")),
        };
        let time = clock_time(message.timestamp);
        let name = message.user.as_str();
        // "HH:MM name: " or "HH:MM * name ".
        let prefix_width = time.len() + 1 + display_width(name) + 2;
        let indent = if prefix_width <= width / 3 {
            prefix_width
        } else {
            2
        };
        let rows = wrap(
            &text,
            width.saturating_sub(prefix_width),
            width.saturating_sub(indent),
        );
        entry.cache_rows(width, rows.len());
        MessageRows {
            time,
            name,
            is_action,
            text,
            indent,
            rows,
        }
    }
}

/// Rows a message takes at a pane width: remembered from the last layout
/// at that width, or laid out now (and remembered).
pub fn message_height(entry: &Entry, width: usize) -> usize {
    entry.cached_rows(width).unwrap_or_else(|| {
        let rows = MessageRows::of(entry, width).rows.len();
        entry.cache_rows(width, rows);
        rows
    })
}

/// Rows taken by the newest messages of `timeline`, counting from the
/// newest until `limit` rows are reached (so the cost is bounded by what
/// could be shown, not by the room's size).
pub fn rows_from_bottom(timeline: &Timeline, width: usize, limit: usize) -> usize {
    let mut total = 0;
    for entry in timeline.entries().iter().rev() {
        total += message_height(entry, width);
        if total >= limit {
            break;
        }
    }
    total
}
