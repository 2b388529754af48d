//! `update` as a specification: what each action does to the chat and
//! which commands it asks for. No terminal, no server.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest, RoomName, StoredMessage};
use natschat_tui::ui::{Action, App, ChatSettings, Command, ConnectionEvent, Delivery, update};

fn room(name: &str) -> RoomName {
    name.parse().unwrap()
}

fn chat(user: &str, roles: &[&str]) -> App {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let mut app = App::new(
        user,
        &roles,
        Vec::new(),
        "run".into(),
        ChatSettings::default(),
    );
    app.now_ms = 1_700_000_000_000;
    app
}

fn connected(user: &str, roles: &[&str]) -> App {
    let mut app = chat(user, roles);
    update(&mut app, Action::Connection(ConnectionEvent::Connected));
    app
}

fn message(user: &str, text: &str, id: Option<&str>) -> ChatMessage {
    ChatMessage {
        user: user.into(),
        text: text.into(),
        timestamp: 1_700_000_000_000,
        room: room("general"),
        id: id.map(str::to_owned),
    }
}

fn stored(seq: u64) -> StoredMessage {
    StoredMessage {
        message: message("bob", &format!("m{seq}"), Some(&format!("id{seq}"))),
        seq,
    }
}

fn page(seqs: std::ops::RangeInclusive<u64>, has_more: bool) -> HistoryPage {
    HistoryPage {
        messages: seqs.map(stored).collect(),
        has_more,
    }
}

fn loaded(app: &mut App, request: HistoryRequest, page: HistoryPage) -> Vec<Command> {
    update(
        app,
        Action::HistoryLoaded {
            room: room("general"),
            request,
            page,
        },
    )
}

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn type_line(app: &mut App, text: &str) -> Vec<Command> {
    update(app, Action::Paste(text.into()));
    update(app, key(KeyCode::Enter))
}

fn texts(app: &App) -> Vec<String> {
    app.active_room()
        .timeline
        .entries()
        .iter()
        .map(|e| e.message.text.clone())
        .collect()
}

const LATEST: HistoryRequest = HistoryRequest::Latest { limit: 50 };

/// Whether every message of the room shown has this delivery state.
fn all_shown_as(app: &App, delivery: Delivery) -> bool {
    app.active_room()
        .timeline
        .entries()
        .iter()
        .all(|e| e.delivery == delivery)
}

#[test]
fn first_connect_loads_the_latest_page_of_the_room_shown() {
    let mut app = chat("bob", &["user"]);
    let commands = update(&mut app, Action::Connection(ConnectionEvent::Connected));
    assert_eq!(
        commands,
        [Command::RequestHistory {
            room: room("general"),
            request: LATEST
        }]
    );
}

#[test]
fn live_messages_already_in_history_are_shown_once() {
    let mut app = connected("alice", &["user"]);
    update(&mut app, Action::Live(message("bob", "m3", Some("id3"))));
    loaded(&mut app, LATEST, page(1..=3, false));
    update(&mut app, Action::Live(message("bob", "m3", Some("id3"))));
    assert_eq!(texts(&app), ["m1", "m2", "m3"]);
}

#[test]
fn messages_without_id_dedupe_by_room_user_time_and_text() {
    let mut app = connected("alice", &["user"]);
    let old_client = message("web", "hello", None);
    update(&mut app, Action::Live(old_client.clone()));
    update(&mut app, Action::Live(old_client.clone()));
    loaded(
        &mut app,
        LATEST,
        HistoryPage {
            messages: vec![StoredMessage {
                message: old_client,
                seq: 7,
            }],
            has_more: false,
        },
    );
    assert_eq!(texts(&app), ["hello"]);
    assert_eq!(app.active_room().timeline.entries()[0].seq, Some(7));
}

#[test]
fn live_messages_arriving_while_history_loads_are_kept_in_order() {
    let mut app = connected("alice", &["user"]);
    // m50 is in the page that is on its way; m51 was sent after it was read.
    update(&mut app, Action::Live(message("bob", "m50", Some("id50"))));
    update(&mut app, Action::Live(message("bob", "m51", Some("id51"))));
    loaded(&mut app, LATEST, page(1..=50, false));
    let shown = texts(&app);
    assert_eq!(shown.len(), 51);
    assert_eq!(&shown[48..], ["m49", "m50", "m51"]);
}

