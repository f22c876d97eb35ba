//! The webmail's server functions: folders, message lists, reading, sending. Each is a thin
//! adapter: the holder, the input parsed, one core verb (which checks, changes and records in
//! one transaction), the answer mapped.

#[cfg(feature = "ssr")]
use hygie_core::audit::Outcome;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::compose::ComposeInput;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderView {
    pub id: i64,
    /// What lists and moves name it by: a standard folder's role, `d<ID>` for one's own.
    pub key: String,
    pub role: String,
    pub name: String,
    /// For one's own folders: the folder it sits in.
    pub parent: Option<i64>,
    pub total: i64,
    pub unread: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLine {
    pub id: i64,
    /// The sender's name (or address); in Sent, the recipients.
    pub who: String,
    /// As shown: a health document's without its `XDM/1.0/DDM+` prefix.
    pub subject: String,
    /// The subject marks a health document (MSSanté `XDM/1.0/DDM+`).
    pub health_document: bool,
    pub snippet: String,
    /// UTC, ISO 8601.
    pub date: String,
    /// The same instant in Paris (`2026-12-08T14:32:05+01:00`), and how many days before the day
    /// the list was made (0 today, 1 yesterday): the list says "14:32", "hier", "lun. 7".
    #[serde(default)]
    pub local: String,
    #[serde(default)]
    pub days_ago: i64,
    pub unread: bool,
    pub flagged: bool,
    pub urgent: bool,
    pub has_attachments: bool,
    /// Messages in its conversation (1 when alone).
    pub thread_count: i64,
    /// The messages the line stands for: itself, or, when the list folds conversations, its
    /// conversation's messages in this folder (selecting the line selects them all).
    pub ids: Vec<i64>,
    /// The message the line opens: the conversation's oldest unread one, else the newest.
    pub open: i64,
    /// In Sent: where its receipts stand (`pending`, `delivered`, `read`, `failed`); else empty.
    #[serde(default)]
    pub receipt: String,
}

#[cfg(feature = "ssr")]
impl MessageLine {
    /// A list line; `show_recipients` for messages one sent (the recipients matter, not oneself).
    fn from_item(m: hygie_core::mail::ListItem, show_recipients: bool, now_ms: i64) -> MessageLine {
        let (subject, health_document) = hygie_core::mail::mss::display_subject(&m.subject);
        let (local, days_ago) = hygie_core::mail::schedule::paris::calendar(m.date_ms, now_ms).unwrap_or_default();
        MessageLine {
            id: m.id,
            who: if show_recipients {
                m.to_addrs
            } else if m.from_name.is_empty() {
                m.from_addr
            } else {
                m.from_name
            },
            subject,
            health_document,
            snippet: m.snippet,
            date: hygie_core::clock::format_utc(m.date_ms),
            local,
            days_ago,
            unread: m.unread,
            flagged: m.flagged,
            urgent: m.urgent,
            has_attachments: m.has_attachments,
            thread_count: m.thread_count,
            ids: if m.folded_ids.is_empty() { vec![m.id] } else { m.folded_ids },
            open: m.first_unread.unwrap_or(m.id),
            receipt: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub folder: String,
    /// One's own folder's name (empty for a standard folder).
    pub name: String,
    pub items: Vec<MessageLine>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Lines are conversations (the holder's choice; never in Drafts).
    pub folded: bool,
    /// Compact lines (the holder's choice), else comfortable ones.
    #[serde(default)]
    pub compact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: i64,
    pub folder: String,
    pub from_name: String,
    pub from_addr: String,
    pub to: String,
    pub cc: String,
    /// Only in the sender's own copy.
    pub bcc: String,
    /// As shown: a health document's without its `XDM/1.0/DDM+` prefix.
    pub subject: String,
    /// The subject marks a health document (MSSanté `XDM/1.0/DDM+`).
    pub health_document: bool,
    /// The patient the message is about, from its XDM package.
    pub patient: Option<PatientView>,
    /// `X-MSS-INS` as the sender set it: is the patient's identity a qualified INS?
    pub ins_qualified: Option<bool>,
    /// `X-MSS-MES: FIN`: the patient may not reply (a draft keeps the choice).
    pub patient_no_reply: bool,
    /// The message's XDM package (`IHE_XDM.zip`): its documents, or why it cannot be read.
    pub xdm: Option<XdmView>,
    pub date: String,
    /// The same instant in Paris (`2026-12-08T14:32:05+01:00`), as the page says it.
    #[serde(default)]
    pub local: String,
    pub urgent: bool,
    pub body: String,
    /// The HTML body, sanitised, when the message has one (shown in a sandboxed frame).
    pub body_html: Option<String>,
    /// Remote images were left out: the holder may choose to see this sender's.
    pub remote_images_blocked: bool,
    pub attachments: Vec<String>,
    /// For each attachment: a PDF by its content, which can be previewed.
    pub attachment_pdf: Vec<bool>,
    pub message_id: String,
    /// References for a reply: this message's references and its own id.
    pub thread_refs: Vec<String>,
    /// The message this one answers (for a draft, to keep it in its conversation).
    pub in_reply_to: String,
    /// This message's own references.
    pub references: Vec<String>,
    /// In the sender's copy: where delivery to other operators stands, per recipient.
    pub deliveries: Vec<DeliveryView>,
    /// In the sender's copy: each recipient's receipts, step by step.
    pub timeline: Vec<RecipientView>,
    /// The read receipt the message asks of its reader: `ask` (not answered yet), `sent`,
    /// `declined`, or empty (none asked, or not to be answered).
    pub read_receipt: String,
    /// The conversation this message belongs to, oldest first, when it has others.
    pub conversation: Vec<ConversationItem>,
}

/// A patient named by a health document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientView {
    /// The identifier (an INS: 15 characters).
    pub id: String,
    /// `ins` (INS-NIR or INS-NIA with a well-formed number), `ins-invalid` (an INS OID, a number
    /// whose key does not match), `ins-test` (a test or demonstration INS), `other` (another
    /// identifier).
    pub id_kind: String,
    pub family: String,
    pub given: String,
    /// ISO day.
    pub birth_date: String,
    /// `F`, `M`, `U` or empty.
    pub gender: String,
}

/// An XDM package: its documents, or the reason (a code) it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdmView {
    /// The package's index among the attachments.
    pub attachment: usize,
    pub documents: Vec<XdmDocumentView>,
    /// Why the package was refused (`path_escape`, `ratio`, `xml_doctype`…), when it was.
    pub error: Option<String>,
    /// Its documents name more than one patient (one per message is the rule).
    pub several_patients: bool,
}

/// One document of an XDM package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdmDocumentView {
    pub title: String,
    /// Its type: the label of its type code, else the code.
    pub kind: String,
    pub author: String,
    pub institution: String,
    /// `NOM Prénom`, else the identifier.
    pub patient: String,
    /// ISO 8601 (a day, or a UTC time).
    pub date: String,
    pub file_name: String,
    /// `verified`, `unchecked`, `missing` or `mismatch`: the file against the metadata's size
    /// and SHA-1.
    pub check: String,
    /// A PDF can be previewed for it (its file, or the PDF its CDA embeds).
    pub has_pdf: bool,
}

#[cfg(feature = "ssr")]
impl From<&hygie_core::mail::mss::Patient> for PatientView {
    fn from(p: &hygie_core::mail::mss::Patient) -> Self {
        use hygie_core::mail::mss::IdKind;
        let id_kind = match p.kind() {
            IdKind::InsTest => "ins-test",
            IdKind::Other => "other",
            _ if p.ins_valid() => "ins",
            _ => "ins-invalid",
        };
        PatientView {
            id: p.id.clone(),
            id_kind: id_kind.into(),
            family: p.family.clone(),
            given: p.given.clone(),
            birth_date: p.birth_date.clone().unwrap_or_default(),
            gender: p.gender.clone().unwrap_or_default(),
        }
    }
}

#[cfg(feature = "ssr")]
impl XdmView {
    fn new(x: hygie_core::mail::mss::XdmReading) -> XdmView {
        use hygie_core::mail::mss::xdm::FileCheck;
        let (documents, error, several_patients) = match x.package {
            Ok(p) => {
                let several = p.several_patients();
                let docs = p
                    .documents
                    .into_iter()
                    .map(|d| XdmDocumentView {
                        kind: d
                            .type_code
                            .map(|c| if c.label.is_empty() { c.code } else { c.label })
                            .unwrap_or_default(),
                        author: d.author.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
                        institution: d.author.map(|a| a.institution).unwrap_or_default(),
                        patient: d
                            .patient
                            .map(|p| {
                                let name = format!("{} {}", p.family, p.given).trim().to_string();
                                if name.is_empty() {
                                    p.id
                                } else {
                                    name
                                }
                            })
                            .unwrap_or_default(),
                        date: d.created.unwrap_or_default(),
                        title: d.title,
                        file_name: d.file_name,
                        check: match d.check {
                            FileCheck::Verified => "verified",
                            FileCheck::Unchecked => "unchecked",
                            FileCheck::Missing => "missing",
                            FileCheck::Mismatch => "mismatch",
                        }
                        .into(),
                        has_pdf: d.has_pdf,
                    })
                    .collect();
                (docs, None, several)
            }
            Err(e) => (Vec::new(), Some(e.code().to_string()), false),
        };
        XdmView { attachment: x.attachment, documents, error, several_patients }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationItem {
    pub id: i64,
    pub folder: String,
    pub who: String,
    pub date: String,
    /// In Paris (`2026-12-08T14:32:05+01:00`).
    #[serde(default)]
    pub local: String,
    pub snippet: String,
    pub unread: bool,
}

/// One recipient of a sent message and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientView {
    pub recipient: String,
    /// `queued`, `handed_over`, `delivered`, `delayed`, `read`, `failed`.
    pub state: String,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    /// `queued`, `handed_over`, `delivered`, `relayed`, `delayed`, `failed`, `read`,
    /// `read_failed`.
    pub kind: String,
    /// Paris time (`2026-12-03T11:00:00+01:00`), empty when unknown.
    pub at: String,
    /// The status code: `5.1.1`, an SMTP reply code, an MSSanté code 900-906.
    pub status: String,
    /// Why it failed, as a key (`unknown_mailbox`, `mss_903`…).
    pub reason: String,
    /// The report it came from, in the holder's mailbox.
    pub report: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
}

pub const FOLDER_ROLES: &[&str] = &["inbox", "sent", "drafts", "archive", "trash"];
pub const PER_PAGE: i64 = 50;

/// The account's folder behind `key` (a standard role, or `d<ID>` for one of its own) and its
/// name; not found otherwise.
#[cfg(feature = "ssr")]
async fn valid_folder(mailbox: &hygie_core::mail::Mailbox<'_>, key: &str) -> Result<String, AppError> {
    if FOLDER_ROLES.contains(&key) {
        return Ok(String::new());
    }
    // One lookup by id: not the whole folder list with its counts, on every list page.
    mailbox.own_folder_name(key).await?.ok_or(AppError::NotFound)
}

#[server(name = MailFolders, prefix = "/api", endpoint = "mail-folders")]
pub async fn mail_folders() -> Result<Vec<FolderView>, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rows = svc.mailbox(&holder).folders().await?;
    Ok(rows
        .into_iter()
        .map(|f| FolderView {
            id: f.id,
            key: f.key(),
            role: f.role,
            name: f.name,
            parent: f.parent_id,
            total: f.total,
            unread: f.unread,
        })
        .collect())
}

#[server(name = MailList, prefix = "/api", endpoint = "mail-list")]
pub async fn mail_list(folder: String, page: i64) -> Result<MessagePage, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let mailbox = svc.mailbox(&holder);
    let name = valid_folder(&mailbox, &folder).await?;
    let page = page.clamp(0, 1_000_000);
    let folded = folder != "drafts" && mailbox.folds_threads().await?;
    let compact = mailbox.compact_list().await?;
    let (items, total) = mailbox.list(&folder, page, PER_PAGE, folded).await?;
    let sent = folder == "sent";
    let now = hygie_core::clock::Clock::now_ms(svc.clock.as_ref());
    let mut items: Vec<MessageLine> = items.into_iter().map(|m| MessageLine::from_item(m, sent, now)).collect();
    if sent {
        let ids: Vec<i64> = items.iter().map(|m| m.id).collect();
        for (id, mark) in mailbox.receipt_marks(&ids).await? {
            if let Some(line) = items.iter_mut().find(|m| m.id == id) {
                line.receipt = mark.to_string();
            }
        }
    }
    Ok(MessagePage { items, folder, name, total, page: page.max(0), per_page: PER_PAGE, folded, compact })
}

