//! Mailboxes: building and parsing messages (mail-builder, mail-parser), folders, delivery to
//! this instance's accounts, lists and reading. Every query is scoped by account: another
//! account's ids are simply not found.

use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mail_parser::{MessageParser, MimeHeaders};

pub mod attach;
pub mod drafts;
pub mod folders;
pub mod html;
pub mod preview;

use crate::accounts;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::{AccountStatus, Holder};
use crate::clock::{Clock, Millis};
use crate::store::Backend;
use crate::store::{BeginWrite, Db, StoreError};

/// The folders every mailbox has, with their French names.
pub const STANDARD_FOLDERS: &[(&str, &str)] = &[
    ("inbox", "Boîte de réception"),
    ("sent", "Envoyés"),
    ("drafts", "Brouillons"),
    ("archive", "Archives"),
    ("trash", "Corbeille"),
];

/// A message as written.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub urgent: bool,
    /// The Message-ID (without brackets) this one answers.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<attach::Part>,
    /// The holder's uploads that go with it (gathered into `attachments` when it is sent or
    /// saved): deleted when the message is sent.
    pub upload_ids: Vec<i64>,
    /// A message of the holder's whose attachments (by index) go with this one, before the
    /// uploads: a forward, or a draft reopened.
    pub forward_from: Option<i64>,
    pub forward_parts: Vec<usize>,
    /// The draft this message was written in: deleted when it is sent.
    pub replaces_draft: Option<i64>,
}

/// Builds the RFC 5322 form of `d` from `from`. Bcc recipients are not written into it.
pub fn build(from: &Holder, d: &Draft, message_id: &str, date_secs: i64) -> Result<Vec<u8>, std::io::Error> {
    let name = from.name.clone();
    let list =
        |v: &[String]| Address::new_list(v.iter().map(|a| Address::new_address(None::<String>, a.clone())).collect());
    let mut b = MessageBuilder::new()
        .from(Address::new_address((!name.is_empty()).then_some(name), from.address.clone()))
        .subject(d.subject.clone())
        .text_body(d.body.clone())
        .message_id(message_id.to_string())
        .date(date_secs);
    if !d.to.is_empty() {
        b = b.to(list(&d.to));
    }
    if !d.cc.is_empty() {
        b = b.cc(list(&d.cc));
    }
    if let Some(r) = &d.in_reply_to {
        b = b.in_reply_to(r.clone());
    }
    if !d.references.is_empty() {
        b = b.references(d.references.clone());
    }
    if d.urgent {
        b = b.header("Importance", Raw::new("high")).header("X-Priority", Raw::new("1"));
    }
    for a in &d.attachments {
        b = b.attachment(a.content_type.clone(), a.name.clone(), a.bytes.clone());
    }
    b.write_to_vec()
}

/// What the lists need, read from a raw message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub from_addr: String,
    pub from_name: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body_text: String,
    /// The HTML body as sent (not yet sanitised), when there is one.
    pub body_html: Option<String>,
    pub attachment_names: Vec<String>,
    /// For each of `attachment_names`: is it a PDF by its content (it can be previewed)?
    pub attachment_pdf: Vec<bool>,
    pub urgent: bool,
}

fn addresses(a: Option<&mail_parser::Address>) -> Vec<String> {
    a.map(|a| a.iter().filter_map(|x| x.address().map(str::to_lowercase)).collect()).unwrap_or_default()
}

fn ids(h: &mail_parser::HeaderValue) -> Vec<String> {
    match h {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// PostgreSQL text cannot hold NUL characters; mail from elsewhere sometimes does.
fn no_nul(s: &str) -> String {
    s.replace('\0', "")
}

pub fn summarise(raw: &[u8]) -> Option<Summary> {
    let m = MessageParser::default().parse(raw)?;
    let from = m.from().and_then(|a| a.first());
    Some(Summary {
        message_id: m.message_id().unwrap_or_default().to_string(),
        in_reply_to: ids(m.in_reply_to()).into_iter().next(),
        references: ids(m.references()),
        from_addr: from.and_then(|f| f.address()).unwrap_or_default().to_lowercase(),
        from_name: no_nul(from.and_then(|f| f.name()).unwrap_or_default()),
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        subject: no_nul(m.subject().unwrap_or_default()),
        body_text: no_nul(&m.body_text(0).map(|b| b.replace("\r\n", "\n")).unwrap_or_default()),
        body_html: m.html_part(0).and_then(|p| match &p.body {
            mail_parser::PartType::Html(h) => Some(h.to_string()),
            _ => None,
        }),
        // As shown to the holder: no bidi control may disguise a name (see `attach::clean_name`).
        attachment_names: m.attachments().filter_map(|a| a.attachment_name().map(attach::clean_name)).collect(),
        attachment_pdf: m
            .attachments()
            .filter(|a| a.attachment_name().is_some())
            .map(|a| preview::is_pdf(a.contents()))
            .collect(),
        urgent: m.header_raw("Importance").is_some_and(|v| v.trim().eq_ignore_ascii_case("high"))
            || m.header_raw("X-Priority").is_some_and(|v| v.trim().starts_with('1')),
    })
}

/// The first characters of a body, on one line, for the message list.
pub fn snippet(body: &str) -> String {
    let one_line: String = body
        .lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    one_line.chars().take(140).collect()
}

/// Creates the standard folders of an account that lacks them.
pub async fn ensure_folders(db: &Db, clock: &dyn Clock, account_id: i64) -> Result<(), StoreError> {
    for (role, name) in STANDARD_FOLDERS {
        crate::with_pool!(db, p => { sqlx::query(
            "INSERT INTO mail_folders (account_id, role, name, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, role) WHERE role <> 'custom' DO NOTHING")
            .bind(account_id).bind(*role).bind(*name).bind(clock.now_ms()).execute(p).await?; });
    }
    Ok(())
}

/// One folder of the account, with its counts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FolderRow {
    pub id: i64,
    pub role: String,
    pub name: String,
    /// For the holder's own folders: the folder it sits in.
    pub parent_id: Option<i64>,
    pub total: i64,
    pub unread: i64,
}

pub async fn folders(db: &Db, clock: &dyn Clock, account_id: i64) -> Result<Vec<FolderRow>, StoreError> {
    // Creating the standard folders is a write: only when some are missing.
    let standard: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_folders WHERE account_id = $1 AND role <> 'custom'")
        .bind(account_id).fetch_one(p).await?);
    if standard < STANDARD_FOLDERS.len() as i64 {
        ensure_folders(db, clock, account_id).await?;
    }
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT f.id, f.role, f.name, f.parent_id, \
                (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id) AS total, \
                (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id AND m.unread) AS unread \
         FROM mail_folders f WHERE f.account_id = $1 ORDER BY f.id")
        .bind(account_id).fetch_all(p).await?))
}

async fn folder_id(db: &Db, clock: &dyn Clock, account_id: i64, role: &str) -> Result<i64, StoreError> {
    let find = || async {
        let id: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT id FROM mail_folders WHERE account_id = $1 AND role = $2")
            .bind(account_id).bind(role).fetch_optional(p).await?);
        Ok::<_, StoreError>(id)
    };
    if let Some(id) = find().await? {
        return Ok(id);
    }
    ensure_folders(db, clock, account_id).await?;
    find().await?.ok_or_else(|| StoreError::Other(format!("no {role} folder")))
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no recipient")]
    NoRecipient,
    /// The address's domain is outside the trust space.
    #[error("{0} is outside the trust space")]
    OutsideTrustSpace(String),
    /// An address on this instance's domains that holds no active mailbox.
    #[error("{0} has no mailbox here")]
    UnknownMailbox(String),
    /// Body and attachments are over the per-message limit.
    #[error("message over {max_bytes} bytes")]
    TooLarge { max_bytes: i64 },
    /// The sender's mailbox would be over its quota with this message in Sent.
    #[error("quota exceeded")]
    QuotaExceeded { quota_bytes: i64 },
    /// A recipient's mailbox here is full.
    #[error("{0}'s mailbox is full")]
    MailboxFull(String),
    /// The draft being saved again is no longer one of the author's drafts: sent, discarded or
    /// deleted meanwhile (another window, or a discard that overtook the save).
    #[error("the draft is no longer in Drafts")]
    DraftGone,
    /// An upload that is not (or no longer) the holder's.
    #[error("unknown upload")]
    UnknownUpload,
    /// The forwarded message or one of its attachments is not the holder's.
    #[error("forwarded attachment not found")]
    ForwardedNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<attach::GatherError> for SendError {
    fn from(e: attach::GatherError) -> Self {
        match e {
            attach::GatherError::UnknownUpload => SendError::UnknownUpload,
            attach::GatherError::ForwardedNotFound => SendError::ForwardedNotFound,
            attach::GatherError::TooLarge { max_bytes } => SendError::TooLarge { max_bytes },
            attach::GatherError::Store(e) => SendError::Store(e),
        }
    }
}

impl Draft {
    /// The same message with its files gathered: the forwarded attachments and the uploads,
    /// then the files already given.
    pub async fn with_files(&self, db: &Db, account_id: i64, limits: &attach::Limits) -> Result<Draft, SendError> {
        let forward = self.forward_from.map(|id| (id, self.forward_parts.as_slice()));
        let mut parts = attach::gather(db, account_id, &self.upload_ids, forward, limits).await?;
        parts.extend(self.attachments.iter().cloned());
        Ok(Draft { attachments: parts, forward_parts: Vec::new(), forward_from: None, ..self.clone() })
    }
}

impl From<sqlx::Error> for SendError {
    fn from(e: sqlx::Error) -> Self {
        SendError::Store(StoreError::Query(e))
    }
}

/// What a sent message became: the sender's copy and the recipients' copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub sent_id: i64,
    pub delivered: Vec<i64>,
    /// Recipients on other operators, queued for delivery over SMTP.
    pub queued: Vec<String>,
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// At most one new-mail notice per account in this time.
pub const NOTICE_INTERVAL_MS: Millis = 15 * 60_000;

/// Tells the holder of `account_id`, at their notification address, that a secure message
/// arrived, if they asked for it and were not told in the last 15 minutes. The notice says
/// nothing of the sender, subject or content. Returns whether a notice was queued.
pub async fn notify_new_mail(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    public_url: &str,
) -> Result<bool, StoreError> {
    let now = clock.now_ms();
    // One statement decides, so that two instances delivering at once send one notice.
    let to: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "UPDATE accounts SET new_mail_notified_ms = $1 WHERE id = $2 AND notify_new_mail \
         AND (new_mail_notified_ms IS NULL OR new_mail_notified_ms <= $3) RETURNING notification_email")
        .bind(now).bind(account_id).bind(now - NOTICE_INTERVAL_MS).fetch_optional(p).await?);
    let Some(to) = to else { return Ok(false) };
    let notice = crate::notify::new_mail(&to, public_url);
    crate::outbox::enqueue(db, clock, &notice).await?;
    Ok(true)
}

