//! The chat's own settings from the `[chat]` table of the config file:
//! the bell, colours and key bindings.
//!
//! ```toml
//! [chat]
//! bell_on_mention = true
//! [chat.colors]
//! own = "lightgreen"
//! mention = "yellow"
//! [chat.keys]
//! next_room = ["tab", "ctrl-n"]
//! ```

use std::collections::HashMap;

use ratatui::style::Color;
use serde::Deserialize;

use super::keys::{KeyBindingError, KeyBindings};

/// Colours of the chat's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// The user's own name and messages.
    pub own: Color,
    /// Rooms with a mention, and the mention mark.
    pub mention: Color,
    /// Unread counts.
    pub unread: Color,
    /// Timestamps and other quiet text.
    pub muted: Color,
    /// Status bar background.
    pub status_bg: Color,
    /// Errors and refusals.
    pub error: Color,
    /// Palette names of other users are chosen from, by a stable hash.
    pub names: Vec<Color>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            own: Color::LightGreen,
            mention: Color::Yellow,
            unread: Color::Cyan,
            muted: Color::DarkGray,
            status_bg: Color::Blue,
            error: Color::LightRed,
            names: vec![
                Color::Red,
                Color::Green,
                Color::Yellow,
                Color::Blue,
                Color::Magenta,
                Color::Cyan,
                Color::LightRed,
                Color::LightYellow,
                Color::LightBlue,
                Color::LightMagenta,
                Color::LightCyan,
            ],
        }
    }
}

impl Theme {
    /// A user's colour: the same on every run and every machine, since it
    /// is a fixed hash (FNV-1a) of the name and not Rust's seeded hasher.
    pub fn name_color(&self, user: &str) -> Color {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in user.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        let palette = if self.names.is_empty() {
            &Theme::default().names
        } else {
            &self.names
        };
        palette[hash as usize % palette.len()]
    }
}

/// Everything the chat reads from `[chat]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// Ring the terminal bell when someone mentions the user.
    pub bell_on_mention: bool,
    pub theme: Theme,
    pub keys: KeyBindings,
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings {
            bell_on_mention: true,
            theme: Theme::default(),
            keys: KeyBindings::default(),
        }
    }
}

/// Why the `[chat]` table cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("[chat] in the config file is not valid: {0}")]
    Parse(String),
    #[error(
        "[chat.colors] {name} = {value:?} is not a colour; use a name like \"yellow\" or \"#ffcc00\""
    )]
    BadColor { name: String, value: String },
    #[error(transparent)]
    Keys(#[from] KeyBindingError),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatTable {
    bell_on_mention: Option<bool>,
    #[serde(default)]
    colors: HashMap<String, String>,
    #[serde(default)]
    keys: HashMap<String, Vec<String>>,
}

impl ChatSettings {
    /// Reads the `[chat]` table out of a whole config file's text; a file
    /// without one gives the defaults.
    pub fn from_config_text(text: &str) -> Result<ChatSettings, SettingsError> {
        let document: toml::Table =
            toml::from_str(text).map_err(|e| SettingsError::Parse(e.to_string()))?;
        let Some(chat) = document.get("chat") else {
            return Ok(ChatSettings::default());
        };
        let table: ChatTable = chat
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError::Parse(e.to_string()))?;
        let mut settings = ChatSettings::default();
        if let Some(bell) = table.bell_on_mention {
            settings.bell_on_mention = bell;
        }
        for (name, value) in &table.colors {
            let color: Color = value.parse().map_err(|_| SettingsError::BadColor {
                name: name.clone(),
                value: value.clone(),
            })?;
            let slot = match name.as_str() {
                "own" => &mut settings.theme.own,
                "mention" => &mut settings.theme.mention,
                "unread" => &mut settings.theme.unread,
                "muted" => &mut settings.theme.muted,
                "status_bg" => &mut settings.theme.status_bg,
                "error" => &mut settings.theme.error,
                _ => {
                    return Err(SettingsError::Parse(format!(
                        "unknown colour '{name}'; known: own, mention, unread, muted, status_bg, error"
                    )));
                }
            };
            *slot = color;
        }
        settings.keys = KeyBindings::with_overrides(&table.keys)?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_colours_are_stable_and_spread() {
        let theme = Theme::default();
        assert_eq!(theme.name_color("alice"), theme.name_color("alice"));
        let distinct: std::collections::HashSet<_> = ["alice", "bob", "charlie", "dave", "eve"]
            .iter()
            .map(|u| format!("{:?}", theme.name_color(u)))
            .collect();
        assert!(distinct.len() >= 3, "{distinct:?}");
    }

    #[test]
    fn reads_the_chat_table_and_ignores_the_rest_of_the_file() {
        let settings = ChatSettings::from_config_text(
            "issuer = \"x\"\n[chat]\nbell_on_mention = false\n[chat.colors]\nown = \"magenta\"\n",
        )
        .unwrap();
        assert!(!settings.bell_on_mention);
        assert_eq!(settings.theme.own, Color::Magenta);
        assert!(ChatSettings::from_config_text("[chat.colors]\nown = \"nope\"\n").is_err());
        assert_eq!(
            ChatSettings::from_config_text("").unwrap(),
            ChatSettings::default()
        );
    }
}
