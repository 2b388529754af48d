//! `natschat-tui whoami`.

use std::process::ExitCode;

use natschat_proto::permissions::{InboxMode, Permissions, Role};
use natschat_tui::auth::{AuthError, Session};
use natschat_tui::config::Config;

use super::human_duration;

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

    println!("{} at {}", session.username(), session.issuer());
    println!("profile: {}, client: {}", config.profile, config.client_id);
    if roles.is_empty() {
        println!("roles: none (read-only)");
    } else {
        let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
        println!("roles: {}", names.join(", "));
    }
    println!("you may:");
    for line in permissions.describe() {
        println!("  - {line}");
    }
    let left = tokens.access_time_left();
    if left.is_zero() {
        println!("access token: expired");
    } else {
        println!("access token: valid for {}", human_duration(left));
    }
    if let Some(left) = tokens.refresh_time_left() {
        println!(
            "session: can be refreshed for {} more",
            human_duration(left)
        );
    }
    println!("tokens kept in: {}", session.store_description());
    if let Some(e) = stale {
        println!("note: could not refresh the access token: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
