//! Reading: opening a message (sanitised HTML, inline images, remote images on the holder's
//! choice) and its attachments.
use mail_parser::{MessageParser, MimeHeaders};

use super::*;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

/// A whole message of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: i64,
    pub folder_role: String,
    pub message_id: String,
    pub thread_id: String,
    pub from_addr: String,
    pub from_name: String,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub bcc_addrs: String,
    pub subject: String,
    pub date_ms: Millis,
    pub urgent: bool,
    pub body_text: String,
    /// The HTML body, sanitised (no remote images), when the message has one.
    pub body_html: Option<String>,
    pub attachment_names: Vec<String>,
    /// For each attachment: can it be previewed as a PDF?
    pub attachment_pdf: Vec<bool>,
    pub references: Vec<String>,
    pub in_reply_to: Option<String>,
    /// The HTML asks for remote images that were left out (the holder has not chosen to see
    /// this sender's images).
    pub remote_images_blocked: bool,
    /// What the MSSanté rules read: `X-MSS-*` headers, the health-document subject, the XDM
    /// package's documents and patient.
    pub mss: mss::Reading,
    /// The read receipt the message asks for, and whether it was answered.
    pub read_receipt: receipts::ReceiptPrompt,
}

/// Shows remote images from `sender` to `account_id` from now on.
/// Shows remote images from the sender of the holder's message `id` from now on, recorded in
/// the same transaction. Returns whether the message is the holder's (the refusal is recorded).
pub(crate) async fn allow_images_from(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    id: i64,
) -> Result<bool, StoreError> {
    let object = format!("message:{id}");
    let Some(sender) = sender_of(db, holder.account_id, id).await? else {
        let event = holder.event("mail.images_allow", Outcome::Denied("not_found".into())).object(object);
        audit::append(db, clock, event).await?;
        return Ok(false);
    };
    let now = clock.now_ms();
    let event = holder.event("mail.images_allow", Outcome::Success).object(object);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query(
            "INSERT INTO mail_image_senders (account_id, sender, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, sender) DO NOTHING")
            .bind(holder.account_id).bind(sender.to_lowercase()).bind(now).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(true)
}

/// The sender's address of message `id` of `account_id`.
pub async fn sender_of(db: &Db, account_id: i64, id: i64) -> Result<Option<String>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT from_addr FROM messages WHERE id = $1 AND account_id = $2")
        .bind(id).bind(account_id).fetch_optional(p).await?))
}

async fn images_allowed(db: &Db, account_id: i64, sender: &str) -> Result<bool, StoreError> {
    let found: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT account_id FROM mail_image_senders WHERE account_id = $1 AND sender = $2")
        .bind(account_id).bind(sender.to_lowercase()).fetch_optional(p).await?);
    Ok(found.is_some())
}

/// The images a message carries for its HTML (`cid:` references).
fn inline_images(raw: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let Some(m) = MessageParser::default().parse(raw) else { return Vec::new() };
    m.parts
        .iter()
        .filter_map(|p| {
            let cid = p.content_id()?.to_string();
            let ct =
                p.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))).unwrap_or_default();
            Some((cid, ct, p.contents().to_vec()))
        })
        .collect()
}

/// Opens message `id` of `account_id` (and marks it read). `None` for another account's id.
/// Opens one of the holder's messages: marks it read and records the reading in one
/// transaction. Another holder's id is not found (and the attempt recorded).
pub(crate) async fn open(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<Option<Opened>, StoreError> {
    let account_id = holder.account_id;
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        role: String,
        message_id: String,
        thread_id: String,
        from_addr: String,
        from_name: String,
        to_addrs: String,
        cc_addrs: String,
        bcc_addrs: String,
        subject: String,
        date_ms: Millis,
        urgent: bool,
        raw: Vec<u8>,
    }
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.id, f.role, m.message_id, m.thread_id, m.from_addr, m.from_name, m.to_addrs, m.cc_addrs, m.bcc_addrs, \
         m.subject, m.date_ms, m.urgent, m.raw FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.id = $1 AND m.account_id = $2")
        .bind(id).bind(account_id).fetch_optional(p).await?);
    let object = format!("message:{id}");
    let Some(r) = row else {
        audit::append(db, clock, holder.event("mail.open", Outcome::Denied("not_found".into())).object(object)).await?;
        return Ok(None);
    };
    let event = holder.event("mail.open", Outcome::Success).object(object);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE messages SET unread = FALSE WHERE id = $1 AND account_id = $2 AND unread")
            .bind(r.id).bind(account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    let s = summarise(&r.raw).unwrap_or_default();
    let mss = mss::read(&r.raw, &mss::xdm::Limits::default());
    let (body_html, remote_images_blocked) = match &s.body_html {
        Some(h) => {
            let allowed = images_allowed(db, account_id, &r.from_addr).await?;
            let clean = html::sanitise(h, allowed);
            let blocked = !allowed && html::has_remote_images(h);
            let images = if clean.contains("cid:") { inline_images(&r.raw) } else { Vec::new() };
            let parts: Vec<html::Inline<'_>> =
                images.iter().map(|(c, t, b)| html::Inline { content_id: c, content_type: t, bytes: b }).collect();
            (Some(html::inline_cid_images(&clean, &parts)), blocked)
        }
        None => (None, false),
    };
    Ok(Some(Opened {
        id: r.id,
        folder_role: r.role,
        message_id: r.message_id,
        thread_id: r.thread_id,
        from_addr: r.from_addr,
        from_name: r.from_name,
        to_addrs: r.to_addrs,
        cc_addrs: r.cc_addrs,
        bcc_addrs: r.bcc_addrs,
        subject: r.subject,
        date_ms: r.date_ms,
        urgent: r.urgent,
        body_text: s.body_text,
        body_html,
        remote_images_blocked,
        attachment_names: s.attachment_names,
        attachment_pdf: s.attachment_pdf,
        references: s.references,
        in_reply_to: s.in_reply_to,
        mss,
        read_receipt: receipts::ReceiptPrompt::None,
    }))
}