/// Folds conversations into one line in the signed-in account's lists, or not.
#[server(name = MailSetFolding, prefix = "/api", endpoint = "mail-set-folding")]
pub async fn mail_set_folding(fold: bool) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).set_folds_threads(fold).await?)
}

/// Keeps the signed-in account's list density: compact lines, or comfortable ones.
#[server(name = MailSetDensity, prefix = "/api", endpoint = "mail-set-density")]
pub async fn mail_set_density(compact: bool) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).set_compact_list(compact).await?)
}

#[server(name = MailOpen, prefix = "/api", endpoint = "mail-open")]
pub async fn mail_open(id: i64) -> Result<MessageView, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let mailbox = svc.mailbox(&holder);
    let m = mailbox.open(id).await?.ok_or(AppError::NotFound)?;
    let deliveries = mailbox.remote_deliveries(m.id).await?;
    let thread = mailbox.thread(&m.thread_id).await?;
    let timeline = mailbox.timeline(m.id).await?.unwrap_or_default();
    let mut view = MessageView::new(m, deliveries, thread);
    view.timeline = timeline.into_iter().map(RecipientView::from).collect();
    Ok(view)
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::receipts::RecipientTimeline> for RecipientView {
    fn from(r: hygie_core::mail::receipts::RecipientTimeline) -> Self {
        RecipientView {
            recipient: r.recipient,
            state: r.state.into(),
            steps: r
                .steps
                .into_iter()
                .map(|s| StepView {
                    kind: s.kind,
                    at: s.at_ms.map(hygie_core::clock::format_paris).unwrap_or_default(),
                    status: s.status,
                    reason: s.reason.unwrap_or_default().into(),
                    report: s.report,
                })
                .collect(),
        }
    }
}