impl SendError {
    /// How the audit trail records the refusal: another holder's message is denied, the rest
    /// are failures.
    pub fn audit_outcome(&self) -> Outcome {
        match self {
            SendError::ForwardedNotFound => Outcome::Denied(self.audit_code().into()),
            _ => Outcome::Failure(self.audit_code().into()),
        }
    }

    /// The audit trail's short code for a refusal (never the address).
    pub fn audit_code(&self) -> &'static str {
        match self {
            SendError::NoRecipient => "no_recipient",
            SendError::OutsideTrustSpace(_) => "outside_trust_space",
            SendError::UnknownMailbox(_) => "unknown_mailbox",
            SendError::TooLarge { .. } => "too_large",
            SendError::QuotaExceeded { .. } => "quota",
            SendError::MailboxFull(_) => "mailbox_full",
            SendError::DraftGone => "draft_gone",
            SendError::UnknownUpload => "unknown_upload",
            SendError::ForwardedNotFound => "not_found",
            SendError::Store(_) => "internal",
        }
    }
}

/// Sends `d` from `sender`: every recipient is checked first (nothing is sent if one is refused),
/// then the sender's Sent copy, each recipient's Inbox copy and the audit record are written in
/// one transaction, committed before this returns. A refusal is recorded too. Recipients who
/// asked for it are then told at their notification address (links point to `public_url`).
pub async fn send(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    d: &Draft,
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
) -> Result<Sent, SendError> {
    let result = send_checked(db, clock, sender, d, instance_domains, public_url, limits).await;
    if let Err(e) = &result {
        if !matches!(e, SendError::Store(_)) {
            let object = d.replaces_draft.map(|id| format!("message:{id}"));
            let mut event = sender.event("mail.send", e.audit_outcome());
            event.object = object;
            audit::append(db, clock, event).await?;
        }
    }
    result
}

async fn send_checked(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    d: &Draft,
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
) -> Result<Sent, SendError> {
    let gathered = d.with_files(db, sender.account_id, limits).await?;
    let d = &gathered;
    let declared = d.body.len() as i64 + d.attachments.iter().map(|a| a.bytes.len() as i64).sum::<i64>();
    if declared > limits.max_message_bytes {
        return Err(SendError::TooLarge { max_bytes: limits.max_message_bytes });
    }
    let mut all: Vec<String> = d.to.iter().chain(&d.cc).chain(&d.bcc).map(|a| a.trim().to_lowercase()).collect();
    all.sort();
    all.dedup();
    if all.is_empty() {
        return Err(SendError::NoRecipient);
    }
    let mut local: Vec<i64> = Vec::new();
    let mut local_addresses: Vec<&String> = Vec::new();
    let mut remote: Vec<String> = Vec::new();
    for address in &all {
        let domain = domain_of(address);
        if instance_domains.iter().any(|x| x.eq_ignore_ascii_case(domain)) {
            let active = |a: &accounts::Account| AccountStatus::parse(&a.status) == Some(AccountStatus::Active);
            match accounts::find_by_address(db, address).await?.filter(active) {
                Some(a) => {
                    local.push(a.id);
                    local_addresses.push(address);
                }
                None => return Err(SendError::UnknownMailbox(address.clone())),
            }
        } else if crate::trust_space::contains(db, domain).await? {
            remote.push(address.clone());
        } else {
            return Err(SendError::OutsideTrustSpace(address.clone()));
        }
    }
    let now = clock.now_ms();
    let message_id = format!("{}@{}", crate::random_hex(16), domain_of(&sender.address));
    let raw = build(sender, d, &message_id, now / 1000).map_err(|e| StoreError::Other(e.to_string()))?;
    let size = raw.len() as i64;
    let leaving: i64 = d.attachments.iter().map(|a| a.bytes.len() as i64).sum();
    if attach::usage(db, sender.account_id).await? - leaving + size > limits.quota_bytes {
        return Err(SendError::QuotaExceeded { quota_bytes: limits.quota_bytes });
    }
    for (id, address) in local.iter().zip(&local_addresses) {
        if *id != sender.account_id && attach::usage(db, *id).await? + size > limits.quota_bytes {
            return Err(SendError::MailboxFull((*address).clone()));
        }
    }
    // The outbox keeps text; what mail-builder writes is 7-bit (encoded words, base64,
    // quoted-printable), so this never fails for a message built here.
    let raw_text = if remote.is_empty() {
        String::new()
    } else {
        String::from_utf8(raw.clone()).map_err(|_| StoreError::Other("message is not 7-bit".into()))?
    };
    let thread_id =
        d.references.first().cloned().or_else(|| d.in_reply_to.clone()).unwrap_or_else(|| message_id.clone());
    let snip = snippet(&d.body);

    let sent_folder = folder_id(db, clock, sender.account_id, "sent").await?;
    let drafts_folder = folder_id(db, clock, sender.account_id, "drafts").await?;
    let sqlite = db.backend() == Backend::Sqlite;
    let mut inboxes = Vec::new();
    for id in &local {
        inboxes.push((*id, folder_id(db, clock, *id, "inbox").await?));
    }
    let row = |account_id: i64, folder: i64, bcc: String, unread: bool| NewRow {
        account_id,
        folder,
        message_id: message_id.clone(),
        thread_id: thread_id.clone(),
        in_reply_to: d.in_reply_to.clone(),
        from_addr: sender.address.clone(),
        from_name: sender.name.clone(),
        to: d.to.join(", "),
        cc: d.cc.join(", "),
        bcc,
        subject: d.subject.clone(),
        snippet: snip.clone(),
        date_ms: now,
        urgent: d.urgent,
        unread,
    };
    let mut rows = vec![row(sender.account_id, sent_folder, d.bcc.join(", "), false)];
    rows.extend(inboxes.iter().map(|(acc, folder)| row(*acc, *folder, String::new(), true)));

    let people = format!("{} {} {} {}", rows[0].from_name, sender.address, d.to.join(" "), d.cc.join(" "));
    let attachment_names = d.attachments.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ");
    let index_sql = index_statement(db);
    let mut ids = Vec::new();
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for r in &rows {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (account_id, folder_id, message_id, thread_id, in_reply_to, from_addr, from_name, \
                 to_addrs, cc_addrs, bcc_addrs, subject, snippet, date_ms, size, urgent, unread, raw, created_ms, \
                 attachment_names) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $13, $18) RETURNING id")
                .bind(r.account_id).bind(r.folder).bind(&r.message_id).bind(&r.thread_id).bind(&r.in_reply_to)
                .bind(&r.from_addr).bind(&r.from_name).bind(&r.to).bind(&r.cc).bind(&r.bcc).bind(&r.subject)
                .bind(&r.snippet).bind(r.date_ms).bind(size).bind(r.urgent).bind(r.unread).bind(&raw)
                .bind(&attachment_names)
                .fetch_one(&mut *tx).await?;
            sqlx::query(index_sql).bind(id).bind(&r.subject).bind(index_text(&d.body)).bind(&people)
                .bind(&attachment_names).execute(&mut *tx).await?;
            ids.push(id);
        }
        for upload in &d.upload_ids {
            sqlx::query("DELETE FROM mail_uploads WHERE id = $1 AND account_id = $2")
                .bind(upload).bind(sender.account_id).execute(&mut *tx).await?;
        }
        if let Some(draft) = d.replaces_draft {
            if sqlite {
                sqlx::query("DELETE FROM messages_fts WHERE rowid IN \
                             (SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3)")
                    .bind(draft).bind(sender.account_id).bind(drafts_folder).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3")
                .bind(draft).bind(sender.account_id).bind(drafts_folder).execute(&mut *tx).await?;
        }
        // One queue entry per recipient on another operator, in the same transaction as the
        // Sent copy: a message reported sent is queued, or nothing happened at all.
        for address in &remote {
            sqlx::query(
                "INSERT INTO outbox (created_ms, channel, category, recipient, body, next_attempt_ms, account_id, message_ref) \
                 VALUES ($1, 'mss', 'mail.remote', $2, $3, $1, $4, $5)")
                .bind(now).bind(address).bind(&raw_text).bind(sender.account_id).bind(ids[0])
                .execute(&mut *tx).await?;
        }
        let object = format!("message:{} recipients:{} queued:{}", ids[0], ids.len() - 1, remote.len());
        tx.append_audit(db.audit_key(), now, &sender.event("mail.send", Outcome::Success).object(object)).await?;
        tx.commit().await?;
    });
    // Delivered and committed: a notice that fails must not turn "sent" into an error.
    for account_id in &local {
        if let Err(e) = notify_new_mail(db, clock, *account_id, public_url).await {
            tracing::warn!(error = %e, account = account_id, "new-mail notice not queued");
        }
    }
    Ok(Sent { sent_id: ids[0], delivered: ids[1..].to_vec(), queued: remote })
}

/// Where a message sent to another operator stands, for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteDelivery {
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// When it was handed to the relay, for `sent`.
    pub sent_ms: Option<Millis>,
}

/// The deliveries to other operators of message `id` of `account_id` (its Sent copy).
pub async fn remote_deliveries(db: &Db, account_id: i64, id: i64) -> Result<Vec<RemoteDelivery>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT recipient, status, attempts, sent_ms FROM outbox \
         WHERE account_id = $1 AND message_ref = $2 AND channel = 'mss' ORDER BY recipient")
        .bind(account_id).bind(id).fetch_all(p).await?))
}

/// Puts a delivery-failure report in the sender's Inbox: message `origin` could not be delivered
/// to `recipient`, with the reason (an SMTP status, never the message's content). The report
/// answers the original, so it sits in its conversation.
pub async fn report_failure(
    db: &Db,
    clock: &dyn Clock,
    origin: crate::outbox::Origin,
    recipient: &str,
    error: &crate::outbox::TransportError,
    permanent: bool,
) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Original {
        message_id: String,
        thread_id: String,
        subject: String,
        date_ms: Millis,
    }
    let original: Option<Original> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT message_id, thread_id, subject, date_ms FROM messages WHERE id = $1 AND account_id = $2")
        .bind(origin.message_id).bind(origin.account_id).fetch_optional(p).await?);
    let Some(account) = accounts::get(db, origin.account_id).await? else { return Ok(()) };
    let (original_ids, subject, date) = match &original {
        Some(o) => {
            let mut ids = vec![o.thread_id.clone(), o.message_id.clone()];
            ids.dedup();
            (Some(ids), o.subject.clone(), crate::clock::format_utc(o.date_ms))
        }
        // Deleted for good since: the report still says who did not get it.
        None => (None, String::new(), String::new()),
    };
    let (why_fr, why_en) = if permanent {
        (
            format!("Le serveur du destinataire a refusé le message ({error})."),
            format!("The recipient's server refused the message ({error})."),
        )
    } else {
        (
            "Le serveur du destinataire n'a pas pu être joint pendant le délai de remise ; Hygie a cessé ses tentatives.".to_string(),
            "The recipient's server could not be reached within the delivery period; Hygie stopped trying.".to_string(),
        )
    };
    let body = format!(
        "Votre message n'a pas pu être remis à {recipient}.\n\n\
         Objet : {subject}\nEnvoyé le : {date} (UTC)\n\n{why_fr}\n\n\
         Les autres destinataires ne sont pas concernés. Le message reste dans vos « Envoyés » : \
         vérifiez l'adresse dans l'annuaire, puis renvoyez-le si besoin.\n\n---\n\
         Your message could not be delivered to {recipient}.\n\
         Subject: {subject}\nSent: {date} (UTC)\n\n{why_en}\n"
    );
    let domain = domain_of(&account.address).to_string();
    let report_id = format!("{}@{domain}", crate::random_hex(16));
    let mut b = MessageBuilder::new()
        .from(Address::new_address(Some("Hygie (remise du courrier)"), format!("mailer-daemon@{domain}")))
        .to(Address::new_address(None::<String>, account.address.clone()))
        .subject(format!("Non remis / Undelivered: {subject}"))
        .text_body(body)
        .message_id(report_id)
        .date(clock.now_ms() / 1000);
    if let Some(ids) = original_ids {
        b = b.in_reply_to(ids[ids.len() - 1].clone()).references(ids);
    }
    let raw = b.write_to_vec().map_err(|e| StoreError::Other(e.to_string()))?;
    import_batch(db, clock, account.id, "inbox", &[Imported { raw, date_ms: Some(clock.now_ms()), unread: true }])
        .await?;
    Ok(())
}

