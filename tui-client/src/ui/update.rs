//! `update`: how each [`Action`] changes the [`App`] and which
//! [`Command`]s it asks for. No I/O happens here.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use natschat_proto::{
    ChatMessage, HistoryPage, HistoryRequest, InboxMode, Permissions, Role, RoomName,
    message::MAX_TEXT_LEN,
};
use tui_input::{Input, InputRequest};

use super::action::{Action, Command, ConnectionEvent};
use super::app::{App, Connection, Room, room_label};
use super::keys::KeyAction;
use super::layout::{Areas, message_height, rows_from_bottom};
use super::timeline::{Added, Delivery};

/// Messages per history page.
pub const PAGE_SIZE: u32 = 50;

/// Applies one action to the chat and returns what must be done outside.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    let commands = match action {
        Action::Tick { now_ms } => {
            app.now_ms = now_ms;
            if app.notice.as_ref().is_some_and(|n| n.until_ms <= now_ms) {
                app.notice = None;
                app.dirty = true;
            }
            return Vec::new();
        }
        Action::Key(key) => on_key(app, key),
        Action::Paste(text) => on_paste(app, &text),
        Action::Scroll(rows) => scroll_by(app, rows),
        Action::Resize { width, height } => {
            app.width = width;
            app.height = height;
            Vec::new()
        }
        Action::Connection(event) => on_connection(app, event),
        Action::Live(message) => on_live(app, message),
        Action::HistoryLoaded {
            room,
            request,
            page,
        } => on_history(app, &room, request, page),
        Action::HistoryFailed {
            room,
            request,
            reason,
        } => {
            if let Some(r) = app.room_index(&room).map(|i| &mut app.rooms[i]) {
                match request {
                    HistoryRequest::Before { .. } => r.loading_older = false,
                    _ => r.loading_latest = false,
                }
            }
            app.notify(
                format!(
                    "could not load the history of {}: {reason}",
                    room_label(&room)
                ),
                true,
            );
            Vec::new()
        }
        Action::PublishFailed { message, reason } => on_publish_failed(app, message, &reason),
        Action::TokenRefreshed { roles } => {
            let roles = Role::from_realm_roles(&roles);
            if roles != app.roles {
                app.permissions = Permissions::for_roles(&roles, &app.user, InboxMode::PerUser);
                app.roles = roles;
                app.notify("your roles changed with the new token", false);
            }
            Vec::new()
        }
    };
    app.dirty = true;
    commands
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if app.show_help {
        // Any key closes the help; Quit still quits.
        app.show_help = false;
        if app.settings.keys.action_for(&key) != Some(KeyAction::Quit) {
            return Vec::new();
        }
    }
    if let Some(action) = app.settings.keys.action_for(&key) {
        return on_key_action(app, action);
    }
    let plain = !key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match key.code {
        KeyCode::Char(digit @ '1'..='9') if key.modifiers.contains(KeyModifiers::ALT) => {
            let index = digit as usize - '1' as usize;
            if index < app.rooms.len() {
                return switch_room(app, index);
            }
        }
        KeyCode::Char(c) if plain => {
            if app.input.value().is_empty() && c != '/' && !app.can_post_here() {
                app.notify(read_only_reason(app), true);
            } else if app.input.value().chars().count() >= MAX_TEXT_LEN {
                app.notify(too_long(), true);
            } else {
                edit(app, InputRequest::InsertChar(c));
            }
        }
        KeyCode::Backspace => edit(app, InputRequest::DeletePrevChar),
        KeyCode::Delete => edit(app, InputRequest::DeleteNextChar),
        KeyCode::Left => edit(app, InputRequest::GoToPrevChar),
        KeyCode::Right => edit(app, InputRequest::GoToNextChar),
        KeyCode::Esc => app.active_room_mut().scroll = 0,
        _ => {}
    }
    Vec::new()
}

fn edit(app: &mut App, request: InputRequest) {
    app.input.handle(request);
}