/// Sends (`send`) or declines the read receipt message `id` asks for; at most once. Returns
/// what the reader's prompt becomes (`sent`, `declined`).
#[server(name = MailReadReceipt, prefix = "/api", endpoint = "mail-read-receipt")]
pub async fn mail_read_receipt(id: i64, send: bool) -> Result<String, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(prompt_key(svc.mailbox(&holder).answer_receipt(id, send).await?).into())
}

#[cfg(feature = "ssr")]
fn prompt_key(p: hygie_core::mail::receipts::ReceiptPrompt) -> &'static str {
    use hygie_core::mail::receipts::ReceiptPrompt;
    match p {
        ReceiptPrompt::None => "",
        ReceiptPrompt::Ask => "ask",
        ReceiptPrompt::Sent => "sent",
        ReceiptPrompt::Declined => "declined",
    }
}

/// The holder's read-receipt setting: `always`, `ask` or `never`.
#[server(name = MailReceiptSetting, prefix = "/api", endpoint = "mail-receipt-setting")]
pub async fn mail_receipt_setting() -> Result<String, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).receipt_setting().await?.as_str().into())
}

#[server(name = MailSetReceiptSetting, prefix = "/api", endpoint = "mail-set-receipt-setting")]
pub async fn mail_set_receipt_setting(value: String) -> Result<(), AppError> {
    use hygie_core::mail::receipts::ReceiptSetting;

    use crate::domain::{FieldError, FieldProblem};
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let value = ReceiptSetting::parse(&value).ok_or_else(|| {
        AppError::Invalid(vec![FieldError { field: "read_receipts".into(), problem: FieldProblem::UnknownValue }])
    })?;
    Ok(svc.mailbox(&holder).set_receipt_setting(value).await?)
}

