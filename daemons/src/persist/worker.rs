//! The batch loop: pull what the consumer has, store it in one statement,
//! then acknowledge. Acknowledging only after the commit, and storing with
//! "skip what is already there", makes every message land exactly once even
//! when a worker dies between the two steps.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::{self, AckKind};
use deadpool_postgres::Pool;
use futures::StreamExt;
use natschat_proto::subject;
use tracing::Instrument;

use super::metrics::PersistMetrics;
use super::triage::{Delivered, triage};
use crate::shutdown::Shutdown;
use crate::store::StoreError;
use crate::store::dead_letters::DeadLetter;
use crate::store::messages::{self, MessageRow};

/// How long a pull request waits on the server before it is renewed.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// Longest wait for a batch to fill once its first message is in hand.
const BATCH_LINGER: Duration = Duration::from_millis(10);
/// Idle heartbeat of a pull request; missing ones mean the server is gone.
const PULL_HEARTBEAT: Duration = Duration::from_secs(5);

/// Why the worker stopped consuming before shutdown was asked for.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot pull from the consumer: {0}")]
    Pull(#[source] jetstream::consumer::StreamError),
    #[error("the consumer's message stream broke: {0}")]
    Messages(#[source] jetstream::consumer::pull::MessagesError),
    #[error("the consumer's message stream ended")]
    Ended,
}

/// A growing pause between retries: 250 ms doubling up to 30 s, back to the
/// start after a success.
#[derive(Debug)]
pub struct RetryDelay {
    next: Duration,
}

impl RetryDelay {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(30);

    pub fn new() -> Self {
        RetryDelay { next: Self::FIRST }
    }

    /// The pause to take now; the following one will be longer.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        now
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Stores what the consumer delivers, batch by batch.
pub struct Worker {
    pub pool: Pool,
    pub metrics: PersistMetrics,
    pub batch_size: usize,
    /// Pause after a failed write; shared by consecutive batches so an
    /// outage is probed less and less often.
    pub retry: RetryDelay,
}

/// What became of one delivered message.
enum Verdict {
    Stored,
    DeadLettered,
    /// Not handled now: give it back to the server to redeliver later.
    Retry(Duration),
}

impl Worker {
    /// Consumes until shutdown is asked for (then returns `Ok`) or the
    /// message stream breaks (the caller sets it up again).
    pub async fn consume(
        &mut self,
        consumer: &PullConsumer,
        shutdown: &mut Shutdown,
    ) -> Result<(), WorkerError> {
        let messages = consumer
            .stream()
            // Ask for two batches at a time so the next one is already
            // arriving while this one is written.
            .max_messages_per_batch(self.batch_size * 2)
            .expires(PULL_EXPIRES)
            .heartbeat(PULL_HEARTBEAT)
            .messages()
            .await
            .map_err(WorkerError::Pull)?;
        let mut messages = messages.fuse();
        let batch_size = self.batch_size;
        let mut ready: Option<Vec<jetstream::Message>> = None;
        loop {
            // Store the batch in hand while the next one is pulled, so the
            // database and the server work at the same time. Both finish
            // before the loop goes on: one batch is written at a time, and
            // nothing is left half done when shutdown or an error ends it.
            let write = async {
                if let Some(delivered) = ready.take() {
                    self.persist_batch(delivered).await;
                }
            };
            let (_, pulled) = tokio::join!(write, next_batch(&mut messages, batch_size, shutdown));
            match pulled {
                Pulled::Shutdown => return Ok(()),
                Pulled::Ended => return Err(WorkerError::Ended),
                Pulled::Batch { delivered, broken } => {
                    let Some(e) = broken else {
                        ready = (!delivered.is_empty()).then_some(delivered);
                        continue;
                    };
                    if !delivered.is_empty() {
                        self.persist_batch(delivered).await;
                    }
                    return Err(WorkerError::Messages(e));
                }
            }
        }
    }

    /// [`Worker::persist`] inside a span that names the batch.
    async fn persist_batch(&mut self, delivered: Vec<jetstream::Message>) {
        let span = tracing::info_span!(
            "persist message",
            messaging.system = "nats",
            messaging.destination.name = subject::STREAM,
            messaging.batch.message_count = delivered.len(),
        );
        self.persist(delivered).instrument(span).await;
    }

    /// Stores one batch and settles every message in it with the server.
    async fn persist(&mut self, delivered: Vec<jetstream::Message>) {
        let mut rows = Vec::with_capacity(delivered.len());
        let mut row_messages = Vec::with_capacity(delivered.len());
        let mut dead = Vec::new();
        let mut dead_messages = Vec::new();
        for message in &delivered {
            let info = match message.info() {
                Ok(info) => info,
                Err(e) => {
                    // Without its reply subject a message cannot be
                    // acknowledged either; the server redelivers it.
                    tracing::warn!(error = %e, subject = %message.subject, "message without JetStream metadata");
                    continue;
                }
            };
            let received_at_us =
                i64::try_from(info.published.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
            match triage(Delivered {
                seq: info.stream_sequence,
                subject: message.subject.as_str(),
                payload: &message.payload,
                received_at_us,
            }) {
                Ok(row) => {
                    rows.push(row);
                    row_messages.push(message);
                }
                Err(letter) => {
                    // The full reason (which may quote the body) goes to
                    // dead_letters; the log names only its kind, so message
                    // text never reaches the logs.
                    let kind = letter.reason.split(": ").next().unwrap_or_default();
                    tracing::warn!(seq = letter.seq, subject = %letter.subject, reason = kind, "dead-lettering message");
                    dead.push(letter);
                    dead_messages.push(message);
                }
            }
        }

        match messages::write_batch(&self.pool, &rows, &dead).await {
            Ok(written) => {
                self.retry.reset();
                self.metrics.persisted.inc_by(written.messages);
                self.metrics.dead_lettered.inc_by(written.dead_letters);
                settle(&row_messages, Verdict::Stored).await;
                settle(&dead_messages, Verdict::DeadLettered).await;
            }
            Err(e) if e.is_transient() => {
                self.metrics.errors.inc();
                let delay = self.retry.next_delay();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, messages = delivered.len(), "database unavailable; the batch goes back to the stream");
                settle(&row_messages, Verdict::Retry(delay)).await;
                settle(&dead_messages, Verdict::Retry(delay)).await;
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                self.metrics.errors.inc();
                tracing::error!(error = %e, messages = rows.len(), "database refused a batch; storing its messages one by one");
                self.persist_one_by_one(rows, row_messages, dead, dead_messages)
                    .await;
            }
        }
    }

    /// Stores each row alone, so that the one row the database refuses
    /// becomes a dead letter instead of blocking the batch forever.
    async fn persist_one_by_one(
        &mut self,
        rows: Vec<MessageRow>,
        row_messages: Vec<&jetstream::Message>,
        dead: Vec<DeadLetter>,
        dead_messages: Vec<&jetstream::Message>,
    ) {
        for (row, message) in rows.into_iter().zip(row_messages) {
            let verdict =
                match messages::write_batch(&self.pool, std::slice::from_ref(&row), &[]).await {
                    Ok(written) => {
                        self.metrics.persisted.inc_by(written.messages);
                        Verdict::Stored
                    }
                    Err(e) if e.is_transient() => self.retry_later(&e),
                    Err(e) => {
                        let letter = DeadLetter {
                            seq: row.seq,
                            subject: message.subject.to_string(),
                            payload: message.payload.to_vec(),
                            reason: format!("the database refused it: {e}"),
                        };
                        self.dead_letter(letter).await
                    }
                };
            settle(&[message], verdict).await;
        }
        for (letter, message) in dead.into_iter().zip(dead_messages) {
            let verdict = self.dead_letter(letter).await;
            settle(&[message], verdict).await;
        }
    }

    async fn dead_letter(&mut self, letter: DeadLetter) -> Verdict {
        match messages::write_batch(&self.pool, &[], std::slice::from_ref(&letter)).await {
            Ok(written) => {
                self.metrics.dead_lettered.inc_by(written.dead_letters);
                Verdict::DeadLettered
            }
            Err(e) => {
                tracing::error!(error = %e, seq = letter.seq, "cannot store a dead letter");
                self.retry_later(&e)
            }
        }
    }

    fn retry_later(&mut self, e: &StoreError) -> Verdict {
        self.metrics.errors.inc();
        let delay = self.retry.next_delay();
        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "message goes back to the stream");
        Verdict::Retry(delay)
    }
}

/// What one pull from the consumer gave.
enum Pulled {
    /// Shutdown was asked for before a message came.
    Shutdown,
    /// The consumer's message stream ended.
    Ended,
    /// Messages to store, and the error that broke the stream after them,
    /// if one did.
    Batch {
        delivered: Vec<jetstream::Message>,
        broken: Option<jetstream::consumer::pull::MessagesError>,
    },
}

/// Waits for the next message, then for up to `batch_size` of them.
async fn next_batch<S>(messages: &mut S, batch_size: usize, shutdown: &mut Shutdown) -> Pulled
where
    S: futures::Stream<Item = Result<jetstream::Message, jetstream::consumer::pull::MessagesError>>
        + futures::stream::FusedStream
        + Unpin,
{
    let first = tokio::select! {
        _ = shutdown.requested() => return Pulled::Shutdown,
        first = messages.next() => first,
    };
    let Some(first) = first else {
        return Pulled::Ended;
    };
    // Wait a moment for a fuller batch: under load it fills within the
    // linger, and one round trip then stores hundreds of rows; when idle,
    // a lone message waits at most the linger.
    let mut batch = vec![first];
    let linger = tokio::time::sleep(BATCH_LINGER);
    tokio::pin!(linger);
    while batch.len() < batch_size {
        tokio::select! {
            biased;
            next = messages.next() => match next {
                Some(item) => batch.push(item),
                None => break,
            },
            _ = &mut linger => break,
        }
    }
    let mut delivered = Vec::with_capacity(batch.len());
    let mut broken = None;
    for item in batch {
        match item {
            Ok(message) => delivered.push(message),
            Err(e) => match e.kind() {
                // The server went away or forgot the consumer: set
                // everything up again rather than wait on a pull that will
                // never be answered.
                MessagesErrorKind::MissingHeartbeat
                | MessagesErrorKind::ConsumerDeleted
                | MessagesErrorKind::NoResponders => broken = Some(e),
                _ => tracing::warn!(error = %e, "pull from the consumer failed"),
            },
        }
    }
    Pulled::Batch { delivered, broken }
}

/// Tells the server what became of each message. A lost acknowledgement
/// only means a redelivery, which the store absorbs.
async fn settle(messages: &[&jetstream::Message], verdict: Verdict) {
    let kind = match verdict {
        Verdict::Stored => AckKind::Ack,
        // Stored as a dead letter: stop redelivering without calling it
        // a success.
        Verdict::DeadLettered => AckKind::Term,
        Verdict::Retry(delay) => AckKind::Nak(Some(delay)),
    };
    for message in messages {
        if let Err(e) = message.ack_with(kind).await {
            tracing::warn!(error = %e, "cannot acknowledge a message; it will be redelivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_to_a_cap_and_resets() {
        let mut delay = RetryDelay::new();
        let first = delay.next_delay();
        assert!(delay.next_delay() > first);
        for _ in 0..20 {
            delay.next_delay();
        }
        assert_eq!(delay.next_delay(), RetryDelay::MAX);
        delay.reset();
        assert_eq!(delay.next_delay(), first);
    }
}
