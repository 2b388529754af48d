//! One room's messages in server order, merged from live delivery and
//! history pages without losing, duplicating or reordering any.
//!
//! History carries stream sequences; live messages (plain NATS delivery)
//! do not. A live message is placed after the newest sequence known when it
//! arrived and keeps its arrival order; once a history page names its
//! sequence it moves to that place.

use std::cell::Cell;
use std::collections::HashMap;

use natschat_proto::{ChatMessage, StoredMessage};

/// Where a message sorts: `(sequence, 0)` for messages whose stream
/// sequence is known, `(newest sequence when it arrived, arrival number)`
/// for the rest.
pub type OrderKey = (u64, u64);

/// Whether a message of this user's own has reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Someone else's message, or an own message seen back from the server.
    Delivered,
    /// Typed here and not yet seen back from the server.
    Pending,
    /// The server refused it (for instance a permissions violation).
    Refused,
}

/// The bits of [`Entry`]'s remembered layout that hold the row count.
const ROWS_MASK: u32 = (1 << 14) - 1;

/// A message as the room shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub message: ChatMessage,
    pub seq: Option<u64>,
    pub delivery: Delivery,
    order: OrderKey,
    /// How many rows the message took when last laid out, packed with the
    /// pane width and delivery it was laid out for (0: never). Lets
    /// scrolling count rows without wrapping text again.
    rows_at: Cell<u32>,
}

/// Entries are equal when they show the same thing; the remembered
/// layout does not count.
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (&self.message, self.seq, self.delivery, self.order)
            == (&other.message, other.seq, other.delivery, other.order)
    }
}

impl Eq for Entry {}

impl Entry {
    fn new(message: ChatMessage, seq: Option<u64>, delivery: Delivery, order: OrderKey) -> Entry {
        Entry {
            message,
            seq,
            delivery,
            order,
            rows_at: Cell::new(0),
        }
    }

    pub fn order(&self) -> OrderKey {
        self.order
    }

    /// Width in the top 16 bits, delivery in the next 2, rows in the low
    /// 14 (a message of more rows is laid out each time). Fits in padding
    /// beside `delivery`, so remembering costs no memory.
    fn rows_key(&self, width: usize) -> Option<u32> {
        let width = u16::try_from(width).ok().filter(|w| *w > 0)?;
        Some((u32::from(width) << 16) | ((self.delivery as u32) << 14))
    }

    /// The rows remembered for this pane width, if laid out at it before
    /// (and not changed since).
    pub fn cached_rows(&self, width: usize) -> Option<usize> {
        let key = self.rows_key(width)?;
        let packed = self.rows_at.get();
        (packed & !ROWS_MASK == key).then_some((packed & ROWS_MASK) as usize)
    }

    /// Remembers the rows the message takes at this pane width.
    pub fn cache_rows(&self, width: usize, rows: usize) {
        if let Some(key) = self.rows_key(width)
            && let Ok(rows) = u32::try_from(rows)
            && rows <= ROWS_MASK
        {
            self.rows_at.set(key | rows);
        }
    }
}

/// What identifies a message across live delivery and history: its `id`,
/// or (user, timestamp, text) for clients that send none. The room is
/// implied by the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    Id(String),
    Content(String, i64, String),
}

impl Identity {
    fn of(message: &ChatMessage) -> Identity {
        match &message.id {
            Some(id) => Identity::Id(id.clone()),
            None => Identity::Content(
                message.user.clone(),
                message.timestamp,
                message.text.clone(),
            ),
        }
    }
}

/// What adding a live message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A message not seen before.
    New,
    /// An own pending message came back from the server.
    Confirmed,
    /// Already shown; nothing changed.
    Duplicate,
}

/// The messages of one room, oldest first.
#[derive(Debug, Default)]
pub struct Timeline {
    entries: Vec<Entry>,
    by_identity: HashMap<Identity, OrderKey>,
    /// Counts live arrivals, to keep their order among themselves.
    arrivals: u64,
    /// The largest sequence merged so far (0 before any).
    newest: u64,
    /// Whether the server holds messages older than the oldest shown.
    pub has_older: bool,
    /// Whether the latest page has been merged at least once.
    pub loaded: bool,
}

