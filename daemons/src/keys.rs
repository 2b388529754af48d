//! The callout's keys: the account signing nkey (issuer of user JWTs) and the
//! curve xkey that seals callout requests and responses.
//!
//! Seeds live in files with mode 0600 so that systemd `LoadCredential=` or a
//! container secret can hand them over; they never travel in flags or logs.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nkeys::{KeyPair, XKey};

/// File name of the account signing seed inside a key folder.
pub const ISSUER_SEED_FILE: &str = "issuer.nk";
/// File name of the curve seed inside a key folder.
pub const XKEY_SEED_FILE: &str = "xkey.xk";

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the seed file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the seed file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} does not hold a valid {kind} seed ({reason}); make new keys with `natschatd keygen`"
    )]
    Invalid {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
}

/// The two key pairs the auth callout needs.
pub struct CalloutKeys {
    /// Account signing key: issues user JWTs and signs responses.
    pub issuer: KeyPair,
    /// Curve key: opens requests sealed to it and seals responses.
    pub xkey: XKey,
}

impl CalloutKeys {
    /// Loads both seeds, refusing files that others can read.
    pub fn load(issuer_path: &Path, xkey_path: &Path) -> Result<Self, KeyError> {
        let issuer_seed = read_seed(issuer_path)?;
        let issuer = KeyPair::from_seed(&issuer_seed).map_err(|e| KeyError::Invalid {
            path: issuer_path.to_owned(),
            kind: "account nkey",
            reason: e.to_string(),
        })?;
        if !issuer.public_key().starts_with('A') {
            return Err(KeyError::Invalid {
                path: issuer_path.to_owned(),
                kind: "account nkey",
                reason: "it is not an account key (public key must start with 'A')".into(),
            });
        }
        let xkey_seed = read_seed(xkey_path)?;
        let xkey = XKey::from_seed(&xkey_seed).map_err(|e| KeyError::Invalid {
            path: xkey_path.to_owned(),
            kind: "curve xkey",
            reason: e.to_string(),
        })?;
        Ok(CalloutKeys { issuer, xkey })
    }
}

fn read_seed(path: &Path) -> Result<String, KeyError> {
    let meta = fs::metadata(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim().to_owned())
}

/// Public halves of the generated keys, for the nats-server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeys {
    pub issuer: String,
    pub xkey: String,
}

/// Makes the issuer and xkey seeds in `dir`, unless they already exist (then
/// they are kept, so running it twice never locks out a running server).
pub fn generate(dir: &Path, overwrite: bool) -> Result<PublicKeys, KeyError> {
    fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let issuer_path = dir.join(ISSUER_SEED_FILE);
    let xkey_path = dir.join(XKEY_SEED_FILE);
    if overwrite || !issuer_path.exists() {
        let issuer = KeyPair::new_account();
        let seed = issuer.seed().map_err(|e| KeyError::Invalid {
            path: issuer_path.clone(),
            kind: "account nkey",
            reason: e.to_string(),
        })?;
        write_secret(&issuer_path, &seed)?;
    }
    if overwrite || !xkey_path.exists() {
        let xkey = XKey::new();
        let seed = xkey.seed().map_err(|e| KeyError::Invalid {
            path: xkey_path.clone(),
            kind: "curve xkey",
            reason: e.to_string(),
        })?;
        write_secret(&xkey_path, &seed)?;
    }
    let keys = CalloutKeys::load(&issuer_path, &xkey_path)?;
    Ok(PublicKeys {
        issuer: keys.issuer.public_key(),
        xkey: keys.xkey.public_key(),
    })
}

fn write_secret(path: &Path, seed: &str) -> Result<(), KeyError> {
    let write_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    // Written to a temporary file created with mode 0600 and renamed, so the
    // seed is never readable by others, not even for an instant.
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(write_err)?;
    file.write_all(seed.as_bytes()).map_err(write_err)?;
    file.write_all(b"\n").map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    fs::rename(&tmp, path).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("natschat-keys-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generated_seeds_load_and_round_trip() {
        let dir = temp_dir("roundtrip");
        let public = generate(&dir, false).unwrap();
        assert!(public.issuer.starts_with('A'));
        assert!(public.xkey.starts_with('X'));

        let keys =
            CalloutKeys::load(&dir.join(ISSUER_SEED_FILE), &dir.join(XKEY_SEED_FILE)).unwrap();
        assert_eq!(keys.issuer.public_key(), public.issuer);
        assert_eq!(keys.xkey.public_key(), public.xkey);

        let signature = keys.issuer.sign(b"payload").unwrap();
        KeyPair::from_public_key(&public.issuer)
            .unwrap()
            .verify(b"payload", &signature)
            .unwrap();

        let peer = XKey::new();
        let sealed = keys
            .xkey
            .seal(
                b"secret",
                &XKey::from_public_key(&peer.public_key()).unwrap(),
            )
            .unwrap();
        let opened = peer
            .open(&sealed, &XKey::from_public_key(&public.xkey).unwrap())
            .unwrap();
        assert_eq!(opened, b"secret");

        for file in [ISSUER_SEED_FILE, XKEY_SEED_FILE] {
            let mode = fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn second_run_keeps_existing_keys() {
        let dir = temp_dir("keep");
        let first = generate(&dir, false).unwrap();
        assert_eq!(generate(&dir, false).unwrap(), first);
        assert_ne!(generate(&dir, true).unwrap(), first);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_seed_readable_by_others_and_wrong_kind() {
        let dir = temp_dir("refuse");
        generate(&dir, false).unwrap();
        let issuer = dir.join(ISSUER_SEED_FILE);
        fs::set_permissions(&issuer, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            CalloutKeys::load(&issuer, &dir.join(XKEY_SEED_FILE)),
            Err(KeyError::TooOpen { .. })
        ));
        // A user seed where an account seed belongs.
        write_secret(&issuer, &KeyPair::new_user().seed().unwrap()).unwrap();
        fs::set_permissions(&issuer, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            CalloutKeys::load(&issuer, &dir.join(XKEY_SEED_FILE)),
            Err(KeyError::Invalid { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
