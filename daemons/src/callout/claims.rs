//! NATS JWT v2 claims that the auth callout reads and writes: the server's
//! authorization request, the callout's authorization response and the user
//! JWT it issues.
//!
//! Modelled on the nats-io/jwt v2 schema. Every field the server may leave
//! out has a serde default, because real server JSON omits empty fields.

use natschat_proto::SubjectRules;
use serde::{Deserialize, Serialize};

/// `nats.type` of a request the server sends to the callout.
pub const AUTHORIZATION_REQUEST: &str = "authorization_request";
/// `nats.type` of the callout's answer.
pub const AUTHORIZATION_RESPONSE: &str = "authorization_response";
/// `nats.type` of a user JWT.
pub const USER: &str = "user";
/// Version of the NATS JWT schema these types follow.
pub const JWT_VERSION: u32 = 2;

/// The registered claims every NATS JWT carries, around a type-specific
/// `nats` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatsClaims<N> {
    /// Unique id of this JWT.
    #[serde(default)]
    pub jti: String,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: i64,
    /// Public nkey of the signer.
    pub iss: String,
    /// Public nkey (or name) the claims are about.
    #[serde(default)]
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub nats: N,
}

/// `nats` of a request: who connects, with what, to which server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationRequest {
    pub server_id: ServerId,
    /// Fresh public user nkey the server made for this connection; the user
    /// JWT must be issued to it.
    pub user_nkey: String,
    pub client_info: ClientInformation,
    pub connect_opts: ConnectOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_tls: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_nonce: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
}

/// The server that asks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerId {
    pub name: String,
    pub host: String,
    /// Public nkey of the server; the response's `aud`.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xkey: Option<String>,
}

/// What the server knows of the connecting client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientInformation {
    pub host: Option<String>,
    pub id: Option<u64>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub name_tag: Option<String>,
    pub kind: Option<String>,
    #[serde(rename = "type")]
    pub client_type: Option<String>,
    pub mqtt_id: Option<String>,
    pub nonce: Option<String>,
}

/// The client's CONNECT options as the server passes them on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    pub jwt: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    /// The bearer token: a Keycloak access token for natschat clients.
    pub auth_token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: i64,
}

/// `nats` of the callout's answer: exactly one of `jwt` or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_account: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
}

impl AuthorizationResponse {
    /// An answer that lets the client in with `user_jwt`.
    pub fn granted(user_jwt: String) -> Self {
        AuthorizationResponse {
            jwt: Some(user_jwt),
            error: None,
            issuer_account: None,
            kind: AUTHORIZATION_RESPONSE.to_owned(),
            version: JWT_VERSION,
        }
    }

    /// An answer that refuses the client; the server closes the connection
    /// with "Authorization Violation" at once.
    pub fn refused(error: impl Into<String>) -> Self {
        AuthorizationResponse {
            jwt: None,
            error: Some(error.into()),
            issuer_account: None,
            kind: AUTHORIZATION_RESPONSE.to_owned(),
            version: JWT_VERSION,
        }
    }
}

/// `nats` of a user JWT: what the connection may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(rename = "pub", default)]
    pub publish: SubjectRules,
    #[serde(rename = "sub", default)]
    pub subscribe: SubjectRules,
    /// Maximum subscriptions; -1 is unlimited (0 would allow none).
    #[serde(default = "unlimited")]
    pub subs: i64,
    /// Maximum bytes; -1 is unlimited.
    #[serde(default = "unlimited")]
    pub data: i64,
    /// Maximum message payload; -1 is the server's limit.
    #[serde(default = "unlimited")]
    pub payload: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
}

fn unlimited() -> i64 {
    -1
}

impl UserClaims {
    /// A user with these publish and subscribe rules and no other limits
    /// than the server's.
    pub fn new(publish: SubjectRules, subscribe: SubjectRules) -> Self {
        UserClaims {
            publish,
            subscribe,
            subs: unlimited(),
            data: unlimited(),
            payload: unlimited(),
            kind: USER.to_owned(),
            version: JWT_VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sparse_request_as_the_server_sends_it() {
        // Shape of a real nats-server 2.15 request: empty fields are left
        // out, `client_info` has no user, `connect_opts` only a token.
        let json = r#"{
            "jti":"X","iat":1,"iss":"NABC","sub":"AXYZ","aud":"nats-authorization-request",
            "nats":{"server_id":{"name":"natschat","host":"127.0.0.1","id":"NABC","version":"2.15.1","xkey":"XSRV"},
                    "user_nkey":"UDEF","client_info":{"host":"127.0.0.1","id":7,"kind":"Client","type":"nats"},
                    "connect_opts":{"auth_token":"tok","lang":"rust","version":"0.52.0","protocol":1},
                    "type":"authorization_request","version":2}}"#;
        let claims: NatsClaims<AuthorizationRequest> = serde_json::from_str(json).unwrap();
        assert_eq!(claims.nats.user_nkey, "UDEF");
        assert_eq!(claims.nats.server_id.xkey.as_deref(), Some("XSRV"));
        assert_eq!(claims.nats.connect_opts.auth_token.as_deref(), Some("tok"));
        assert_eq!(claims.nats.client_info.user, None);
        assert_eq!(claims.nats.kind, AUTHORIZATION_REQUEST);
    }

    #[test]
    fn response_carries_exactly_one_of_jwt_or_error() {
        let granted = serde_json::to_value(AuthorizationResponse::granted("J".into())).unwrap();
        assert_eq!(granted["jwt"], "J");
        assert!(granted.get("error").is_none());
        let refused = serde_json::to_value(AuthorizationResponse::refused("no")).unwrap();
        assert_eq!(refused["error"], "no");
        assert!(refused.get("jwt").is_none());
        assert_eq!(refused["type"], AUTHORIZATION_RESPONSE);
        assert_eq!(refused["version"], 2);
    }

    #[test]
    fn user_claims_use_nats_field_names_and_no_limits() {
        let rules = SubjectRules {
            allow: vec!["chat.*".into()],
            deny: vec![],
        };
        let json = serde_json::to_value(UserClaims::new(rules.clone(), rules)).unwrap();
        assert_eq!(json["pub"]["allow"][0], "chat.*");
        assert_eq!(json["sub"]["allow"][0], "chat.*");
        assert_eq!(json["subs"], -1);
        assert_eq!(json["type"], "user");
    }
}
