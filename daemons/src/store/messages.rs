//! The `messages` table: batched writes from the persist worker and the page
//! queries of the history service.

use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use natschat_proto::{ChatMessage, RoomName, StoredMessage};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::StoreError;
use super::dead_letters::DeadLetter;

/// A chat message ready to be stored, keyed by its stream sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub seq: i64,
    pub message: ChatMessage,
    /// When JetStream received it, in microseconds since the Unix epoch.
    pub received_at_us: i64,
}

/// What one batch write changed; rows already present (a redelivery) are
/// not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchWritten {
    pub messages: u64,
    pub dead_letters: u64,
}

/// Stores a batch of messages and dead letters in one statement, so one
/// round trip and one implicit transaction: either all of it is stored or
/// none. Sequences already stored are skipped, which makes redelivery safe.
const INSERT_SKIPPING_STORED: &str = "
    WITH stored AS (
        INSERT INTO messages (seq, room, username, text, client_ts, message_id, received_at)
        SELECT m.seq, m.room, m.username, m.text, m.client_ts, m.message_id,
               to_timestamp(m.received_us / 1000000.0)
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
                    $7::int8[])
             AS m(seq, room, username, text, client_ts, message_id, received_us)
        ON CONFLICT (seq) DO NOTHING
        RETURNING 1
    ), dead AS (
        INSERT INTO dead_letters (seq, subject, payload, reason)
        SELECT * FROM unnest($8::int8[], $9::text[], $10::bytea[], $11::text[])
        ON CONFLICT (seq) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM dead)";

/// Streams a batch of chat messages straight into the table. One COPY is
/// one statement, so all of it is stored or none; unlike
/// [`INSERT_SKIPPING_STORED`] it fails on a sequence already stored.
const COPY_MESSAGES: &str = "COPY messages
    (seq, room, username, text, client_ts, message_id, received_at)
    FROM STDIN (FORMAT binary)";

