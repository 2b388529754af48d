//! The callout's decision: one sealed authorization request in, one signed
//! (and sealed) authorization response out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use natschat_proto::{InboxMode, Permissions, Role};
use rand::RngCore;

use super::access_token::{AccessTokenValidator, Refused, ValidToken, claimed_identity};
use super::claims::{
    AUTHORIZATION_REQUEST, AuthorizationRequest, AuthorizationResponse, NatsClaims, UserClaims,
};
use super::jwt;
use super::metrics::AuthResult;
use super::sealing::{Sealing, SealingError};
use crate::keys::CalloutKeys;

/// What a user JWT grants beyond the token's roles.
#[derive(Debug, Clone)]
pub struct GrantPolicy {
    /// Longest lifetime of a user JWT; it never outlives the access token.
    pub max_user_jwt: Duration,
    pub inbox: InboxMode,
    /// Account the users are placed in (user JWT `aud`).
    pub user_account: String,
    /// Refuse requests the server did not seal.
    pub require_encryption: bool,
}

/// The outcome of one request, for the reply, the metrics and the logs.
pub struct Decision {
    /// Bytes to send back, or nothing when the request could not be trusted
    /// enough to answer (the server then times the client out).
    pub reply: Option<Vec<u8>>,
    pub result: AuthResult,
    /// The authorized user, or the user a refused token claimed.
    pub user: Option<String>,
}

/// Why a request could not be read; nothing is answered then.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("cannot open the sealed request: {0}")]
    Decrypt(SealingError),
    #[error("the request JWT is invalid: {0}")]
    Jwt(#[from] jwt::JwtError),
    #[error("the request is not from a server (iss {0:?} is not a server key)")]
    NotServer(String),
    #[error("the request has type {0:?}, not authorization_request")]
    WrongType(String),
    #[error("the request names no user nkey")]
    NoUserNkey,
    #[error("the request's server xkey differs from the header's")]
    XkeyMismatch,
}

/// Turns authorization requests into responses.
pub struct Authorizer {
    keys: CalloutKeys,
    sealing: Sealing,
    issuer_public: String,
    validator: AccessTokenValidator,
    policy: GrantPolicy,
}

impl Authorizer {
    pub fn new(
        keys: CalloutKeys,
        sealing: Sealing,
        validator: AccessTokenValidator,
        policy: GrantPolicy,
    ) -> Self {
        let issuer_public = keys.issuer.public_key();
        Authorizer {
            keys,
            sealing,
            issuer_public,
            validator,
            policy,
        }
    }

    /// Decides one request. `server_xkey` is the `Nats-Server-Xkey` header.
    pub async fn decide(&self, server_xkey: Option<&str>, payload: &[u8]) -> Decision {
        let unanswered = |result, error: Unreadable| {
            tracing::warn!(%error, "auth callout request not answered");
            Decision {
                reply: None,
                result,
                user: None,
            }
        };

        let request_jwt = match server_xkey {
            Some(key) => match self.sealing.open(key, payload) {
                Ok(opened) => opened,
                Err(error) => {
                    return unanswered(AuthResult::DecryptError, Unreadable::Decrypt(error));
                }
            },
            None => payload.to_vec(),
        };
        let request = match self.read_request(&request_jwt, server_xkey) {
            Ok(request) => request,
            Err(error) => return unanswered(AuthResult::DecodeError, error),
        };

        if server_xkey.is_none() && self.policy.require_encryption {
            // The request is authentic, so refuse explicitly: the client
            // learns at once instead of timing out.
            tracing::warn!(
                server = %request.nats.server_id.name,
                "refusing an unsealed request; configure the server's auth_callout xkey or run with --allow-unencrypted"
            );
            let response =
                AuthorizationResponse::refused("auth callout requires encrypted requests");
            return Decision {
                reply: self.respond(&request, response, None),
                result: AuthResult::DecryptError,
                user: None,
            };
        }

        let token = request.nats.connect_opts.auth_token.as_deref();
        match self.validator.validate(token).await {
            Ok(valid) => {
                let user = valid.user.clone();
                let response = match self.user_jwt(&request, &valid) {
                    Ok(user_jwt) => AuthorizationResponse::granted(user_jwt),
                    Err(error) => {
                        tracing::error!(%error, user, "cannot sign a user JWT");
                        AuthorizationResponse::refused("auth callout cannot sign")
                    }
                };
                tracing::info!(
                    user,
                    client = valid.claims.azp.as_deref().unwrap_or(""),
                    roles = ?valid.claims.realm_access.roles,
                    "authorized"
                );
                Decision {
                    reply: self.respond(&request, response, server_xkey),
                    result: AuthResult::Authorized,
                    user: Some(user),
                }
            }
            Err(Refused { reason, kid }) => {
                let (user, client) = token.map(claimed_identity).unwrap_or_default();
                let user = user.map(|u| loggable(&u));
                tracing::info!(
                    reason = %reason,
                    user = user.as_deref().unwrap_or(""),
                    client = client.as_deref().map(loggable).unwrap_or_default(),
                    kid = kid.as_deref().map(loggable).unwrap_or_default(),
                    "rejected"
                );
                let response = AuthorizationResponse::refused(reason.to_string());
                Decision {
                    reply: self.respond(&request, response, server_xkey),
                    result: AuthResult::Rejected,
                    user,
                }
            }
        }
    }

