//! `natschat-tui logout`.

use std::process::ExitCode;

use natschat_tui::auth::{AuthError, logout};
use natschat_tui::config::Config;

use super::say;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let outcome = match logout(config).await {
        Err(AuthError::NotLoggedIn { .. }) => {
            say!("Not logged in; nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        other => other?,
    };
    let Some(login) = &outcome.login else {
        if let Err(e) = &outcome.revocation {
            say!("{e}");
        }
        say!(
            "Removed the corrupt login record of profile '{}'. The tokens it pointed to \
             could not be identified, so they were not revoked; sign out of all sessions in \
             Keycloak's account console to end them.",
            config.profile
        );
        return Ok(ExitCode::SUCCESS);
    };
    // Flags may name another Keycloak or client: say which login ends.
    let elsewhere = login.issuer != config.issuer || login.client_id != config.client_id;
    let which = if elsewhere {
        format!(
            "{} at {} (client {}), the login stored under profile '{}'",
            login.username, login.issuer, login.client_id, config.profile
        )
    } else {
        format!("{} at {}", login.username, login.issuer)
    };
    match &outcome.revocation {
        Ok(()) => say!("Keycloak ended the session of {which}."),
        Err(e @ AuthError::Store(_)) => say!(
            "Logging out {which}: the stored tokens could not be read ({e}), so they could not \
             be revoked at Keycloak.\n\
             The session ends by itself when it times out; sign out of all sessions in \
             Keycloak's account console to end it sooner."
        ),
        Err(e) => say!(
            "Logging out {which}: could not revoke the session at Keycloak ({e}).\n\
             It ends by itself when it times out; sign out of all sessions in Keycloak's \
             account console to end it sooner."
        ),
    }
    if outcome.deleted {
        say!("Deleted the tokens stored on this computer.");
    } else {
        say!("No tokens were stored on this computer.");
    }
    Ok(ExitCode::SUCCESS)
}
