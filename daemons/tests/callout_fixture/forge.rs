//! Forged and broken tokens, built from real Keycloak tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use natschat_testkit::keycloak_admin::KeycloakAdmin;
use natschat_testkit::stack::Stack;
use serde_json::Value;

/// Demo RSA key, for tests only: imported into the realm (at lowest
/// priority, for the length of a test) so a test can sign tokens whose
/// claims are wrong but whose signature the realm vouches for.
pub const REALM_TEST_KEY_PEM: &str = include_str!("demo-realm-test-key.pem");
/// Demo RSA key, for tests only, that the realm never holds.
pub const STRANGER_KEY_PEM: &str = include_str!("demo-stranger-key.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// A token's header, unverified.
pub fn header_of(token: &str) -> Value {
    decode_part(token, 0)
}

/// A token's claims, unverified.
pub fn claims_of(token: &str) -> Value {
    decode_part(token, 1)
}

/// Assembles a JWT from a header, claims and a raw signature part.
pub fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("JSON")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON"))
    )
}

/// Signs `claims` with RS256 and an RSA private key (PKCS#8 PEM).
pub fn sign_rs256(claims: &Value, kid: &str, private_key_pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).expect("demo key is RSA");
    jsonwebtoken::encode(&header, claims, &key).expect("RS256 signs")
}

/// Signs `claims` with HS256 using `secret`.
pub fn sign_hs256(claims: &Value, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_secret(secret).expect("any bytes are an HMAC secret");
    jsonwebtoken::encode(&header, claims, &key).expect("HS256 signs")
}

/// The realm's public RSA key as PEM text, as the realm page publishes it.
pub async fn realm_public_key_pem() -> String {
    let stack = Stack::load().expect("stack");
    let realm: Value = reqwest::get(stack.issuer())
        .await
        .expect("realm page")
        .json()
        .await
        .expect("realm JSON");
    let der = realm["public_key"]
        .as_str()
        .expect("realm has a public key");
    // Round-trip through the decoder so a malformed value fails here.
    let der = STANDARD.encode(STANDARD.decode(der).expect("base64 DER"));
    let lines: Vec<String> = der
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// [`REALM_TEST_KEY_PEM`] imported as a realm key for one test.
pub struct ImportedRealmKey {
    admin: KeycloakAdmin,
    provider_id: String,
    pub kid: String,
}

/// Name prefix of imported test keys; the suffix is the import's Unix time.
const IMPORTED_PREFIX: &str = "natschat-test-signing-";

impl ImportedRealmKey {
    /// Imports the demo key at priority 0, so Keycloak never signs with it,
    /// after removing copies a crashed test left behind long ago.
    pub async fn import() -> ImportedRealmKey {
        let stack = Stack::load().expect("stack");
        let admin = KeycloakAdmin::login(&stack).await.expect("admin login");
        for provider in admin.key_providers().await.expect("key providers") {
            let stale = provider["name"]
                .as_str()
                .and_then(|n| n.strip_prefix(IMPORTED_PREFIX))
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t < now() - 900);
            if stale && let Some(id) = provider["id"].as_str() {
                let _ = admin.delete_component(id).await;
            }
        }
        let provider_id = admin
            .import_rsa_key(
                &format!("{IMPORTED_PREFIX}{}", now()),
                REALM_TEST_KEY_PEM,
                0,
            )
            .await
            .expect("Keycloak imports the demo key");
        let kid = admin
            .kid_of(&provider_id)
            .await
            .expect("imported key has a kid");
        ImportedRealmKey {
            admin,
            provider_id,
            kid,
        }
    }

    /// Signs claims with the imported key under its realm kid.
    pub fn sign(&self, claims: &Value) -> String {
        sign_rs256(claims, &self.kid, REALM_TEST_KEY_PEM)
    }

    /// Removes the key from the realm again.
    pub async fn remove(self) {
        self.admin
            .delete_component(&self.provider_id)
            .await
            .expect("imported key removed");
    }
}