fn on_key_action(app: &mut App, action: KeyAction) -> Vec<Command> {
    let page = usize::from(Areas::message_pane(app.width, app.height).height.max(2) - 1);
    match action {
        KeyAction::Send => return submit(app),
        KeyAction::NextRoom => return switch_room(app, (app.active + 1) % app.rooms.len()),
        KeyAction::PrevRoom => {
            return switch_room(app, (app.active + app.rooms.len() - 1) % app.rooms.len());
        }
        KeyAction::ScrollUp => return scroll_by(app, page as i32),
        KeyAction::ScrollDown => return scroll_by(app, -(page as i32)),
        KeyAction::ScrollToBottom => app.active_room_mut().scroll = 0,
        KeyAction::HistoryPrev => history_step(app, -1),
        KeyAction::HistoryNext => history_step(app, 1),
        KeyAction::LineStart => edit(app, InputRequest::GoToStart),
        KeyAction::LineEnd => edit(app, InputRequest::GoToEnd),
        KeyAction::WordLeft => edit(app, InputRequest::GoToPrevWord),
        KeyAction::WordRight => edit(app, InputRequest::GoToNextWord),
        KeyAction::DeleteWordBack => edit(app, InputRequest::DeletePrevWord),
        KeyAction::DeleteToStart => edit(app, InputRequest::DeleteFromStart),
        KeyAction::DeleteToEnd => edit(app, InputRequest::DeleteTillEnd),
        KeyAction::Help => app.show_help = !app.show_help,
        KeyAction::Quit => return quit(app),
    }
    Vec::new()
}

/// Quits, unless messages are still queued unsent: then the first quit
/// only warns, and a second one discards them.
fn quit(app: &mut App) -> Vec<Command> {
    if !app.outbox.is_empty() && !app.quit_confirming {
        app.quit_confirming = true;
        app.notify(
            format!(
                "{} message(s) not sent yet — /quit again to discard",
                app.outbox.len()
            ),
            true,
        );
        return Vec::new();
    }
    app.quit = true;
    vec![Command::Quit]
}

fn too_long() -> String {
    format!("a message holds at most {MAX_TEXT_LEN} characters; the rest was not added")
}

fn on_paste(app: &mut App, text: &str) -> Vec<Command> {
    // Terminals send pasted line breaks as CR; keep them as newlines so the
    // paste goes out as one message with its lines.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if app.input.value().is_empty() && !text.starts_with('/') && !app.can_post_here() {
        app.notify(read_only_reason(app), true);
        return Vec::new();
    }
    // Built in one go rather than a character at a time: inserting each
    // character shifts the rest of the line, which is quadratic for a paste.
    let value = app.input.value();
    let room_left = MAX_TEXT_LEN.saturating_sub(value.chars().count());
    let taken: String = text.chars().take(room_left).collect();
    let added = taken.chars().count();
    let cursor = app.input.cursor();
    let at = value
        .char_indices()
        .nth(cursor)
        .map_or(value.len(), |(at, _)| at);
    let mut line = String::with_capacity(value.len() + taken.len());
    line.push_str(&value[..at]);
    line.push_str(&taken);
    line.push_str(&value[at..]);
    app.input = Input::new(line).with_cursor(cursor + added);
    if added < text.chars().count() {
        app.notify(too_long(), true);
    }
    Vec::new()
}

/// Walks the input history: `-1` towards older lines, `1` back towards the
/// draft that was being typed.
fn history_step(app: &mut App, direction: i32) {
    if app.input_history.is_empty() {
        return;
    }
    let newest = app.input_history.len() - 1;
    let next = match (app.history_cursor.take(), direction < 0) {
        (None, true) => Some((newest, app.input.value().to_owned())),
        (None, false) => None,
        (Some((at, draft)), true) => Some((at.saturating_sub(1), draft)),
        (Some((at, draft)), false) if at < newest => Some((at + 1, draft)),
        (Some((_, draft)), false) => {
            app.input = Input::new(draft);
            None
        }
    };
    if let Some((at, draft)) = next {
        app.input = Input::new(app.input_history[at].clone());
        app.history_cursor = Some((at, draft));
    }
}

fn read_only_reason(app: &App) -> String {
    if !app.permissions.can_post {
        "read-only: you may not post (ask an admin for the 'user' role); /join, /leave, /help and /quit work".to_owned()
    } else {
        "only admins may post in the admin channel".to_owned()
    }
}

