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
    type_line(&mut app, "let me in");
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Refused {
            server_text: "Permissions Violation for Publish to \"chat.general\"".into(),
        }),
    );
    assert!(all_shown_as(&app, Delivery::Refused));
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .contains("may not post in #general")
    );
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

fn live(user: &str, text: &str, id: &str) -> Action {
    Action::Live(message(user, text, Some(id)))
}

/// Types and sends a message while connected; returns what was published.
fn send_line(app: &mut App, text: &str) -> ChatMessage {
    match &type_line(app, text)[..] {
        [Command::Publish(sent)] => sent.clone(),
        other => panic!("{other:?}"),
    }
}

fn notice(app: &App) -> String {
    app.notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn typing_stops_at_the_message_limit_and_says_so() {
    let mut app = connected("bob", &["user"]);
    update(&mut app, Action::Paste("a".repeat(4090)));
    update(&mut app, Action::Paste("bcdefghij".into()));
    assert_eq!(app.input.value().chars().count(), 4096);
    assert!(app.input.value().ends_with("abcdefg"));
    assert!(
        notice(&app).contains("at most 4096 characters"),
        "{}",
        notice(&app)
    );
    app.notice = None;
    update(&mut app, key(KeyCode::Char('x')));
    assert_eq!(app.input.value().chars().count(), 4096);
    assert!(notice(&app).contains("at most 4096 characters"));
    // What was kept is one sendable message.
    assert!(matches!(
        &update(&mut app, key(KeyCode::Enter))[..],
        [Command::Publish(_)]
    ));
}

#[test]
fn a_paste_goes_in_at_the_cursor() {
    let mut app = connected("bob", &["user"]);
    update(&mut app, Action::Paste("héllo wörld".into()));
    for _ in 0..5 {
        update(&mut app, key(KeyCode::Left));
    }
    update(&mut app, Action::Paste("dear ".into()));
    assert_eq!(app.input.value(), "héllo dear wörld");
    assert_eq!(app.input.cursor(), 11);
}

#[test]
fn an_own_message_moves_to_where_the_server_put_it_when_its_echo_arrives() {
    let mut app = connected("alice", &["user"]);
    let sent = send_line(&mut app, "C01");
    update(&mut app, live("bob", "D01", "d01"));
    assert_eq!(texts(&app), ["C01", "D01"]);
    // The server ordered D01 first: the echo comes after it.
    update(&mut app, Action::Live(sent));
    assert_eq!(texts(&app), ["D01", "C01"]);
    assert!(all_shown_as(&app, Delivery::Delivered));
}

#[test]
fn an_own_message_echoed_before_others_keeps_its_place() {
    let mut app = connected("alice", &["user"]);
    let sent = send_line(&mut app, "C01");
    update(&mut app, Action::Live(sent));
    update(&mut app, live("bob", "D01", "d01"));
    assert_eq!(texts(&app), ["C01", "D01"]);
    assert!(all_shown_as(&app, Delivery::Delivered));
}

#[test]
fn own_messages_still_pending_stay_after_an_echoed_one() {
    let mut app = connected("alice", &["user"]);
    let first = send_line(&mut app, "C01");
    type_line(&mut app, "C02");
    update(&mut app, live("bob", "D01", "d01"));
    update(&mut app, Action::Live(first));
    assert_eq!(texts(&app), ["D01", "C01", "C02"]);
    let pending: Vec<Delivery> = app
        .active_room()
        .timeline
        .entries()
        .iter()
        .map(|e| e.delivery)
        .collect();
    assert_eq!(
        pending,
        [Delivery::Delivered, Delivery::Delivered, Delivery::Pending]
    );
}

fn offline_with_queued(user: &str) -> App {
    let mut app = connected(user, &["user"]);
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Disconnected {
            reason: "gone".into(),
        }),
    );
    type_line(&mut app, "one");
    type_line(&mut app, "two");
    app
}

