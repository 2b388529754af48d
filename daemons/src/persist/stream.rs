//! The JetStream side of persisting: the stream that captures every chat
//! message and the durable pull consumer the workers share.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use natschat_proto::subject;

/// Limits of the stream and of the consumer, from the command line.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub max_age: Duration,
    pub max_bytes: i64,
    pub duplicate_window: Duration,
    pub consumer: String,
    pub ack_wait: Duration,
    pub max_ack_pending: i64,
}

/// Why the stream or the consumer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot create or update stream CHAT_MESSAGES: {0}")]
    Stream(#[source] jetstream::context::CreateStreamError),
    #[error("cannot look up stream CHAT_MESSAGES: {0}")]
    Lookup(#[source] jetstream::context::GetStreamError),
    #[error("cannot create consumer {name} on stream CHAT_MESSAGES: {source}")]
    Consumer {
        name: String,
        #[source]
        source: jetstream::stream::ConsumerError,
    },
}

/// Creates the stream, or brings an existing one to these limits.
///
/// Limits are by age and bytes, never by message count: a count cap would
/// discard messages the database has not stored yet under a burst.
pub async fn ensure_stream(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<stream::Stream, StreamError> {
    let config = stream::Config {
        name: subject::STREAM.to_owned(),
        subjects: subject::STREAM_SUBJECTS.map(str::to_owned).to_vec(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: settings.max_age,
        max_bytes: settings.max_bytes,
        max_messages: -1,
        duplicate_window: settings.duplicate_window,
        ..Default::default()
    };
    js.create_or_update_stream(config)
        .await
        .map_err(StreamError::Stream)?;
    js.get_stream(subject::STREAM)
        .await
        .map_err(StreamError::Lookup)
}

/// Creates the durable pull consumer, or updates it to these settings.
/// Every persist instance calls this with the same name and so shares it.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    settings: &StreamSettings,
) -> Result<consumer::PullConsumer, StreamError> {
    let ack_wait = settings.ack_wait;
    let config = consumer::pull::Config {
        durable_name: Some(settings.consumer.clone()),
        description: Some("natschatd persist: stores chat messages in PostgreSQL".to_owned()),
        deliver_policy: consumer::DeliverPolicy::All,
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait,
        // Never give up on a message: one that can never be stored is
        // dead-lettered by the worker, everything else waits for the
        // database to come back.
        max_deliver: -1,
        max_ack_pending: settings.max_ack_pending,
        // A worker that died with a batch in hand gets it redelivered
        // after `ack_wait`, then less and less eagerly while it keeps
        // failing, so a broken instance does not spin the server.
        backoff: vec![ack_wait, ack_wait * 2, ack_wait * 6, ack_wait * 12],
        ..Default::default()
    };
    stream
        .create_consumer(config)
        .await
        .map_err(|source| StreamError::Consumer {
            name: settings.consumer.clone(),
            source,
        })
}