/// Enter: a command, or a message for the room shown.
fn submit(app: &mut App) -> Vec<Command> {
    let line = app.input.value().to_owned();
    // Whatever this line does, an old error no longer describes the state.
    if app.notice.as_ref().is_some_and(|n| n.is_error) {
        app.notice = None;
    }
    app.input.reset();
    if line.trim().is_empty() {
        return Vec::new();
    }
    app.history_cursor = None;
    if app.input_history.last() != Some(&line) {
        app.input_history.push(line.clone());
    }
    let Some(command) = line.strip_prefix('/') else {
        return send(app, line);
    };
    if command.starts_with('/') {
        // "//text" sends "/text".
        return send(app, command.to_owned());
    }
    let (name, argument) = match command.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (command.trim(), ""),
    };
    match name {
        "join" => join(app, argument),
        "leave" | "part" => leave(app, argument),
        "me" if argument.is_empty() => {
            app.notify("usage: /me <text>", true);
            Vec::new()
        }
        "me" => send(app, format!("/me {argument}")),
        "help" => {
            app.show_help = true;
            Vec::new()
        }
        "quit" | "exit" => quit(app),
        _ => {
            app.notify(
                format!("unknown command /{name}; /help lists the commands"),
                true,
            );
            Vec::new()
        }
    }
}

/// Sends `text` to the room shown: shown at once as pending, published now
/// when connected, queued otherwise.
fn send(app: &mut App, text: String) -> Vec<Command> {
    if !app.can_post_here() {
        app.notify(read_only_reason(app), true);
        return Vec::new();
    }
    app.sent_count += 1;
    let message = ChatMessage {
        user: app.user.clone(),
        text,
        timestamp: app.now_ms,
        room: app.active_room().name.clone(),
        id: Some(format!("{}-{}", app.id_prefix, app.sent_count)),
    };
    if let Err(e) = message.validate() {
        app.notify(format!("not sent: {e}"), true);
        return Vec::new();
    }
    let room = app.active_room_mut();
    room.timeline.add_live(message.clone(), Delivery::Pending);
    room.scroll = 0;
    if app.connection == Connection::Connected {
        vec![Command::Publish(message)]
    } else {
        app.outbox.push_back(message);
        // A quit warned about fewer messages; this one needs its own warning.
        app.quit_confirming = false;
        app.notify(
            "not connected: the message will be sent on reconnect",
            false,
        );
        Vec::new()
    }
}

/// Puts an own message the NATS client would not take back in the queue,
/// before anything typed after it, so it goes out on the next connect in
/// the order it was typed. It stays shown as pending.
fn on_publish_failed(app: &mut App, message: ChatMessage, reason: &str) -> Vec<Command> {
    let typed = app.sent_number(&message);
    let at = app
        .outbox
        .iter()
        .position(|queued| app.sent_number(queued) > typed)
        .unwrap_or(app.outbox.len());
    app.outbox.insert(at, message);
    app.notify(
        format!("not sent ({reason}); it will be sent on reconnect"),
        true,
    );
    Vec::new()
}

/// The room a `/join` or `/leave` argument names: `#room`, `room`, or
/// `admin` / `admin-channel` for the admin channel.
fn named_room(argument: &str) -> Result<RoomName, String> {
    let wanted = match argument {
        "admin" | "admin-channel" => "__admin__",
        name => name.trim_start_matches('#'),
    };
    wanted.parse().map_err(|e| format!("{e}"))
}

fn join(app: &mut App, argument: &str) -> Vec<Command> {
    if argument.is_empty() {
        app.notify("usage: /join <room>", true);
        return Vec::new();
    }
    let room = match named_room(argument) {
        Ok(room) => room,
        Err(e) => {
            app.notify(format!("cannot join '{argument}': {e}"), true);
            return Vec::new();
        }
    };
    if let Some(index) = app.room_index(&room) {
        return switch_room(app, index);
    }
    if room.is_admin() && !app.permissions.admin_channel {
        // The server would refuse it too; the room list stays clean.
        app.notify("only admins may join the admin channel", true);
        return Vec::new();
    }
    app.rooms.push(Room::new(room));
    let mut commands = vec![Command::SaveRooms(app.room_names())];
    commands.extend(switch_room(app, app.rooms.len() - 1));
    commands
}

/// `/leave` leaves the room shown; `/leave <room>` the room named.
fn leave(app: &mut App, argument: &str) -> Vec<Command> {
    let index = if argument.is_empty() {
        app.active
    } else {
        match named_room(argument).ok().and_then(|r| app.room_index(&r)) {
            Some(index) => index,
            None => {
                app.notify(
                    format!("usage: /leave [room] — you are not in '{argument}'"),
                    true,
                );
                return Vec::new();
            }
        }
    };
    if app.rooms.len() == 1 {
        app.notify(
            "this is your last room; /join another before leaving it",
            true,
        );
        return Vec::new();
    }
    let left = app.rooms.remove(index);
    let mut commands = vec![Command::SaveRooms(app.room_names())];
    if index == app.active {
        // The room shown is gone; its draft goes with it.
        app.active = app.active.min(app.rooms.len() - 1);
        app.input = std::mem::take(&mut app.active_room_mut().draft);
        app.history_cursor = None;
        commands.extend(show_room(app, app.active));
    } else if index < app.active {
        app.active -= 1;
    }
    app.notify(format!("left {}", left.label()), false);
    commands
}

