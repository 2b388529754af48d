//! The rooms a user has joined, kept between runs in the config folder
//! (`<config dir>/natschat/rooms/<user>.toml`).

use std::path::{Path, PathBuf};

use natschat_proto::RoomName;
use serde::{Deserialize, Serialize};

/// What went wrong reading or writing the room list.
#[derive(Debug, thiserror::Error)]
pub enum RoomsFileError {
    #[error("cannot {action} the room list {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the room list {path} is not valid ({reason}); fix or delete it")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct RoomsFile {
    rooms: Vec<RoomName>,
}

/// The file holding `user`'s rooms under the config folder `config_dir`
/// (the folder of `config.toml`).
pub fn path_for(config_dir: &Path, user: &str) -> PathBuf {
    // The inbox token encoding keeps any user name a single safe file name.
    let token = natschat_proto::subject::inbox_prefix(user);
    let token = token.trim_start_matches("_INBOX.");
    config_dir.join("rooms").join(format!("{token}.toml"))
}

/// The saved rooms, or an empty list when none were saved.
pub fn load(path: &Path) -> Result<Vec<RoomName>, RoomsFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RoomsFileError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: RoomsFile = toml::from_str(&text).map_err(|e| RoomsFileError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(file.rooms)
}

pub fn save(path: &Path, rooms: &[RoomName]) -> Result<(), RoomsFileError> {
    let io = |action, source| RoomsFileError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
    }
    let text = toml::to_string(&RoomsFile {
        rooms: rooms.to_vec(),
    })
    .map_err(|e| RoomsFileError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| io("write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_lists_round_trip_per_user() {
        let dir = std::env::temp_dir().join(format!("natschat-rooms-{}", std::process::id()));
        let alice = path_for(&dir, "alice");
        assert_ne!(alice, path_for(&dir, "bob"));
        assert_eq!(load(&alice).unwrap(), Vec::<RoomName>::new());
        let rooms: Vec<RoomName> = vec!["general".parse().unwrap(), RoomName::admin()];
        save(&alice, &rooms).unwrap();
        assert_eq!(load(&alice).unwrap(), rooms);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
