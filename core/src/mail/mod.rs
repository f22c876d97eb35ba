//! Mailboxes: building and parsing messages (mail-builder, mail-parser), folders, delivery to
//! this instance's accounts, lists and reading. Every query is scoped by account: another
//! account's ids are simply not found. A holder's verbs are reached through their
//! [`Mailbox`], the same for every channel.

use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use mail_parser::{MessageParser, MimeHeaders};

mod actions;
pub mod attach;
pub mod delivery;
pub mod drafts;
pub mod folders;
pub mod html;
pub mod idempotency;
pub mod imap;
pub mod indexer;
mod ingest;
mod list;
mod mailbox;
pub mod mss;
pub mod preview;
mod read;
pub mod receipts;
pub mod schedule;
mod search;
mod send;
mod submit;

pub use actions::*;
pub use idempotency::{IdempotencyKey, Once};
pub use ingest::*;
pub use list::*;
pub use mailbox::{hourly, MailError, MailPolicy, Mailbox, SearchResults, SEARCH_RESULTS};
pub use read::*;
pub use search::*;
pub use send::*;
pub use submit::SubmitError;

use crate::auth::holder::Holder;
use crate::clock::Clock;
use crate::store::Backend;
use crate::store::{Db, StoreError};

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
    /// Ask the recipients for a read receipt (`Disposition-Notification-To`, RFC 8098).
    pub read_receipt: bool,
    /// The patient may not reply (`X-MSS-MES: FIN`): kept in a draft as written, sent only
    /// when a recipient is a patient's address (see [`send`]).
    pub patient_no_reply: bool,
    /// Set by the scheduled-send worker (see [`schedule`]): the lease it holds on scheduled
    /// draft `replaces_draft`, which leaves only while the lease is still on it (checked in the
    /// send's transaction).
    pub scheduled_lease: Option<String>,
}

/// Builds the RFC 5322 form of `d` from `from`, with the headers an MSSanté client sets (see
/// [`mss::outgoing_headers`]). Bcc recipients are not written into it.
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
    if d.read_receipt {
        b = b.header("Disposition-Notification-To", Raw::new(format!("<{}>", from.address)));
    }
    if d.urgent {
        b = b.header("Importance", Raw::new("high")).header("X-Priority", Raw::new("1"));
    }
    if d.patient_no_reply {
        b = b.header("X-MSS-MES", Raw::new("FIN"));
    }
    for (name, value) in mss::outgoing_headers(&d.attachments, &mss::xdm::Limits::default()) {
        b = b.header(name, Raw::new(value));
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
    const CHARS: usize = 140;
    // Only as much of the body as the snippet needs is walked: a long letter costs no more.
    let mut out = String::new();
    let mut count = 0;
    let words = body.lines().filter(|l| !l.trim_start().starts_with('>')).flat_map(str::split_whitespace);
    for word in words {
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= CHARS {
                return out;
            }
            out.push(c);
            count += 1;
        }
        if count >= CHARS {
            return out;
        }
    }
    out
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

impl FolderRow {
    /// What names the folder to the verbs and in addresses: its role, or `d<ID>` for one of the
    /// holder's own folders.
    pub fn key(&self) -> String {
        if self.role == "custom" {
            format!("d{}", self.id)
        } else {
            self.role.clone()
        }
    }
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
                (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id) \
                - (SELECT COUNT(*) FROM scheduled_sends s WHERE s.account_id = f.account_id AND f.role = 'drafts') \
                AS total, \
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

/// The size of a row's conversation (`m` is the row), read from the thread index.
const THREAD_COUNT: &str =
    "(SELECT COUNT(*) FROM messages t WHERE t.account_id = m.account_id AND t.thread_id = m.thread_id) AS thread_count";

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

#[cfg(test)]
mod tests;