#[cfg(feature = "ssr")]
impl MessageView {
    /// The view of an opened message, with where its delivery stands and its conversation (when
    /// it has other messages).
    fn new(
        m: hygie_core::mail::Opened,
        deliveries: Vec<hygie_core::mail::RemoteDelivery>,
        thread: Vec<hygie_core::mail::ThreadItem>,
    ) -> MessageView {
        use hygie_core::clock::format_utc;
        let conversation = if thread.len() > 1 {
            thread
                .into_iter()
                .map(|x| ConversationItem {
                    id: x.id,
                    folder: x.role,
                    who: if x.from_name.is_empty() { x.from_addr } else { x.from_name },
                    date: format_utc(x.date_ms),
                    local: hygie_core::clock::format_paris(x.date_ms),
                    snippet: x.snippet,
                    unread: x.unread,
                })
                .collect()
        } else {
            Vec::new()
        };
        let references = m.references.clone();
        let patient = m.mss.patient().map(PatientView::from);
        let mss = m.mss;
        let drafted = m.folder_role == "drafts";
        let (shown_subject, _) = hygie_core::mail::mss::display_subject(&m.subject);
        let mut thread_refs = m.references.clone();
        if !m.message_id.is_empty() && !thread_refs.contains(&m.message_id) {
            thread_refs.push(m.message_id.clone());
        }
        MessageView {
            id: m.id,
            folder: m.folder_role,
            from_name: m.from_name,
            from_addr: m.from_addr,
            to: m.to_addrs,
            cc: m.cc_addrs,
            bcc: m.bcc_addrs,
            // A draft keeps its subject as typed; a message shows a health document's without
            // its prefix (the list does the same).
            subject: if drafted { m.subject } else { shown_subject },
            health_document: !drafted && mss.health_document,
            patient,
            ins_qualified: mss.headers.ins_qualified,
            patient_no_reply: mss.headers.patient_reply_forbidden,
            xdm: mss.xdm.map(XdmView::new),
            date: format_utc(m.date_ms),
            local: hygie_core::clock::format_paris(m.date_ms),
            urgent: m.urgent,
            body: m.body_text,
            body_html: m.body_html,
            remote_images_blocked: m.remote_images_blocked,
            attachments: m.attachment_names,
            attachment_pdf: m.attachment_pdf,
            message_id: m.message_id,
            thread_refs,
            in_reply_to: m.in_reply_to.unwrap_or_default(),
            references,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView { recipient: d.recipient, status: d.status, attempts: d.attempts })
                .collect(),
            timeline: Vec::new(),
            read_receipt: prompt_key(m.read_receipt).into(),
            conversation,
        }
    }
}

