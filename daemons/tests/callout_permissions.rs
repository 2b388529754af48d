//! Realm roles become exactly the NATS permissions of the protocol's table,
//! on the shared stack's nats-server and callout (`./dev up`).
//!
//! Allowed operations are shown by their effect (a message arrives, a
//! request reaches the server); denied ones by the server's permissions
//! violation.

mod callout_fixture;

use std::time::Duration;

use callout_fixture::*;
use futures::StreamExt;
use natschat_testkit::stack::Stack;

/// How long a violation may take to come back from the server.
const PATIENCE: Duration = Duration::from_secs(5);

struct Session {
    client: async_nats::Client,
    errors: ServerErrors,
}

async fn session(user: &str) -> Session {
    let stack = Stack::load().expect("the local stack is up (`./dev up`)");
    let token = login(user).await.access_token;
    let (client, errors) = connect(stack.nats_url(), Some(&token), user)
        .await
        .unwrap_or_else(|e| panic!("{user} connects to the shared stack: {e}"));
    Session { client, errors }
}

impl Session {
    /// Asserts that publishing to `subject` is refused by the server.
    async fn publish_is_denied(&mut self, subject: &str) {
        self.client
            .publish(subject.to_owned(), "x".into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        let violation = self
            .errors
            .wait_for(&format!("publish to \"{subject}\""), PATIENCE)
            .await;
        assert!(
            violation.is_some(),
            "publishing to {subject} was not refused"
        );
    }

    /// Asserts that subscribing to `subject` is refused by the server.
    async fn subscribe_is_denied(&mut self, subject: &str) {
        let _subscription = self.client.subscribe(subject.to_owned()).await.unwrap();
        self.client.flush().await.unwrap();
        let violation = self
            .errors
            .wait_for(&format!("subscription to \"{subject}\""), PATIENCE)
            .await;
        assert!(
            violation.is_some(),
            "subscribing to {subject} was not refused"
        );
    }

    /// Asserts that a message published to `subject` reaches a subscriber
    /// of `filter` on this same connection: both directions are allowed.
    async fn publishes_and_receives(&mut self, subject: &str, filter: &str) {
        let mut subscription = self.client.subscribe(filter.to_owned()).await.unwrap();
        self.client.flush().await.unwrap();
        let payload = unique_text();
        self.client
            .publish(subject.to_owned(), payload.clone().into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        receive(&mut subscription, &payload).await;
    }

    /// Asserts that a request to `subject` is let through by the server (a
    /// reply, or "no responders", both mean the publish was routed and the
    /// reply inbox is subscribable).
    async fn request_is_routed(&mut self, subject: &str) {
        let result = tokio::time::timeout(
            PATIENCE * 2,
            self.client.request(subject.to_owned(), "".into()),
        )
        .await
        .unwrap_or_else(|_| panic!("request to {subject} hung"));
        match result {
            Ok(_) => {}
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
            Err(e) => panic!("request to {subject} failed: {e}"),
        }
    }

    /// Asserts that a request to `subject` fails with a publish violation.
    async fn request_is_denied(&mut self, subject: &str) {
        let request = self.client.request(subject.to_owned(), "".into());
        let needle = format!("publish to \"{subject}\"");
        let (result, violation) = tokio::join!(
            tokio::time::timeout(PATIENCE, request),
            self.errors.wait_for(&needle, PATIENCE)
        );
        assert!(
            !matches!(result, Ok(Ok(_))),
            "request to {subject} was answered"
        );
        assert!(violation.is_some(), "request to {subject} was not refused");
    }
}

/// A text no other test publishes, so concurrent tests in the same rooms
/// cannot be mistaken for this one.
fn unique_text() -> String {
    use rand::Rng;
    format!("perm-{:016x}", rand::thread_rng().r#gen::<u64>())
}

/// Waits (bounded) until `payload` arrives on `subscription`, skipping
/// other tests' messages.
async fn receive(subscription: &mut async_nats::Subscriber, payload: &str) {
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(message) = subscription.next().await {
            if message.payload == payload.as_bytes() {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{payload} never arrived");
}

#[tokio::test]
async fn admin_posts_everywhere_reads_the_admin_channel_and_its_history() {
    let mut alice = session("alice").await;
    alice.publishes_and_receives("chat.general", "chat.*").await;
    alice.publishes_and_receives("admin.chat", "admin.>").await;
    alice.request_is_routed("chat.history.__admin__").await;
    alice.request_is_routed("chat.history.general").await;
    alice.publish_is_denied("chat.__admin__").await;
}

#[tokio::test]
async fn user_posts_in_rooms_but_never_touches_the_admin_channel() {
    let mut bob = session("bob").await;
    bob.publishes_and_receives("chat.general", "chat.general")
        .await;
    bob.request_is_routed("chat.history.general").await;
    bob.publish_is_denied("admin.chat").await;
    bob.request_is_denied("chat.history.__admin__").await;
    bob.subscribe_is_denied("admin.>").await;
}

#[tokio::test]
async fn user_without_roles_reads_rooms_and_history_but_cannot_post() {
    let mut charlie = session("charlie").await;
    let bob = session("bob").await;
    let mut reading = charlie.client.subscribe("chat.general").await.unwrap();
    charlie.client.flush().await.unwrap();
    // A flush only writes the SUB; the server may still be reading it when
    // bob's message arrives on his own connection, so bob repeats himself.
    let payload = unique_text();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut heard = false;
    while !heard && tokio::time::Instant::now() < deadline {
        bob.client
            .publish("chat.general", payload.clone().into())
            .await
            .unwrap();
        bob.client.flush().await.unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(250), async {
            while let Some(message) = reading.next().await {
                if message.payload == payload.as_bytes() {
                    heard = true;
                    return;
                }
            }
        })
        .await;
    }
    assert!(heard, "charlie never read bob's message on chat.general");

    charlie.request_is_routed("chat.history.general").await;
    charlie.publish_is_denied("chat.general").await;
    charlie.request_is_denied("chat.history.__admin__").await;
    charlie.subscribe_is_denied("admin.>").await;
}

#[tokio::test]
async fn nobody_listens_on_history_or_jetstream_or_system_subjects() {
    for user in ["alice", "bob", "charlie"] {
        let mut session = session(user).await;
        session.subscribe_is_denied("chat.history.>").await;
        session.subscribe_is_denied("chat.history.general").await;
        session.subscribe_is_denied("$JS.API.>").await;
        session.subscribe_is_denied("$SYS.>").await;
        session.publish_is_denied("$JS.API.INFO").await;
        session.publish_is_denied("$KV.x.y").await;
    }
}

#[tokio::test]
async fn each_user_reads_only_their_own_inbox() {
    let mut bob = session("bob").await;
    bob.subscribe_is_denied("_INBOX.alice.>").await;
    bob.subscribe_is_denied("_INBOX.>").await;
    bob.publishes_and_receives("chat.general", "chat.general")
        .await;
    // Own inbox: a reply comes back through `_INBOX.bob.…`.
    bob.request_is_routed("chat.history.general").await;
}
