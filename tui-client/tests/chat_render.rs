//! `render` as a specification: what the screen shows for a given state,
//! read back from ratatui's TestBackend buffer.

use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest, RoomName, StoredMessage};
use natschat_tui::ui::wrap::display_width;
use natschat_tui::ui::{Action, App, ChatSettings, ConnectionEvent, KeyAction, render, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn chat(user: &str, roles: &[&str], width: u16, height: u16) -> App {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let mut app = App::new(
        user,
        &roles,
        Vec::new(),
        "run".into(),
        ChatSettings::default(),
    );
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Action::Connection(ConnectionEvent::Connected));
    app
}

fn say(app: &mut App, room: &str, user: &str, text: &str, seq: u64) {
    update(
        app,
        Action::HistoryLoaded {
            room: room.parse().unwrap(),
            request: HistoryRequest::Latest { limit: 50 },
            page: HistoryPage {
                messages: vec![StoredMessage {
                    message: ChatMessage {
                        user: user.into(),
                        text: text.into(),
                        timestamp: 1_700_000_000_000,
                        room: room.parse().unwrap(),
                        id: Some(format!("id{seq}")),
                    },
                    seq,
                }],
                has_more: false,
            },
        },
    );
}

/// The screen as text, one string per row; a wide character's second cell
/// is not repeated.
fn screen(app: &App) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            let mut row = String::new();
            let mut x = 0;
            while x < buffer.area.width {
                let symbol = buffer[(x, y)].symbol();
                row.push_str(symbol);
                x += display_width(symbol).max(1) as u16;
            }
            row
        })
        .collect()
}

fn contains(rows: &[String], needle: &str) -> bool {
    rows.iter().any(|r| r.contains(needle))
}

#[test]
fn shows_rooms_messages_input_and_status() {
    let mut app = chat("alice", &["admin", "user"], 80, 12);
    say(&mut app, "general", "bob", "hello alice", 1);
    let rows = screen(&app);
    for room in ["#general", "#random", "#help", "admin-channel"] {
        assert!(
            contains(&rows, room),
            "{room} missing:\n{}",
            rows.join("\n")
        );
    }
    assert!(contains(&rows, "bob: hello alice"));
    assert!(rows[10].starts_with("> "), "input row: {}", rows[10]);
    let status = &rows[11];
    for part in ["connected", "alice [admin,user]", "#general"] {
        assert!(status.contains(part), "status: {status}");
    }
}

#[test]
fn wide_characters_wrap_inside_the_pane() {
    let mut app = chat("alice", &["user"], 40, 10);
    let text = "日本語のテキストはとても長いので折り返す必要があります";
    say(&mut app, "general", "bob", text, 1);
    let rows = screen(&app);
    // Narrow terminal: no room list, the pane is the full 40 cells.
    let body: Vec<&String> = rows[..8].iter().filter(|r| !r.trim().is_empty()).collect();
    assert!(body.len() >= 2, "{}", rows.join("\n"));
    for row in &body {
        assert!(display_width(row) <= 40, "{row}");
    }
    let shown: String = body
        .iter()
        .map(|r| {
            r.trim()
                .trim_start_matches(|c: char| c.is_ascii())
                .to_owned()
        })
        .collect();
    assert_eq!(shown.replace(' ', ""), text, "{}", rows.join("\n"));
}

#[test]
fn unread_counts_and_mentions_are_marked_in_the_room_list() {
    let mut app = chat("bob", &["user"], 80, 12);
    for (n, text) in ["hi all", "hey @bob"].iter().enumerate() {
        update(
            &mut app,
            Action::Live(ChatMessage {
                user: "alice".into(),
                text: (*text).into(),
                timestamp: 1_700_000_000_000 + n as i64,
                room: "random".parse().unwrap(),
                id: Some(format!("l{n}")),
            }),
        );
    }
    let rows = screen(&app);
    let random = rows.iter().find(|r| r.contains("#random")).unwrap();
    assert!(random.contains("(2)") && random.contains('@'), "{random}");
    let general = rows.iter().find(|r| r.contains("#general")).unwrap();
    assert!(!general.contains('('), "{general}");
}