#[test]
fn scrolling_past_the_oldest_message_pages_backwards_once() {
    let mut app = connected("alice", &["user"]);
    loaded(&mut app, LATEST, page(51..=100, true));
    let commands = update(&mut app, Action::Scroll(10_000));
    assert_eq!(
        commands,
        [Command::RequestHistory {
            room: room("general"),
            request: HistoryRequest::Before {
                limit: 50,
                before: 51
            }
        }]
    );
    // A second wheel turn while the page is on its way asks for nothing.
    assert!(update(&mut app, Action::Scroll(3)).is_empty());
    loaded(
        &mut app,
        HistoryRequest::Before {
            limit: 50,
            before: 51,
        },
        page(1..=50, false),
    );
    let expected: Vec<String> = (1..=100).map(|n| format!("m{n}")).collect();
    assert_eq!(texts(&app), expected);
    // The beginning of the room: nothing more to ask for.
    assert!(update(&mut app, Action::Scroll(10_000)).is_empty());
}

#[test]
fn a_reconnect_fills_the_gap_after_the_newest_known_message() {
    let mut app = connected("alice", &["user"]);
    loaded(&mut app, LATEST, page(1..=10, false));
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Disconnected {
            reason: "gone".into(),
        }),
    );
    let commands = update(&mut app, Action::Connection(ConnectionEvent::Connected));
    let after = HistoryRequest::After {
        limit: 50,
        after: 10,
    };
    assert_eq!(
        commands,
        [Command::RequestHistory {
            room: room("general"),
            request: after
        }]
    );
    // A full page means more is missing: the next page is asked for.
    update(&mut app, Action::Live(message("bob", "m61", Some("id61"))));
    let more = loaded(&mut app, after, page(11..=60, true));
    assert_eq!(
        more,
        [Command::RequestHistory {
            room: room("general"),
            request: HistoryRequest::After {
                limit: 50,
                after: 60
            }
        }]
    );
    loaded(
        &mut app,
        HistoryRequest::After {
            limit: 50,
            after: 60,
        },
        page(61..=61, false),
    );
    let expected: Vec<String> = (1..=61).map(|n| format!("m{n}")).collect();
    assert_eq!(texts(&app), expected);
}

#[test]
fn messages_typed_while_disconnected_are_queued_and_sent_in_order() {
    let mut app = chat("bob", &["user"]);
    assert!(type_line(&mut app, "one").is_empty());
    assert!(type_line(&mut app, "two").is_empty());
    assert_eq!(texts(&app), ["one", "two"]);
    assert!(all_shown_as(&app, Delivery::Pending));
    let commands = update(&mut app, Action::Connection(ConnectionEvent::Connected));
    let published: Vec<&str> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Publish(m) => Some(m.text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(published, ["one", "two"]);
    assert!(app.outbox.is_empty());
    // The server echoes the first: it is no longer pending.
    let Command::Publish(first) = commands
        .iter()
        .find(|c| matches!(c, Command::Publish(_)))
        .unwrap()
    else {
        unreachable!()
    };
    assert!(first.id.is_some());
    update(&mut app, Action::Live(first.clone()));
    let entries = app.active_room().timeline.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].delivery, Delivery::Delivered);
    assert_eq!(entries[1].delivery, Delivery::Pending);
}

#[test]
fn a_publish_the_client_rejects_is_queued_again_before_later_messages() {
    let mut app = connected("bob", &["user"]);
    let published = |commands: Vec<Command>| -> Vec<ChatMessage> {
        commands
            .into_iter()
            .filter_map(|c| match c {
                Command::Publish(m) => Some(m),
                _ => None,
            })
            .collect()
    };
    let first = published(type_line(&mut app, "one"));
    let second = published(type_line(&mut app, "two"));
    assert_eq!((first.len(), second.len()), (1, 1));
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Disconnected {
            reason: "connection lost".into(),
        }),
    );
    // Typed while disconnected: queued at once.
    assert!(type_line(&mut app, "three").is_empty());
    // The client refused both earlier publishes, the second first.
    for message in [&second[0], &first[0]] {
        let commands = update(
            &mut app,
            Action::PublishFailed {
                message: message.clone(),
                reason: "connection closed".into(),
            },
        );
        assert!(commands.is_empty());
    }
    let queued: Vec<&str> = app.outbox.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(queued, ["one", "two", "three"]);
    assert!(app.notice.as_ref().unwrap().is_error);
    // Still shown once each, as pending.
    assert_eq!(texts(&app), ["one", "two", "three"]);
    assert!(all_shown_as(&app, Delivery::Pending));
    // The next connect sends all three, in the order they were typed.
    let resent = published(update(
        &mut app,
        Action::Connection(ConnectionEvent::Connected),
    ));
    let resent: Vec<&str> = resent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(resent, ["one", "two", "three"]);
    assert!(app.outbox.is_empty());
}

