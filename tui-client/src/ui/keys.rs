//! Key bindings: which key chord does what, with defaults that the config
//! file's `[chat.keys]` table can replace per action.

use std::collections::HashMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a bound key does. Plain typing, the arrows, Backspace and Delete
/// are not rebindable: they edit the input line as everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAction {
    Send,
    NextRoom,
    PrevRoom,
    ScrollUp,
    ScrollDown,
    ScrollToBottom,
    HistoryPrev,
    HistoryNext,
    LineStart,
    LineEnd,
    WordLeft,
    WordRight,
    DeleteWordBack,
    DeleteToStart,
    DeleteToEnd,
    Help,
    Quit,
}

impl KeyAction {
    /// Every action with its config name and help text, in help order.
    pub const ALL: [(KeyAction, &'static str, &'static str); 17] = [
        (KeyAction::Send, "send", "send the message or command"),
        (KeyAction::NextRoom, "next_room", "next room"),
        (KeyAction::PrevRoom, "prev_room", "previous room"),
        (
            KeyAction::ScrollUp,
            "scroll_up",
            "scroll back (loads older history)",
        ),
        (KeyAction::ScrollDown, "scroll_down", "scroll forward"),
        (
            KeyAction::ScrollToBottom,
            "scroll_bottom",
            "jump to the newest message",
        ),
        (KeyAction::HistoryPrev, "history_prev", "previous sent line"),
        (KeyAction::HistoryNext, "history_next", "next sent line"),
        (
            KeyAction::LineStart,
            "line_start",
            "cursor to start of line",
        ),
        (KeyAction::LineEnd, "line_end", "cursor to end of line"),
        (KeyAction::WordLeft, "word_left", "cursor one word left"),
        (KeyAction::WordRight, "word_right", "cursor one word right"),
        (
            KeyAction::DeleteWordBack,
            "delete_word",
            "delete the word before the cursor",
        ),
        (
            KeyAction::DeleteToStart,
            "delete_to_start",
            "delete to start of line",
        ),
        (
            KeyAction::DeleteToEnd,
            "delete_to_end",
            "delete to end of line",
        ),
        (KeyAction::Help, "help", "show or hide this help"),
        (KeyAction::Quit, "quit", "quit"),
    ];

    fn named(name: &str) -> Option<KeyAction> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(a, _, _)| *a)
    }
}

/// A key with its modifiers, as written in the config file: `ctrl-n`,
/// `alt-b`, `pageup`, `f1`, `shift-tab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

/// Why a key binding in the config file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyBindingError {
    #[error("unknown key action '{0}' in [chat.keys]; known: {known}", known = known_actions())]
    UnknownAction(String),
    #[error("'{0}' is not a key; write keys like ctrl-n, alt-b, pageup, f1, tab")]
    UnknownKey(String),
}

