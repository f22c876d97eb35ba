//! Attachments on the way out: files uploaded in the composer wait in the database (so that any
//! instance behind the load balancer can send them) until their message leaves, and the sizes
//! that bound a message and a mailbox.

use crate::audit::{AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

/// A file that goes with a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A file name may name a patient: sizes only.
        f.debug_struct("Part").field("size", &self.bytes.len()).finish_non_exhaustive()
    }
}

/// How big a message and a mailbox may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Body and attachments together, as the person sees their files' sizes.
    pub max_message_bytes: i64,
    /// Every message kept (raw, as stored) plus uploads waiting to be sent.
    pub quota_bytes: i64,
}

impl Limits {
    /// The largest message as written in MIME (attachments grow by a third in base64), headers
    /// included: what a message written elsewhere may weigh.
    pub fn max_encoded_bytes(&self) -> i64 {
        self.max_message_bytes * 14 / 10 + 1024 * 1024
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_message_bytes: 25 * 1024 * 1024, quota_bytes: 2 * 1024 * 1024 * 1024 }
    }
}

/// Why the files of a message being written cannot be gathered.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// An upload that is not (or no longer) the holder's.
    #[error("unknown upload")]
    UnknownUpload,
    /// The forwarded message, or one of its attachments, is not the holder's.
    #[error("forwarded attachment not found")]
    ForwardedNotFound,
    /// The forwarded message alone is over the per-message limit.
    #[error("forwarded message over {max_bytes} bytes")]
    TooLarge { max_bytes: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The files of a message being written, in the order the composer lists them: the attachments
/// kept from `forward` (a message of the holder's and the indexes of its attachments; each index
/// once, however often it is listed), then the holder's uploads `upload_ids`. The forwarded
/// message is size-checked before it is loaded, and loaded and parsed once.
pub async fn gather(
    db: &Db,
    account_id: i64,
    upload_ids: &[i64],
    forward: Option<(i64, &[usize])>,
    limits: &Limits,
) -> Result<Vec<Part>, GatherError> {
    let mut unique_uploads: Vec<i64> = Vec::with_capacity(upload_ids.len());
    for id in upload_ids {
        if !unique_uploads.contains(id) {
            unique_uploads.push(*id);
        }
    }
    let found = uploads(db, account_id, &unique_uploads).await?;
    if found.len() != unique_uploads.len() {
        return Err(GatherError::UnknownUpload);
    }
    let mut parts = Vec::new();
    if let Some((message, indexes)) = forward.filter(|(_, i)| !i.is_empty()) {
        let mut wanted: Vec<usize> = Vec::with_capacity(indexes.len());
        for i in indexes {
            if !wanted.contains(i) {
                wanted.push(*i);
            }
        }
        let size: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT size FROM messages WHERE id = $1 AND account_id = $2")
            .bind(message).bind(account_id).fetch_optional(p).await.map_err(StoreError::Query)?);
        match size {
            None => return Err(GatherError::ForwardedNotFound),
            // Base64 makes a message about 4/3 of its files: a message over the limit by more
            // than that cannot carry files that fit.
            Some(size) if size > limits.max_message_bytes.saturating_mul(4) / 3 + 64 * 1024 => {
                return Err(GatherError::TooLarge { max_bytes: limits.max_message_bytes });
            }
            Some(_) => {}
        }
        let files = super::attachments_of(db, account_id, message, &wanted).await?;
        for file in files {
            let Some(f) = file else { return Err(GatherError::ForwardedNotFound) };
            parts.push(Part { name: clean_name(&f.name), content_type: clean_type(&f.content_type), bytes: f.bytes });
        }
    }
    parts.extend(found.into_iter().map(|(_, p)| p));
    let total: i64 = parts.iter().map(|p| p.bytes.len() as i64).sum();
    if total > limits.max_message_bytes {
        return Err(GatherError::TooLarge { max_bytes: limits.max_message_bytes });
    }
    Ok(parts)
}

/// How long an upload waits for its message before it is deleted.
pub const UPLOAD_TTL_MS: Millis = 24 * 3_600_000;

/// A file name as it may go into a message or be shown: no path, no control characters, no
/// invisible format characters (the bidi controls of `facture\u{202E}fdp.exe` would show it as
/// `factureexe.pdf`; zero-width characters make two names look alike), no line or paragraph
/// separators; at most 200 characters; `pièce-jointe` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|&c| shown(c)).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    if cleaned.is_empty() {
        "pièce-jointe".into()
    } else {
        cleaned
    }
}

