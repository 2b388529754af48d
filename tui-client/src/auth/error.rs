//! What can go wrong while signing in, refreshing or signing out, in words a
//! person can act on.

use std::time::Duration;

use super::token_store::StoreError;

/// An authentication failure. Every message says what happened and what to
/// do next; the binary prints it as is.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "Keycloak at {keycloak} did not answer ({reason}); is it running? `./dev status` shows the stack"
    )]
    IssuerUnreachable { keycloak: String, reason: String },

    #[error(
        "Keycloak answered 404 for {issuer}: there is no such realm; check the issuer URL (`--issuer`, NATSCHAT_ISSUER or `issuer` in the config file)"
    )]
    UnknownRealm { issuer: String },

    #[error("the OpenID configuration at {issuer} is not usable: {reason}")]
    Discovery { issuer: String, reason: String },

    #[error("{what} is not a valid URL: {reason}")]
    BadUrl { what: String, reason: String },

    #[error(
        "Keycloak does not offer the device login for realm {issuer}; use `natschat-tui login --browser`"
    )]
    NoDeviceEndpoint { issuer: String },

    #[error(
        "the Keycloak client '{client}' may not use the device login ({reason}); ask an administrator to enable \"OAuth 2.0 Device Authorization Grant\" for it, or use `natschat-tui login --browser`"
    )]
    DeviceGrantNotAllowed { client: String, reason: String },

    #[error("the login code expired before anyone approved it; run `natschat-tui login` again and approve it within {} minutes", .valid_for.as_secs().div_ceil(60))]
    DeviceCodeExpired { valid_for: Duration },

    #[error("the login was denied in the browser{}; run `natschat-tui login` again if that was a mistake", describe(.reason))]
    AccessDenied { reason: Option<String> },

    #[error("login cancelled")]
    Cancelled,

    #[error(
        "could not listen for the browser on 127.0.0.1: {0}; use `natschat-tui login --device` instead"
    )]
    Loopback(#[source] std::io::Error),

    #[error("no answer from the browser within {} s; run `natschat-tui login` again, or use `--device` to log in from another device", .waited.as_secs())]
    BrowserTimeout { waited: Duration },

    #[error("Keycloak refused the login: {0}")]
    TokenRequest(String),

    #[error("Keycloak did not revoke the session: {0}")]
    Revocation(String),

    #[error("this computer's clock is {} s {} Keycloak's, so tokens would look {}; set the clock right (e.g. `timedatectl set-ntp true`) and log in again", .seconds.unsigned_abs(), if *.seconds > 0 { "ahead of" } else { "behind" }, if *.seconds > 0 { "expired" } else { "not yet valid" })]
    ClockSkew {
        /// Local time minus Keycloak's time.
        seconds: i64,
    },

    #[error("Keycloak's ID token does not check out: {0}")]
    IdToken(String),

    #[error("Keycloak sent a token natschat cannot read: {0}")]
    MalformedToken(String),

    #[error("not logged in{}; run `natschat-tui login`", profile_suffix(.profile))]
    NotLoggedIn { profile: String },

    #[error("your Keycloak session has ended ({reason}); run `natschat-tui login` again")]
    LoginAgain { reason: String },

    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(reason: &Option<String>) -> String {
    match reason {
        Some(r) => format!(" ({r})"),
        None => String::new(),
    }
}

fn profile_suffix(profile: &str) -> String {
    if profile == crate::config::DEFAULT_PROFILE {
        String::new()
    } else {
        format!(" with profile '{profile}'")
    }
}
