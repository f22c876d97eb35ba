//! Drafts: a message being written, saved every few seconds into the Drafts folder. Recipients
//! are kept as typed (they may not be valid yet) in the row, never in the message's headers; the
//! raw message holds the subject, text and attachments, so that reopening a draft brings its
//! files back like a forward does.

use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

use super::{attach, folder_id, index_statement, index_text, snippet, Draft};
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::Clock;
use crate::store::{Backend, BeginWrite, Db, StoreError};

/// Recipients as typed in the composer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed {
    pub to: String,
    pub cc: String,
    pub bcc: String,
}

/// What a save produced: the draft's id (the same one from save to save) and its attachments'
/// names, in order (their indexes serve to keep them at the next save or at sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub id: i64,
    pub attachment_names: Vec<String>,
}

fn one_line(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Saves `d` (text, attachments; its uploads are used up) as draft `existing` of `author`, or as
/// a new draft when there is none, and records the save in the same transaction
/// (`mail.draft_create`, then `mail.draft_save`). A draft that was sent or deleted meanwhile is
/// [`super::SendError::DraftGone`], recorded too.
pub(crate) async fn save(
    db: &Db,
    clock: &dyn Clock,
    author: &Holder,
    existing: Option<i64>,
    d: &Draft,
    typed: &Typed,
    limits: &attach::Limits,
) -> Result<Saved, super::SendError> {
    let result = save_checked(db, clock, author, existing, d, typed, limits).await;
    if let Some(e) = result.as_ref().err().filter(|e| !matches!(e, super::SendError::Store(_))) {
        let mut event = author.event("mail.draft_save", e.audit_outcome());
        event.object = existing.map(|id| format!("message:{id}"));
        audit::append(db, clock, event).await?;
    }
    result
}

async fn save_checked(
    db: &Db,
    clock: &dyn Clock,
    author: &Holder,
    existing: Option<i64>,
    d: &Draft,
    typed: &Typed,
    limits: &attach::Limits,
) -> Result<Saved, super::SendError> {
    let gathered = d.with_files(db, author.account_id, limits).await?;
    let d = &gathered;
    let declared = d.body.len() as i64 + d.attachments.iter().map(|a| a.bytes.len() as i64).sum::<i64>();
    if declared > limits.max_message_bytes {
        return Err(super::SendError::TooLarge { max_bytes: limits.max_message_bytes });
    }
    let now = clock.now_ms();
    let domain = author.address.rsplit_once('@').map(|(_, x)| x).unwrap_or("hygie.invalid");
    let message_id = format!("{}@{domain}", crate::random_hex(16));
    let mut b = MessageBuilder::new()
        .from(Address::new_address(None::<String>, author.address.clone()))
        .subject(d.subject.clone())
        .text_body(d.body.clone())
        .message_id(message_id.clone())
        .date(now / 1000);
    if let Some(r) = &d.in_reply_to {
        b = b.in_reply_to(r.clone());
    }
    if !d.references.is_empty() {
        b = b.references(d.references.clone());
    }
    // Kept as written, recipients or not yet: sending writes it only to a patient.
    if d.patient_no_reply {
        b = b.header("X-MSS-MES", mail_builder::headers::raw::Raw::new("FIN"));
    }
    for a in &d.attachments {
        b = b.attachment(a.content_type.clone(), a.name.clone(), a.bytes.clone());
    }
    let raw = b.write_to_vec().map_err(|e| StoreError::Other(e.to_string()))?;
    let size = raw.len() as i64;
    let replaced: i64 = match existing {
        Some(id) => crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM messages WHERE id = $1 AND account_id = $2")
            .bind(id).bind(author.account_id).fetch_one(p).await?),
        None => 0,
    };
    let leaving: i64 = d.attachments.iter().map(|a| a.bytes.len() as i64).sum();
    if attach::usage(db, author.account_id).await? - replaced - leaving + size > limits.quota_bytes {
        return Err(super::SendError::QuotaExceeded { quota_bytes: limits.quota_bytes });
    }
    let drafts = folder_id(db, clock, author.account_id, "drafts").await?;
    let names: Vec<String> = d.attachments.iter().map(|a| a.name.clone()).collect();
    let attachment_names = names.join(", ");
    let (to, cc, bcc) = (one_line(&typed.to, 5_000), one_line(&typed.cc, 5_000), one_line(&typed.bcc, 5_000));
    let thread_id =
        d.references.first().cloned().or_else(|| d.in_reply_to.clone()).unwrap_or_else(|| message_id.clone());
    let people = format!("{to} {cc}");
    let index_sql = index_statement(db);
    let sqlite = db.backend() == Backend::Sqlite;
    let id = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let updated: Option<i64> = match existing {
            Some(id) => sqlx::query_scalar(
                "UPDATE messages SET message_id = $3, thread_id = $4, in_reply_to = $5, to_addrs = $6, cc_addrs = $7, \
                 bcc_addrs = $8, subject = $9, snippet = $10, date_ms = $11, size = $12, urgent = $13, raw = $14, \
                 attachment_names = $15 WHERE id = $1 AND account_id = $2 AND folder_id = $16 \
                 AND NOT EXISTS (SELECT 1 FROM scheduled_sends s WHERE s.message_id = messages.id) RETURNING id")
                .bind(id).bind(author.account_id).bind(&message_id).bind(&thread_id).bind(&d.in_reply_to).bind(&to)
                .bind(&cc).bind(&bcc).bind(&d.subject).bind(snippet(&d.body)).bind(now).bind(size).bind(d.urgent)
                .bind(&raw).bind(&attachment_names).bind(drafts)
                .fetch_optional(&mut *tx).await?,
            None => None,
        };
        let id = match (updated, existing) {
            (Some(id), _) => {
                if sqlite {
                    sqlx::query("DELETE FROM messages_fts WHERE rowid = $1").bind(id).execute(&mut *tx).await?;
                }
                id
            }
            // Sent, discarded or deleted since the composer last saved it, or waiting to leave
            // (scheduled): a new draft would bring back what the person threw away. The composer
            // decides what to do.
            (None, Some(_)) => return Err(super::SendError::DraftGone),
            (None, None) => sqlx::query_scalar(
                "INSERT INTO messages (account_id, folder_id, message_id, thread_id, in_reply_to, from_addr, from_name, \
                 to_addrs, cc_addrs, bcc_addrs, subject, snippet, date_ms, size, urgent, unread, raw, created_ms, \
                 attachment_names, uid) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, FALSE, $16, $13, $17, \
                         (SELECT uidnext FROM mail_folders WHERE id = $2)) RETURNING id")
                .bind(author.account_id).bind(drafts).bind(&message_id).bind(&thread_id).bind(&d.in_reply_to)
                .bind(&author.address).bind(&author.name)
                .bind(&to).bind(&cc).bind(&bcc).bind(&d.subject).bind(snippet(&d.body)).bind(now).bind(size)
                .bind(d.urgent).bind(&raw).bind(&attachment_names)
                .fetch_one(&mut *tx).await?,
        };
        sqlx::query(index_sql).bind(id).bind(&d.subject).bind(index_text(&d.body)).bind(&people)
            .bind(&attachment_names).execute(&mut *tx).await?;
        for upload in &d.upload_ids {
            sqlx::query("DELETE FROM mail_uploads WHERE id = $1 AND account_id = $2")
                .bind(upload).bind(author.account_id).execute(&mut *tx).await?;
        }
        // Every save is recorded (the composer saves only when something changed).
        let action = if existing == Some(id) { "mail.draft_save" } else { "mail.draft_create" };
        let event = author.event(action, Outcome::Success).object(format!("message:{id}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        id
    });
    Ok(Saved { id, attachment_names: names })
}