#[test]
fn quitting_with_unsent_messages_asks_for_a_second_quit() {
    let mut app = offline_with_queued("bob");
    assert!(type_line(&mut app, "/quit").is_empty());
    assert!(!app.quit);
    assert!(
        notice(&app).contains("2 message(s) not sent yet — /quit again to discard"),
        "{}",
        notice(&app)
    );
    assert_eq!(type_line(&mut app, "/quit"), [Command::Quit]);

    let mut app = offline_with_queued("bob");
    assert!(update(&mut app, ctrl('c')).is_empty());
    assert_eq!(update(&mut app, ctrl('q')), [Command::Quit]);
}

#[test]
fn messages_left_unsent_are_reported_for_after_the_chat_ends() {
    let app = offline_with_queued("bob");
    let report = app.unsent_report().unwrap();
    assert!(report.contains("2 message(s) were not sent"), "{report}");
    assert!(report.contains("#general: one") && report.contains("#general: two"));
    assert_eq!(connected("bob", &["user"]).unsent_report(), None);
}

#[test]
fn a_gap_fill_into_a_room_not_shown_counts_unread_and_mentions() {
    // The history pages here are bob's messages.
    let mut app = connected("carol", &["user"]);
    loaded(&mut app, LATEST, page(1..=2, false));
    update(&mut app, ctrl('n'));
    update(
        &mut app,
        Action::Connection(ConnectionEvent::Disconnected {
            reason: "gone".into(),
        }),
    );
    update(&mut app, Action::Connection(ConnectionEvent::Connected));
    let mut missed = page(2..=4, false);
    missed.messages[2].message.text = "hey @carol".into();
    loaded(
        &mut app,
        HistoryRequest::After {
            limit: 50,
            after: 2,
        },
        missed,
    );
    let general = &app.rooms[0];
    // m2 was already there: two new messages, one of them a mention.
    assert_eq!(general.unread, 2);
    assert!(general.mentioned);
}

#[test]
fn leave_with_a_room_leaves_that_room() {
    let mut app = connected("bob", &["user"]);
    let commands = type_line(&mut app, "/leave #random");
    assert_eq!(app.active_room().name, room("general"));
    assert!(commands.contains(&Command::SaveRooms(vec![room("general"), room("help")])));
    update(&mut app, ctrl('n'));
    assert_eq!(app.active_room().name, room("help"));
    type_line(&mut app, "/leave general");
    assert_eq!(app.active_room().name, room("help"));
    assert_eq!(app.rooms.len(), 1);
    let commands = type_line(&mut app, "/leave nowhere");
    assert!(commands.is_empty());
    assert!(
        notice(&app).starts_with("usage: /leave"),
        "{}",
        notice(&app)
    );
    assert_eq!(app.rooms.len(), 1);
}

#[test]
fn only_admins_may_join_the_admin_channel() {
    for name in ["admin", "__admin__", "admin-channel"] {
        let mut app = connected("bob", &["user"]);
        let commands = type_line(&mut app, &format!("/join {name}"));
        assert!(commands.is_empty(), "{commands:?}");
        assert_eq!(notice(&app), "only admins may join the admin channel");
        assert!(app.rooms.iter().all(|r| !r.name.is_admin()));
    }
}

#[test]
fn me_without_text_shows_its_usage() {
    let mut app = connected("bob", &["user"]);
    assert!(type_line(&mut app, "/me").is_empty());
    assert_eq!(notice(&app), "usage: /me <text>");
    assert!(texts(&app).is_empty());
}

#[test]
fn a_successful_line_or_a_blank_one_clears_a_stale_error() {
    let mut app = connected("bob", &["user"]);
    type_line(&mut app, "/nonsense");
    assert!(app.notice.as_ref().unwrap().is_error);
    type_line(&mut app, "hello");
    assert_eq!(app.notice, None);
    type_line(&mut app, "/nonsense");
    assert!(type_line(&mut app, "   ").is_empty());
    assert_eq!(app.notice, None);
    assert_eq!(app.input.value(), "");
}

#[test]
fn each_room_keeps_its_own_draft() {
    let mut app = connected("bob", &["user"]);
    update(&mut app, Action::Paste("for general".into()));
    update(&mut app, ctrl('n'));
    assert_eq!(app.input.value(), "");
    update(&mut app, Action::Paste("for random".into()));
    update(&mut app, ctrl('p'));
    assert_eq!(app.input.value(), "for general");
    update(&mut app, ctrl('n'));
    assert_eq!(app.input.value(), "for random");
}
