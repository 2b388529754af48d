//! `natschat-tui`: natschat in a terminal. This file only parses the command
//! line and hands each subcommand to its module.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use natschat_tui::config::{Config, Overrides};

/// Chat on natschat from a terminal.
///
/// Settings come from ~/.config/natschat/config.toml, then environment
/// variables (NATSCHAT_ISSUER, NATSCHAT_CLIENT_ID, NATS_URL,
/// NATSCHAT_PROFILE, NATSCHAT_CONFIG, NATSCHAT_INSECURE_FILE_STORE,
/// NATSCHAT_ALLOW_INSECURE_HTTP), then
/// the flags below; a later source wins.
#[derive(Parser)]
#[command(name = "natschat-tui", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Profile (a [profiles.NAME] table in the config file).
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,

    /// Config file to read instead of ~/.config/natschat/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Keycloak realm issuer URL, e.g. http://127.0.0.1:8080/realms/nats-chat.
    #[arg(long, global = true, value_name = "URL")]
    issuer: Option<String>,

    /// Keycloak client to sign in as.
    #[arg(long, global = true, value_name = "ID")]
    client_id: Option<String>,

    /// NATS server to chat on.
    #[arg(long, global = true, value_name = "URL")]
    nats_url: Option<String>,

    /// When no Secret Service (desktop keyring) is available, keep tokens in
    /// an unencrypted file readable only by you.
    #[arg(long, global = true)]
    insecure_file_store: bool,

    /// Accept a plain http:// issuer on another computer (tokens and
    /// passwords then cross the network unencrypted). http:// on this
    /// computer is always accepted.
    #[arg(long, global = true)]
    allow_insecure_http: bool,

    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to Keycloak and keep the tokens in the desktop keyring.
    Login(commands::login::LoginArgs),
    /// Revoke the session at Keycloak and delete the stored tokens.
    Logout,
    /// Show who is signed in, their roles, what they may do, and where the
    /// tokens are kept.
    Whoami,
    /// Print a shell completion script (e.g. `natschat-tui completions bash
    /// > ~/.local/share/bash-completion/completions/natschat-tui`).
    Completions { shell: clap_complete::Shell },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines on the terminal would tear through the chat's screen: in
    // the chat, logs go to stderr only when it is redirected.
    let chat_on_terminal =
        cli.command.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    init_logging(if chat_on_terminal {
        None
    } else {
        Some(cli.verbose)
    });

    if let Some(Command::Completions { shell }) = &cli.command {
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "natschat-tui", &mut script);
        commands::write_stdout(&script);
        return ExitCode::SUCCESS;
    }

    let overrides = Overrides {
        profile: cli.profile.clone(),
        config_file: cli.config.clone(),
        issuer: cli.issuer.clone(),
        client_id: cli.client_id.clone(),
        nats_url: cli.nats_url.clone(),
        insecure_file_store: cli.insecure_file_store,
        allow_insecure_http: cli.allow_insecure_http,
    };
    match run(cli.command, &overrides) {
        Ok(code) => code,
        Err(e) => {
            let message = natschat_tui::auth::error::printable(&format!("{e:#}"));
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Option<Command>, overrides: &Overrides) -> anyhow::Result<ExitCode> {
    let config = Config::load(overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Some(Command::Login(args)) => commands::login::run(&config, &args).await,
            Some(Command::Logout) => commands::logout::run(&config).await,
            Some(Command::Whoami) => commands::whoami::run(&config).await,
            Some(Command::Completions { .. }) => Ok(ExitCode::SUCCESS),
            None => chat(&config).await,
        }
    })
}

/// The chat, after a login when no usable one is stored.
async fn chat(config: &Config) -> anyhow::Result<ExitCode> {
    use natschat_tui::auth::{AuthError, Session};
    let session = match Session::open(config).await {
        Ok(session) => Some(session),
        Err(AuthError::NotLoggedIn { .. } | AuthError::LoggedInElsewhere(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let usable = match &session {
        Some(session) => match session.valid_access_token().await {
            Ok(_) => true,
            Err(AuthError::LoginAgain { .. }) => false,
            Err(e) => return Err(e.into()),
        },
        None => false,
    };
    let session = match session {
        Some(session) if usable => session,
        _ => {
            use clap::{Args, FromArgMatches};
            let defaults = commands::login::LoginArgs::augment_args(clap::Command::new("login"))
                .get_matches_from(["login"]);
            let args = commands::login::LoginArgs::from_arg_matches(&defaults)?;
            let code = commands::login::run(config, &args).await?;
            if code != ExitCode::SUCCESS {
                return Ok(code);
            }
            Session::open(config).await?
        }
    };
    let options =
        natschat_tui::ui::ChatOptions::for_session(config, std::sync::Arc::new(session)).await?;
    natschat_tui::ui::run(options).await?;
    Ok(ExitCode::SUCCESS)
}

/// Logs go to stderr so they never mix with what a command prints.
fn init_logging(verbose: Option<u8>) {
    let default = match verbose {
        None => "off",
        Some(0) => "warn",
        Some(1) => "info",
        Some(_) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes are for a terminal; in a file or a pipe they are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}
