//! Sealing of callout requests and responses with xkeys (curve25519 +
//! XSalsa20-Poly1305, the "xkv1" format of nkeys and nats-server).
//!
//! `nkeys::XKey::open`/`seal` redo the curve25519 key agreement on every
//! call, which is about a third of the callout's CPU per request. The
//! agreement depends only on the pair of keys, so the box for each server
//! key is computed once and kept.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crypto_box::aead::Aead;
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use rand::RngCore;

/// Version prefix of sealed payloads.
const XKEY_VERSION_V1: &[u8] = b"xkv1";
/// Nonce length of XSalsa20.
const NONCE_LEN: usize = 24;
/// Distinct server keys remembered; a cluster has a handful, and past this
/// the cache starts over rather than grow.
const MAX_SERVERS: usize = 256;

/// Why a payload could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("the server xkey {0:?} is not a curve public key")]
    ServerKey(String),
    #[error("the callout xkey seed is not a curve seed")]
    OwnKey,
    #[error("the sealed payload is not in xkv1 format")]
    Format,
    #[error("the sealed payload does not open with our key (sealed for another callout?)")]
    Open,
    #[error("cannot seal the payload")]
    Seal,
}

/// The callout's curve key with one precomputed box per server key.
pub struct Sealing {
    secret: SecretKey,
    boxes: RwLock<HashMap<String, Arc<SalsaBox>>>,
}

impl Sealing {
    /// From the callout's xkey seed (`SX...`).
    pub fn from_seed(seed: &str) -> Result<Sealing, SealingError> {
        let (prefix, bytes) = nkeys::decode_seed(seed).map_err(|_| SealingError::OwnKey)?;
        // Curve keys carry the 'X' prefix byte (23 << 3).
        if prefix != 23 << 3 {
            return Err(SealingError::OwnKey);
        }
        Ok(Sealing {
            secret: SecretKey::from_bytes(bytes),
            boxes: RwLock::new(HashMap::new()),
        })
    }

    fn box_for(&self, server_xkey: &str) -> Result<Arc<SalsaBox>, SealingError> {
        if let Some(b) = self
            .boxes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(server_xkey)
        {
            return Ok(b.clone());
        }
        let bad_key = || SealingError::ServerKey(server_xkey.chars().take(64).collect());
        let public = nkeys::XKey::from_public_key(server_xkey).map_err(|_| bad_key())?;
        let (_, raw) = nkeys::from_public_key(&public.public_key()).map_err(|_| bad_key())?;
        let salsa = Arc::new(SalsaBox::new(&PublicKey::from(raw), &self.secret));
        let mut boxes = self.boxes.write().unwrap_or_else(|e| e.into_inner());
        if boxes.len() >= MAX_SERVERS {
            boxes.clear();
        }
        boxes.insert(server_xkey.to_owned(), salsa.clone());
        Ok(salsa)
    }

    /// Opens a payload the server sealed to our key.
    pub fn open(&self, server_xkey: &str, sealed: &[u8]) -> Result<Vec<u8>, SealingError> {
        let salsa = self.box_for(server_xkey)?;
        let rest = sealed
            .strip_prefix(XKEY_VERSION_V1)
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or(SealingError::Format)?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        salsa
            .decrypt(nonce.into(), ciphertext)
            .map_err(|_| SealingError::Open)
    }

    /// Seals a payload for the server.
    pub fn seal(&self, server_xkey: &str, plain: &[u8]) -> Result<Vec<u8>, SealingError> {
        let salsa = self.box_for(server_xkey)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let nonce = crypto_box::Nonce::from(nonce);
        let ciphertext = salsa
            .encrypt(&nonce, plain)
            .map_err(|_| SealingError::Seal)?;
        let mut out = Vec::with_capacity(XKEY_VERSION_V1.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(XKEY_VERSION_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::XKey;

    #[test]
    fn interoperates_with_nkeys_in_both_directions() {
        let callout = XKey::new();
        let server = XKey::new();
        let sealing = Sealing::from_seed(&callout.seed().unwrap()).unwrap();
        let server_public = server.public_key();

        let from_server = server
            .seal(
                b"request",
                &XKey::from_public_key(&callout.public_key()).unwrap(),
            )
            .unwrap();
        assert_eq!(
            sealing.open(&server_public, &from_server).unwrap(),
            b"request"
        );

        let to_server = sealing.seal(&server_public, b"response").unwrap();
        let opened = server
            .open(
                &to_server,
                &XKey::from_public_key(&callout.public_key()).unwrap(),
            )
            .unwrap();
        assert_eq!(opened, b"response");
    }

    #[test]
    fn refuses_payloads_for_other_keys_and_bad_formats() {
        let callout = XKey::new();
        let stranger = XKey::new();
        let server = XKey::new();
        let sealing = Sealing::from_seed(&callout.seed().unwrap()).unwrap();
        let for_stranger = server
            .seal(
                b"x",
                &XKey::from_public_key(&stranger.public_key()).unwrap(),
            )
            .unwrap();
        assert!(matches!(
            sealing.open(&server.public_key(), &for_stranger),
            Err(SealingError::Open)
        ));
        assert!(matches!(
            sealing.open(&server.public_key(), b"xkv1short"),
            Err(SealingError::Format)
        ));
        assert!(matches!(
            sealing.open("not-a-key", &for_stranger),
            Err(SealingError::ServerKey(_))
        ));
        assert!(Sealing::from_seed(&nkeys::KeyPair::new_user().seed().unwrap()).is_err());
    }
}