/// A saved draft: its id and its attachments' names, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftSaved {
    pub id: i64,
    pub attachments: Vec<String>,
}

#[cfg(feature = "ssr")]
impl From<crate::domain::compose::Compose> for hygie_core::mail::Draft {
    fn from(c: crate::domain::compose::Compose) -> Self {
        hygie_core::mail::Draft {
            to: c.to,
            cc: c.cc,
            bcc: c.bcc,
            subject: c.subject,
            body: c.body,
            urgent: c.urgent,
            in_reply_to: c.in_reply_to,
            references: c.references,
            attachments: Vec::new(),
            upload_ids: c.attachments,
            forward_from: c.forward_from,
            forward_parts: c.forward_parts,
            replaces_draft: c.draft_id,
            read_receipt: c.read_receipt,
            patient_no_reply: c.patient_no_reply,
            scheduled_lease: None,
        }
    }
}

/// Saves the message being written into Drafts (the same draft from save to save). Recipients
/// are kept as typed.
#[server(name = MailSaveDraft, prefix = "/api", endpoint = "mail-save-draft")]
pub async fn mail_save_draft(input: ComposeInput) -> Result<DraftSaved, AppError> {
    use hygie_core::mail::drafts;

    use crate::domain::compose::Compose;
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let c = Compose::parse_draft(&input).map_err(AppError::Invalid)?;
    let existing = c.draft_id;
    let typed = drafts::Typed { to: input.to, cc: input.cc, bcc: input.bcc };
    let draft = hygie_core::mail::Draft { to: Vec::new(), cc: Vec::new(), bcc: Vec::new(), ..c.into() };
    let saved = svc.mailbox(&holder).save_draft(existing, &draft, &typed).await?;
    Ok(DraftSaved { id: saved.id, attachments: saved.attachment_names })
}