/// Shows another room, keeping what was typed in the one left as its
/// draft and bringing back the new room's.
fn switch_room(app: &mut App, index: usize) -> Vec<Command> {
    if index != app.active {
        let typed = std::mem::take(&mut app.input);
        app.active_room_mut().draft = typed;
        app.input = std::mem::take(&mut app.rooms[index].draft);
        app.history_cursor = None;
    }
    show_room(app, index)
}

fn show_room(app: &mut App, index: usize) -> Vec<Command> {
    app.active = index;
    let connected = app.connection == Connection::Connected;
    let room = app.active_room_mut();
    room.unread = 0;
    room.mentioned = false;
    if connected && !room.timeline.loaded && !room.loading_latest {
        room.loading_latest = true;
        return vec![latest(&room.name)];
    }
    Vec::new()
}

fn latest(room: &RoomName) -> Command {
    Command::RequestHistory {
        room: room.clone(),
        request: HistoryRequest::Latest { limit: PAGE_SIZE },
    }
}

/// Scrolls the room shown by `rows` (positive: back in time). Reaching the
/// oldest message shown asks for the page before it.
fn scroll_by(app: &mut App, rows: i32) -> Vec<Command> {
    let pane = Areas::message_pane(app.width, app.height);
    let (width, height) = (usize::from(pane.width), usize::from(pane.height));
    let room = app.active_room_mut();
    if rows <= 0 {
        room.scroll = room.scroll.saturating_sub(rows.unsigned_abs() as usize);
        return Vec::new();
    }
    let wanted = room.scroll + rows as usize;
    let available = rows_from_bottom(&room.timeline, width, wanted + height);
    if available >= wanted + height {
        room.scroll = wanted;
        return Vec::new();
    }
    // One row past the oldest message, where the pane says whether more
    // is coming.
    room.scroll = (available + 1).saturating_sub(height);
    match room.timeline.oldest_seq() {
        Some(before) if room.timeline.has_older && !room.loading_older => {
            room.loading_older = true;
            vec![Command::RequestHistory {
                room: room.name.clone(),
                request: HistoryRequest::Before {
                    limit: PAGE_SIZE,
                    before,
                },
            }]
        }
        _ => Vec::new(),
    }
}

fn on_connection(app: &mut App, event: ConnectionEvent) -> Vec<Command> {
    match event {
        ConnectionEvent::Connected => {
            let reconnect = app.was_connected;
            app.connection = Connection::Connected;
            app.was_connected = true;
            let mut commands = Vec::new();
            let active = app.active;
            for (index, room) in app.rooms.iter_mut().enumerate() {
                if room.timeline.loaded {
                    // Whatever was said while away comes from history.
                    let request = match room.timeline.newest_seq() {
                        Some(after) => HistoryRequest::After {
                            limit: PAGE_SIZE,
                            after,
                        },
                        None => HistoryRequest::Latest { limit: PAGE_SIZE },
                    };
                    commands.push(Command::RequestHistory {
                        room: room.name.clone(),
                        request,
                    });
                } else if index == active || room.loading_latest {
                    room.loading_latest = true;
                    commands.push(latest(&room.name));
                }
            }
            // Queued messages go out in the order they were typed.
            commands.extend(app.outbox.drain(..).map(Command::Publish));
            if reconnect {
                app.notify("reconnected", false);
            }
            commands
        }
        ConnectionEvent::Disconnected { reason } => {
            app.connection = Connection::Reconnecting { reason };
            Vec::new()
        }
        ConnectionEvent::AuthExpired => {
            app.connection = Connection::Reconnecting {
                reason: "access token expired; reconnecting with a fresh one".to_owned(),
            };
            Vec::new()
        }
        ConnectionEvent::Refused { server_text } => {
            let refusal = explain_refusal(app, &server_text);
            if let Some(room) = refusal.room.and_then(|r| app.room_index(&r)) {
                app.rooms[room].timeline.refuse_pending();
            }
            app.notify(refusal.text, true);
            Vec::new()
        }
        ConnectionEvent::Problem { text } => {
            app.notify(text, true);
            Vec::new()
        }
    }
}