struct NewRow {
    account_id: i64,
    folder: i64,
    message_id: String,
    thread_id: String,
    in_reply_to: Option<String>,
    from_addr: String,
    from_name: String,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    snippet: String,
    date_ms: Millis,
    urgent: bool,
    unread: bool,
}

/// A line of a message list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListItem {
    pub id: i64,
    pub from_addr: String,
    pub from_name: String,
    pub to_addrs: String,
    pub subject: String,
    pub snippet: String,
    pub date_ms: Millis,
    pub unread: bool,
    pub flagged: bool,
    pub urgent: bool,
    pub has_attachments: bool,
    /// Messages of its conversation in the mailbox, itself included.
    pub thread_count: i64,
    /// When the list folds conversations: the messages of this line's conversation in this
    /// folder, newest first, itself included (actions on the line apply to all of them). Empty
    /// when the list does not fold.
    #[sqlx(skip)]
    pub folded_ids: Vec<i64>,
    /// When folded: the oldest unread message of the line's conversation in this folder (the
    /// one to open first), if any.
    #[sqlx(skip)]
    pub first_unread: Option<i64>,
}

/// The size of a row's conversation (`m` is the row), read from the thread index.
const THREAD_COUNT: &str =
    "(SELECT COUNT(*) FROM messages t WHERE t.account_id = m.account_id AND t.thread_id = m.thread_id) AS thread_count";

/// One page of a folder, newest first, and the folder's total: messages, or with `fold`,
/// conversations (one line each, its newest message in the folder; the total counts
/// conversations).
/// One page of one of the holder's folders, newest first (one line per conversation when
/// `fold`), and the folder's size. The listing shows subjects and senders, so it is recorded:
/// no record, no list.
pub async fn list(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    role: &str,
    page: i64,
    per_page: i64,
    fold: bool,
) -> Result<(Vec<ListItem>, i64), StoreError> {
    let account_id = holder.account_id;
    let folder = folders::resolve(db, clock, account_id, role)
        .await?
        .ok_or_else(|| StoreError::Other(format!("no folder {role}")))?;
    // Folded, a line is a message with no newer one of its conversation in the folder.
    let newest_only = if fold {
        " AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.account_id = m.account_id AND n.folder_id = m.folder_id \
         AND n.thread_id = m.thread_id AND (n.date_ms > m.date_ms OR (n.date_ms = m.date_ms AND n.id > m.id)))"
    } else {
        ""
    };
    let mut items: Vec<ListItem> = crate::with_pool!(db, p => sqlx::query_as(
        &format!("SELECT m.id, m.from_addr, m.from_name, m.to_addrs, m.subject, m.snippet, m.date_ms, m.unread, m.flagged, \
         m.urgent, m.attachment_names <> '' AS has_attachments, {THREAD_COUNT} FROM messages m \
         WHERE m.account_id = $1 AND m.folder_id = $2{newest_only} ORDER BY m.date_ms DESC, m.id DESC LIMIT $3 OFFSET $4"))
        .bind(account_id).bind(folder).bind(per_page).bind(page.max(0) * per_page).fetch_all(p).await?);
    let count = if fold { "COUNT(DISTINCT thread_id)" } else { "COUNT(*)" };
    let total: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        &format!("SELECT {count} FROM messages WHERE account_id = $1 AND folder_id = $2"))
        .bind(account_id).bind(folder).fetch_one(p).await?);
    if fold && !items.is_empty() {
        fold_lines(db, account_id, folder, &mut items).await?;
    }
    let object = format!("folder:{role} page:{} lines:{}", page.max(0), items.len());
    audit::append(db, clock, holder.event("mail.list", Outcome::Success).object(object)).await?;
    Ok((items, total))
}

/// Gives each folded line its conversation's messages in the folder, and marks the line unread,
/// flagged or with attachments when any of them is.
async fn fold_lines(db: &Db, account_id: i64, folder: i64, items: &mut [ListItem]) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Member {
        id: i64,
        thread_id: String,
        date_ms: Millis,
        unread: bool,
        flagged: bool,
        has_attachments: bool,
    }
    let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
    // The lines' ids are integers from the database: listing them in the statement is safe. The
    // conversations are looked up through the lines' thread ids (a join from the lines lets
    // SQLite walk the whole folder first).
    let sql = format!(
        "SELECT m.id, m.thread_id, m.date_ms, m.unread, m.flagged, m.attachment_names <> '' AS has_attachments \
         FROM messages m WHERE m.account_id = $1 AND m.folder_id = $2 AND m.thread_id IN \
         (SELECT t.thread_id FROM messages t WHERE t.account_id = $1 AND t.folder_id = $2 AND t.id IN ({}))",
        ids.join(", ")
    );
    let mut members: Vec<Member> = crate::with_pool!(db, p => sqlx::query_as(&sql)
        .bind(account_id).bind(folder).fetch_all(p).await?);
    members.sort_by(|a, b| (b.date_ms, b.id).cmp(&(a.date_ms, a.id)));
    for item in items.iter_mut() {
        let Some(thread) = members.iter().find(|m| m.id == item.id).map(|m| m.thread_id.clone()) else {
            continue;
        };
        for m in members.iter().filter(|m| m.thread_id == thread) {
            item.folded_ids.push(m.id);
            item.unread |= m.unread;
            item.flagged |= m.flagged;
            item.has_attachments |= m.has_attachments;
            if m.unread {
                // Newest first: the last one seen is the oldest.
                item.first_unread = Some(m.id);
            }
        }
    }
    Ok(())
}

/// Does the account's message list fold conversations (the default)?
pub async fn folds_threads(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    let fold: Option<bool> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT mail_fold_threads FROM accounts WHERE id = $1").bind(account_id).fetch_optional(p).await?);
    Ok(fold.unwrap_or(true))
}

/// Folds conversations in the account's message lists, or shows every message on its own line.
pub async fn set_folds_threads(db: &Db, clock: &dyn Clock, holder: &Holder, fold: bool) -> Result<(), StoreError> {
    let choice = if fold { "conversations" } else { "messages" };
    let event = holder.event("mail.folding", Outcome::Success).object(choice);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE accounts SET mail_fold_threads = $1 WHERE id = $2")
            .bind(fold).bind(holder.account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// The id of the account's newest message (0 for an empty mailbox): open pages compare it to
/// show new mail without a reload. One index lookup.
pub async fn newest(db: &Db, account_id: i64) -> Result<i64, StoreError> {
    let id: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT MAX(id) FROM messages WHERE account_id = $1").bind(account_id).fetch_one(p).await?);
    Ok(id.unwrap_or(0))
}

/// A message of a conversation, for the reader.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThreadItem {
    pub id: i64,
    pub role: String,
    pub from_addr: String,
    pub from_name: String,
    pub snippet: String,
    pub date_ms: Millis,
    pub unread: bool,
}

/// The account's messages of conversation `thread_id`, oldest first (at most 200), the Trash
/// left out.
pub async fn thread(db: &Db, account_id: i64, thread_id: &str) -> Result<Vec<ThreadItem>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.id, f.role, m.from_addr, m.from_name, m.snippet, m.date_ms, m.unread \
         FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND m.thread_id = $2 AND f.role <> 'trash' ORDER BY m.date_ms, m.id LIMIT 200")
        .bind(account_id).bind(thread_id).fetch_all(p).await?))
}

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
}

/// Shows remote images from `sender` to `account_id` from now on.
/// Shows remote images from the sender of the holder's message `id` from now on, recorded in
/// the same transaction. Returns whether the message is the holder's (the refusal is recorded).
pub async fn allow_images_from(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<bool, StoreError> {
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
pub async fn open(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<Option<Opened>, StoreError> {
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
    }))
}

/// What of a body goes into the search index: the first 100,000 characters (PostgreSQL's
/// tsvector holds at most 1 MB).
fn index_text(body: &str) -> String {
    body.chars().take(100_000).collect()
}

/// The statement that indexes a message for search (id, subject, body, people, attachments).
fn index_statement(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Sqlite => {
            // The holder's token comes from the message row itself, written just before.
            "INSERT INTO messages_fts (rowid, subject, body, people, attachments, owner) \
             SELECT $1, $2, $3, $4, $5, 'a' || account_id FROM messages WHERE id = $1"
        }
        Backend::Postgres => {
            "UPDATE messages SET search = setweight(to_tsvector('french', $2), 'A') || to_tsvector('french', $3) \
             || to_tsvector('simple', $4) || to_tsvector('simple', $5) WHERE id = $1"
        }
    }
}

/// A search as typed: free words plus operators `de:`/`from:`, `à:`/`to:`, `objet:`/`subject:`,
/// `pj:`/`has:attachment`, `non-lu:`/`is:unread`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub subject: Vec<String>,
    pub has_attachment: bool,
    pub unread: bool,
    /// `après:`/`after:` a day: from its midnight (UTC), inclusive.
    pub after_ms: Option<Millis>,
    /// `avant:`/`before:` a day: before its midnight (UTC).
    pub before_ms: Option<Millis>,
}

