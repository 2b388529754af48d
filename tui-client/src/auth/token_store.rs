//! Where tokens are kept between runs: the desktop's Secret Service (GNOME
//! Keyring, KeePassXC, ...) through keyring-core, or, only when someone opts
//! in, a 0600 file under the XDG state directory.
//!
//! Every call here blocks (the Secret Service is spoken to over D-Bus with a
//! runtime of its own); async callers run it on a blocking thread.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};

use super::tokens::TokenSet;

/// Keyring service names start with this, so natschat's entries are easy to
/// find in a keyring browser.
const SERVICE_PREFIX: &str = "natschat";

/// What went wrong keeping tokens.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no Secret Service (desktop keyring) is available to keep your tokens safe: {reason}. \
             Start one (GNOME Keyring, KeePassXC) in this session, or pass --insecure-file-store \
             (or set `insecure_file_store = true` in the config file) to keep them in an \
             unencrypted 0600 file under {state_dir}"
    )]
    NoSecretService { reason: String, state_dir: PathBuf },

    #[error("the Secret Service failed: {0}")]
    SecretService(String),

    #[error("the login was stored in the {wanted} but that store is not usable now: {reason}")]
    StoreGone { wanted: StoreKind, reason: String },

    // The cause is part of the message and deliberately not an error
    // source: a printed error chain would repeat it.
    #[error("cannot {action} {path}: {cause}")]
    File {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error(
        "{path} can be read by other users (mode {mode:04o}), so natschat will not use the tokens in it; run `chmod {fix:o} {path}`, and since others may have copied the tokens, `natschat-tui logout` to revoke them and log in again"
    )]
    Exposed {
        path: PathBuf,
        mode: u32,
        /// The mode to set.
        fix: u32,
    },

    #[error(
        "the login record {path} is corrupt, so natschat cannot tell who is logged in; run `natschat-tui logout` to remove it, then log in again"
    )]
    CorruptLogin { path: PathBuf },

    #[error(
        "the stored tokens in the {0} cannot be read; run `natschat-tui logout` and log in again"
    )]
    Unreadable(StoreKind),
}

/// Which kind of store holds the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    SecretService,
    File,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreKind::SecretService => "Secret Service (desktop keyring)",
            StoreKind::File => "insecure file store",
        })
    }
}

/// Names one stored token set: one per issuer, client and user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenKey {
    pub issuer: String,
    pub client_id: String,
    pub username: String,
}

impl TokenKey {
    fn service(&self) -> String {
        format!("{SERVICE_PREFIX} {} {}", self.issuer, self.client_id)
    }

    /// A file name that is unique per key and safe on any file system.
    fn file_name(&self) -> String {
        let key = format!("{}\n{}\n{}", self.issuer, self.client_id, self.username);
        format!("{}.json", URL_SAFE_NO_PAD.encode(key))
    }
}

/// Who is logged in under a profile and where their tokens are. Not secret;
/// kept so `whoami` and the chat know which entry to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLogin {
    pub key: TokenKey,
    pub store: StoreKind,
}

/// A place for tokens.
#[derive(Clone)]
pub struct TokenStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    SecretService(Arc<CredentialStore>),
    File { dir: PathBuf },
}

impl TokenStore {
    /// The Secret Service on the session bus, if one answers.
    pub fn secret_service() -> Result<TokenStore, String> {
        let store: Arc<CredentialStore> =
            zbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
        Ok(TokenStore {
            backend: Backend::SecretService(store),
        })
    }

    /// Plain files (0600) in `dir/tokens`, for machines without a Secret
    /// Service whose owner accepted that.
    pub fn file(state_dir: &Path) -> TokenStore {
        TokenStore {
            backend: Backend::File {
                dir: state_dir.join("tokens"),
            },
        }
    }

    /// The store for a new login: the Secret Service when one answers, the
    /// file store only if `file_allowed`, otherwise an error that says how
    /// to proceed.
    pub fn choose(state_dir: &Path, file_allowed: bool) -> Result<TokenStore, StoreError> {
        match TokenStore::secret_service() {
            Ok(store) => Ok(store),
            Err(reason) if file_allowed => {
                tracing::info!(%reason, "no Secret Service; keeping tokens in a file as configured");
                Ok(TokenStore::file(state_dir))
            }
            Err(reason) => Err(StoreError::NoSecretService {
                reason,
                state_dir: state_dir.to_owned(),
            }),
        }
    }

