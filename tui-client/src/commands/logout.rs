//! `natschat-tui logout`.

use std::process::ExitCode;

use natschat_tui::auth::{AuthError, logout};
use natschat_tui::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let outcome = match logout(config).await {
        Err(AuthError::NotLoggedIn { .. }) => {
            println!("Not logged in; nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        other => other?,
    };
    match &outcome.revocation {
        Ok(()) => println!("Keycloak ended the session of {}.", outcome.username),
        Err(e) => println!(
            "Could not revoke the session at Keycloak ({e}).\n\
             It ends by itself when it times out; sign out of all sessions in Keycloak's \
             account console to end it sooner."
        ),
    }
    if outcome.deleted {
        println!("Deleted the tokens stored on this computer.");
    } else {
        println!("No tokens were stored on this computer.");
    }
    Ok(ExitCode::SUCCESS)
}
