//! `natschat-tui login`: picks the flow that suits the terminal, guides the
//! person through it, and stores the tokens.

use std::process::ExitCode;
use std::time::Duration;

use natschat_proto::permissions::Role;
use natschat_tui::auth::{
    AuthError, DeviceAuthorization, LoopbackLogin, PollPace, Provider, Session, StoreKind,
    TokenSet, choose_store,
};
use natschat_tui::config::Config;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::say;

/// Options of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Log in on another device: show a URL, a code and a QR code (default
    /// over SSH or without a graphical display).
    #[arg(long, conflicts_with = "browser")]
    device: bool,

    /// Log in with this computer's browser (default on a desktop).
    #[arg(long)]
    browser: bool,

    /// With --browser: print the URL instead of opening a browser.
    #[arg(long)]
    no_open: bool,

    /// With --browser: how long to wait for the browser, in seconds (1 to
    /// 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=MAX_BROWSER_WAIT_SECS))]
    timeout: u64,
}

/// The longest `--timeout`: an hour is plenty for anyone at the browser.
const MAX_BROWSER_WAIT_SECS: u64 = 3600;

/// The two ways to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Device,
    Browser,
}

pub async fn run(config: &Config, args: &LoginArgs) -> anyhow::Result<ExitCode> {
    let flow = if args.device {
        Flow::Device
    } else if args.browser || args.no_open {
        Flow::Browser
    } else {
        default_flow(&|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    };

    // Find out where tokens would go before the person does any work.
    let store = choose_store(config).await?;
    if store.kind() == StoreKind::File {
        say!(
            "No Secret Service (desktop keyring) answered; as you allowed, the tokens will be \
             kept in an unencrypted file readable only by you."
        );
    }
    let provider = Provider::for_config(config).await?;

    let login = async {
        match flow {
            Flow::Device => device_login(&provider).await,
            Flow::Browser => browser_login(&provider, args).await,
        }
    };
    let tokens = tokio::select! {
        result = login => result?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\n{}", AuthError::Cancelled);
            // 130 is what shells report for a command ended by SIGINT.
            return Ok(ExitCode::from(130));
        }
    };

    let session = Session::begin(config, store, tokens).await?;
    let tokens = session.tokens().await;
    let roles = tokens
        .access_claims()
        .map(|c| Role::from_realm_roles(&c.realm_access.roles))
        .unwrap_or_default();
    let roles: Vec<&str> = roles.iter().map(Role::as_str).collect();
    say!(
        "Logged in as {} (roles: {}).",
        session.username(),
        if roles.is_empty() {
            "none, read-only".to_owned()
        } else {
            roles.join(", ")
        }
    );
    if let Some(replaced) = session.replaced() {
        let ended = match &replaced.revocation {
            Ok(()) => "Keycloak ended that session".to_owned(),
            Err(e) => format!(
                "could not revoke that session at Keycloak ({e}); it ends by itself when it times \
                 out, or sign out of all sessions in Keycloak's account console"
            ),
        };
        say!(
            "This replaced {}'s login at {} under profile '{}' and deleted their tokens; {ended}.",
            replaced.username,
            replaced.issuer,
            config.profile
        );
    }
    say!("Tokens kept in: {}", session.store_description());
    Ok(ExitCode::SUCCESS)
}

/// The device flow over SSH or without a graphical display (no browser
/// here to open), the browser otherwise.
fn default_flow(is_set: &dyn Fn(&str) -> bool) -> Flow {
    let remote = is_set("SSH_CONNECTION") || is_set("SSH_TTY");
    let graphical = is_set("DISPLAY") || is_set("WAYLAND_DISPLAY");
    if remote || !graphical {
        Flow::Device
    } else {
        Flow::Browser
    }
}

async fn device_login(provider: &Provider) -> Result<TokenSet, AuthError> {
    let device = DeviceAuthorization::start(provider).await?;
    say!("To log in, open {}", device.verification_uri());
    say!("and enter the code  {}\n", device.user_code());
    if let Some(complete) = device.verification_uri_complete() {
        // Only a person at a terminal can scan it; in a pipe or a file it
        // is noise.
        if std::io::IsTerminal::is_terminal(&std::io::stdout())
            && let Some(qr) = qr_code(complete)
        {
            say!("or scan this with a phone:\n{qr}");
        }
        say!("(direct link: {complete})");
    }
    say!(
        "Waiting for approval; the code is valid for {} minutes. Ctrl-C cancels.",
        device.expires_in().as_secs().div_ceil(60)
    );
    device.finish(PollPace::AsServerAsks).await
}

/// The URL as a QR code of Unicode half blocks, light on dark so phones read
/// it from a dark terminal. `None` if the URL is too long for a QR code.
fn qr_code(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

async fn browser_login(provider: &Provider, args: &LoginArgs) -> Result<TokenSet, AuthError> {
    let login = LoopbackLogin::start(provider).await?;
    let url = login.authorization_url().to_string();
    if args.no_open {
        say!("Open this URL in a browser on this computer to log in:\n\n  {url}\n");
    } else {
        match open_browser(&url) {
            Ok(()) => {
                say!("Opened your browser to log in. If nothing opened, visit:\n\n  {url}\n")
            }
            Err(why) => say!(
                "Could not open a browser ({why}). Open this URL on this computer:\n\n  {url}\n\n\
                 (No browser here? Use `natschat-tui login --device`.)"
            ),
        }
    }
    say!(
        "Waiting up to {} for the browser. Ctrl-C cancels.",
        super::human_duration(Duration::from_secs(args.timeout))
    );
    login.finish(Duration::from_secs(args.timeout)).await
}

/// Hands the URL to the desktop's opener without waiting for the browser.
fn open_browser(url: &str) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = tokio::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{opener}: {e}"))?;
    // Reap the opener when it exits so it leaves no zombie behind.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(set: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |name| set.contains(&name)
    }

    #[test]
    fn uses_the_device_flow_over_ssh_even_with_a_display() {
        assert_eq!(
            default_flow(&env(&["SSH_CONNECTION", "DISPLAY"])),
            Flow::Device
        );
    }

    #[test]
    fn uses_the_device_flow_without_a_display() {
        assert_eq!(default_flow(&env(&[])), Flow::Device);
    }

    #[test]
    fn uses_the_browser_on_a_local_desktop() {
        assert_eq!(default_flow(&env(&["WAYLAND_DISPLAY"])), Flow::Browser);
        assert_eq!(default_flow(&env(&["DISPLAY"])), Flow::Browser);
    }

    #[test]
    fn draws_a_qr_code_of_the_verification_url() {
        let qr =
            qr_code("http://127.0.0.1:8080/realms/nats-chat/device?user_code=ABCD-EFGH").unwrap();
        assert!(qr.lines().count() > 10);
        assert!(qr.contains('█') || qr.contains('▀') || qr.contains('▄'));
    }
}
