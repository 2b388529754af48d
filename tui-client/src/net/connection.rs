//! The NATS connection of a chat session.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap, Subscriber};
use futures::StreamExt;
use natschat_proto::{ChatMessage, HistoryRequest, RoomName, subject};
use tokio::sync::mpsc::UnboundedSender;

use super::history::fetch_history;
use super::refusal::classify_event;
use crate::ui::Action;

/// Hands out a valid access token, refreshing it when needed. Called on
/// every connect and reconnect; the error is a sentence for the person.
pub type TokenSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct NetOptions {
    pub nats_url: String,
    /// The `preferred_username`; scopes the reply inbox.
    pub user: String,
    /// Whether to listen on the admin channel too.
    pub admin: bool,
    pub tokens: TokenSource,
}

/// What can go wrong setting up the connection.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot reach NATS at {url}: {reason}; is it running? `./dev status` shows the stack")]
    Connect { url: String, reason: String },
    #[error("cannot listen on {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
    #[error("could not send to {subject}: {reason}")]
    Publish { subject: String, reason: String },
}

/// A live chat connection.
#[derive(Clone)]
pub struct ChatConnection {
    client: Client,
    actions: UnboundedSender<Action>,
}

impl ChatConnection {
    /// Starts connecting (and keeps retrying in the background), listens on
    /// every room, and reports everything on `actions`.
    pub async fn connect(
        options: NetOptions,
        actions: UnboundedSender<Action>,
    ) -> Result<ChatConnection, NetError> {
        let tokens = options.tokens.clone();
        let events = actions.clone();
        let client = ConnectOptions::with_auth_callback(move |_nonce| {
            // Run the refresh as a task of its own: its future need not be
            // Sync, and the callback's must be.
            let fresh = tokio::spawn(tokens());
            async move {
                match fresh.await {
                    Ok(Ok(token)) => {
                        let mut auth = async_nats::Auth::new();
                        auth.token = Some(token);
                        Ok(auth)
                    }
                    Ok(Err(reason)) => Err(async_nats::AuthError::new(reason)),
                    Err(e) => Err(async_nats::AuthError::new(e)),
                }
            }
        })
        .name("natschat-tui")
        .custom_inbox_prefix(subject::inbox_prefix(&options.user))
        .retry_on_initial_connect()
        .max_reconnects(None::<usize>)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((250 * attempts as u64).clamp(100, 5_000))
        })
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                tracing::info!(%event, "nats connection event");
                if let Some(change) = classify_event(event) {
                    let _ = events.send(Action::Connection(change));
                }
            }
        })
        .connect(options.nats_url.as_str())
        .await
        .map_err(|e| NetError::Connect {
            url: options.nats_url.clone(),
            reason: e.to_string(),
        })?;

        let mut subjects = vec![format!("{}*", subject::CHAT_PREFIX)];
        if options.admin {
            subjects.push(subject::ADMIN_CHAT.to_owned());
        }
        for wanted in subjects {
            let subscriber =
                client
                    .subscribe(wanted.clone())
                    .await
                    .map_err(|e| NetError::Subscribe {
                        subject: wanted.clone(),
                        reason: e.to_string(),
                    })?;
            tokio::spawn(forward_live(subscriber, actions.clone()));
        }
        Ok(ChatConnection { client, actions })
    }

    /// Publishes a message on its room's subject with the `Nats-Msg-Id`
    /// header, so JetStream drops a retried duplicate. Only queues it in
    /// the client: publishing in order is publishing one after another.
    pub async fn publish(&self, message: &ChatMessage) -> Result<(), NetError> {
        let subject = subject::chat(&message.room);
        let mut headers = HeaderMap::new();
        if let Some(id) = &message.id {
            headers.insert("Nats-Msg-Id", id.as_str());
        }
        self.client
            .publish_with_headers(subject.clone(), headers, message.to_json().into())
            .await
            .map_err(|e| NetError::Publish {
                subject,
                reason: e.to_string(),
            })
    }

    /// Asks for a page of history in the background; the answer comes back
    /// as an action.
    pub fn request_history(&self, room: RoomName, request: HistoryRequest) {
        let (client, actions) = (self.client.clone(), self.actions.clone());
        tokio::spawn(async move {
            let action = match fetch_history(&client, &room, request).await {
                Ok(page) => {
                    tracing::debug!(room = %room, count = page.messages.len(), "history page");
                    Action::HistoryLoaded {
                        room,
                        request,
                        page,
                    }
                }
                Err(reason) => Action::HistoryFailed {
                    room,
                    request,
                    reason,
                },
            };
            let _ = actions.send(action);
        });
    }

    /// Sends what is still buffered before the process exits.
    pub async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
    }
}

/// Turns messages on a chat subscription into actions. A message whose
/// body names another room than its subject is dropped, as the persist
/// daemon does.
async fn forward_live(mut subscriber: Subscriber, actions: UnboundedSender<Action>) {
    while let Some(delivered) = subscriber.next().await {
        let Some(room) = subject::room_of_chat_subject(&delivered.subject) else {
            continue;
        };
        match ChatMessage::parse(&delivered.payload) {
            Ok(message) if message.room == room => {
                if actions.send(Action::Live(message)).is_err() {
                    return;
                }
            }
            Ok(message) => {
                tracing::debug!(subject = %delivered.subject, room = %message.room, "room mismatch, dropped");
            }
            Err(error) => {
                tracing::debug!(subject = %delivered.subject, %error, "not a chat message, dropped");
            }
        }
    }
}
