//! The chat's one event loop: terminal events, NATS deliveries and a timer
//! become actions; commands are performed here and nowhere else; the screen
//! is drawn only when something changed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::StreamExt;
use natschat_proto::RoomName;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::action::{Action, Command};
use super::app::App;
use super::render::render;
use super::rooms_file;
use super::settings::ChatSettings;
use super::terminal::{TerminalGuard, bell};
use super::update::update;
use crate::auth::{AccessClaims, AuthError, Session};
use crate::config::Config;
use crate::net::{ChatConnection, NetError, NetOptions, TokenSource};

/// Rows one mouse wheel notch scrolls.
const WHEEL_ROWS: i32 = 3;

/// Everything the chat needs to start.
pub struct ChatOptions {
    pub user: String,
    /// Realm roles from the access token.
    pub realm_roles: Vec<String>,
    pub nats_url: String,
    /// Where the joined rooms are kept; `None` keeps them for this run only.
    pub rooms_file: Option<PathBuf>,
    pub settings: ChatSettings,
    pub tokens: TokenSource,
}

impl ChatOptions {
    /// The chat of the person signed in with `session`, configured by
    /// `config` (the `[chat]` table of its file, rooms kept beside it).
    pub async fn for_session(
        config: &Config,
        session: Arc<Session>,
    ) -> Result<ChatOptions, ChatError> {
        let token = session.valid_access_token().await?;
        let claims = AccessClaims::decode(&token)?;
        let settings = match &config.config_file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => ChatSettings::from_config_text(&text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => ChatSettings::default(),
                Err(e) => return Err(ChatError::Terminal(e)),
            },
            None => ChatSettings::default(),
        };
        let user = session.username().to_owned();
        let rooms_file = config
            .config_file
            .as_deref()
            .and_then(|file| file.parent())
            .map(|dir| rooms_file::path_for(dir, &user));
        let tokens: TokenSource = Arc::new(move || {
            let session = session.clone();
            Box::pin(async move {
                session
                    .valid_access_token()
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        Ok(ChatOptions {
            user,
            realm_roles: claims.realm_access.roles,
            nats_url: config.nats_url.clone(),
            rooms_file,
            settings,
            tokens,
        })
    }
}

/// Why the chat stopped other than by the person's choice.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the terminal cannot be used: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Settings(#[from] super::settings::SettingsError),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A prefix for message ids that no other run shares.
fn run_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Runs the chat until the person quits or a signal ends it.
pub async fn run(options: ChatOptions) -> Result<(), ChatError> {
    let saved_rooms: Vec<RoomName> = match &options.rooms_file {
        Some(path) => rooms_file::load(path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "room list ignored");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let mut app = App::new(
        &options.user,
        &options.realm_roles,
        saved_rooms,
        run_id(),
        options.settings,
    );
    app.now_ms = now_ms();

    let guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let size = terminal.size()?;
    update(
        &mut app,
        Action::Resize {
            width: size.width,
            height: size.height,
        },
    );
    terminal.draw(|frame| render(&app, frame))?;
    app.dirty = false;

    // Debug builds only: lets a test prove the panic hook restores the
    // terminal. Release builds do not contain this.
    #[cfg(debug_assertions)]
    if std::env::var_os("NATSCHAT_TEST_PANIC").is_some() {
        panic!("NATSCHAT_TEST_PANIC is set: panicking on purpose to test terminal restore");
    }

    let (actions, mut incoming) = mpsc::unbounded_channel();
    let connection = ChatConnection::connect(
        NetOptions {
            nats_url: options.nats_url,
            user: options.user.clone(),
            admin: app.permissions.admin_channel,
            tokens: reporting_roles(options.tokens, actions.clone()),
        },
        actions,
    )
    .await?;

    let ended = event_loop(
        &mut app,
        &mut terminal,
        &connection,
        &mut incoming,
        options.rooms_file.as_deref(),
    )
    .await;
    connection.flush().await;
    // The terminal is the person's again before anything is printed on it.
    drop(terminal);
    drop(guard);
    if let Some(report) = app.unsent_report() {
        eprint!("{report}");
    }
    ended
}

/// Turns events into actions until the person quits, a signal arrives or
/// the terminal fails.
async fn event_loop(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    connection: &ChatConnection,
    incoming: &mut mpsc::UnboundedReceiver<Action>,
    rooms_file: Option<&std::path::Path>,
) -> Result<(), ChatError> {
    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;

    loop {
        let action = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => match terminal_action(event) {
                    Some(action) => action,
                    None => continue,
                },
                Some(Err(e)) => return Err(ChatError::Terminal(e)),
                None => break,
            },
            Some(action) = incoming.recv() => action,
            _ = tick.tick() => Action::Tick { now_ms: now_ms() },
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        };
        app.now_ms = now_ms();
        for command in update(app, action) {
            perform(app, connection, command, rooms_file).await;
        }
        if app.quit {
            break;
        }
        if app.dirty {
            terminal.draw(|frame| render(app, frame))?;
            app.dirty = false;
        }
    }
    Ok(())
}

/// Wraps a token source so that every token handed to NATS also tells the
/// chat the roles it carries (they may change between refreshes).
fn reporting_roles(tokens: TokenSource, actions: mpsc::UnboundedSender<Action>) -> TokenSource {
    Arc::new(move || {
        let (tokens, actions) = (tokens.clone(), actions.clone());
        Box::pin(async move {
            let token = tokens().await?;
            if let Ok(claims) = AccessClaims::decode(&token) {
                let _ = actions.send(Action::TokenRefreshed {
                    roles: claims.realm_access.roles,
                });
            }
            Ok(token)
        })
    })
}

/// The action behind a terminal event, if any.
fn terminal_action(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => Some(Action::Key(key)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(width, height) => Some(Action::Resize { width, height }),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Action::Scroll(WHEEL_ROWS)),
            MouseEventKind::ScrollDown => Some(Action::Scroll(-WHEEL_ROWS)),
            _ => None,
        },
        Event::FocusGained | Event::FocusLost => None,
    }
}

/// Performs one command of `update`: the only place the chat touches NATS,
/// the room list file or the bell. A publish the NATS client rejects goes
/// back through `update` (as [`Action::PublishFailed`]), which queues it
/// again.
pub async fn perform(
    app: &mut App,
    connection: &ChatConnection,
    command: Command,
    rooms_path: Option<&std::path::Path>,
) {
    match command {
        Command::Publish(message) => {
            if let Err(e) = connection.publish(&message).await {
                tracing::warn!(error = %e, "publish rejected by the client; queued again");
                let follow_up = update(
                    app,
                    Action::PublishFailed {
                        message,
                        reason: e.to_string(),
                    },
                );
                debug_assert!(follow_up.is_empty(), "a failed publish asks for nothing");
            }
        }
        Command::RequestHistory { room, request } => connection.request_history(room, request),
        Command::SaveRooms(rooms) => {
            if let Some(path) = rooms_path
                && let Err(e) = rooms_file::save(path, &rooms)
            {
                app.notify(e.to_string(), true);
                app.dirty = true;
            }
        }
        Command::Bell => bell(),
        Command::Quit => app.quit = true,
    }
}