/// A server refusal in words, and the room whose pending messages it hit.
struct Refusal {
    text: String,
    room: Option<RoomName>,
}

/// Turns `Permissions Violation for Publish to "admin.chat"` into what the
/// person tried and why it failed.
fn explain_refusal(app: &App, server_text: &str) -> Refusal {
    let lower = server_text.to_ascii_lowercase();
    let subject = server_text
        .split('"')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_default();
    let roles = if app.roles.is_empty() {
        "no roles".to_owned()
    } else {
        app.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !lower.contains("permissions violation") {
        return Refusal {
            text: format!("the server refused: {server_text}"),
            room: None,
        };
    }
    if let Some(room) = natschat_proto::subject::room_of_history_subject(&subject) {
        return Refusal {
            text: format!(
                "refused by the server: you may not read the history of {} (your roles: {roles})",
                room_label(&room)
            ),
            room: None,
        };
    }
    if let Some(room) = natschat_proto::subject::room_of_chat_subject(&subject) {
        let verb = if lower.contains("publish") {
            "post in"
        } else {
            "read"
        };
        return Refusal {
            text: format!(
                "refused by the server: you may not {verb} {} (your roles: {roles})",
                room_label(&room)
            ),
            room: lower.contains("publish").then_some(room),
        };
    }
    Refusal {
        text: format!("refused by the server: no permission for {subject} (your roles: {roles})"),
        room: None,
    }
}

fn on_live(app: &mut App, message: ChatMessage) -> Vec<Command> {
    let Some(index) = app.room_index(&message.room) else {
        return Vec::new();
    };
    let mention = app.mentions_me(&message.text);
    let width = usize::from(Areas::message_pane(app.width, app.height).width);
    let shown = index == app.active;
    let user = app.user.clone();
    let room = &mut app.rooms[index];
    let own = message.user == user;
    if room.timeline.add_live(message, Delivery::Delivered) != Added::New {
        return Vec::new();
    }
    if shown && room.scroll > 0 {
        // Keep the rows being read where they are.
        if let Some(entry) = room.timeline.entries().last() {
            room.scroll += message_height(entry, width);
        }
    }
    let mentions = usize::from(!own && mention);
    note_new_messages(app, index, usize::from(!own), mentions)
}

/// Counts messages new to a room's timeline, however they arrived, as
/// unread when the room is not shown; rings for mentions.
fn note_new_messages(app: &mut App, index: usize, new: usize, mentions: usize) -> Vec<Command> {
    if index != app.active {
        let room = &mut app.rooms[index];
        room.unread += new;
        room.mentioned |= mentions > 0;
    }
    if mentions > 0 && app.settings.bell_on_mention {
        vec![Command::Bell]
    } else {
        Vec::new()
    }
}

fn on_history(
    app: &mut App,
    room: &RoomName,
    request: HistoryRequest,
    page: HistoryPage,
) -> Vec<Command> {
    let Some(index) = app.room_index(room) else {
        return Vec::new();
    };
    // Older pages and a room's first page are history being read, not news;
    // anything else (a gap fill after a reconnect, a fresh latest page)
    // brings messages said since the room was last seen.
    let news = match request {
        HistoryRequest::Before { .. } => false,
        _ => app.rooms[index].timeline.loaded,
    };
    let (mut new, mut mentions) = (0, 0);
    let has_more = page.has_more;
    {
        let (user, rooms) = (&app.user, &mut app.rooms);
        rooms[index]
            .timeline
            .merge_page_noting(page.messages, |message| {
                if news && &message.user != user {
                    new += 1;
                    mentions += usize::from(super::app::mentions(user, &message.text));
                }
            });
    }
    let mut commands = note_new_messages(app, index, new, mentions);
    let room = &mut app.rooms[index];
    match request {
        HistoryRequest::Before { .. } => {
            room.loading_older = false;
            room.timeline.has_older = has_more;
        }
        HistoryRequest::After { .. } => {
            room.timeline.loaded = true;
            if has_more && let Some(after) = room.timeline.newest_seq() {
                commands.push(Command::RequestHistory {
                    room: room.name.clone(),
                    request: HistoryRequest::After {
                        limit: PAGE_SIZE,
                        after,
                    },
                });
            }
        }
        HistoryRequest::Latest { .. } | HistoryRequest::Compatible => {
            room.loading_latest = false;
            if !room.timeline.loaded {
                room.timeline.has_older = has_more;
            }
            room.timeline.loaded = true;
        }
    }
    commands
}
