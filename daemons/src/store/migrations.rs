//! Versioned schema changes, applied in order and recorded in
//! `schema_migrations`. Every daemon that touches the database runs them at
//! start; `natschatd migrate` runs them alone.

use deadpool_postgres::Pool;

use super::StoreError;

/// One schema change. Versions only grow; a released migration is never
/// edited, a later one changes what it did.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "messages and dead letters",
        sql: r#"
        CREATE TABLE messages (
            -- JetStream stream sequence: unique, gap-free, the order history pages by.
            seq         bigint      PRIMARY KEY,
            room        text        NOT NULL,
            username    text        NOT NULL,
            text        text        NOT NULL,
            -- Milliseconds since the Unix epoch, by the sender's clock.
            client_ts   bigint      NOT NULL,
            -- Client-generated id, absent for older clients.
            message_id  text,
            -- When JetStream received the message.
            received_at timestamptz NOT NULL
        );
        -- Serves both "latest N of a room" (backwards scan from the end of
        -- the room) and paging before/after a sequence within a room.
        CREATE INDEX messages_room_seq ON messages (room, seq);

        CREATE TABLE dead_letters (
            seq            bigint      PRIMARY KEY,
            subject        text        NOT NULL,
            payload        bytea       NOT NULL,
            reason         text        NOT NULL,
            dead_lettered_at timestamptz NOT NULL DEFAULT now()
        );
    "#,
    },
    Migration {
        version: 2,
        name: "history pages from the index alone",
        sql: r#"
        -- A history page reads 50 rows of one room, and a room's rows lie
        -- scattered over the whole table, so fetching them from the table
        -- costs one page read per row. Carrying the columns a page returns
        -- in the index lets PostgreSQL answer from a few adjacent index
        -- pages (an index-only scan) and the plain index becomes redundant.
        -- LIMITATION: CREATE INDEX blocks writes to messages while it
        -- builds (migrations run in one transaction, which CONCURRENTLY
        -- cannot); on a large table the persist worker waits, and the
        -- stream holds its backlog, for as long as that takes.
        CREATE INDEX messages_room_seq_page ON messages (room, seq)
            INCLUDE (username, text, client_ts, message_id);
        DROP INDEX messages_room_seq;
    "#,
    },
];

/// Key of the advisory lock that serialises concurrent migration runs (two
/// daemons starting at once).
const LOCK_KEY: i64 = 0x6e61_7473_6368_6174; // "natschat"

/// Applies every migration not yet recorded; returns how many ran.
pub async fn run(pool: &Pool) -> Result<usize, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // "already exists, skipping" notices are expected on every start.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(migration.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        assert_eq!(MIGRATIONS[0].version, 1);
    }
}