/// Sends a message; returns the id of the sender's copy (in Sent).
#[server(name = MailSend, prefix = "/api", endpoint = "mail-send")]
pub async fn mail_send(input: ComposeInput) -> Result<i64, AppError> {
    use crate::domain::compose::Compose;
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let c = Compose::parse(&input).map_err(AppError::Invalid)?;
    Ok(svc.mailbox(&holder).send(&c.into()).await?.sent_id)
}

/// Shows remote images from the sender of message `id` from now on ("show images from this
/// sender"). Not found for another account's message.
#[server(name = MailAllowImages, prefix = "/api", endpoint = "mail-allow-images")]
pub async fn mail_allow_images(id: i64) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let found = svc.mailbox(&holder).allow_images_from(id).await?;
    found.then_some(()).ok_or(AppError::NotFound)
}

/// What a PDF attachment's preview can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfPreview {
    /// Pages in the document (0 when it cannot be read).
    pub pages: u32,
    /// Pages the preview shows (the first ones, at most `hygie_core::mail::preview::MAX_PAGES`).
    pub shown: u32,
}

/// Opens the preview of attachment `index` of message `id` (or, with `doc`, of document `doc` of
/// the XDM package that attachment is): counts its pages (drawn one by one by
/// `GET /messagerie/pj/ID/INDEX/apercu/PAGE`, or `…/INDEX/xdm/DOC/apercu/PAGE`). Not found for
/// another account's message or a file that is not a PDF by its content.
#[server(name = MailPdfPreview, prefix = "/api", endpoint = "mail-pdf-preview")]
pub async fn mail_pdf_preview(id: i64, index: u32, doc: Option<u32>) -> Result<PdfPreview, AppError> {
    use hygie_core::mail::preview::{PreviewError, MAX_PAGES};

    use crate::server::{record, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let mailbox = svc.mailbox(&holder);
    let (object, file) = match doc {
        None => (format!("message:{id} attachment:{index}"), mailbox.pdf_attachment(id, index as usize).await?),
        Some(doc) => (
            format!("message:{id} attachment:{index} document:{doc}"),
            mailbox.xdm_pdf(id, index as usize, doc as usize).await?,
        ),
    };
    let Some(file) = file else {
        record(&svc, holder.event("mail.preview", Outcome::Denied("not_found".into())).object(object)).await?;
        return Err(AppError::NotFound);
    };
    mailbox.may_preview("mail.preview").await?;
    let (outcome, answer) = match svc.previewer.count(&file.bytes).await {
        Ok(pages) => (Outcome::Success, PdfPreview { pages, shown: pages.min(MAX_PAGES) }),
        Err(PreviewError::Unreadable) => (Outcome::Failure("unreadable".into()), PdfPreview { pages: 0, shown: 0 }),
        Err(PreviewError::Busy) => return Err(AppError::RateLimited { retry_after_secs: 15 }),
        Err(e) => return Err(AppError::internal(e)),
    };
    record(&svc, holder.event("mail.preview", outcome).object(object)).await?;
    Ok(answer)
}

/// The id of the newest message of the signed-in account: pages poll it to show new mail. A
/// background request: it does not keep the session alive (see the server's middleware).
#[server(name = MailNewest, prefix = "/api", endpoint = "mail-newest")]
pub async fn mail_newest() -> Result<i64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).newest().await?)
}

/// The signed-in account's mailbox size and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailUsage {
    pub used_bytes: i64,
    pub quota_bytes: i64,
    pub max_message_bytes: i64,
}

