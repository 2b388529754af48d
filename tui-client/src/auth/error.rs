//! What can go wrong while signing in, refreshing or signing out, in words a
//! person can act on.

use std::fmt;
use std::time::Duration;

use super::token_store::{StoreError, TokenKey};

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

    #[error(
        "the issuer {issuer} has the scheme {scheme}:, which natschat does not speak; use the realm's https:// URL (http:// only for a Keycloak on this computer)"
    )]
    UnsupportedScheme { issuer: String, scheme: String },

    #[error(
        "the issuer {issuer} is plain http:// on another computer, so passwords and tokens would cross the network unencrypted; use its https:// URL, or pass --allow-insecure-http (or set `allow_insecure_http = true` in the config file) if that network is trusted"
    )]
    InsecureIssuer { issuer: String },

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
    Loopback(std::io::Error),

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

    #[error(
        "the stored access token cannot be read ({0}); run `natschat-tui logout` and log in again"
    )]
    StoredTokenUnreadable(String),

    #[error("not logged in{}; run `natschat-tui login`", profile_suffix(.profile))]
    NotLoggedIn { profile: String },

    #[error("{0}")]
    LoggedInElsewhere(Box<LoginElsewhere>),

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

/// A login stored under a profile for another Keycloak or client than the
/// one asked about.
#[derive(Debug)]
pub struct LoginElsewhere {
    pub profile: String,
    /// The login that is stored.
    pub stored: TokenKey,
    /// What was asked about.
    pub issuer: String,
    pub client_id: String,
}

impl fmt::Display for LoginElsewhere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stored = &self.stored;
        write!(
            f,
            "logged in as {} at {}, not at {}{}; run `natschat-tui login` to log in there \
             instead (it replaces {}'s login), or leave out --issuer and --client-id",
            stored.username,
            where_at(&stored.issuer, &stored.client_id, &self.client_id),
            where_at(&self.issuer, &self.client_id, &stored.client_id),
            profile_suffix(&self.profile),
            stored.username,
        )
    }
}

/// An issuer, and the client too when it is what differs.
fn where_at(issuer: &str, client_id: &str, other_client_id: &str) -> String {
    if client_id == other_client_id {
        issuer.to_owned()
    } else {
        format!("{issuer} (client {client_id})")
    }
}

/// `text` without control characters (escape sequences, carriage returns,
/// backspaces) except line breaks, so text that came from a server or a
/// browser cannot move the cursor, recolour or rewrite the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|&c| c == '\n' || !c.is_control())
        .collect()
}

fn profile_suffix(profile: &str) -> String {
    if profile == crate::config::DEFAULT_PROFILE {
        String::new()
    } else {
        format!(" with profile '{profile}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_keeps_line_breaks_and_drops_escape_sequences() {
        let hostile = "denied\x1b]0;pwned\x07\x1b[2J\r\u{9b}31m\nsecond line\u{8}";
        assert_eq!(printable(hostile), "denied]0;pwned[2J31m\nsecond line");
    }

    #[test]
    fn a_login_elsewhere_names_both_places() {
        let error = AuthError::LoggedInElsewhere(Box::new(LoginElsewhere {
            profile: "default".into(),
            stored: TokenKey {
                issuer: "http://127.0.0.1:8080/realms/a".into(),
                client_id: "natschat-tui".into(),
                username: "bob".into(),
            },
            issuer: "http://127.0.0.1:8080/realms/b".into(),
            client_id: "natschat-tui".into(),
        }))
        .to_string();
        assert!(
            error.starts_with(
                "logged in as bob at http://127.0.0.1:8080/realms/a, not at http://127.0.0.1:8080/realms/b;"
            ),
            "{error}"
        );
    }
}