/// An attachment to download.
pub struct Attachment {
    pub name: String,
    /// As declared by the sender; never trusted to render (served as a download).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Attachment number `index` (from 0, in the order `Opened::attachment_names` lists them) of
/// message `id` of `account_id`. `None` for another account's message or a wrong index.
pub async fn attachment(db: &Db, account_id: i64, id: i64, index: usize) -> Result<Option<Attachment>, StoreError> {
    Ok(attachments_of(db, account_id, id, &[index]).await?.pop().flatten())
}

/// Attachments `indexes` of message `id` of `account_id`, in that order (`None` for an index
/// past the end); the message is loaded and parsed once. Empty when it is not the account's.
pub async fn attachments_of(
    db: &Db,
    account_id: i64,
    id: i64,
    indexes: &[usize],
) -> Result<Vec<Option<Attachment>>, StoreError> {
    let raw: Option<Vec<u8>> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT raw FROM messages WHERE id = $1 AND account_id = $2")
        .bind(id).bind(account_id).fetch_optional(p).await?);
    let Some(raw) = raw else { return Ok(indexes.iter().map(|_| None).collect()) };
    let Some(m) = MessageParser::default().parse(&raw) else { return Ok(indexes.iter().map(|_| None).collect()) };
    let named: Vec<_> = m.attachments().filter(|a| a.attachment_name().is_some()).collect();
    Ok(indexes
        .iter()
        .map(|index| {
            named.get(*index).map(|a| Attachment {
                name: attach::clean_name(a.attachment_name().unwrap_or("piece-jointe")),
                content_type: a
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")))
                    .unwrap_or_else(|| "application/octet-stream".into()),
                bytes: a.contents().to_vec(),
            })
        })
        .collect())
}

/// Attachment `index` of message `id` of `account_id` when it is a PDF by its content, the only
/// kind that can be previewed.
pub async fn pdf_attachment(db: &Db, account_id: i64, id: i64, index: usize) -> Result<Option<Attachment>, StoreError> {
    Ok(attachment(db, account_id, id, index).await?.filter(|f| preview::is_pdf(&f.bytes)))
}

/// Document `doc` (in the order the package lists them) of the XDM package that is attachment
/// `index` of message `id` of `account_id`: its file as it is in the package. `None` when the
/// attachment is not an XDM package, or the package or the document cannot be read.
pub async fn xdm_document(
    db: &Db,
    account_id: i64,
    id: i64,
    index: usize,
    doc: usize,
) -> Result<Option<Attachment>, StoreError> {
    let Some(a) = attachment(db, account_id, id, index).await? else { return Ok(None) };
    if !mss::xdm::is_package_name(&a.name) {
        return Ok(None);
    }
    let file = mss::xdm::document(&a.bytes, &mss::xdm::Limits::default(), doc).ok().flatten();
    Ok(file.map(|f| Attachment {
        name: attach::clean_name(&f.name),
        content_type: attach::clean_type(&f.mime_type),
        bytes: f.bytes,
    }))
}

/// The PDF of document `doc` of the XDM package that is attachment `index` of message `id`: the
/// file when it is a PDF, or the PDF a CDA of level 1 embeds (previewed like any PDF).
pub async fn xdm_pdf(
    db: &Db,
    account_id: i64,
    id: i64,
    index: usize,
    doc: usize,
) -> Result<Option<Attachment>, StoreError> {
    let Some(a) = attachment(db, account_id, id, index).await? else { return Ok(None) };
    if !mss::xdm::is_package_name(&a.name) {
        return Ok(None);
    }
    let limits = mss::xdm::Limits::default();
    let Ok(Some(file)) = mss::xdm::document(&a.bytes, &limits, doc) else { return Ok(None) };
    let Some(pdf) = file.pdf(&limits) else { return Ok(None) };
    let stem = file.name.rsplit_once('.').map_or(file.name.as_str(), |(s, _)| s);
    Ok(Some(Attachment {
        name: attach::clean_name(&format!("{stem}.pdf")),
        content_type: "application/pdf".into(),
        bytes: pdf,
    }))
}