/// Midnight UTC of a day written `2026-10-01`, `01/10/2026` or `1/10/2026`, in milliseconds.
fn day_start_ms(text: &str) -> Option<Millis> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    let (y, m, d): (i32, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

impl SearchQuery {
    pub fn parse(q: &str) -> SearchQuery {
        let mut s = SearchQuery::default();
        for token in q.split_whitespace() {
            let lower = token.to_lowercase();
            let (op, value) = match lower.split_once(':') {
                Some((op, v)) => (op.to_string(), v.to_string()),
                None => (String::new(), lower.clone()),
            };
            match op.as_str() {
                "de" | "from" if !value.is_empty() => s.from.push(value),
                "à" | "a" | "to" if !value.is_empty() => s.to.push(value),
                "objet" | "subject" if !value.is_empty() => s.subject.push(value),
                "pj" => s.has_attachment = true,
                "has" if value == "attachment" || value == "pj" => s.has_attachment = true,
                "non-lu" | "nonlu" => s.unread = true,
                "is" if value == "unread" => s.unread = true,
                "après" | "apres" | "after" | "depuis" | "since" if day_start_ms(&value).is_some() => {
                    s.after_ms = day_start_ms(&value)
                }
                "avant" | "before" if day_start_ms(&value).is_some() => s.before_ms = day_start_ms(&value),
                _ => s.words.push(lower),
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }
}

/// The letter-and-digit runs of a typed word ("bilan-2.pdf" → bilan, 2, pdf), as the indexes
/// tokenise them; full-text query syntax stays out.
fn search_words(w: &str) -> Vec<String> {
    w.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

fn like(w: &str) -> String {
    format!("%{}%", w.replace(['%', '_', '\\'], ""))
}

/// The account's messages matching `q`, in one folder or all, newest first.
pub async fn search(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    q: &SearchQuery,
    folder: Option<&str>,
    limit: i64,
) -> Result<Vec<ListItem>, StoreError> {
    // Parameter $1 is the account; each clause adds its own.
    let mut binds: Vec<String> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let mut add = |binds: &mut Vec<String>, value: String, clause: &dyn Fn(usize) -> String| {
        binds.push(value);
        clauses.push(clause(binds.len() + 1));
    };
    let words: Vec<String> = q.words.iter().flat_map(|w| search_words(w)).collect();
    let subject_words: Vec<String> = q.subject.iter().flat_map(|w| search_words(w)).collect();
    if !words.is_empty() || !subject_words.is_empty() {
        match db.backend() {
            Backend::Sqlite => {
                // The holder first, so that only their messages' matches are walked; free words
                // never match the holder column.
                let m = std::iter::once(format!("owner : \"a{account_id}\""))
                    .chain(words.iter().map(|w| format!("{{subject body people attachments}} : \"{w}\"*")))
                    .chain(subject_words.iter().map(|w| format!("subject : \"{w}\"*")))
                    .collect::<Vec<_>>()
                    .join(" ");
                add(&mut binds, m, &|n| {
                    format!("m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ${n})")
                });
            }
            Backend::Postgres => {
                let m = words
                    .iter()
                    .map(|w| format!("{w}:*"))
                    .chain(subject_words.iter().map(|w| format!("{w}:*A")))
                    .collect::<Vec<_>>()
                    .join(" & ");
                add(&mut binds, m, &|n| format!("m.search @@ to_tsquery('french', ${n})"));
            }
        }
    }
    for w in &q.from {
        add(&mut binds, like(w), &|n| format!("(LOWER(m.from_addr) LIKE ${n} OR LOWER(m.from_name) LIKE ${n})"));
    }
    for w in &q.to {
        add(&mut binds, like(w), &|n| format!("(LOWER(m.to_addrs) LIKE ${n} OR LOWER(m.cc_addrs) LIKE ${n})"));
    }
    let folder_filter = match folder {
        Some(key) => Some(
            folders::resolve(db, clock, account_id, key)
                .await?
                .ok_or_else(|| StoreError::Other(format!("no folder {key}")))?,
        ),
        None => None,
    };
    let mut sql = format!(
        "SELECT m.id, m.from_addr, m.from_name, m.to_addrs, m.subject, m.snippet, m.date_ms, m.unread, m.flagged, \
         m.urgent, m.attachment_names <> '' AS has_attachments, {THREAD_COUNT} FROM messages m WHERE m.account_id = $1"
    );
    for c in &clauses {
        sql.push_str(" AND ");
        sql.push_str(c);
    }
    if let Some(f) = folder_filter {
        sql.push_str(&format!(" AND m.folder_id = {f}"));
    }
    if q.has_attachment {
        sql.push_str(" AND m.attachment_names <> ''");
    }
    if q.unread {
        sql.push_str(" AND m.unread");
    }
    // Integers from the parser, never text: formatted in.
    if let Some(after) = q.after_ms {
        sql.push_str(&format!(" AND m.date_ms >= {after}"));
    }
    if let Some(before) = q.before_ms {
        sql.push_str(&format!(" AND m.date_ms < {before}"));
    }
    sql.push_str(&format!(" ORDER BY m.date_ms DESC, m.id DESC LIMIT {}", limit.clamp(1, 500)));
    Ok(crate::with_pool!(db, p => {
        let mut query = sqlx::query_as(&sql).bind(account_id);
        for b in &binds {
            query = query.bind(b);
        }
        query.fetch_all(p).await?
    }))
}

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

/// What can be done to a selection of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    MarkRead,
    MarkUnread,
    Flag,
    Unflag,
    /// Move to a standard folder (not the Trash: see `Trash`).
    MoveTo(&'static str),
    /// Move to one of the holder's own folders.
    MoveToFolder(i64),
    /// To the Trash, remembering where from.
    Trash,
    /// Out of the Trash, back where it came from (the Inbox if that is unknown).
    Restore,
    /// For good; only messages already in the Trash.
    DeleteForever,
}

impl Action {
    /// The action as the audit trail names it (`mail.trash`, `mail.move:d12`...).
    pub fn audit_name(&self) -> String {
        match self {
            Action::MarkRead => "mail.read".into(),
            Action::MarkUnread => "mail.unread".into(),
            Action::Flag => "mail.flag".into(),
            Action::Unflag => "mail.unflag".into(),
            Action::MoveTo(role) => format!("mail.{role}"),
            Action::MoveToFolder(id) => format!("mail.move:d{id}"),
            Action::Trash => "mail.trash".into(),
            Action::Restore => "mail.restore".into(),
            Action::DeleteForever => "mail.delete".into(),
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "read" => Action::MarkRead,
            "unread" => Action::MarkUnread,
            "flag" => Action::Flag,
            "unflag" => Action::Unflag,
            "inbox" => Action::MoveTo("inbox"),
            "archive" => Action::MoveTo("archive"),
            "trash" => Action::Trash,
            "restore" => Action::Restore,
            "delete" => Action::DeleteForever,
            other => Action::MoveToFolder(other.strip_prefix("move:d")?.parse().ok()?),
        })
    }
}

/// Applies `action` to the holder's messages among `ids` (others' ids are ignored), and records
/// it in the same transaction. Returns how many messages changed.
pub async fn apply(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    ids: &[i64],
    action: Action,
) -> Result<u64, StoreError> {
    let account_id = holder.account_id;
    if ids.is_empty() {
        return Ok(0);
    }
    let trash = folder_id(db, clock, account_id, "trash").await?;
    let inbox = folder_id(db, clock, account_id, "inbox").await?;
    let target = match action {
        Action::MoveTo(role) => folder_id(db, clock, account_id, role).await?,
        Action::MoveToFolder(id) => match folders::resolve(db, clock, account_id, &format!("d{id}")).await? {
            Some(f) => f,
            None => {
                let event = holder.event(action.audit_name(), Outcome::Denied("not_found".into()));
                audit::append(db, clock, event.object(format!("folder:{id}"))).await?;
                return Ok(0);
            }
        },
        _ => 0,
    };
    let (sql, a, b): (&str, i64, i64) = match action {
        Action::MarkRead => ("UPDATE messages SET unread = FALSE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0),
        Action::MarkUnread => ("UPDATE messages SET unread = TRUE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0),
        Action::Flag => ("UPDATE messages SET flagged = TRUE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0),
        Action::Unflag => ("UPDATE messages SET flagged = FALSE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0),
        Action::MoveTo(_) | Action::MoveToFolder(_) => {
            ("UPDATE messages SET folder_id = $3, trashed_from = NULL WHERE id = $1 AND account_id = $2", target, 0)
        }
        Action::Trash => (
            "UPDATE messages SET trashed_from = folder_id, folder_id = $3 WHERE id = $1 AND account_id = $2 \
             AND folder_id <> $3",
            trash,
            0,
        ),
        Action::Restore => (
            "UPDATE messages SET folder_id = COALESCE(trashed_from, $4), trashed_from = NULL \
             WHERE id = $1 AND account_id = $2 AND folder_id = $3",
            trash,
            inbox,
        ),
        Action::DeleteForever => {
            ("DELETE FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3", trash, 0)
        }
    };
    let drop_index = action == Action::DeleteForever && db.backend() == Backend::Sqlite;
    let listed: Vec<String> = ids.iter().take(50).map(i64::to_string).collect();
    let event = |changed: u64| {
        let object = format!("messages:{} changed:{changed}", listed.join(","));
        holder.event(action.audit_name(), Outcome::Success).object(object)
    };
    let mut changed = 0;
    // The whole selection changes together, or not at all.
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for id in ids {
            if drop_index {
                sqlx::query("DELETE FROM messages_fts WHERE rowid IN \
                             (SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3)")
                    .bind(id).bind(account_id).bind(trash).execute(&mut *tx).await?;
            }
            let q = sqlx::query(sql).bind(id).bind(account_id).bind(a);
            let q = if action == Action::Restore { q.bind(b) } else { q };
            changed += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.append_audit(db.audit_key(), clock.now_ms(), &event(changed)).await?;
        tx.commit().await?;
    });
    Ok(changed)
}

/// Deletes every message in the holder's Trash, recorded in the same transaction. Returns how
/// many.
pub async fn empty_trash(db: &Db, clock: &dyn Clock, holder: &Holder) -> Result<u64, StoreError> {
    let account_id = holder.account_id;
    let trash = folder_id(db, clock, account_id, "trash").await?;
    let sqlite = db.backend() == Backend::Sqlite;
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        if sqlite {
            sqlx::query(
                "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE account_id = $1 AND folder_id = $2)")
                .bind(account_id).bind(trash).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM messages WHERE account_id = $1 AND folder_id = $2")
            .bind(account_id).bind(trash).execute(&mut *tx).await?.rows_affected();
        let event = holder.event("mail.empty_trash", Outcome::Success).object(format!("deleted:{n}"));
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
        n
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountRecord, Created};
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    async fn holder(db: &Db, clock: &ManualClock, local: &str) -> Holder {
        let r = AccountRecord {
            address: format!("{local}@hygie.example"),
            mailbox_type: "personal".into(),
            kind: "health".into(),
            first_name: "Élise".into(),
            last_name: local.into(),
            notification_email: format!("{local}@exemple.fr"),
            ..Default::default()
        };
        let Created::New(id) = accounts::create(db, clock, &r).await.unwrap() else { panic!() };
        accounts::activate(db, id).await.unwrap();
        Holder::resolve(db, id, crate::auth::holder::Level::Full, None, None).await.unwrap().unwrap()
    }

    #[test]
    fn mime_round_trip_keeps_accents_long_lines_and_headers() {
        let from = Holder {
            account_id: 1,
            address: "elise.morel@hygie.example".into(),
            name: "Élise Morel".into(),
            level: crate::auth::holder::Level::Full,
            terms_accepted: true,
            session: None,
            ip: None,
        };
        let long_line = "compte-rendu ".repeat(120);
        let d = Draft {
            to: vec!["paul@hygie.example".into()],
            cc: vec!["labo@labo.mssante.fr".into()],
            bcc: vec!["secret@hygie.example".into()],
            subject: "Résultats d'analyses — Mme Dœuf".into(),
            body: format!("Bonjour,\nVoici les résultats : glycémie à jeun 0,95 g/L.\n{long_line}\n"),
            urgent: true,
            in_reply_to: Some("abc@hygie.example".into()),
            references: vec!["root@hygie.example".into(), "abc@hygie.example".into()],
            attachments: vec![
                attach::Part {
                    name: "Échographie rénale.pdf".into(),
                    content_type: "application/pdf".into(),
                    bytes: (0..=255u8).cycle().take(70_000).collect(),
                },
                attach::Part { name: "notes.txt".into(), content_type: "text/plain".into(), bytes: b"a\r\nb".to_vec() },
            ],
            upload_ids: Vec::new(),
            forward_from: None,
            forward_parts: Vec::new(),
            replaces_draft: None,
        };
        let raw = build(&from, &d, "m1@hygie.example", 1_800_000_000).unwrap();
        assert!(raw.is_ascii(), "7-bit on the wire");
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("secret@"), "no Bcc in the message");
        assert!(text.lines().all(|l| l.len() <= 998), "RFC 5322 line length");
        let s = summarise(&raw).unwrap();
        assert_eq!(s.subject, d.subject);
        assert_eq!(s.from_addr, "elise.morel@hygie.example");
        assert_eq!(s.from_name, "Élise Morel");
        assert_eq!(s.to, ["paul@hygie.example"]);
        assert_eq!(s.cc, ["labo@labo.mssante.fr"]);
        assert_eq!(s.message_id, "m1@hygie.example");
        assert_eq!(s.in_reply_to.as_deref(), Some("abc@hygie.example"));
        assert_eq!(s.references, ["root@hygie.example", "abc@hygie.example"]);
        assert!(s.urgent);
        assert_eq!(s.body_text.trim_end(), d.body.trim_end());
        assert_eq!(s.attachment_names, ["Échographie rénale.pdf", "notes.txt"]);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        let bytes: Vec<Vec<u8>> = parsed.attachments().map(|a| a.contents().to_vec()).collect();
        assert_eq!(bytes, [d.attachments[0].bytes.clone(), d.attachments[1].bytes.clone()], "bytes unchanged");
    }

    #[test]
    fn received_attachment_names_are_shown_without_bidi_controls() {
        // "facture<RLO>fdp.exe" would read "factureexe.pdf" in a mail client.
        let raw = "From: a@labo.example\r\nTo: b@hygie.example\r\nSubject: Facture\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
                   Ci-joint.\r\n--b\r\nContent-Type: application/octet-stream\r\n\
                   Content-Disposition: attachment; filename*=UTF-8''facture%E2%80%AEfdp.exe\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b--\r\n";
        let s = summarise(raw.as_bytes()).unwrap();
        assert_eq!(s.attachment_names, ["facturefdp.exe"]);
    }

    #[test]
    fn search_operators_in_french_and_english() {
        let q = SearchQuery::parse(
            "Glycémie de:durand à:labo objet:résultats pj: non-lu: from:x to:y is:unread has:attachment",
        );
        assert_eq!(q.words, ["glycémie"]);
        assert_eq!(q.from, ["durand", "x"]);
        assert_eq!(q.to, ["labo", "y"]);
        assert_eq!(q.subject, ["résultats"]);
        assert!(q.has_attachment && q.unread);
        assert!(SearchQuery::parse("   ").is_empty());
        let d = SearchQuery::parse("bilan après:2026-10-01 avant:15/10/2026");
        assert_eq!(d.words, ["bilan"]);
        assert_eq!(d.after_ms, Some(1_790_812_800_000), "2026-10-01T00:00:00Z");
        assert_eq!(d.before_ms.zip(d.after_ms).map(|(b, a)| b - a), Some(14 * 86_400_000));
        assert_eq!(SearchQuery::parse("after:1/2/2027").after_ms, Some(1_801_440_000_000), "1 February 2027");
        let nonsense = SearchQuery::parse("avant:hier après:2026-13-01");
        assert_eq!((nonsense.before_ms, nonsense.after_ms), (None, None));
        assert_eq!(nonsense.words, ["avant:hier", "après:2026-13-01"], "kept as words, not lost");
    }

    #[test]
    fn snippets_are_one_short_line_without_quotes() {
        assert_eq!(snippet("Bonjour,\n\n> ancien message\nVoici   la suite."), "Bonjour, Voici la suite.");
        assert_eq!(snippet(&"é".repeat(500)).chars().count(), 140);
    }

    #[tokio::test]
    async fn local_delivery_is_atomic_scoped_and_keeps_bcc_private() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b, c) = (
                holder(&t.db, &clock, "alice").await,
                holder(&t.db, &clock, "bruno").await,
                holder(&t.db, &clock, "chloe").await,
            );
            let d = Draft {
                to: vec![b.address.clone()],
                bcc: vec![c.address.clone()],
                subject: "Patient commun".into(),
                body: "Pouvez-vous le voir demain ?".into(),
                ..Default::default()
            };
            let sent =
                send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            assert_eq!(sent.delivered.len(), 2);
            let (inbox, total) = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap();
            assert_eq!((inbox.len(), total), (1, 1));
            assert!(inbox[0].unread);
            assert_eq!(inbox[0].subject, "Patient commun");
            let opened = open(&t.db, &clock, &b, inbox[0].id).await.unwrap().unwrap();
            assert_eq!(opened.bcc_addrs, "", "Bcc is not disclosed to recipients");
            assert_eq!(opened.body_text.trim_end(), "Pouvez-vous le voir demain ?");
            assert!(!list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].unread, "read once opened");
            let mine = open(&t.db, &clock, &a, sent.sent_id).await.unwrap().unwrap();
            assert_eq!(mine.folder_role, "sent");
            assert_eq!(mine.bcc_addrs, c.address);
            // Another account's id is not found.
            assert!(open(&t.db, &clock, &a, inbox[0].id).await.unwrap().is_none());

            // Refusals name the address and deliver nothing.
            crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
            for (to, expect) in [("x@gmail.com", "outside"), ("nobody@hygie.example", "unknown")] {
                let d2 = Draft { to: vec![b.address.clone(), to.into()], subject: "x".into(), ..Default::default() };
                let err = send(&t.db, &clock, &a, &d2, &domains, "https://h.example", &attach::Limits::default())
                    .await
                    .unwrap_err();
                match (expect, err) {
                    ("outside", SendError::OutsideTrustSpace(x)) | ("unknown", SendError::UnknownMailbox(x)) => {
                        assert_eq!(x, to)
                    }
                    (e, other) => panic!("{e}: {other:?}"),
                }
            }
            assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().1, 1, "nothing more delivered");

            // Bruno and Chloé were told once; within 15 minutes, not again; after, again.
            let notices = |db: Db| async move {
                let v: Vec<String> = crate::with_pool!(&db, p => sqlx::query_scalar(
                    "SELECT recipient FROM outbox WHERE category = 'mail.notice' ORDER BY id").fetch_all(p).await.unwrap());
                v
            };
            assert_eq!(notices(t.db.clone()).await, ["bruno@exemple.fr", "chloe@exemple.fr"]);
            clock.advance_ms(14 * 60_000);
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            assert_eq!(notices(t.db.clone()).await.len(), 2);
            clock.advance_ms(60_000);
            accounts::set_preferences(
                &t.db,
                c.account_id,
                accounts::Preferences {
                    notify_new_mail: false,
                    liste_rouge: false,
                    publish_phone: false,
                    no_paper: false,
                },
            )
            .await
            .unwrap();
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            assert_eq!(
                notices(t.db.clone()).await,
                ["bruno@exemple.fr", "chloe@exemple.fr", "bruno@exemple.fr"],
                "Chloé turned them off"
            );
            // Search: words (prefix), operators, scoped to the account.
            let found = |q: &str, who: i64| {
                let (db, clock) = (t.db.clone(), clock.clone());
                let q = SearchQuery::parse(q);
                async move { search(&db, &clock, who, &q, None, 50).await.unwrap().len() }
            };
            assert!(found("demain", b.account_id).await >= 1);
            assert!(found("pouv", b.account_id).await >= 1, "prefix");
            assert!(found("de:alice", b.account_id).await >= 1);
            assert_eq!(found("de:bruno", b.account_id).await, 0);
            assert!(found("objet:patient", b.account_id).await >= 1);
            assert_eq!(found("pj:", b.account_id).await, 0);
            assert_eq!(found("introuvable", b.account_id).await, 0);
            assert_eq!(found("demain", holder(&t.db, &clock, "dora").await.account_id).await, 0, "another mailbox");
            // The holder's token in the index is no word of the messages.
            assert_eq!(found(&format!("a{}", b.account_id), b.account_id).await, 0, "the owner column is not searched");
            assert!(found("demain à:bruno", a.account_id).await >= 1, "the sender finds it in Sent");
            let today = time::OffsetDateTime::from_unix_timestamp(clock.now_ms() / 1000).unwrap().date();
            let (y, m, d) = (today.year(), today.month() as u8, today.day());
            assert!(found(&format!("demain après:{y}-{m:02}-{d:02}"), b.account_id).await >= 1);
            assert_eq!(found(&format!("demain avant:{d:02}/{m:02}/{y}"), b.account_id).await, 0, "dates");

            // Import: stored as they are, searchable, attachments named, unparsable skipped.
            let mbox_msg = |n: usize| {
                Imported {
                raw: format!(
                    "From: Laboratoire <resultats@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Bilan n°{n}\r\n\
                     Date: Mon, 2 Nov 2026 10:0{n}:00 +0100\r\nMessage-ID: <imp{n}@labo>\r\nMIME-Version: 1.0\r\n\
                     Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                     Hémoglobine glyquée {n}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
                     filename=\"bilan-{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
                ).into_bytes(),
                date_ms: None,
                unread: n % 2 == 0,
            }
            };
            let batch: Vec<Imported> = (1..=3).map(mbox_msg).collect();
            assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &batch).await.unwrap(), 3);
            assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &batch).await.unwrap(), 0, "idempotent");
            let (arch, _) = list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap();
            assert_eq!(arch.len(), 3);
            assert_eq!(arch[0].subject, "Bilan n°3", "by the Date header");
            assert!(arch.iter().all(|m| m.has_attachments));
            assert_eq!(found("pj: glyquée", b.account_id).await, 3);
            assert_eq!(found("bilan-2", b.account_id).await, 1, "attachment names are searched");
            let opened = open(&t.db, &clock, &b, arch[0].id).await.unwrap().unwrap();
            assert_eq!(opened.attachment_names, ["bilan-3.pdf"]);
            let pdf = attachment(&t.db, b.account_id, arch[0].id, 0).await.unwrap().unwrap();
            assert_eq!(
                (pdf.name.as_str(), pdf.content_type.as_str(), &pdf.bytes[..]),
                ("bilan-3.pdf", "application/pdf", &b"%PDF-"[..])
            );
            assert!(attachment(&t.db, a.account_id, arch[0].id, 0).await.unwrap().is_none(), "not another's");
            assert!(attachment(&t.db, b.account_id, arch[0].id, 1).await.unwrap().is_none());
            // An HTML mail opens sanitised.
            let hostile = Imported {
                raw: b"From: x@labo.mssante.fr\r\nTo: bruno@hygie.example\r\nSubject: html\r\nMIME-Version: 1.0\r\n\
                       Content-Type: text/html; charset=utf-8\r\n\r\n<p>Bonjour</p><script>alert(1)</script>\
                       <img src=\"https://traceur.example/p.gif\"><svg><animate/></svg>\r\n"
                    .to_vec(),
                date_ms: None,
                unread: true,
            };
            assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &[hostile]).await.unwrap(), 1);
            let html_id = list(&t.db, &clock, &b, "archive", 0, 50, false)
                .await
                .unwrap()
                .0
                .iter()
                .find(|m| m.subject == "html")
                .unwrap()
                .id;
            let h = open(&t.db, &clock, &b, html_id).await.unwrap().unwrap().body_html.unwrap();
            assert!(
                h.contains("<p>Bonjour</p>") && !h.contains("script") && !h.contains("traceur") && !h.contains("svg"),
                "{h}"
            );
            apply(&t.db, &clock, &b, &[html_id], Action::Trash).await.unwrap();
            apply(&t.db, &clock, &b, &arch.iter().map(|m| m.id).collect::<Vec<_>>(), Action::Trash).await.unwrap();
            empty_trash(&t.db, &clock, &b).await.unwrap();

            // Managing: read state, flag, archive, trash and restore, delete for good; scoped.
            let m = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].id;
            assert_eq!(apply(&t.db, &clock, &a, &[m], Action::Trash).await.unwrap(), 0, "not another's");
            assert_eq!(apply(&t.db, &clock, &b, &[m], Action::MarkUnread).await.unwrap(), 1);
            assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].unread);
            apply(&t.db, &clock, &b, &[m], Action::Flag).await.unwrap();
            assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].flagged);
            apply(&t.db, &clock, &b, &[m], Action::MoveTo("archive")).await.unwrap();
            assert_eq!(list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap().1, 1);
            assert_eq!(apply(&t.db, &clock, &b, &[m], Action::DeleteForever).await.unwrap(), 0, "only from the Trash");
            apply(&t.db, &clock, &b, &[m], Action::Trash).await.unwrap();
            assert_eq!(list(&t.db, &clock, &b, "trash", 0, 50, false).await.unwrap().1, 1);
            assert_eq!(apply(&t.db, &clock, &b, &[m], Action::Restore).await.unwrap(), 1);
            assert_eq!(list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap().1, 1, "back where it was");
            apply(&t.db, &clock, &b, &[m], Action::Trash).await.unwrap();
            assert_eq!(apply(&t.db, &clock, &b, &[m], Action::DeleteForever).await.unwrap(), 1);
            assert!(open(&t.db, &clock, &b, m).await.unwrap().is_none());
            apply(
                &t.db,
                &clock,
                &c,
                &[list(&t.db, &clock, &c, "inbox", 0, 50, false).await.unwrap().0[0].id],
                Action::Trash,
            )
            .await
            .unwrap();
            assert_eq!(empty_trash(&t.db, &clock, &c).await.unwrap(), 1);

            let f = folders(&t.db, &clock, b.account_id).await.unwrap();
            assert_eq!(
                f.iter().map(|f| f.role.as_str()).collect::<Vec<_>>(),
                ["inbox", "sent", "drafts", "archive", "trash"]
            );
        }
    }

    #[tokio::test]
    async fn remote_recipients_are_queued_with_the_sent_copy_and_failures_come_back() {
        use crate::outbox::{self, DevOutbox, EmailTransport, MssTransport, RetryPolicy, SmsTransport, Transport};
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
            let d = Draft {
                to: vec![b.address.clone(), "y@labo.mssante.fr".into()],
                bcc: vec!["z@labo.mssante.fr".into()],
                subject: "Résultats d'analyse".into(),
                body: "Voir ci-dessous, œdème résolu.".into(),
                ..Default::default()
            };
            let sent =
                send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            assert_eq!(sent.delivered.len(), 1, "Bruno is here");
            assert_eq!(sent.queued, ["y@labo.mssante.fr", "z@labo.mssante.fr"]);
            let status = remote_deliveries(&t.db, a.account_id, sent.sent_id).await.unwrap();
            assert_eq!(status.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(), ["pending", "pending"]);
            assert!(
                remote_deliveries(&t.db, b.account_id, sent.sent_id).await.unwrap().is_empty(),
                "scoped by account"
            );

            // Delivered through the development transport: the raw message, Bcc not in it.
            let dir = std::env::temp_dir().join(format!("hygie-mss-{}", crate::random_hex(6)));
            let policy = RetryPolicy::default();
            let dev = Transport::dev(&dir);
            assert_eq!(outbox::run_once(&t.db, &clock, &policy, &dev, 10).await.unwrap().sent, 3, "2 + Bruno's notice");
            let files = DevOutbox::new(&dir).list().unwrap();
            let mss: Vec<_> = files.iter().filter(|e| e.channel == "mss").collect();
            assert_eq!(mss.len(), 2);
            let parsed = summarise(mss[0].body.as_bytes()).unwrap();
            assert_eq!(parsed.subject, "Résultats d'analyse");
            assert_eq!(parsed.body_text.trim_end(), "Voir ci-dessous, œdème résolu.");
            assert!(!mss[0].body.to_lowercase().contains("z@labo"), "Bcc is not written into the message");
            let status = remote_deliveries(&t.db, a.account_id, sent.sent_id).await.unwrap();
            assert!(status.iter().all(|s| s.status == "sent" && s.sent_ms.is_some()));
            let _ = std::fs::remove_dir_all(&dir);

            // An operator that cannot be reached: retried, then given up after the expiry, and
            // the sender finds a report in their Inbox, in the conversation of the original.
            let unreachable = Transport {
                email: EmailTransport::Dev(DevOutbox::new(&dir)),
                sms: SmsTransport::Disabled,
                mss: MssTransport::Relay(
                    outbox::smtp_mailer(
                        "127.0.0.1",
                        9,
                        outbox::SmtpSecurity::None,
                        None,
                        None,
                        std::time::Duration::from_secs(2),
                    )
                    .unwrap(),
                ),
            };
            let policy =
                RetryPolicy { base_ms: 1_000, max_ms: 60_000, mss_expiry_ms: 3_600_000, ..RetryPolicy::default() };
            let d2 = Draft { to: vec!["y@labo.mssante.fr".into()], subject: "Relance".into(), ..Default::default() };
            let second =
                send(&t.db, &clock, &a, &d2, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            assert_eq!(outbox::run_once(&t.db, &clock, &policy, &unreachable, 10).await.unwrap().retried, 1);
            assert_eq!(list(&t.db, &clock, &a, "inbox", 0, 50, false).await.unwrap().1, 0, "no report while retrying");
            clock.advance_ms(3_600_000);
            assert_eq!(outbox::run_once(&t.db, &clock, &policy, &unreachable, 10).await.unwrap().failed, 1);
            let (inbox, _) = list(&t.db, &clock, &a, "inbox", 0, 50, false).await.unwrap();
            assert_eq!(inbox.len(), 1);
            assert_eq!(inbox[0].subject, "Non remis / Undelivered: Relance");
            assert!(inbox[0].unread);
            let report = open(&t.db, &clock, &a, inbox[0].id).await.unwrap().unwrap();
            assert!(report.body_text.contains("y@labo.mssante.fr"));
            let original = open(&t.db, &clock, &a, second.sent_id).await.unwrap().unwrap();
            assert_eq!(report.thread_id, original.thread_id);
            assert_eq!(remote_deliveries(&t.db, a.account_id, second.sent_id).await.unwrap()[0].status, "failed");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[tokio::test]
    async fn attachments_travel_with_the_message_within_the_size_limit_and_quota() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let pdf = b"%PDF-1.4 compte rendu".to_vec();
            let up =
                attach::store_upload(&t.db, &clock, &a, "Compte rendu été.pdf", "application/pdf", &pdf).await.unwrap();
            assert_eq!((up.name.as_str(), up.size), ("Compte rendu été.pdf", pdf.len() as i64));
            assert!(
                attach::uploads(&t.db, b.account_id, &[up.id]).await.unwrap().is_empty(),
                "another account's upload"
            );
            // The verb gathers the upload itself.
            let d = Draft {
                to: vec![b.address.clone()],
                subject: "CR".into(),
                body: "Ci-joint.".into(),
                upload_ids: vec![up.id],
                ..Default::default()
            };
            let limits = attach::Limits::default();
            let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
            assert!(
                attach::uploads(&t.db, a.account_id, &[up.id]).await.unwrap().is_empty(),
                "the upload left with it"
            );
            let got = open(&t.db, &clock, &b, sent.delivered[0]).await.unwrap().unwrap();
            assert_eq!(got.attachment_names, ["Compte rendu été.pdf"]);
            let file = attachment(&t.db, b.account_id, sent.delivered[0], 0).await.unwrap().unwrap();
            assert_eq!((file.content_type.as_str(), file.bytes), ("application/pdf", pdf.clone()));
            let (inbox, _) = list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap();
            assert!(inbox[0].has_attachments);
            let found = search(&t.db, &clock, b.account_id, &SearchQuery::parse("rendu pj:"), None, 10).await.unwrap();
            assert_eq!(found.len(), 1, "attachment names are searchable");

            // Over the per-message limit: refused, nothing stored.
            let small = attach::Limits { max_message_bytes: 1_000, quota_bytes: 1_000_000 };
            let big = Draft {
                to: vec![b.address.clone()],
                attachments: vec![attach::Part {
                    name: "scanner.dcm".into(),
                    content_type: "application/dicom".into(),
                    bytes: vec![7; 1_001],
                }],
                ..Default::default()
            };
            assert!(matches!(
                send(&t.db, &clock, &a, &big, &domains, "https://h.example", &small).await,
                Err(SendError::TooLarge { max_bytes: 1_000 })
            ));
            // Quotas: the sender's own, then a full recipient.
            let used_a = attach::usage(&t.db, a.account_id).await.unwrap();
            let used_b = attach::usage(&t.db, b.account_id).await.unwrap();
            assert!(used_a > pdf.len() as i64 && used_b > pdf.len() as i64);
            let tight = attach::Limits { max_message_bytes: 1_000_000, quota_bytes: used_a + 10 };
            let note = Draft { to: vec![b.address.clone()], body: "x".into(), ..Default::default() };
            assert!(matches!(
                send(&t.db, &clock, &a, &note, &domains, "https://h.example", &tight).await,
                Err(SendError::QuotaExceeded { .. })
            ));
            let c = holder(&t.db, &clock, "chloe").await;
            let tight = attach::Limits { max_message_bytes: 1_000_000, quota_bytes: used_b + 10 };
            match send(&t.db, &clock, &c, &note, &domains, "https://h.example", &tight).await {
                Err(SendError::MailboxFull(x)) => assert_eq!(x, b.address),
                other => panic!("{other:?}"),
            }
            assert_eq!(attach::usage(&t.db, b.account_id).await.unwrap(), used_b, "nothing delivered");

            // Uploads never sent are deleted after a day.
            attach::store_upload(&t.db, &clock, &a, "oubli.txt", "text/plain", b"x").await.unwrap();
            assert_eq!(attach::purge_uploads(&t.db, &clock).await.unwrap(), 0);
            clock.advance_ms(attach::UPLOAD_TTL_MS + 1);
            assert_eq!(attach::purge_uploads(&t.db, &clock).await.unwrap(), 1);
        }
    }

    #[tokio::test]
    async fn a_reply_joins_its_conversation() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let limits = attach::Limits::default();
            let first = Draft { to: vec![b.address.clone()], subject: "Suivi".into(), ..Default::default() };
            let sent = send(&t.db, &clock, &a, &first, &domains, "https://h.example", &limits).await.unwrap();
            let received = open(&t.db, &clock, &b, sent.delivered[0]).await.unwrap().unwrap();
            clock.advance_ms(60_000);
            let reply = Draft {
                to: vec![a.address.clone()],
                subject: "RE: Suivi".into(),
                body: "Entendu.".into(),
                in_reply_to: Some(received.message_id.clone()),
                references: vec![received.message_id.clone()],
                ..Default::default()
            };
            let answered = send(&t.db, &clock, &b, &reply, &domains, "https://h.example", &limits).await.unwrap();
            let mine = open(&t.db, &clock, &a, answered.delivered[0]).await.unwrap().unwrap();
            let conv = thread(&t.db, a.account_id, &mine.thread_id).await.unwrap();
            assert_eq!(
                conv.iter().map(|c| (c.id, c.role.as_str())).collect::<Vec<_>>(),
                [(sent.sent_id, "sent"), (answered.delivered[0], "inbox")]
            );
            let (inbox, _) = list(&t.db, &clock, &a, "inbox", 0, 10, false).await.unwrap();
            assert_eq!(inbox[0].thread_count, 2);
            // Not another account's conversation, and not what is in the Trash.
            assert!(thread(&t.db, b.account_id, &mine.thread_id).await.unwrap().iter().all(|c| c.id != sent.sent_id));
            apply(&t.db, &clock, &a, &[sent.sent_id], Action::Trash).await.unwrap();
            assert_eq!(thread(&t.db, a.account_id, &mine.thread_id).await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn folded_lists_show_one_line_per_conversation() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let limits = attach::Limits::default();
            // Three messages of one conversation, and one on its own in between.
            let mut refs: Vec<String> = Vec::new();
            let mut delivered = Vec::new();
            for (n, subject) in ["Suivi", "Autre sujet", "RE: Suivi", "RE: Suivi"].iter().enumerate() {
                let alone = n == 1;
                let d = Draft {
                    to: vec![b.address.clone()],
                    subject: subject.to_string(),
                    in_reply_to: if alone { None } else { refs.last().cloned() },
                    references: if alone { Vec::new() } else { refs.clone() },
                    ..Default::default()
                };
                let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
                let got = open(&t.db, &clock, &a, sent.sent_id).await.unwrap().unwrap();
                if !alone {
                    refs.push(got.message_id);
                }
                delivered.push(sent.delivered[0]);
                clock.advance_ms(60_000);
            }
            let (first, other, _, newest) = (delivered[0], delivered[1], delivered[2], delivered[3]);
            // Bruno reads the newest: the older two stay unread.
            open(&t.db, &clock, &b, newest).await.unwrap();

            let (flat, total) = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap();
            assert_eq!((flat.len(), total), (4, 4));
            assert!(flat.iter().all(|l| l.folded_ids.is_empty()));

            let (lines, total) = list(&t.db, &clock, &b, "inbox", 0, 50, true).await.unwrap();
            assert_eq!(total, 2, "two conversations");
            assert_eq!(lines.iter().map(|l| l.id).collect::<Vec<_>>(), [newest, other]);
            assert_eq!(lines[0].folded_ids, [newest, delivered[2], first], "newest first");
            assert!(lines[0].unread, "unread while any message of it is");
            assert_eq!(lines[0].first_unread, Some(first), "the oldest unread opens first");
            assert_eq!(lines[0].thread_count, 3);
            assert_eq!((lines[1].folded_ids.clone(), lines[1].first_unread), (vec![other], Some(other)));

            // Pages count conversations.
            let (second, _) = list(&t.db, &clock, &b, "inbox", 1, 1, true).await.unwrap();
            assert_eq!(second.iter().map(|l| l.id).collect::<Vec<_>>(), [other]);

            // A message moved away leaves the conversation's line in this folder.
            apply(&t.db, &clock, &b, &[newest], Action::MoveTo("archive")).await.unwrap();
            let (lines, _) = list(&t.db, &clock, &b, "inbox", 0, 50, true).await.unwrap();
            assert_eq!(lines[0].folded_ids, [delivered[2], first]);
            let (archived, total) = list(&t.db, &clock, &b, "archive", 0, 50, true).await.unwrap();
            assert_eq!((archived[0].folded_ids.clone(), total), (vec![newest], 1));
            assert!(!archived[0].unread);

            // Alice's Sent folds the same way, on her own copies.
            let (sent, total) = list(&t.db, &clock, &a, "sent", 0, 50, true).await.unwrap();
            assert_eq!((sent.len(), total, sent[0].folded_ids.len()), (2, 2, 3));
            assert!(sent[0].folded_ids.iter().all(|id| !delivered.contains(id)));

            // The holder's choice, folded by default.
            assert!(folds_threads(&t.db, b.account_id).await.unwrap());
            set_folds_threads(&t.db, &clock, &b, false).await.unwrap();
            assert!(!folds_threads(&t.db, b.account_id).await.unwrap());
            assert!(folds_threads(&t.db, a.account_id).await.unwrap(), "one holder's choice only");
        }
    }

    #[tokio::test]
    async fn two_processes_import_at_once_without_locking_each_other_out() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            // A second pool on the same database: the server and `hygie mail import` side by side.
            let other = Db::connect(&t.url, crate::audit::AuditKey::for_tests()).await.unwrap();
            let run = |db: Db, account: i64, tag: &'static str| {
                let clock = clock.clone();
                tokio::spawn(async move {
                    for batch in 0..25 {
                        let messages: Vec<Imported> = (0..4)
                            .map(|n| Imported {
                                raw: format!(
                                    "From: Labo <r@labo.mssante.fr>\r\nSubject: {tag} {batch}-{n}\r\n\
                                     Message-ID: <{tag}-{batch}-{n}@labo.mssante.fr>\r\n\r\nBilan.\r\n"
                                )
                                .into_bytes(),
                                date_ms: None,
                                unread: true,
                            })
                            .collect();
                        import_batch(&db, &clock, account, "inbox", &messages).await?;
                    }
                    Ok::<_, StoreError>(())
                })
            };
            let (x, y) = tokio::join!(run(t.db.clone(), a.account_id, "a"), run(other, b.account_id, "b"));
            x.unwrap().unwrap();
            y.unwrap().unwrap();
            assert_eq!(list(&t.db, &clock, &a, "inbox", 0, 10, false).await.unwrap().1, 100);
            assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().1, 100);
        }
    }

    #[tokio::test]
    async fn drafts_are_saved_in_place_with_their_files_and_leave_when_sent() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let limits = attach::Limits::default();
            let typed = drafts::Typed { to: "bruno@, pas fini".into(), ..Default::default() };
            let up = attach::store_upload(&t.db, &clock, &a, "photo plaie.jpg", "image/jpeg", b"\xff\xd8jpeg")
                .await
                .unwrap();
            let d = Draft {
                subject: "Pansement".into(),
                body: "Plaie propre, à revoir".into(),
                upload_ids: vec![up.id],
                ..Default::default()
            };
            let first = drafts::save(&t.db, &clock, &a, None, &d, &typed, &limits).await.unwrap();
            assert_eq!(first.attachment_names, ["photo plaie.jpg"]);
            assert!(
                attach::uploads(&t.db, a.account_id, &[up.id]).await.unwrap().is_empty(),
                "the upload is in the draft now"
            );
            // Saved again (more text, the file kept from the draft itself): same id, one draft.
            let kept = attachment(&t.db, a.account_id, first.id, 0).await.unwrap().unwrap();
            let d2 = Draft {
                body: "Plaie propre, à revoir jeudi".into(),
                subject: "Pansement".into(),
                attachments: vec![attach::Part { name: kept.name, content_type: kept.content_type, bytes: kept.bytes }],
                ..Default::default()
            };
            let typed2 = drafts::Typed { to: b.address.clone(), ..Default::default() };
            let second = drafts::save(&t.db, &clock, &a, Some(first.id), &d2, &typed2, &limits).await.unwrap();
            assert_eq!(second.id, first.id);
            let (list_drafts, total) = list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap();
            assert_eq!(total, 1);
            assert_eq!(list_drafts[0].to_addrs, b.address);
            let reopened = open(&t.db, &clock, &a, first.id).await.unwrap().unwrap();
            assert_eq!(reopened.body_text.trim_end(), "Plaie propre, à revoir jeudi");
            assert_eq!(reopened.attachment_names, ["photo plaie.jpg"]);
            let found =
                search(&t.db, &clock, a.account_id, &SearchQuery::parse("jeudi"), Some("drafts"), 10).await.unwrap();
            assert_eq!(found.len(), 1, "the index follows the latest text");
            assert!(search(&t.db, &clock, b.account_id, &SearchQuery::parse("jeudi"), None, 10)
                .await
                .unwrap()
                .is_empty());
            // Another account cannot overwrite it, nor learn that it exists.
            assert!(matches!(
                drafts::save(&t.db, &clock, &b, Some(first.id), &d2, &typed2, &limits).await,
                Err(SendError::DraftGone)
            ));
            assert_eq!(list(&t.db, &clock, &b, "drafts", 0, 10, false).await.unwrap().1, 0);

            // Sent: the draft leaves the Drafts folder in the same transaction.
            let out = Draft {
                to: vec![b.address.clone()],
                subject: "Pansement".into(),
                body: reopened.body_text.clone(),
                replaces_draft: Some(first.id),
                ..Default::default()
            };
            send(&t.db, &clock, &a, &out, &domains, "https://h.example", &limits).await.unwrap();
            assert_eq!(list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap().1, 0);
            // A save that arrives after the sending (a late autosave) does not bring it back.
            assert!(matches!(
                drafts::save(&t.db, &clock, &a, Some(first.id), &d2, &typed2, &limits).await,
                Err(SendError::DraftGone)
            ));
            assert_eq!(list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap().1, 0);
            assert!(search(&t.db, &clock, a.account_id, &SearchQuery::parse("jeudi"), Some("drafts"), 10)
                .await
                .unwrap()
                .is_empty());
        }
    }

    #[tokio::test]
    async fn own_folders_nest_rename_take_messages_and_go_to_the_trash() {
        use folders::FolderError;
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let patients = folders::create(&t.db, &clock, &b, "  Patients  ", None).await.unwrap();
            let dupont = folders::create(&t.db, &clock, &b, "Famille Dupont", Some(patients)).await.unwrap();
            let y2026 = folders::create(&t.db, &clock, &b, "2026", Some(dupont)).await.unwrap();
            assert!(matches!(folders::create(&t.db, &clock, &b, "trop", Some(y2026)).await, Err(FolderError::TooDeep)));
            assert!(matches!(folders::create(&t.db, &clock, &b, "patients", None).await, Err(FolderError::Duplicate)));
            assert!(matches!(folders::create(&t.db, &clock, &b, "a/b", None).await, Err(FolderError::InvalidName)));
            assert!(matches!(
                folders::create(&t.db, &clock, &a, "x", Some(patients)).await,
                Err(FolderError::NotFound)
            ));
            assert!(matches!(folders::nest(&t.db, b.account_id, patients, Some(y2026)).await, Err(FolderError::Cycle)));
            folders::rename(&t.db, &clock, &b, dupont, "Famille Dupond").await.unwrap();
            assert!(matches!(folders::rename(&t.db, &clock, &a, dupont, "volé").await, Err(FolderError::NotFound)));
            let inbox_id = folder_id(&t.db, &clock, b.account_id, "inbox").await.unwrap();
            assert!(folders::rename(&t.db, &clock, &b, inbox_id, "Autre").await.is_err(), "standard folders stay");
            let rows = folders(&t.db, &clock, b.account_id).await.unwrap();
            let d = rows.iter().find(|f| f.id == dupont).unwrap();
            assert_eq!((d.name.as_str(), d.parent_id), ("Famille Dupond", Some(patients)));

            // A message moves in; the folder lists it; another account cannot move into it.
            let d1 = Draft { to: vec![b.address.clone()], subject: "Dossier".into(), ..Default::default() };
            let sent =
                send(&t.db, &clock, &a, &d1, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
            let m = sent.delivered[0];
            let key = format!("d{dupont}");
            assert_eq!(Action::parse(&format!("move:{key}")), Some(Action::MoveToFolder(dupont)));
            assert_eq!(apply(&t.db, &clock, &a, &[sent.sent_id], Action::MoveToFolder(dupont)).await.unwrap(), 0);
            assert_eq!(apply(&t.db, &clock, &b, &[m], Action::MoveToFolder(dupont)).await.unwrap(), 1);
            assert_eq!(list(&t.db, &clock, &b, &key, 0, 10, false).await.unwrap().1, 1);
            assert!(list(&t.db, &clock, &a, &key, 0, 10, false).await.is_err(), "not Alice's folder");
            let found =
                search(&t.db, &clock, b.account_id, &SearchQuery::parse("dossier"), Some(&key), 10).await.unwrap();
            assert_eq!(found.len(), 1);

            // Deleting "Patients" takes its sub-folders; the message goes to the Trash, and
            // restoring it brings it to the Inbox.
            assert_eq!(folders::delete(&t.db, &clock, &b, patients).await.unwrap(), 1);
            assert!(folders(&t.db, &clock, b.account_id).await.unwrap().iter().all(|f| f.role != "custom"));
            assert_eq!(list(&t.db, &clock, &b, "trash", 0, 10, false).await.unwrap().1, 1);
            apply(&t.db, &clock, &b, &[m], Action::Restore).await.unwrap();
            assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().1, 1);
        }
    }

    #[tokio::test]
    async fn remote_images_wait_for_the_holder_and_inline_images_show() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let b = holder(&t.db, &clock, "bruno").await;
            let raw = "From: Labo <labo@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Images\r\n\
                MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
                --r\r\nContent-Type: text/html\r\n\r\n<p>Logo <img src=\"cid:logo@labo\"> et \
                <img src=\"https://traceur.example/p.gif\"></p>\r\n\
                --r\r\nContent-Type: image/png\r\nContent-ID: <logo@labo>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                iVBORw0KGgo=\r\n--r--\r\n";
            let imported = Imported { raw: raw.as_bytes().to_vec(), date_ms: None, unread: true };
            import_batch(&t.db, &clock, b.account_id, "inbox", &[imported]).await.unwrap();
            let id = list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().0[0].id;
            let first = open(&t.db, &clock, &b, id).await.unwrap().unwrap();
            let html = first.body_html.unwrap();
            assert!(first.remote_images_blocked);
            assert!(html.contains("data:image/png;base64,iVBORw0KGgo="), "{html}");
            assert!(!html.contains("traceur"));
            assert!(!allow_images_from(&t.db, &clock, &b, id + 1000).await.unwrap(), "not another's message");
            assert!(allow_images_from(&t.db, &clock, &b, id).await.unwrap());
            let again = open(&t.db, &clock, &b, id).await.unwrap().unwrap();
            assert!(!again.remote_images_blocked);
            assert!(again.body_html.unwrap().contains("https://traceur.example/p.gif"));
        }
    }

    async fn messages_of(db: &Db, account_id: i64) -> Vec<(i64, i64, bool)> {
        crate::with_pool!(db, p => sqlx::query_as(
            "SELECT id, folder_id, unread FROM messages WHERE account_id = $1 ORDER BY id")
            .bind(account_id).fetch_all(p).await.unwrap())
    }

    /// An action and its audit record commit together: when the record cannot be written, the
    /// action fails and nothing it would have changed has changed.
    #[tokio::test]
    async fn an_action_whose_audit_record_fails_changes_nothing() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let limits = attach::Limits::default();
            let d = Draft {
                to: vec![b.address.clone()],
                subject: "Bilan".into(),
                body: "Texte".into(),
                ..Default::default()
            };
            let first = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
            let received = first.delivered[0];
            let folder = folders::create(&t.db, &clock, &b, "Patients", None).await.unwrap();
            let before = (messages_of(&t.db, a.account_id).await, messages_of(&t.db, b.account_id).await);
            let head = crate::audit::head(&t.db).await.unwrap();

            crate::store::testing::break_audit(&t.db).await;
            assert!(matches!(
                send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await,
                Err(SendError::Store(_))
            ));
            assert!(apply(&t.db, &clock, &b, &[received], Action::Trash).await.is_err());
            assert!(apply(&t.db, &clock, &b, &[received], Action::MoveToFolder(folder)).await.is_err());
            assert!(empty_trash(&t.db, &clock, &b).await.is_err());
            assert!(open(&t.db, &clock, &b, received).await.is_err(), "no record, no reading");
            assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.is_err(), "no record, no list");
            assert!(folders::create(&t.db, &clock, &b, "Autre", None).await.is_err());
            assert!(folders::rename(&t.db, &clock, &b, folder, "Renommé").await.is_err());
            assert!(folders::delete(&t.db, &clock, &b, folder).await.is_err());
            let typed = drafts::Typed::default();
            assert!(drafts::save(&t.db, &clock, &a, None, &d, &typed, &limits).await.is_err());
            crate::store::testing::repair_audit(&t.db).await;

            assert_eq!((messages_of(&t.db, a.account_id).await, messages_of(&t.db, b.account_id).await), before);
            assert_eq!(crate::audit::head(&t.db).await.unwrap(), head, "no record either");
            let names: Vec<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT name FROM mail_folders WHERE account_id = $1 AND role = 'custom'")
                    .bind(b.account_id).fetch_all(p).await.unwrap());
            assert_eq!(names, vec!["Patients".to_string()]);
            assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
            // Working again, each action leaves its record.
            apply(&t.db, &clock, &b, &[received], Action::Trash).await.unwrap();
            let last = crate::audit::latest(&t.db, 1).await.unwrap();
            assert_eq!(
                (last[0].action.as_str(), last[0].actor.clone()),
                ("mail.trash", format!("account:{}", b.account_id))
            );
        }
    }

    /// A forward lists each kept attachment once however often the request names it, loads the
    /// original once, refuses another holder's message or upload, and checks sizes first.
    #[tokio::test]
    async fn forwarded_files_are_gathered_once_and_checked() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let domains = vec!["hygie.example".to_string()];
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let limits = attach::Limits::default();
            let file = attach::Part {
                name: "bilan.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: vec![7u8; 300_000],
            };
            let d = Draft {
                to: vec![b.address.clone()],
                subject: "Bilan".into(),
                attachments: vec![file],
                ..Default::default()
            };
            let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
            let got = sent.delivered[0];
            let forward = |parts: Vec<usize>| Draft {
                to: vec![a.address.clone()],
                subject: "TR: Bilan".into(),
                forward_from: Some(got),
                forward_parts: parts,
                ..Default::default()
            };
            let fwd = send(&t.db, &clock, &b, &forward(vec![0; 1_000]), &domains, "https://h.example", &limits)
                .await
                .unwrap();
            let back = open(&t.db, &clock, &a, fwd.delivered[0]).await.unwrap().unwrap();
            assert_eq!(back.attachment_names, ["bilan.pdf"], "one copy, not a thousand");
            assert!(
                matches!(
                    send(&t.db, &clock, &a, &forward(vec![0]), &domains, "https://h.example", &limits).await,
                    Err(SendError::ForwardedNotFound)
                ),
                "another holder's message"
            );
            assert!(
                matches!(
                    send(&t.db, &clock, &b, &forward(vec![3]), &domains, "https://h.example", &limits).await,
                    Err(SendError::ForwardedNotFound)
                ),
                "no such attachment"
            );
            let tight = attach::Limits { max_message_bytes: 100_000, ..limits };
            assert!(
                matches!(
                    send(&t.db, &clock, &b, &forward(vec![0]), &domains, "https://h.example", &tight).await,
                    Err(SendError::TooLarge { .. })
                ),
                "checked against the limit before it is loaded"
            );
            let up = attach::store_upload(&t.db, &clock, &a, "x.txt", "text/plain", b"x").await.unwrap();
            let theirs = Draft { to: vec![a.address.clone()], upload_ids: vec![up.id], ..Default::default() };
            assert!(matches!(
                send(&t.db, &clock, &b, &theirs, &domains, "https://h.example", &limits).await,
                Err(SendError::UnknownUpload)
            ));
            // The upload of `a` is recorded among them.
            let log = crate::audit::latest(&t.db, 5).await.unwrap();
            let outcomes: Vec<&str> =
                log.iter().rev().filter(|r| r.action == "mail.send").map(|r| r.outcome.as_str()).collect();
            assert_eq!(
                outcomes,
                ["denied:not_found", "denied:not_found", "failure:too_large", "failure:unknown_upload"]
            );
        }
    }
}