    fn read_request(
        &self,
        request_jwt: &[u8],
        server_xkey: Option<&str>,
    ) -> Result<NatsClaims<AuthorizationRequest>, Unreadable> {
        let text = std::str::from_utf8(request_jwt)
            .map_err(|_| jwt::JwtError::Shape)?
            .trim();
        let request: NatsClaims<AuthorizationRequest> = jwt::decode_verified(text)?;
        if !request.iss.starts_with('N') {
            return Err(Unreadable::NotServer(request.iss));
        }
        if request.nats.kind != AUTHORIZATION_REQUEST {
            return Err(Unreadable::WrongType(request.nats.kind));
        }
        if !request.nats.user_nkey.starts_with('U') {
            return Err(Unreadable::NoUserNkey);
        }
        if let (Some(header), Some(claimed)) = (server_xkey, &request.nats.server_id.xkey)
            && header != claimed
        {
            return Err(Unreadable::XkeyMismatch);
        }
        Ok(request)
    }

    fn user_jwt(
        &self,
        request: &NatsClaims<AuthorizationRequest>,
        valid: &ValidToken,
    ) -> Result<String, jwt::JwtError> {
        let roles = Role::from_realm_roles(&valid.claims.realm_access.roles);
        let permissions = Permissions::for_roles(&roles, &valid.user, self.policy.inbox);
        let now = unix_now();
        let exp = valid
            .claims
            .exp
            .min(now + self.policy.max_user_jwt.as_secs() as i64);
        let claims = NatsClaims {
            jti: jti(),
            iat: now,
            iss: self.issuer_public.clone(),
            sub: request.nats.user_nkey.clone(),
            aud: Some(self.policy.user_account.clone()),
            exp: Some(exp),
            nbf: None,
            name: Some(valid.user.clone()),
            nats: UserClaims::new(permissions.publish, permissions.subscribe),
        };
        jwt::encode(&claims, &self.keys.issuer)
    }

    /// Signs `response` for the asking server and seals it when the request
    /// was sealed.
    fn respond(
        &self,
        request: &NatsClaims<AuthorizationRequest>,
        response: AuthorizationResponse,
        server_xkey: Option<&str>,
    ) -> Option<Vec<u8>> {
        let claims = NatsClaims {
            jti: jti(),
            iat: unix_now(),
            iss: self.issuer_public.clone(),
            sub: request.nats.user_nkey.clone(),
            aud: Some(request.nats.server_id.id.clone()),
            exp: None,
            nbf: None,
            name: None,
            nats: response,
        };
        let signed = match jwt::encode(&claims, &self.keys.issuer) {
            Ok(signed) => signed,
            Err(error) => {
                tracing::error!(%error, "cannot sign the authorization response");
                return None;
            }
        };
        match server_xkey {
            None => Some(signed.into_bytes()),
            Some(server) => match self.sealing.seal(server, signed.as_bytes()) {
                Ok(sealed) => Some(sealed),
                Err(error) => {
                    tracing::error!(%error, "cannot seal the authorization response");
                    None
                }
            },
        }
    }
}

/// A random JWT id.
fn jti() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Untrusted text from a refused token, cut short and stripped of control
/// characters so it cannot flood or forge log lines.
fn loggable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}
