//! NATS JWTs: compact JWS with header `{"typ":"JWT","alg":"ed25519-nkey"}`,
//! signed with ed25519 by the nkey named in `iss`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::claims::NatsClaims;

/// The header every NATS JWT this module writes carries.
const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// Why a NATS JWT could not be written or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWT: expected three dot-separated parts")]
    Shape,
    #[error("a JWT part is not base64url: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("the JWT {part} is not the expected JSON: {source}")]
    Json {
        part: &'static str,
        source: serde_json::Error,
    },
    #[error("unsupported JWT header (typ {typ:?}, alg {alg:?}); NATS JWTs use ed25519-nkey")]
    Header { typ: String, alg: String },
    #[error("the issuer {0:?} is not a public nkey")]
    Issuer(String),
    #[error("the signature does not verify against the issuer's key")]
    Signature,
    #[error("cannot sign: {0}")]
    Sign(String),
}

#[derive(serde::Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// Signs `claims` with `signer`, whose public key must be the claims' `iss`.
pub fn encode<N: Serialize>(claims: &NatsClaims<N>, signer: &KeyPair) -> Result<String, JwtError> {
    let payload = serde_json::to_vec(claims).map_err(|source| JwtError::Json {
        part: "payload",
        source,
    })?;
    let mut token = URL_SAFE_NO_PAD.encode(HEADER);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = signer
        .sign(token.as_bytes())
        .map_err(|e| JwtError::Sign(e.to_string()))?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// Decodes a NATS JWT and checks that its issuer (`iss`) signed it.
///
/// Which issuers to trust is the caller's decision; this only proves that
/// the holder of `iss`'s private key wrote these exact claims.
pub fn decode_verified<N: DeserializeOwned>(token: &str) -> Result<NatsClaims<N>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Shape);
    };

    let header: Header =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header)?).map_err(|source| {
            JwtError::Json {
                part: "header",
                source,
            }
        })?;
    // "ed25519" is the v1 name that the Go library still accepts.
    if !header.typ.eq_ignore_ascii_case("JWT")
        || !matches!(header.alg.as_str(), "ed25519-nkey" | "ed25519")
    {
        return Err(JwtError::Header {
            typ: header.typ,
            alg: header.alg,
        });
    }

    let claims: NatsClaims<N> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?).map_err(|source| {
            JwtError::Json {
                part: "payload",
                source,
            }
        })?;
    let issuer =
        KeyPair::from_public_key(&claims.iss).map_err(|_| JwtError::Issuer(claims.iss.clone()))?;
    let signature = URL_SAFE_NO_PAD.decode(signature)?;
    let signed_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    issuer
        .verify(&token.as_bytes()[..signed_len], &signature)
        .map_err(|_| JwtError::Signature)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iss: &str) -> NatsClaims<serde_json::Value> {
        NatsClaims {
            jti: "J".into(),
            iat: 1,
            iss: iss.into(),
            sub: "UABC".into(),
            aud: Some("CHAT".into()),
            exp: Some(2),
            nbf: None,
            name: Some("alice".into()),
            nats: serde_json::json!({"type": "user", "version": 2}),
        }
    }

    #[test]
    fn round_trips_and_names_the_header() {
        let key = KeyPair::new_account();
        let token = encode(&claims(&key.public_key()), &key).unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(header, HEADER.as_bytes());
        assert!(!token.contains('='));
        let back: NatsClaims<serde_json::Value> = decode_verified(&token).unwrap();
        assert_eq!(back, claims(&key.public_key()));
    }

    #[test]
    fn refuses_a_signature_by_someone_other_than_the_issuer() {
        let claimed = KeyPair::new_server();
        let forger = KeyPair::new_server();
        let token = encode(&claims(&claimed.public_key()), &forger).unwrap();
        assert!(matches!(
            decode_verified::<serde_json::Value>(&token),
            Err(JwtError::Signature)
        ));
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let key = KeyPair::new_server();
        let token = encode(&claims(&key.public_key()), &key).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(&key.public_key());
        forged.name = Some("mallory".into());
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(matches!(
            decode_verified::<serde_json::Value>(&parts.join(".")),
            Err(JwtError::Signature)
        ));
    }

    #[test]
    fn refuses_other_algorithms_and_shapes() {
        let key = KeyPair::new_server();
        let token = encode(&claims(&key.public_key()), &key).unwrap();
        let rest = token.split_once('.').unwrap().1;
        let none = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"none"}"#)
        );
        assert!(matches!(
            decode_verified::<serde_json::Value>(&none),
            Err(JwtError::Header { .. })
        ));
        assert!(matches!(
            decode_verified::<serde_json::Value>("a.b"),
            Err(JwtError::Shape)
        ));
        assert!(matches!(
            decode_verified::<serde_json::Value>(&format!("{token}.x")),
            Err(JwtError::Shape)
        ));
    }

    #[test]
    fn refuses_an_issuer_that_is_not_an_nkey() {
        let key = KeyPair::new_server();
        let token = encode(&claims("not-a-key"), &key).unwrap();
        assert!(matches!(
            decode_verified::<serde_json::Value>(&token),
            Err(JwtError::Issuer(_))
        ));
    }
}