/// Whether a character of a file name is kept: not a control, format (Cf: bidi controls,
/// zero-width characters, soft hyphen…) or line/paragraph separator character.
fn shown(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !c.is_control()
        && !matches!(
            c.general_category(),
            GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
}

/// A declared media type kept when it is well formed (`type/subtype`, token characters),
/// `application/octet-stream` otherwise. It is only ever a label: downloads are never rendered.
pub fn clean_type(content_type: &str) -> String {
    let t = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match t.split_once('/') {
        Some((a, b)) if token(a) && token(b) => t,
        _ => "application/octet-stream".into(),
    }
}

/// An upload as the composer lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Upload {
    pub id: i64,
    pub name: String,
    pub size: i64,
}

/// Keeps a file for the account's next message.
pub(crate) async fn store_upload(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Upload, StoreError> {
    let name = clean_name(name);
    let now = clock.now_ms();
    let size = bytes.len() as i64;
    let id: i64 = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mail_uploads (account_id, name, content_type, size, bytes, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(holder.account_id).bind(&name).bind(clean_type(content_type)).bind(size).bind(bytes)
            .bind(now).fetch_one(&mut *tx).await?;
        // The file's name may name a patient: its id and size only.
        let event = holder.event("mail.upload", Outcome::Success).object(format!("upload:{id} size:{size}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        id
    });
    Ok(Upload { id, name, size })
}

/// The account's uploads among `ids`, in the order asked; another account's ids are left out.
pub async fn uploads(db: &Db, account_id: i64, ids: &[i64]) -> Result<Vec<(i64, Part)>, StoreError> {
    let mut out = Vec::new();
    for id in ids {
        let row: Option<(String, String, Vec<u8>)> = crate::with_pool!(db, p => sqlx::query_as(
            "SELECT name, content_type, bytes FROM mail_uploads WHERE id = $1 AND account_id = $2")
            .bind(id).bind(account_id).fetch_optional(p).await?);
        if let Some((name, content_type, bytes)) = row {
            out.push((*id, Part { name, content_type, bytes }));
        }
    }
    Ok(out)
}

/// Removes one of the account's uploads; whether it was there.
pub(crate) async fn delete_upload(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<bool, StoreError> {
    let object = format!("upload:{id}");
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("DELETE FROM mail_uploads WHERE id = $1 AND account_id = $2")
            .bind(id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected();
        let outcome = if n > 0 { Outcome::Success } else { Outcome::Denied("not_found".into()) };
        tx.append_audit(db.audit_key(), clock.now_ms(), &holder.event("mail.upload_delete", outcome).object(object))
            .await?;
        tx.commit().await?;
        n > 0
    }))
}

/// Deletes uploads older than [`UPLOAD_TTL_MS`]; how many.
pub async fn purge_uploads(db: &Db, clock: &dyn Clock) -> Result<u64, StoreError> {
    let before = clock.now_ms() - UPLOAD_TTL_MS;
    Ok(crate::with_pool!(db, p => sqlx::query("DELETE FROM mail_uploads WHERE created_ms < $1")
        .bind(before).execute(p).await?.rows_affected()))
}

/// The account's quota in use, in bytes: its messages as stored and its waiting uploads.
pub async fn usage(db: &Db, account_id: i64) -> Result<i64, StoreError> {
    let used: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT CAST(COALESCE((SELECT SUM(size) FROM messages WHERE account_id = $1), 0) \
               + COALESCE((SELECT SUM(size) FROM mail_uploads WHERE account_id = $1), 0) AS BIGINT)")
        .bind(account_id).fetch_one(p).await?);
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\dr\\Compte rendu été.pdf"), "Compte rendu été.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\r\nb.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "pièce-jointe");
        assert_eq!(clean_name(&"x".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn names_cannot_disguise_their_extension() {
        assert_eq!(clean_name("facture\u{202E}fdp.exe"), "facturefdp.exe");
        // Every bidi control, the Arabic letter mark, zero-width and other format characters.
        let hidden = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}\
                      \u{200B}\u{200D}\u{2060}\u{FEFF}\u{00AD}\u{2028}\u{2029}\u{0085}\u{007F}\u{E0041}";
        assert_eq!(clean_name(&format!("comp{hidden}te rendu.pdf")), "compte rendu.pdf");
        assert_eq!(clean_name("\u{202E}\u{2066}"), "pièce-jointe");
        // Letters and marks of every script stay.
        assert_eq!(clean_name("تقرير طبي.pdf"), "تقرير طبي.pdf");
        assert_eq!(clean_name("Compte rendu e\u{301}te\u{301}.pdf"), "Compte rendu e\u{301}te\u{301}.pdf");
        assert_eq!(clean_type("application/PDF; name=x"), "application/pdf");
        assert_eq!(clean_type("text/html\r\nX: y"), "application/octet-stream");
        assert_eq!(clean_type(""), "application/octet-stream");
    }
}
