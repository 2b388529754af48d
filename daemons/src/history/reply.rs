//! Turning a history request into its reply body.

use bytes::Bytes;
use deadpool_postgres::Pool;
use natschat_proto::{ChatMessage, HistoryPage, HistoryRequest, subject};

use crate::store::messages::{self, PageQuery};

/// Why a request got no history, with the service error code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum HistoryFailure {
    #[error("{0}")]
    BadRequest(String),
    #[error("message store unavailable, try again later")]
    Unavailable(#[source] crate::store::StoreError),
}

impl HistoryFailure {
    /// The `Nats-Service-Error-Code` of this failure.
    pub fn code(&self) -> usize {
        match self {
            HistoryFailure::BadRequest(_) => 400,
            HistoryFailure::Unavailable(_) => 503,
        }
    }

    /// The result label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            HistoryFailure::BadRequest(_) => "bad_request",
            HistoryFailure::Unavailable(_) => "unavailable",
        }
    }
}

/// A served request: the reply body and how many messages it holds.
pub struct Reply {
    pub body: Bytes,
    pub message_count: usize,
}

/// Answers a request on `subject` with body `payload`.
pub async fn answer(pool: &Pool, subject: &str, payload: &[u8]) -> Result<Reply, HistoryFailure> {
    let room = subject::room_of_history_subject(subject).ok_or_else(|| {
        HistoryFailure::BadRequest(format!("{subject} does not name a valid room"))
    })?;
    let request =
        HistoryRequest::parse(payload).map_err(|e| HistoryFailure::BadRequest(e.to_string()))?;
    let query = match request {
        HistoryRequest::Compatible | HistoryRequest::Latest { .. } => PageQuery::Latest,
        HistoryRequest::Before { before, .. } => PageQuery::Before(before),
        HistoryRequest::After { after, .. } => PageQuery::After(after),
    };
    let page = messages::page(pool, &room, query, request.limit())
        .await
        .map_err(HistoryFailure::Unavailable)?;
    let message_count = page.messages.len();
    let body = if request == HistoryRequest::Compatible {
        // Browser clients expect a bare array of chat messages, no seq.
        let legacy: Vec<ChatMessage> = page.messages.into_iter().map(|m| m.message).collect();
        serde_json::to_vec(&legacy)
    } else {
        serde_json::to_vec(&HistoryPage {
            messages: page.messages,
            has_more: page.has_more,
        })
    };
    // Strings and integers always serialize.
    let body = body.expect("history replies always serialize");
    Ok(Reply {
        body: Bytes::from(body),
        message_count,
    })
}