#[server(name = MailUsageGet, prefix = "/api", endpoint = "mail-usage")]
pub async fn mail_usage() -> Result<MailUsage, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let mailbox = svc.mailbox(&holder);
    let limits = mailbox.limits();
    Ok(MailUsage {
        used_bytes: mailbox.usage().await?,
        quota_bytes: limits.quota_bytes,
        max_message_bytes: limits.max_message_bytes,
    })
}

/// Removes a file added to the message being written. Not found for another account's.
#[server(name = MailUploadDelete, prefix = "/api", endpoint = "mail-upload-delete")]
pub async fn mail_upload_delete(id: i64) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let found = svc.mailbox(&holder).delete_upload(id).await?;
    found.then_some(()).ok_or(AppError::NotFound)
}

/// Creates a folder of one's own, at the top (`parent` 0) or inside another of one's folders.
#[server(name = MailFolderCreate, prefix = "/api", endpoint = "mail-folder-create")]
pub async fn mail_folder_create(name: String, parent: i64) -> Result<i64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let parent = (parent > 0).then_some(parent);
    Ok(svc.mailbox(&holder).create_folder(&name, parent).await?)
}

#[server(name = MailFolderRename, prefix = "/api", endpoint = "mail-folder-rename")]
pub async fn mail_folder_rename(id: i64, name: String) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).rename_folder(id, &name).await?)
}

/// Deletes one of one's folders and its sub-folders; their messages go to the Trash. Returns
/// how many messages moved.
#[server(name = MailFolderDelete, prefix = "/api", endpoint = "mail-folder-delete")]
pub async fn mail_folder_delete(id: i64) -> Result<u64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).delete_folder(id).await?)
}

/// Applies `action` ("read", "unread", "flag", "unflag", "inbox", "archive", "move:d<ID>", "trash",
/// "restore", "delete") to the signed-in account's messages among `ids`. Returns how many changed.
#[server(name = MailAct, prefix = "/api", endpoint = "mail-act")]
pub async fn mail_act(action: String, ids: Vec<i64>) -> Result<u64, AppError> {
    use crate::domain::{FieldError, FieldProblem};
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
    let act = hygie_core::mail::Action::parse(&action).ok_or_else(|| invalid("action", FieldProblem::UnknownValue))?;
    if ids.len() > 500 {
        return Err(invalid("ids", FieldProblem::TooLong { max: 500 }));
    }
    Ok(svc.mailbox(&holder).apply(&ids, act).await?)
}

/// Deletes everything in the Trash. Returns how many messages.
#[server(name = MailEmptyTrash, prefix = "/api", endpoint = "mail-empty-trash")]
pub async fn mail_empty_trash() -> Result<u64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).empty_trash().await?)
}

/// Searches every folder of the signed-in account (words, `de:`, `à:`, `objet:`, `pj:`,
/// `non-lu:` and their English forms). At most 200 results, newest first.
#[server(name = MailSearch, prefix = "/api", endpoint = "mail-search")]
pub async fn mail_search(q: String) -> Result<Vec<MessageLine>, AppError> {
    use hygie_core::mail::SearchQuery;

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let query = SearchQuery::parse(&q.chars().take(500).collect::<String>());
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let items = svc.mailbox(&holder).search(&query, None).await?;
    let now = hygie_core::clock::Clock::now_ms(svc.clock.as_ref());
    Ok(items
        .into_iter()
        .map(|m| {
            let mine = m.from_addr == holder.address;
            MessageLine::from_item(m, mine, now)
        })
        .collect())
}

/// What "Envoyer" did: sent at once (undo delay 0), or waiting for the end of the undo delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOutcome {
    /// The sender's copy in Sent, when it left at once.
    pub sent_id: Option<i64>,
    /// The message waiting to leave (it can be taken back until then).
    pub scheduled_id: Option<i64>,
    /// Seconds until it leaves.
    pub delay_secs: i64,
}

/// A message waiting to leave, in the `Programmés` view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledLine {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub snippet: String,
    /// When it leaves, in Paris time: `24/12/2026 14:30`.
    pub when: String,
    /// The same day and time, as the date and time fields take them (`2026-12-24`, `14:30`).
    pub date: String,
    pub time: String,
}

