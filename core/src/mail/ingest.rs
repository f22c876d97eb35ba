//! Bringing existing mail in: mbox and Maildir imports, in batches.
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
    let index_sql = index_statement(db);
    let mut stored = 0;
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for m in batch {
            let Some(s) = summarise(&m.raw) else { continue };
            let parsed_date = MessageParser::default().parse_headers(&m.raw).and_then(|h| h.date().map(|d| d.to_timestamp() * 1000));
            let date_ms = m.date_ms.or(parsed_date).unwrap_or(now);
            let message_id = if s.message_id.is_empty() { format!("{}@import.hygie", crate::random_hex(12)) } else { s.message_id.clone() };
            // Importing the same mailbox twice brings nothing twice.
            let present: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE account_id = $1 AND message_id = $2")
                .bind(account_id).bind(&message_id).fetch_optional(&mut *tx).await?;
            if present.is_some() {
                continue;
            }
            let thread_id = s.references.first().cloned().or_else(|| s.in_reply_to.clone()).unwrap_or_else(|| message_id.clone());
            let people = format!("{} {} {} {}", s.from_name, s.from_addr, s.to.join(" "), s.cc.join(" "));
            let attachments = s.attachment_names.join(", ");
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (account_id, folder_id, message_id, thread_id, in_reply_to, from_addr, from_name, \
                 to_addrs, cc_addrs, subject, snippet, date_ms, size, attachment_names, urgent, unread, raw, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id")
                .bind(account_id).bind(folder).bind(&message_id).bind(&thread_id).bind(&s.in_reply_to)
                .bind(&s.from_addr).bind(&s.from_name).bind(s.to.join(", ")).bind(s.cc.join(", ")).bind(&s.subject)
                .bind(snippet(&s.body_text)).bind(date_ms).bind(m.raw.len() as i64).bind(&attachments).bind(s.urgent)
                .bind(m.unread).bind(&m.raw).bind(now)
                .fetch_one(&mut *tx).await?;
            sqlx::query(index_sql).bind(id).bind(&s.subject).bind(index_text(&s.body_text)).bind(&people).bind(&attachments)
                .execute(&mut *tx).await?;
            stored += 1;
        }
        tx.commit().await?;
    });
    Ok(stored)
}
