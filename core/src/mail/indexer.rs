//! The search index of messages that came from elsewhere (received over SMTP or LMTP, imported),
//! built after they are committed: full-text indexing of a long letter costs more than storing
//! it (on PostgreSQL, `to_tsvector` of 50 KB of French takes about 15 ms of CPU), so it is kept
//! off the path that answers the peer. The ingest queues each message in `search_pending` in
//! the transaction that stores it; a background loop drains the queue, and a search first
//! drains what is left of the holder's own, so a search never misses a message.
//!
//! Several instances may drain at once: on PostgreSQL each takes its rows with
//! `FOR UPDATE SKIP LOCKED`; on SQLite a row is indexed by whoever deletes it from the queue.

use super::ingest::people;
use super::{index_statement, index_text, summarise};
use crate::store::{BeginWrite, Db, Pool, StoreError};

/// What one message is found by.
struct Entry {
    id: i64,
    subject: String,
    body: String,
    people: String,
    attachments: String,
}

fn entry(id: i64, raw: &[u8]) -> Entry {
    // A stored message always parsed once; if it no longer does, it is indexed empty (and
    // leaves the queue) rather than blocking it.
    let s = summarise(raw).unwrap_or_default();
    Entry {
        id,
        people: people(&s),
        attachments: s.attachment_names.join(", "),
        body: index_text(&s.body_text),
        subject: s.subject,
    }
}

/// Indexes up to `limit` queued messages, oldest first, of `account` or of anyone. Returns how
/// many left the queue (0: none was waiting, or another instance holds them).
pub async fn index_pending(db: &Db, account: Option<i64>, limit: i64) -> Result<usize, StoreError> {
    let index_sql = index_statement(db);
    let scope = if account.is_some() { "p.account_id = $1" } else { "$1 IS NULL" };
    let select = format!(
        "SELECT p.message_id, m.raw FROM search_pending p JOIN messages m ON m.id = p.message_id \
         WHERE {scope} ORDER BY p.message_id LIMIT {}",
        limit.clamp(1, 1000)
    );
    let done = match db.pool() {
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!("{select} FOR UPDATE OF p SKIP LOCKED"))
                .bind(account)
                .fetch_all(&mut *tx)
                .await?;
            for (id, raw) in &rows {
                let e = entry(*id, raw);
                bind_entry(sqlx::query(index_sql), &e).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM search_pending WHERE message_id = $1").bind(e.id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rows.len()
        }
        Pool::Sqlite(p) => {
            // Read and parsed before the write lock is taken, so deliveries wait the least.
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&select).bind(account).fetch_all(p).await?;
            let entries: Vec<Entry> = rows.iter().map(|(id, raw)| entry(*id, raw)).collect();
            let mut done = 0;
            if !entries.is_empty() {
                let mut tx = p.begin_write().await?;
                for e in &entries {
                    let taken = sqlx::query("DELETE FROM search_pending WHERE message_id = $1")
                        .bind(e.id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if taken == 1 {
                        bind_entry(sqlx::query(index_sql), e).execute(&mut *tx).await?;
                        done += 1;
                    }
                }
                tx.commit().await?;
            }
            done
        }
    };
    Ok(done)
}

fn bind_entry<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    e: &'q Entry,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(e.id).bind(e.subject.as_str()).bind(e.body.as_str()).bind(e.people.as_str()).bind(e.attachments.as_str())
}

/// Indexes every queued message of `account` (a search is about to read the index).
pub async fn catch_up(db: &Db, account: i64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = index_pending(db, Some(account), 200).await?;
        total += n;
        if n == 0 {
            // None waiting, or another instance is indexing the rest: wait for it to finish.
            if pending(db, Some(account)).await? == 0 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// How many messages wait for the index, of `account` or of anyone.
pub async fn pending(db: &Db, account: Option<i64>) -> Result<i64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM search_pending WHERE ($1 IS NULL OR account_id = $1)")
        .bind(account).fetch_one(p).await?))
}