fn known_actions() -> String {
    KeyAction::ALL
        .iter()
        .map(|(_, n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl KeyChord {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> KeyChord {
        KeyChord { code, modifiers }
    }

    /// The chord of a key event. Shift is dropped for characters, whose case
    /// already says it, so `?` matches whether or not the terminal reports
    /// Shift.
    pub fn of(event: &KeyEvent) -> KeyChord {
        let mut modifiers =
            event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(event.code, KeyCode::Char(_)) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        if event.code == KeyCode::BackTab {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        KeyChord::new(event.code, modifiers)
    }

    pub fn parse(text: &str) -> Result<KeyChord, KeyBindingError> {
        let bad = || KeyBindingError::UnknownKey(text.to_owned());
        let lower = text.trim().to_ascii_lowercase();
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = lower.as_str();
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-") {
                modifiers |= KeyModifiers::SHIFT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "esc" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            "space" => KeyCode::Char(' '),
            f if f.starts_with('f') && f.len() > 1 => {
                KeyCode::F(f[1..].parse().map_err(|_| bad())?)
            }
            c if c.chars().count() == 1 => {
                // Only reached with exactly one character.
                KeyCode::Char(c.chars().next().ok_or_else(bad)?)
            }
            _ => return Err(bad()),
        };
        Ok(KeyChord::new(code, modifiers))
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The key map in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBindings {
    map: HashMap<KeyChord, KeyAction>,
}

impl Default for KeyBindings {
    fn default() -> Self {
        use KeyCode as K;
        use KeyModifiers as M;
        let defaults: &[(KeyAction, &[(KeyCode, KeyModifiers)])] = &[
            (KeyAction::Send, &[(K::Enter, M::NONE)]),
            (
                KeyAction::NextRoom,
                &[(K::Tab, M::NONE), (K::Char('n'), M::CONTROL)],
            ),
            (
                KeyAction::PrevRoom,
                &[(K::BackTab, M::NONE), (K::Char('p'), M::CONTROL)],
            ),
            (KeyAction::ScrollUp, &[(K::PageUp, M::NONE)]),
            (KeyAction::ScrollDown, &[(K::PageDown, M::NONE)]),
            (KeyAction::ScrollToBottom, &[(K::End, M::CONTROL)]),
            (KeyAction::HistoryPrev, &[(K::Up, M::NONE)]),
            (KeyAction::HistoryNext, &[(K::Down, M::NONE)]),
            (
                KeyAction::LineStart,
                &[(K::Home, M::NONE), (K::Char('a'), M::CONTROL)],
            ),
            (
                KeyAction::LineEnd,
                &[(K::End, M::NONE), (K::Char('e'), M::CONTROL)],
            ),
            (
                KeyAction::WordLeft,
                &[
                    (K::Left, M::CONTROL),
                    (K::Left, M::ALT),
                    (K::Char('b'), M::ALT),
                ],
            ),
            (
                KeyAction::WordRight,
                &[
                    (K::Right, M::CONTROL),
                    (K::Right, M::ALT),
                    (K::Char('f'), M::ALT),
                ],
            ),
            (
                KeyAction::DeleteWordBack,
                &[(K::Char('w'), M::CONTROL), (K::Backspace, M::ALT)],
            ),
            (KeyAction::DeleteToStart, &[(K::Char('u'), M::CONTROL)]),
            (KeyAction::DeleteToEnd, &[(K::Char('k'), M::CONTROL)]),
            (KeyAction::Help, &[(K::F(1), M::NONE)]),
            (
                KeyAction::Quit,
                &[(K::Char('c'), M::CONTROL), (K::Char('q'), M::CONTROL)],
            ),
        ];
        let mut map = HashMap::new();
        for (action, chords) in defaults {
            for (code, modifiers) in *chords {
                map.insert(KeyChord::new(*code, *modifiers), *action);
            }
        }
        KeyBindings { map }
    }
}

impl KeyBindings {
    /// The defaults with the config file's table applied: each named action
    /// gets exactly the keys listed for it.
    pub fn with_overrides(
        overrides: &HashMap<String, Vec<String>>,
    ) -> Result<KeyBindings, KeyBindingError> {
        let mut bindings = KeyBindings::default();
        for (name, keys) in overrides {
            let action = KeyAction::named(name)
                .ok_or_else(|| KeyBindingError::UnknownAction(name.clone()))?;
            bindings.map.retain(|_, a| *a != action);
            for key in keys {
                bindings.map.insert(KeyChord::parse(key)?, action);
            }
        }
        Ok(bindings)
    }

    pub fn action_for(&self, event: &KeyEvent) -> Option<KeyAction> {
        self.map.get(&KeyChord::of(event)).copied()
    }

    /// The keys bound to `action`, in a stable order, for the help overlay.
    pub fn keys_for(&self, action: KeyAction) -> Vec<String> {
        let mut keys: Vec<String> = self
            .map
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| k.to_string())
            .collect();
        keys.sort();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chords_as_written_in_the_config_file() {
        assert_eq!(
            KeyChord::parse("ctrl-n").unwrap(),
            KeyChord::new(KeyCode::Char('n'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            KeyChord::parse("Shift-Tab").unwrap(),
            KeyChord::new(KeyCode::BackTab, KeyModifiers::NONE)
        );
        assert_eq!(
            KeyChord::parse("f1").unwrap(),
            KeyChord::new(KeyCode::F(1), KeyModifiers::NONE)
        );
        assert!(KeyChord::parse("hyper-x").is_err());
    }

    #[test]
    fn overrides_replace_the_keys_of_one_action() {
        let overrides = HashMap::from([("next_room".to_owned(), vec!["ctrl-j".to_owned()])]);
        let keys = KeyBindings::with_overrides(&overrides).unwrap();
        let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
        let ctrl_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL);
        assert_eq!(keys.action_for(&tab), None);
        assert_eq!(keys.action_for(&ctrl_j), Some(KeyAction::NextRoom));
        let unknown = HashMap::from([("fly".to_owned(), vec![])]);
        assert!(KeyBindings::with_overrides(&unknown).is_err());
    }
}
