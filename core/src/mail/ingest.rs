//! Bringing mail in from elsewhere: mbox and Maildir imports in batches, and messages received
//! from other operators ([`super::delivery`]). Both store a message the same way: parsed once,
//! with its metadata, its conversation and its search index, skipped when the mailbox already
//! holds its Message-ID.
use mail_parser::MessageParser;

use super::*;
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

/// A message brought in from elsewhere (an mbox or Maildir of another operator).
pub struct Imported {
    pub raw: Vec<u8>,
    /// When it arrived; the Date header or now when unknown.
    pub date_ms: Option<Millis>,
    pub unread: bool,
}

/// A message parsed once, ready to be stored in any number of mailboxes.
pub(crate) struct Prepared {
    pub summary: Summary,
    pub message_id: String,
    pub thread_id: String,
    pub attachments: String,
    pub date_ms: Millis,
    pub unread: bool,
}

impl Prepared {
    /// Parses `raw`; `None` when it is not a message. `date_ms` as in [`Imported`].
    pub fn new(raw: &[u8], date_ms: Option<Millis>, unread: bool, now: Millis) -> Option<Prepared> {
        let s = summarise(raw)?;
        let date_ms = date_ms
            .or_else(|| {
                MessageParser::default().parse_headers(raw).and_then(|h| h.date().map(|d| d.to_timestamp() * 1000))
            })
            .unwrap_or(now);
        let message_id = if s.message_id.is_empty() {
            format!("{}@import.hygie", crate::random_hex(12))
        } else {
            s.message_id.clone()
        };
        let thread_id =
            s.references.first().cloned().or_else(|| s.in_reply_to.clone()).unwrap_or_else(|| message_id.clone());
        let attachments = s.attachment_names.join(", ");
        Some(Prepared { summary: s, message_id, thread_id, attachments, date_ms, unread })
    }
}

/// The names and addresses a search by person finds a message by.
pub(crate) fn people(s: &Summary) -> String {
    format!("{} {} {} {}", s.from_name, s.from_addr, s.to.join(" "), s.cc.join(" "))
}

/// Stores a prepared message inside the caller's write transaction. Implemented for both
/// engines' connections (call it on `&mut *tx`).
pub(crate) trait IngestTx: Send {
    /// Stores `m` (whose whole text is `raw`) in `folder` of `account_id`, queued for the search
    /// index ([`super::indexer`]: built after the commit, and before any search of the mailbox).
    /// Returns its id, or `None` when the mailbox already holds a message with the same
    /// Message-ID (nothing is stored twice).
    fn store_in(
        &mut self,
        account_id: i64,
        folder: i64,
        m: &Prepared,
        raw: &[u8],
        now: Millis,
    ) -> impl std::future::Future<Output = Result<Option<i64>, sqlx::Error>> + Send {
        self.store_message(true, account_id, folder, m, raw, now)
    }

    /// [`IngestTx::store_in`] whatever the mailbox holds: a message its holder wrote, whose
    /// copies (Sent, and the Inbox when written to oneself) share one Message-ID.
    fn store_copy_in(
        &mut self,
        account_id: i64,
        folder: i64,
        m: &Prepared,
        raw: &[u8],
        now: Millis,
    ) -> impl std::future::Future<Output = Result<Option<i64>, sqlx::Error>> + Send {
        self.store_message(false, account_id, folder, m, raw, now)
    }

    /// Both of the above: `dedupe` says whether a Message-ID already held skips the message.
    fn store_message(
        &mut self,
        dedupe: bool,
        account_id: i64,
        folder: i64,
        m: &Prepared,
        raw: &[u8],
        now: Millis,
    ) -> impl std::future::Future<Output = Result<Option<i64>, sqlx::Error>> + Send;
}

macro_rules! impl_ingest_tx {
    ($conn:ty) => {
        impl IngestTx for $conn {
            async fn store_message(
                &mut self,
                dedupe: bool,
                account_id: i64,
                folder: i64,
                m: &Prepared,
                raw: &[u8],
                now: Millis,
            ) -> Result<Option<i64>, sqlx::Error> {
                // One statement: unless `dedupe` is off, stored only if the mailbox does not hold
                // that Message-ID yet. The IMAP UID is given here, not by a later update of the
                // row (see migration 0035).
                const SQL: &str = "INSERT INTO messages (account_id, folder_id, message_id, thread_id, in_reply_to, \
                     from_addr, from_name, to_addrs, cc_addrs, subject, snippet, date_ms, size, attachment_names, urgent, \
                     unread, raw, created_ms, uid) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
                            (SELECT uidnext FROM mail_folders WHERE id = $2) \
                     WHERE $19 OR NOT EXISTS (SELECT 1 FROM messages WHERE account_id = $1 AND message_id = $3) \
                     RETURNING id";
                let s = &m.summary;
                let id: Option<i64> = sqlx::query_scalar(SQL)
                    .bind(account_id)
                    .bind(folder)
                    .bind(&m.message_id)
                    .bind(&m.thread_id)
                    .bind(&s.in_reply_to)
                    .bind(&s.from_addr)
                    .bind(&s.from_name)
                    .bind(s.to.join(", "))
                    .bind(s.cc.join(", "))
                    .bind(&s.subject)
                    .bind(snippet(&s.body_text))
                    .bind(m.date_ms)
                    .bind(raw.len() as i64)
                    .bind(&m.attachments)
                    .bind(s.urgent)
                    .bind(m.unread)
                    .bind(raw)
                    .bind(now)
                    .bind(!dedupe)
                    .fetch_optional(&mut *self)
                    .await?;
                let Some(id) = id else { return Ok(None) };
                sqlx::query("INSERT INTO search_pending (message_id, account_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(account_id)
                    .execute(&mut *self)
                    .await?;
                Ok(Some(id))
            }
        }
    };
}

impl_ingest_tx!(sqlx::SqliteConnection);
impl_ingest_tx!(sqlx::PgConnection);

/// Stores messages into the account's folder `role` as they are, with their metadata and search
/// index, in one transaction per call. Messages that do not parse are skipped; returns how many
/// were stored.
pub async fn import_batch(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    role: &str,
    batch: &[Imported],
) -> Result<usize, StoreError> {
    let folder = folder_id(db, clock, account_id, role).await?;
    let now = clock.now_ms();
    let mut stored = 0;
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for m in batch {
            let Some(prepared) = Prepared::new(&m.raw, m.date_ms, m.unread, now) else { continue };
            if tx.store_in(account_id, folder, &prepared, &m.raw, now).await?.is_some() {
                stored += 1;
            }
        }
        tx.commit().await?;
    });
    Ok(stored)
}
