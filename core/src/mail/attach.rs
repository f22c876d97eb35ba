//! Attachments on the way out: files uploaded in the composer wait in the database (so that any
//! instance behind the load balancer can send them) until their message leaves, and the sizes
//! that bound a message and a mailbox.

use crate::clock::{Clock, Millis};
use crate::store::{Db, StoreError};

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

impl Default for Limits {
    fn default() -> Self {
        Limits { max_message_bytes: 25 * 1024 * 1024, quota_bytes: 2 * 1024 * 1024 * 1024 }
    }
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
pub async fn store_upload(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Upload, StoreError> {
    let name = clean_name(name);
    let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO mail_uploads (account_id, name, content_type, size, bytes, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(account_id).bind(&name).bind(clean_type(content_type)).bind(bytes.len() as i64).bind(bytes)
        .bind(clock.now_ms()).fetch_one(p).await?);
    Ok(Upload { id, name, size: bytes.len() as i64 })
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
pub async fn delete_upload(db: &Db, account_id: i64, id: i64) -> Result<bool, StoreError> {
    let n = crate::with_pool!(db, p => sqlx::query("DELETE FROM mail_uploads WHERE id = $1 AND account_id = $2")
        .bind(id).bind(account_id).execute(p).await?.rows_affected());
    Ok(n > 0)
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