impl Timeline {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sequence of the oldest message with one, for paging backwards.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.entries.iter().find_map(|e| e.seq)
    }

    /// The sequence of the newest message with one, for filling a gap.
    pub fn newest_seq(&self) -> Option<u64> {
        (self.newest > 0).then_some(self.newest)
    }

    fn position(&self, order: OrderKey) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&order, |e| e.order)
    }

    /// Adds a message delivered live (no sequence), or typed here
    /// (`delivery` = pending).
    pub fn add_live(&mut self, message: ChatMessage, delivery: Delivery) -> Added {
        let identity = Identity::of(&message);
        if let Some(order) = self.by_identity.get(&identity).copied() {
            if let Ok(at) = self.position(order)
                && self.entries[at].delivery == Delivery::Pending
                && delivery == Delivery::Delivered
            {
                self.confirm_echo(at);
                return Added::Confirmed;
            }
            return Added::Duplicate;
        }
        self.arrivals += 1;
        let order = (self.newest, self.arrivals);
        self.by_identity.insert(identity, order);
        // The new key is larger than every key so far (the anchor is the
        // newest sequence and the arrival number only grows), so it goes
        // last.
        self.entries
            .push(Entry::new(message, None, delivery, order));
        Added::New
    }

    /// An own pending message came back live: its arrival on the
    /// subscription is its place in server order, so it moves after
    /// everything delivered so far. Own messages still pending stay after
    /// it, in the order they were typed.
    fn confirm_echo(&mut self, at: usize) {
        let mut echo = self.entries.remove(at);
        echo.delivery = Delivery::Delivered;
        let still_pending: Vec<Entry> = {
            let mut kept = Vec::with_capacity(self.entries.len());
            let mut pending = Vec::new();
            for entry in self.entries.drain(at..) {
                if entry.delivery == Delivery::Pending && entry.seq.is_none() {
                    pending.push(entry);
                } else {
                    kept.push(entry);
                }
            }
            self.entries.extend(kept);
            pending
        };
        for mut entry in std::iter::once(echo).chain(still_pending) {
            self.arrivals += 1;
            entry.order = (self.newest, self.arrivals);
            self.by_identity
                .insert(Identity::of(&entry.message), entry.order);
            // Keys only grow, so each goes last.
            self.entries.push(entry);
        }
    }

    /// Merges a history page (oldest first). Returns how many messages were
    /// not shown before.
    pub fn merge_page(&mut self, page: Vec<StoredMessage>) -> usize {
        self.merge_page_noting(page, |_| {})
    }

    /// Merges a history page like [`Timeline::merge_page`], handing each
    /// message not shown before to `on_new`.
    pub fn merge_page_noting(
        &mut self,
        page: Vec<StoredMessage>,
        mut on_new: impl FnMut(&ChatMessage),
    ) -> usize {
        let Some(page_newest) = page.iter().map(|m| m.seq).max() else {
            return 0;
        };
        self.newest = self.newest.max(page_newest);
        let mut added = 0;
        let mut rekeyed = false;
        // Arrival numbers of live entries that this page gave a sequence.
        let mut matched: Vec<(u64, u64)> = Vec::new();
        for stored in page {
            if self.position((stored.seq, 0)).is_ok() {
                continue;
            }
            let identity = Identity::of(&stored.message);
            if let Some(order) = self.by_identity.get(&identity).copied()
                && order.1 != 0
                && let Ok(at) = self.position(order)
            {
                let mut entry = self.entries.remove(at);
                entry.seq = Some(stored.seq);
                entry.order = (stored.seq, 0);
                if entry.delivery == Delivery::Pending {
                    entry.delivery = Delivery::Delivered;
                }
                // Moved to where its sequence sorts at once, so the binary
                // searches for the rest of the page still find every entry.
                // Both places are near the newest end, so little moves.
                let to = self.position(entry.order).unwrap_or_else(|to| to);
                self.entries.insert(to, entry);
                matched.push((order.1, stored.seq));
                self.by_identity.insert(identity, (stored.seq, 0));
                rekeyed = true;
                continue;
            }
            self.by_identity.entry(identity).or_insert((stored.seq, 0));
            on_new(&stored.message);
            let order = (stored.seq, 0);
            let at = self.position(order).unwrap_or_else(|at| at);
            self.entries.insert(
                at,
                Entry::new(stored.message, Some(stored.seq), Delivery::Delivered, order),
            );
            added += 1;
        }
        if rekeyed || self.live_anchored_below(page_newest) {
            self.reanchor_live(&matched, page_newest);
        }
        added
    }

    fn live_anchored_below(&self, seq: u64) -> bool {
        self.entries
            .iter()
            .any(|e| e.seq.is_none() && e.order.0 < seq)
    }

    /// LIMITATION: this assumes pages cover a contiguous run of the room's
    /// messages and that live delivery follows stream order, as one NATS
    /// server gives it; across a cluster two live messages may swap until
    /// a page names their sequences.
    ///
    /// Moves live entries that a page did not name to where they belong: a
    /// live entry that arrived before one the page named is older than it;
    /// one that arrived after all of them is newer than the whole page.
    fn reanchor_live(&mut self, matched: &[(u64, u64)], page_newest: u64) {
        let last_matched_arrival = matched.iter().map(|(arrival, _)| *arrival).max();
        let mut changes = Vec::new();
        for entry in self.entries.iter_mut().filter(|e| e.seq.is_none()) {
            let arrival = entry.order.1;
            let floor = match last_matched_arrival {
                Some(last) if arrival < last => matched
                    .iter()
                    .filter(|(a, _)| *a < arrival)
                    .map(|(_, seq)| *seq)
                    .max()
                    .unwrap_or(0),
                _ => page_newest,
            };
            if entry.order.0 < floor {
                let identity = Identity::of(&entry.message);
                entry.order = (floor, arrival);
                changes.push((identity, entry.order));
            }
        }
        for (identity, order) in changes {
            self.by_identity.insert(identity, order);
        }
        // Nearly sorted already: the sort's run detection makes this close
        // to linear.
        self.entries.sort_by_key(|e| e.order);
    }

    /// Marks own pending messages refused by the server.
    pub fn refuse_pending(&mut self) -> usize {
        let mut refused = 0;
        for entry in self
            .entries
            .iter_mut()
            .filter(|e| e.delivery == Delivery::Pending)
        {
            entry.delivery = Delivery::Refused;
            refused += 1;
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(user: &str, text: &str, ts: i64, id: Option<&str>) -> ChatMessage {
        ChatMessage {
            user: user.into(),
            text: text.into(),
            timestamp: ts,
            room: "general".parse().unwrap(),
            id: id.map(str::to_owned),
        }
    }

    fn stored(seq: u64, text: &str) -> StoredMessage {
        StoredMessage {
            message: msg("bob", text, seq as i64, Some(text)),
            seq,
        }
    }

    fn texts(t: &Timeline) -> Vec<&str> {
        t.entries()
            .iter()
            .map(|e| e.message.text.as_str())
            .collect()
    }

    #[test]
    fn live_duplicates_of_history_are_dropped_by_id() {
        let mut t = Timeline::default();
        t.merge_page(vec![stored(1, "a"), stored(2, "b")]);
        assert_eq!(
            t.add_live(msg("bob", "b", 2, Some("b")), Delivery::Delivered),
            Added::Duplicate
        );
        assert_eq!(texts(&t), ["a", "b"]);
    }

    #[test]
    fn messages_without_id_dedupe_by_content() {
        let mut t = Timeline::default();
        t.add_live(msg("old", "hi", 5, None), Delivery::Delivered);
        let page = vec![StoredMessage {
            message: msg("old", "hi", 5, None),
            seq: 9,
        }];
        assert_eq!(t.merge_page(page), 0);
        assert_eq!(t.len(), 1);
        assert_eq!(t.entries()[0].seq, Some(9));
    }

    #[test]
    fn overlapping_pages_add_nothing_twice() {
        let mut t = Timeline::default();
        assert_eq!(t.merge_page(vec![stored(3, "c"), stored(4, "d")]), 2);
        assert_eq!(
            t.merge_page(vec![stored(1, "a"), stored(2, "b"), stored(3, "c")]),
            2
        );
        assert_eq!(texts(&t), ["a", "b", "c", "d"]);
        assert_eq!(t.oldest_seq(), Some(1));
        assert_eq!(t.newest_seq(), Some(4));
    }

    #[test]
    fn live_messages_arriving_while_the_latest_page_loads_keep_their_place() {
        let mut t = Timeline::default();
        // e arrived live before the page; the page includes it as seq 5.
        // f arrived live too, after the page was read: it must stay last.
        t.add_live(msg("bob", "e", 5, Some("e")), Delivery::Delivered);
        t.add_live(msg("bob", "f", 6, Some("f")), Delivery::Delivered);
        t.merge_page(vec![stored(3, "c"), stored(4, "d"), stored(5, "e")]);
        assert_eq!(texts(&t), ["c", "d", "e", "f"]);
        assert_eq!(t.entries()[2].seq, Some(5));
        assert_eq!(t.entries()[3].seq, None);
    }

    #[test]
    fn live_messages_older_than_a_page_stay_before_what_came_after_them() {
        let mut t = Timeline::default();
        t.add_live(msg("bob", "x", 1, Some("x")), Delivery::Delivered);
        t.add_live(msg("bob", "e", 5, Some("e")), Delivery::Delivered);
        // The page starts after x (x is older than its first message).
        t.merge_page(vec![stored(4, "d"), stored(5, "e")]);
        let order = texts(&t);
        let x = order.iter().position(|s| *s == "x").unwrap();
        let e = order.iter().position(|s| *s == "e").unwrap();
        assert!(x < e, "{order:?}");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_gap_fill_slots_missed_messages_before_live_ones() {
        let mut t = Timeline::default();
        t.merge_page(vec![stored(1, "a"), stored(2, "b")]);
        // Disconnected; 3 and 4 were missed; 5 arrives live after reconnect.
        t.add_live(msg("bob", "e", 5, Some("e")), Delivery::Delivered);
        t.merge_page(vec![stored(3, "c"), stored(4, "d"), stored(5, "e")]);
        assert_eq!(texts(&t), ["a", "b", "c", "d", "e"]);
        assert!(t.entries().iter().all(|e| e.seq.is_some()));
    }

    #[test]
    fn a_gap_fill_naming_several_live_messages_shows_each_once() {
        let mut t = Timeline::default();
        t.merge_page((1..=5).map(|n| stored(n, &format!("m{n}"))).collect());
        for n in 6..=9 {
            let text = format!("m{n}");
            t.add_live(msg("bob", &text, n, Some(&text)), Delivery::Delivered);
        }
        t.merge_page((6..=10).map(|n| stored(n, &format!("m{n}"))).collect());
        assert_eq!(
            texts(&t),
            ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"]
        );
        assert!(t.entries().iter().all(|e| e.seq.is_some()));
    }

    #[test]
    fn own_pending_messages_are_confirmed_by_their_echo() {
        let mut t = Timeline::default();
        t.add_live(msg("me", "1", 1, Some("m1")), Delivery::Pending);
        t.add_live(msg("me", "2", 2, Some("m2")), Delivery::Pending);
        assert_eq!(
            t.add_live(msg("me", "1", 1, Some("m1")), Delivery::Delivered),
            Added::Confirmed
        );
        assert_eq!(t.entries()[0].delivery, Delivery::Delivered);
        assert_eq!(t.entries()[1].delivery, Delivery::Pending);
        assert_eq!(texts(&t), ["1", "2"]);
    }
}
