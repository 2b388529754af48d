//! `natschat-tui whoami`.

use std::process::ExitCode;

use natschat_proto::permissions::{InboxMode, Permissions, Role};
use natschat_tui::auth::{AuthError, Session};
use natschat_tui::config::Config;

use super::{human_duration, say};

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let session = Session::open(config).await?;
    // whoami needs a token like any command, so a nearly expired one is
    // refreshed; when Keycloak is down the stored one is still worth showing.
    let stale = match session.valid_access_token().await {
        Ok(_) => None,
        Err(e @ AuthError::IssuerUnreachable { .. }) => Some(e),
        Err(e) => return Err(e.into()),
    };
    let tokens = session.tokens().await;
    let claims = tokens.access_claims()?;
    let roles = Role::from_realm_roles(&claims.realm_access.roles);
    let permissions = Permissions::for_roles(&roles, session.username(), InboxMode::PerUser);

    say!("{} at {}", session.username(), session.issuer());
    say!("profile: {}, client: {}", config.profile, config.client_id);
    if roles.is_empty() {
        say!("roles: none (read-only)");
    } else {
        let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
        say!("roles: {}", names.join(", "));
    }
    say!("you may:");
    for line in permissions.describe() {
        say!("  - {line}");
    }
    let left = tokens.access_time_left();
    if left.is_zero() {
        say!("access token: expired");
    } else {
        say!("access token: valid for {}", human_duration(left));
    }
    if let Some(left) = tokens.refresh_time_left() {
        say!(
            "session: can be refreshed for {} more",
            human_duration(left)
        );
    }
    say!("tokens kept in: {}", session.store_description());
    if let Some(e) = stale {
        say!("note: could not refresh the access token: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
