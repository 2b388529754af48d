//! The chat end to end in real terminals (tmux), against the local stack:
//! Keycloak logins, NATS with the auth callout, history from PostgreSQL.

mod chat_support;

use std::time::Duration;

use chat_support::{Pane, Person, log_in, unique, wait_for_file};
use natschat_proto::{ChatMessage, HistoryRequest, RoomName, subject};
use natschat_testkit::stack::Stack;

const PATIENCE: Duration = Duration::from_secs(30);

/// Publishes `count` numbered messages as `person` into `room` and waits
/// until the history service serves all of them from PostgreSQL.
async fn seed_history(stack: &Stack, person: &Person, room: &RoomName, count: usize) {
    let client = async_nats::ConnectOptions::with_token(person.access_token.clone())
        .custom_inbox_prefix(subject::inbox_prefix(&person.name))
        .connect(stack.nats_url())
        .await
        .unwrap();
    for n in 1..=count {
        let message = ChatMessage {
            user: person.name.clone(),
            text: format!("old-{n:03}"),
            timestamp: 1_700_000_000_000 + n as i64,
            room: room.clone(),
            id: Some(format!("seed-{}-{n}", room)),
        };
        client
            .publish(subject::chat(room), message.to_json().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    for _ in 0..100 {
        let reply = client
            .request(
                subject::history(room),
                HistoryRequest::Latest { limit: 200 }.to_json().into(),
            )
            .await
            .unwrap();
        let page: natschat_proto::HistoryPage = serde_json::from_slice(&reply.payload).unwrap();
        if page.messages.len() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the history service never served the {count} seeded messages");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_chat_scroll_back_into_history_and_roles_are_visible() {
    let stack = Stack::load().unwrap();
    let alice = log_in(&stack, "alice", "alice123").await;
    let bob = log_in(&stack, "bob", "bob123").await;
    let charlie = log_in(&stack, "charlie", "charlie123").await;
    let room: RoomName = format!("e2e-{}", unique()).parse().unwrap();
    seed_history(&stack, &bob, &room, 80).await;

    let alice_pane = Pane::start(&stack, &alice, "", "true");
    let bob_pane = Pane::start(&stack, &bob, "", "true");
    let charlie_pane = Pane::start(&stack, &charlie, "", "true");
    for pane in [&alice_pane, &bob_pane, &charlie_pane] {
        pane.wait_for("● connected", PATIENCE);
    }

    // Alice's room list has the admin channel; she joins the test room and
    // sees its latest page, not yet the oldest messages.
    alice_pane.wait_for("admin-channel", PATIENCE);
    alice_pane.say(&format!("/join {room}"));
    let screen = alice_pane.wait_for("old-080", PATIENCE);
    assert!(!screen.contains("old-001"), "{screen}");

    // Bob says something; Alice sees it live.
    bob_pane.say(&format!("/join {room}"));
    bob_pane.wait_for("old-080", PATIENCE);
    bob_pane.say("hello from bob 你好 👋");
    alice_pane.wait_for("bob: hello from bob 你好 👋", PATIENCE);

    // Alice scrolls back past the latest page: older history comes from
    // PostgreSQL until the beginning of the room.
    for _ in 0..20 {
        alice_pane.press("PPage");
        if alice_pane.screen().contains("old-001") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let screen = alice_pane.wait_for("old-001", PATIENCE);
    assert!(screen.contains("old-002"), "{screen}");

    // Charlie is read-only and is told so where he would type.
    charlie_pane.wait_for("read-only: you may not post", PATIENCE);
    charlie_pane.type_text("x");
    charlie_pane.wait_for("charlie [read-only]", PATIENCE);

    // Bob is no admin: he is told so, and the admin channel is not added.
    bob_pane.say("/join admin");
    let screen = bob_pane.wait_for("only admins may join the admin channel", PATIENCE);
    assert!(!screen.contains("admin-channel"), "{screen}");

    // The room list was saved for the next run.
    let saved =
        std::fs::read_to_string(alice.home.join("config/natschat/rooms/alice.toml")).unwrap();
    assert!(saved.contains(room.as_str()), "{saved}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_leaves_the_terminal_in_cooked_mode() {
    let stack = Stack::load().unwrap();
    let bob = log_in(&stack, "bob", "bob123").await;
    let stty = bob.home.join("stty.txt");
    let pane = Pane::start(
        &stack,
        &bob,
        "NATSCHAT_TEST_PANIC=1",
        &format!("stty -a > {}", stty.display()),
    );
    let settings = wait_for_file(&stty, PATIENCE);
    let words: Vec<&str> = settings.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{settings}");
    assert!(words.contains(&"echo"), "{settings}");
    let log = std::fs::read_to_string(&pane.log).unwrap();
    assert!(log.contains("panicking on purpose"), "{log}");
    // The alternate screen was left: the shell's screen is back.
    assert!(!pane.screen().contains("● connected"));
}

/// Runs the chat, sends it `signal` once it is connected, and checks the
/// terminal is back in cooked mode with the shell's screen.
async fn assert_signal_restores_the_terminal(signal: &str) {
    let stack = Stack::load().unwrap();
    let bob = log_in(&stack, "bob", "bob123").await;
    let stty = bob.home.join("stty.txt");
    let pane = Pane::start(&stack, &bob, "", &format!("stty -a > {}", stty.display()));
    pane.wait_for("● connected", PATIENCE);
    pane.signal(signal);
    let settings = wait_for_file(&stty, PATIENCE);
    let words: Vec<&str> = settings.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{settings}");
    assert!(words.contains(&"echo"), "{settings}");
    assert!(!pane.screen().contains("● connected"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_leaves_the_terminal_in_cooked_mode() {
    assert_signal_restores_the_terminal("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_leaves_the_terminal_in_cooked_mode() {
    assert_signal_restores_the_terminal("HUP").await;
}
