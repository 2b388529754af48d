//! Asking the history service for a page of a room's messages.

use std::time::Duration;

use natschat_proto::{HistoryPage, HistoryRequest, RoomName, subject};

/// How long a history request may take before the person is told.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches one page of `room`'s history. The error is a sentence for the
/// status bar.
pub async fn fetch_history(
    client: &async_nats::Client,
    room: &RoomName,
    request: HistoryRequest,
) -> Result<HistoryPage, String> {
    let subject = subject::history(room);
    let reply = client
        .send_request(
            subject.clone(),
            async_nats::Request::new()
                .payload(request.to_json().into())
                .timeout(Some(HISTORY_TIMEOUT)),
        )
        .await
        .map_err(|e| match e.kind() {
            async_nats::RequestErrorKind::NoResponders => {
                format!("the history service is not running (nobody answers on {subject})")
            }
            async_nats::RequestErrorKind::TimedOut => format!(
                "no answer on {subject} within {} s",
                HISTORY_TIMEOUT.as_secs()
            ),
            _ => format!("request on {subject} failed: {e}"),
        })?;
    if let Some(headers) = &reply.headers
        && let Some(error) = headers.get("Nats-Service-Error")
    {
        let code = headers
            .get("Nats-Service-Error-Code")
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        return Err(format!(
            "the history service answered {code}: {}",
            error.as_str()
        ));
    }
    serde_json::from_slice(&reply.payload)
        .map_err(|e| format!("the history service sent a page that cannot be read: {e}"))
}