#[test]
fn read_only_users_see_why_they_cannot_post() {
    let app = chat("charlie", &[], 120, 10);
    let rows = screen(&app);
    assert!(rows[8].contains("read-only"), "{}", rows[8]);
    assert!(rows[8].contains("'user' role"), "{}", rows[8]);
    assert!(rows[9].contains("charlie [read-only]"), "{}", rows[9]);
}

#[test]
fn own_pending_and_action_messages_are_distinct() {
    let mut app = chat("bob", &["user"], 80, 10);
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Disconnected {
            reason: "network".into(),
        }),
    );
    update(&mut app, Action::Paste("/me waves".into()));
    update(
        &mut app,
        Action::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Enter,
        )),
    );
    let rows = screen(&app);
    assert!(
        contains(&rows, "* bob waves (sending…)"),
        "{}",
        rows.join("\n")
    );
    assert!(contains(&rows, "reconnecting (network)"));
    assert!(contains(&rows, "1 queued"));
}

#[test]
fn the_help_overlay_lists_every_key_action() {
    let mut app = chat("bob", &["user"], 100, 40);
    update(
        &mut app,
        Action::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::F(1),
        )),
    );
    let rows = screen(&app);
    for (_, _, what) in KeyAction::ALL {
        assert!(
            contains(&rows, what),
            "help lacks '{what}':\n{}",
            rows.join("\n")
        );
    }
    assert!(contains(&rows, "/join <room>"));
}

#[test]
fn scrolling_back_shows_older_messages_and_says_where_it_is() {
    let mut app = chat("bob", &["user"], 80, 8);
    for seq in 1..=30 {
        say(&mut app, "general", "alice", &format!("message {seq}"), seq);
    }
    assert!(contains(&screen(&app), "message 30"));
    update(&mut app, Action::Scroll(1000));
    let rows = screen(&app);
    assert!(
        contains(&rows, "beginning of the room"),
        "{}",
        rows.join("\n")
    );
    assert!(contains(&rows, "message 1"));
    assert!(!contains(&rows, "message 30"));
    let _ = RoomName::admin();
}

#[test]
fn tabs_in_messages_and_input_are_shown_as_spaces() {
    let mut app = chat("bob", &["user"], 80, 12);
    say(&mut app, "general", "alice", "col1\tcol2", 1);
    update(&mut app, Action::Paste("x\ty".into()));
    let rows = screen(&app);
    assert!(contains(&rows, "alice: col1 col2"), "{}", rows.join("\n"));
    assert!(contains(&rows, "> x y"), "{}", rows.join("\n"));
}

#[test]
fn a_long_input_line_shows_the_text_around_the_cursor() {
    let mut app = chat("bob", &["user"], 40, 12);
    let line: String = (0..4000)
        .map(|n| char::from(b'a' + (n % 26) as u8))
        .collect();
    update(&mut app, Action::Paste(line.clone()));
    let mut terminal = Terminal::new(TestBackend::new(40, 12)).unwrap();
    terminal.draw(|frame| render(&app, frame)).unwrap();
    let rows = screen(&app);
    // 37 cells after "> ": the last 37 characters, the cursor after them.
    let input = &rows[10];
    assert_eq!(input.trim_end(), format!("> {}", &line[4000 - 37..]));
    terminal.backend_mut().assert_cursor_position((39, 10));

    // Wide characters before the cursor: the window still ends at it.
    let mut app = chat("bob", &["user"], 40, 12);
    update(
        &mut app,
        Action::Paste(format!("{}日本語", "x".repeat(100))),
    );
    let rows = screen(&app);
    assert!(rows[10].trim_end().ends_with("x日本語"), "{}", rows[10]);
    assert!(display_width(rows[10].trim_end()) <= 39, "{}", rows[10]);
}