#[test]
fn every_sent_message_has_a_distinct_id() {
    let mut app = connected("bob", &["user"]);
    let mut ids = Vec::new();
    for text in ["a", "b", "c"] {
        for command in type_line(&mut app, text) {
            if let Command::Publish(m) = command {
                ids.push(m.id.unwrap());
            }
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[test]
fn read_only_users_cannot_type_messages_but_can_use_commands() {
    let mut app = connected("charlie", &[]);
    update(&mut app, key(KeyCode::Char('h')));
    assert_eq!(app.input.value(), "");
    assert!(app.notice.as_ref().unwrap().text.contains("read-only"));
    let commands = type_line(&mut app, "/join dev");
    assert!(commands.contains(&Command::SaveRooms(vec![
        room("general"),
        room("random"),
        room("help"),
        room("dev")
    ])));
    assert_eq!(app.active_room().name, room("dev"));
}

#[test]
fn join_adds_and_leave_removes_a_room_and_both_are_saved() {
    let mut app = connected("bob", &["user"]);
    let commands = type_line(&mut app, "/join rust-lang");
    assert!(commands.contains(&Command::RequestHistory {
        room: room("rust-lang"),
        request: LATEST
    }));
    let commands = type_line(&mut app, "/leave");
    assert!(commands.contains(&Command::SaveRooms(vec![
        room("general"),
        room("random"),
        room("help")
    ])));
    type_line(&mut app, "/join Bad.Name");
    assert!(app.notice.as_ref().unwrap().text.contains("cannot join"));
}

#[test]
fn a_mention_in_another_room_counts_unread_marks_it_and_rings() {
    let mut app = connected("bob", &["user"]);
    let mut elsewhere = message("alice", "ping @bob", Some("x1"));
    elsewhere.room = room("random");
    let commands = update(&mut app, Action::Live(elsewhere));
    assert_eq!(commands, [Command::Bell]);
    let random = &app.rooms[1];
    assert_eq!((random.unread, random.mentioned), (1, true));
    // Going there clears both.
    update(&mut app, key(KeyCode::Tab));
    assert_eq!((app.rooms[1].unread, app.rooms[1].mentioned), (0, false));
}

#[test]
fn the_input_line_edits_like_a_shell() {
    let mut app = connected("bob", &["user"]);
    update(&mut app, Action::Paste("hello big world".into()));
    update(&mut app, ctrl('w'));
    assert_eq!(app.input.value(), "hello big ");
    update(&mut app, ctrl('a'));
    update(&mut app, key(KeyCode::Char('>')));
    assert_eq!(app.input.value(), ">hello big ");
    update(&mut app, ctrl('e'));
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::CONTROL)),
    );
    update(&mut app, ctrl('k'));
    assert_eq!(app.input.value(), ">hello ");
    update(&mut app, ctrl('u'));
    assert_eq!(app.input.value(), "");
}

#[test]
fn up_and_down_walk_the_lines_sent_before_and_return_to_the_draft() {
    let mut app = connected("bob", &["user"]);
    type_line(&mut app, "first");
    type_line(&mut app, "second");
    update(&mut app, Action::Paste("draft".into()));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.input.value(), "second");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.input.value(), "first");
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.input.value(), "draft");
}

#[test]
fn a_multi_line_paste_goes_out_as_one_message() {
    let mut app = connected("bob", &["user"]);
    let commands = type_line(&mut app, "line one\r\nline two");
    assert!(matches!(&commands[..], [Command::Publish(m)] if m.text == "line one\nline two"));
}

#[test]
fn a_permission_violation_is_explained_and_marks_the_message_refused() {
    let mut app = connected("bob", &["user"]);
    type_line(&mut app, "/join admin");
    type_line(&mut app, "let me in");
    // The client already knows bob may not post there and says why.
    assert!(app.notice.as_ref().unwrap().text.contains("admin"));
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Refused {
            server_text: "Permissions Violation for Publish to \"chat.history.__admin__\"".into(),
        }),
    );
    let notice = &app.notice.as_ref().unwrap().text;
    assert!(
        notice.contains("may not read the history of admin-channel"),
        "{notice}"
    );
}

#[test]
fn alt_digit_and_ctrl_n_p_switch_rooms() {
    let mut app = connected("alice", &["admin", "user"]);
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::ALT)),
    );
    assert!(app.active_room().name.is_admin());
    update(&mut app, ctrl('n'));
    assert_eq!(app.active, 0);
    update(&mut app, ctrl('p'));
    assert_eq!(app.active, 3);
}

#[test]
fn quit_by_key_or_command() {
    let mut app = connected("bob", &["user"]);
    assert_eq!(type_line(&mut app, "/quit"), [Command::Quit]);
    let mut app = connected("bob", &["user"]);
    assert_eq!(update(&mut app, ctrl('c')), [Command::Quit]);
}