#[cfg(feature = "ssr")]
impl ScheduledLine {
    fn new(id: i64, to: String, subject: String, snippet: String, send_at_ms: i64) -> ScheduledLine {
        use hygie_core::mail::schedule::paris;
        let (date, time) = paris::parts(send_at_ms);
        ScheduledLine { id, to, subject, snippet, when: paris::format(send_at_ms), date, time }
    }
}

/// The instant of a day and time typed in Paris time; a clear error on the date field otherwise.
#[cfg(feature = "ssr")]
fn paris_instant(date: &str, time: &str) -> Result<i64, AppError> {
    use crate::domain::{FieldError, FieldProblem};
    hygie_core::mail::schedule::paris::to_ms(date, time)
        .ok_or_else(|| AppError::Invalid(vec![FieldError { field: "send_at".into(), problem: FieldProblem::DateTime }]))
}

/// Sends a message from the composer: at once when the holder's undo delay is 0, otherwise it
/// waits that long (committed, it leaves even if the page is closed) and can be taken back.
#[server(name = MailSendUndoable, prefix = "/api", endpoint = "mail-send-undoable")]
pub async fn mail_send_undoable(input: ComposeInput) -> Result<SendOutcome, AppError> {
    use hygie_core::mail::schedule::Sending;

    use crate::domain::compose::Compose;
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let c = Compose::parse(&input).map_err(AppError::Invalid)?;
    Ok(match svc.mailbox(&holder).send_with_undo(&c.into()).await? {
        Sending::Sent(sent) => SendOutcome { sent_id: Some(sent.sent_id), scheduled_id: None, delay_secs: 0 },
        Sending::Delayed { scheduled, delay_secs } => {
            SendOutcome { sent_id: None, scheduled_id: Some(scheduled.id), delay_secs }
        }
    })
}

/// Schedules a message to leave on `date` at `time`, Paris time (not in the past).
#[server(name = MailSchedule, prefix = "/api", endpoint = "mail-schedule")]
pub async fn mail_schedule(input: ComposeInput, date: String, time: String) -> Result<i64, AppError> {
    use crate::domain::compose::Compose;
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let c = Compose::parse(&input).map_err(AppError::Invalid)?;
    let at = paris_instant(&date, &time)?;
    Ok(svc.mailbox(&holder).send_at(&c.into(), at).await?.id)
}

/// The signed-in holder's scheduled messages, soonest first.
#[server(name = MailScheduled, prefix = "/api", endpoint = "mail-scheduled")]
pub async fn mail_scheduled() -> Result<Vec<ScheduledLine>, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let items = svc.mailbox(&holder).scheduled().await?;
    Ok(items.into_iter().map(|i| ScheduledLine::new(i.id, i.to_addrs, i.subject, i.snippet, i.send_at_ms)).collect())
}

/// Moves one of the holder's scheduled messages to `date` at `time`, Paris time.
#[server(name = MailReschedule, prefix = "/api", endpoint = "mail-reschedule")]
pub async fn mail_reschedule(id: i64, date: String, time: String) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let at = paris_instant(&date, &time)?;
    svc.mailbox(&holder).reschedule(id, at).await?;
    Ok(())
}

/// Takes one of the holder's scheduled messages back into Drafts ("Annuler", or to edit it):
/// it will not leave. Not found once it has left, or for another holder's.
#[server(name = MailUnschedule, prefix = "/api", endpoint = "mail-unschedule")]
pub async fn mail_unschedule(id: i64) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).unschedule(id).await?)
}

/// How long the signed-in holder's messages wait before leaving, so that they can be taken back.
#[server(name = MailUndoDelay, prefix = "/api", endpoint = "mail-undo-delay")]
pub async fn mail_undo_delay() -> Result<i64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).undo_delay().await?)
}

#[server(name = MailSetUndoDelay, prefix = "/api", endpoint = "mail-set-undo-delay")]
pub async fn mail_set_undo_delay(secs: i64) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(svc.mailbox(&holder).set_undo_delay(secs).await?)
}