/// Column types of [`COPY_MESSAGES`], in its column order.
const COPY_COLUMNS: &[Type] = &[
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

/// Writes a batch atomically; sequences already stored are skipped.
///
/// A batch of chat messages only, the steady state, goes in by binary COPY:
/// PostgreSQL then inserts rows in bulk instead of checking each one for a
/// conflict, which roughly doubles what one connection stores per second.
/// A redelivered message makes the COPY fail as a whole on its sequence;
/// the batch is then written again by the slower statement that skips what
/// is already there, so redelivery stays safe. The failed COPY costs one
/// wasted round trip and an error line in the server log, and happens only
/// after a worker crashed or missed its acknowledgement deadline.
pub async fn write_batch(
    pool: &Pool,
    rows: &[MessageRow],
    dead: &[DeadLetter],
) -> Result<BatchWritten, StoreError> {
    let client = pool.get().await?;
    if dead.is_empty() && !rows.is_empty() {
        match copy_messages(&client, rows).await {
            Ok(messages) => {
                return Ok(BatchWritten {
                    messages,
                    dead_letters: 0,
                });
            }
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::debug!(
                    messages = rows.len(),
                    "batch holds messages stored before; skipping them"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    insert_skipping_stored(&client, rows, dead).await
}

/// Copies `rows` into `messages`; returns how many were stored.
async fn copy_messages(
    client: &tokio_postgres::Client,
    rows: &[MessageRow],
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in(COPY_MESSAGES).await?;
    let writer = BinaryCopyInWriter::new(sink, COPY_COLUMNS);
    futures::pin_mut!(writer);
    for row in rows {
        let message = &row.message;
        writer
            .as_mut()
            .write(&[
                &row.seq,
                &message.room.as_str(),
                &message.user,
                &message.text,
                &message.timestamp,
                &message.id,
                &received_at(row.received_at_us),
            ])
            .await?;
    }
    writer.finish().await
}

/// A JetStream receive time as the timestamp PostgreSQL stores.
fn received_at(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    // Times before 1970 cannot come from JetStream; the subtraction only
    // keeps the conversion total.
    if micros >= 0 {
        SystemTime::UNIX_EPOCH + offset
    } else {
        SystemTime::UNIX_EPOCH - offset
    }
}

/// Writes a batch with [`INSERT_SKIPPING_STORED`].
async fn insert_skipping_stored(
    client: &deadpool_postgres::Client,
    rows: &[MessageRow],
    dead: &[DeadLetter],
) -> Result<BatchWritten, StoreError> {
    let statement = client.prepare_cached(INSERT_SKIPPING_STORED).await?;

    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let rooms: Vec<&str> = rows.iter().map(|r| r.message.room.as_str()).collect();
    let users: Vec<&str> = rows.iter().map(|r| r.message.user.as_str()).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.message.text.as_str()).collect();
    let client_ts: Vec<i64> = rows.iter().map(|r| r.message.timestamp).collect();
    let ids: Vec<Option<&str>> = rows.iter().map(|r| r.message.id.as_deref()).collect();
    let received: Vec<i64> = rows.iter().map(|r| r.received_at_us).collect();

    let dead_seqs: Vec<i64> = dead.iter().map(|d| d.seq).collect();
    let dead_subjects: Vec<&str> = dead.iter().map(|d| d.subject.as_str()).collect();
    let dead_payloads: Vec<&[u8]> = dead.iter().map(|d| d.payload.as_slice()).collect();
    let dead_reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();

    let row = client
        .query_one(
            &statement,
            &[
                &seqs,
                &rooms,
                &users,
                &texts,
                &client_ts,
                &ids,
                &received,
                &dead_seqs,
                &dead_subjects,
                &dead_payloads,
                &dead_reasons,
            ],
        )
        .await?;
    let messages: i64 = row.get(0);
    let dead_letters: i64 = row.get(1);
    Ok(BatchWritten {
        messages: messages.unsigned_abs(),
        dead_letters: dead_letters.unsigned_abs(),
    })
}

/// Which slice of a room's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageQuery {
    /// The newest messages.
    Latest,
    /// Messages older than a sequence.
    Before(u64),
    /// Messages newer than a sequence.
    After(u64),
}

/// A slice of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
    /// Whether more messages lie beyond the slice in the direction read.
    pub has_more: bool,
}

// Each query asks for one row more than the page holds: its presence
// answers "is there more?" without a second query.
const LATEST: &str = "SELECT seq, username, text, client_ts, message_id FROM messages
     WHERE room = $1 ORDER BY seq DESC LIMIT $2";
const BEFORE: &str = "SELECT seq, username, text, client_ts, message_id FROM messages
     WHERE room = $1 AND seq < $3 ORDER BY seq DESC LIMIT $2";
const AFTER: &str = "SELECT seq, username, text, client_ts, message_id FROM messages
     WHERE room = $1 AND seq > $3 ORDER BY seq ASC LIMIT $2";

/// Reads up to `limit` messages of `room`, oldest first.
pub async fn page(
    pool: &Pool,
    room: &RoomName,
    query: PageQuery,
    limit: u32,
) -> Result<Page, StoreError> {
    let client = pool.get().await?;
    let fetch = i64::from(limit) + 1;
    // Sequences beyond i64 cannot exist in the table; clamping keeps the
    // comparison meaningful instead of failing the request.
    let clamp = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
    let rows = match query {
        PageQuery::Latest => {
            let statement = client.prepare_cached(LATEST).await?;
            client.query(&statement, &[&room.as_str(), &fetch]).await?
        }
        PageQuery::Before(seq) => {
            let statement = client.prepare_cached(BEFORE).await?;
            client
                .query(&statement, &[&room.as_str(), &fetch, &clamp(seq)])
                .await?
        }
        PageQuery::After(seq) => {
            let statement = client.prepare_cached(AFTER).await?;
            client
                .query(&statement, &[&room.as_str(), &fetch, &clamp(seq)])
                .await?
        }
    };

    let has_more = rows.len() > limit as usize;
    let mut messages: Vec<StoredMessage> = rows
        .iter()
        .take(limit as usize)
        .map(|row| {
            let seq: i64 = row.get(0);
            StoredMessage {
                message: ChatMessage {
                    user: row.get(1),
                    text: row.get(2),
                    timestamp: row.get(3),
                    room: room.clone(),
                    id: row.get(4),
                },
                seq: seq.unsigned_abs(),
            }
        })
        .collect();
    if !matches!(query, PageQuery::After(_)) {
        messages.reverse();
    }
    Ok(Page { messages, has_more })
}