    /// The store an earlier login used.
    pub fn reopen(state_dir: &Path, kind: StoreKind) -> Result<TokenStore, StoreError> {
        match kind {
            StoreKind::File => Ok(TokenStore::file(state_dir)),
            StoreKind::SecretService => {
                TokenStore::secret_service().map_err(|reason| StoreError::StoreGone {
                    wanted: kind,
                    reason,
                })
            }
        }
    }

    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::SecretService(_) => StoreKind::SecretService,
            Backend::File { .. } => StoreKind::File,
        }
    }

    /// The store in words, for `whoami` and `login`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::SecretService(_) => StoreKind::SecretService.to_string(),
            Backend::File { dir } => format!(
                "{} ({}, readable by your user only, not encrypted)",
                StoreKind::File,
                dir.display()
            ),
        }
    }

    pub fn save(&self, key: &TokenKey, tokens: &TokenSet) -> Result<(), StoreError> {
        let json = serde_json::to_vec(tokens).map_err(|_| StoreError::Unreadable(self.kind()))?;
        match &self.backend {
            Backend::SecretService(store) => entry(store, key)?
                .set_secret(&json)
                .map_err(|e| StoreError::SecretService(e.to_string())),
            Backend::File { dir } => write_private(dir, &dir.join(key.file_name()), &json),
        }
    }

    /// The tokens stored for `key`, if any. File store entries that other
    /// users can read are refused, as ssh refuses such keys.
    pub fn load(&self, key: &TokenKey) -> Result<Option<TokenSet>, StoreError> {
        self.read(key, Privacy::Required)
    }

    /// Like [`TokenStore::load`], but also reads tokens that others could
    /// read too: to revoke them at logout, which is the remedy for that.
    pub fn load_to_revoke(&self, key: &TokenKey) -> Result<Option<TokenSet>, StoreError> {
        self.read(key, Privacy::NotRequired)
    }

    fn read(&self, key: &TokenKey, privacy: Privacy) -> Result<Option<TokenSet>, StoreError> {
        let bytes = match &self.backend {
            Backend::SecretService(store) => match entry(store, key)?.get_secret() {
                Ok(bytes) => bytes,
                Err(keyring_core::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(StoreError::SecretService(e.to_string())),
            },
            Backend::File { dir } => {
                let path = dir.join(key.file_name());
                let file = match fs::File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(cause) => {
                        return Err(StoreError::File {
                            action: "read",
                            path,
                            cause,
                        });
                    }
                };
                if privacy == Privacy::Required {
                    check_private(dir, 0o700, fs::metadata(dir))?;
                    check_private(&path, 0o600, file.metadata())?;
                }
                read_all(file, &path)?
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| StoreError::Unreadable(self.kind()))
    }

    /// Removes the tokens; `false` when there were none.
    pub fn delete(&self, key: &TokenKey) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::SecretService(store) => match entry(store, key)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(StoreError::SecretService(e.to_string())),
            },
            Backend::File { dir } => remove_if_present(&dir.join(key.file_name())),
        }
    }

    /// Path of the file holding `key`'s tokens, for the file store.
    pub fn file_path(&self, key: &TokenKey) -> Option<PathBuf> {
        match &self.backend {
            Backend::SecretService(_) => None,
            Backend::File { dir } => Some(dir.join(key.file_name())),
        }
    }
}

/// Whether reading tokens requires that nobody else can read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Privacy {
    Required,
    NotRequired,
}

/// Refuses `path` when its group or others have any access to it; `fix`
/// is the mode to suggest.
fn check_private(
    path: &Path,
    fix: u32,
    metadata: std::io::Result<fs::Metadata>,
) -> Result<(), StoreError> {
    let metadata = metadata.map_err(|cause| StoreError::File {
        action: "check the permissions of",
        path: path.to_owned(),
        cause,
    })?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Exposed {
            path: path.to_owned(),
            mode,
            fix,
        });
    }
    Ok(())
}

fn read_all(mut file: fs::File, path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|cause| StoreError::File {
        action: "read",
        path: path.to_owned(),
        cause,
    })?;
    Ok(bytes)
}

fn entry(store: &Arc<CredentialStore>, key: &TokenKey) -> Result<Entry, StoreError> {
    Entry::new_in_store(store, &key.service(), &key.username)
        .map_err(|e| StoreError::SecretService(e.to_string()))
}

impl StoredLogin {
    fn path(state_dir: &Path, profile: &str) -> PathBuf {
        state_dir.join("logins").join(format!("{profile}.json"))
    }

    /// Who is logged in under `profile`, if anyone.
    pub fn load(state_dir: &Path, profile: &str) -> Result<Option<StoredLogin>, StoreError> {
        let path = StoredLogin::path(state_dir, profile);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::CorruptLogin { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(cause) => Err(StoreError::File {
                action: "read",
                path,
                cause,
            }),
        }
    }

    pub fn save(&self, state_dir: &Path, profile: &str) -> Result<(), StoreError> {
        let dir = state_dir.join("logins");
        let json =
            serde_json::to_vec_pretty(self).map_err(|_| StoreError::Unreadable(self.store))?;
        write_private(&dir, &StoredLogin::path(state_dir, profile), &json)
    }

    pub fn forget(state_dir: &Path, profile: &str) -> Result<bool, StoreError> {
        remove_if_present(&StoredLogin::path(state_dir, profile))
    }
}

/// Writes `bytes` to `path` so that only the owner can read it at any
/// moment: a 0700 directory, a 0600 temporary file renamed into place.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |action, cause| StoreError::File {
        action,
        path: path.to_owned(),
        cause,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io("create the folder for", e))?;
    // The mode above applies only to a new folder; one made more open since
    // is closed again, since it is about to hold secrets.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| io("protect the folder of", e))?;
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| io("write", e))?;
    // The mode above applies only to new files; a leftover temporary file
    // from an older run keeps its bits unless they are set again.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| io("protect", e))?;
    file.write_all(bytes).map_err(|e| io("write", e))?;
    file.sync_all().map_err(|e| io("write", e))?;
    fs::rename(&temporary, path).map_err(|e| io("write", e))
}

fn remove_if_present(path: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(cause) => Err(StoreError::File {
            action: "remove",
            path: path.to_owned(),
            cause,
        }),
    }
}
