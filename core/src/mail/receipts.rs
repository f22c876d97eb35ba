//! Receipts: what became of a sent message, per recipient. Delivery status notifications
//! (RFC 3464, `multipart/report; report-type=delivery-status`) and read receipts (RFC 8098
//! MDN, `report-type=disposition-notification`) that come back are parsed here, matched to the
//! sender's copy and recorded in `mail_receipts` in the same transaction as the report's
//! delivery; the report itself is filed in Archives, read, reachable from the timeline.
//!
//! A message may ask for a read receipt (`Disposition-Notification-To`); its reader answers once
//! (sent or declined, recorded), as their setting says (always / ask / never). A report is never
//! answered with a report.
use mail_parser::{MessageParser, MimeHeaders};

use super::folder_id;
use crate::accounts;
use crate::audit::{self, AuditEvent, AuditTx, Outcome};
use crate::auth::holder::{AccountStatus, Holder};
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

/// What a delivery-status report says of one recipient (RFC 3464 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// `Final-Recipient` (or `Original-Recipient`), lower case, without its address type.
    pub recipient: String,
    pub action: DsnAction,
    /// The enhanced status code (`5.1.1`).
    pub status: String,
    /// The remote server's words, short and printable (shown to the sender only).
    pub diagnostic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnAction {
    Delivered,
    /// Handed to a server that does not report further (`relayed`, `expanded`).
    Relayed,
    Delayed,
    Failed,
}

/// What a read receipt says (RFC 8098 §3.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// `displayed` or `processed`: the recipient saw it, or their system took it in.
    Read { processed: bool },
    /// An `/error` disposition, with an MSSanté integration code (900-906) when given.
    Error { code: Option<u16> },
    /// `deleted`, `dispatched` or anything else: nothing to show.
    Other,
}

/// A report, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Delivery {
        /// `Original-Envelope-Id` (the ENVID Hygie gave: the Message-ID).
        envelope_id: Option<String>,
        /// The Message-ID of the returned headers (`text/rfc822-headers`).
        original_message_id: Option<String>,
        recipients: Vec<DsnRecipient>,
    },
    Disposition {
        original_message_id: Option<String>,
        recipient: String,
        disposition: Disposition,
    },
}

impl Report {
    /// The Message-IDs that may name the original, best first.
    pub fn candidates(&self, in_reply_to: Option<&str>, references: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: Option<&str>| {
            if let Some(s) = s.map(|s| s.trim().trim_start_matches('<').trim_end_matches('>').trim()) {
                if !s.is_empty() && !out.iter().any(|x| x == s) {
                    out.push(s.to_string());
                }
            }
        };
        match self {
            Report::Delivery { envelope_id, original_message_id, .. } => {
                push(envelope_id.as_deref());
                push(original_message_id.as_deref());
            }
            Report::Disposition { original_message_id, .. } => push(original_message_id.as_deref()),
        }
        push(in_reply_to);
        for r in references.iter().rev() {
            push(Some(r));
        }
        out
    }

    /// The receipts it gives: (recipient, kind, status, diagnostic).
    pub fn receipts(&self) -> Vec<(String, &'static str, String, String)> {
        match self {
            Report::Delivery { recipients, .. } => recipients
                .iter()
                .map(|r| {
                    let kind = match r.action {
                        DsnAction::Delivered => "delivered",
                        DsnAction::Relayed => "relayed",
                        DsnAction::Delayed => "delayed",
                        DsnAction::Failed => "failed",
                    };
                    (r.recipient.clone(), kind, r.status.clone(), r.diagnostic.clone())
                })
                .collect(),
            Report::Disposition { recipient, disposition, .. } => match disposition {
                Disposition::Read { processed } => {
                    vec![(
                        recipient.clone(),
                        "read",
                        if *processed { "processed" } else { "displayed" }.into(),
                        String::new(),
                    )]
                }
                Disposition::Error { code } => vec![(
                    recipient.clone(),
                    "read_failed",
                    code.map(|c| c.to_string()).unwrap_or_default(),
                    String::new(),
                )],
                Disposition::Other => Vec::new(),
            },
        }
    }
}

/// Whether `raw` is a report (a delivery-status or disposition notification, or anything else
/// of `multipart/report`, or sent from the null sender): such a message is never answered with
/// a receipt.
pub fn is_report(raw: &[u8]) -> bool {
    let Some(h) = MessageParser::default().parse_headers(raw) else { return false };
    let multipart_report = h.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart") && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let null_sender = h.header_raw("Return-Path").is_some_and(|v| v.trim() == "<>");
    let auto = h.header_raw("Auto-Submitted").is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    multipart_report || null_sender || auto
}

/// The address a message asks a read receipt be sent to (`Disposition-Notification-To`), lower
/// case; `None` when it asks none, or is itself a report.
pub fn requested(raw: &[u8]) -> Option<String> {
    if is_report(raw) {
        return None;
    }
    let h = MessageParser::default().parse_headers(raw)?;
    let value = h.header_raw("Disposition-Notification-To")?;
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value,
    };
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((l, d)) if !l.is_empty() && !d.is_empty() && !address.contains(char::is_whitespace) => Some(address),
        _ => None,
    }
}

/// Parses a delivery-status or disposition report. `None` when `raw` is not one, or says
/// nothing usable (no recipient): a malformed report changes nothing.
pub fn parse(raw: &[u8]) -> Option<Report> {
    // Most mail is not a report: its headers say so without parsing the whole of it.
    let h = MessageParser::default().parse_headers(raw)?;
    if !h.content_type().is_some_and(|c| c.ctype().eq_ignore_ascii_case("multipart")) {
        return None;
    }
    let m = MessageParser::default().parse(raw)?;
    let ct = m.content_type()?;
    if !ct.ctype().eq_ignore_ascii_case("multipart") || !ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return None;
    }
    let report_type = ct.attribute("report-type").unwrap_or("").to_ascii_lowercase();
    let part_of = |subtypes: &[&str]| {
        m.parts.iter().find(|p| {
            p.content_type().is_some_and(|c| {
                c.ctype().eq_ignore_ascii_case("message")
                    && subtypes.iter().any(|s| c.subtype().is_some_and(|x| x.eq_ignore_ascii_case(s)))
            })
        })
    };
    let returned_id = || {
        m.parts
            .iter()
            .find(|p| {
                p.content_type().is_some_and(|c| {
                    (c.ctype().eq_ignore_ascii_case("text")
                        && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers")))
                        || (c.ctype().eq_ignore_ascii_case("message")
                            && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822")))
                })
            })
            .and_then(|p| match &p.body {
                mail_parser::PartType::Message(inner) => inner.message_id().map(str::to_string),
                _ => MessageParser::default()
                    .parse_headers(p.contents())
                    .and_then(|h| h.message_id().map(str::to_string)),
            })
    };
    match report_type.as_str() {
        "delivery-status" => {
            let part = part_of(&["delivery-status", "global-delivery-status"])?;
            let blocks = fields(&String::from_utf8_lossy(part_contents(part)));
            let (message_fields, recipient_blocks) = blocks.split_first()?;
            let recipients: Vec<DsnRecipient> = recipient_blocks.iter().filter_map(|b| dsn_recipient(b)).collect();
            if recipients.is_empty() {
                return None;
            }
            Some(Report::Delivery {
                envelope_id: field(message_fields, "original-envelope-id").map(|v| bare_id(&xtext_decode(&v))),
                original_message_id: returned_id(),
                recipients,
            })
        }
        "disposition-notification" => {
            let part = part_of(&["disposition-notification", "global-disposition-notification"])?;
            let blocks = fields(&String::from_utf8_lossy(part_contents(part)));
            let all: Vec<(String, String)> = blocks.into_iter().flatten().collect();
            let recipient = address_field(field(&all, "final-recipient")?)?;
            let disposition = disposition(&field(&all, "disposition")?, field(&all, "error").as_deref(), m.subject())?;
            let original_message_id = field(&all, "original-message-id").map(|v| bare_id(&v)).or_else(returned_id);
            Some(Report::Disposition { original_message_id, recipient, disposition })
        }
        _ => None,
    }
}

/// A Message-ID without its angle brackets.
fn bare_id(v: &str) -> String {
    v.trim().trim_start_matches('<').trim_end_matches('>').trim().to_string()
}

fn part_contents<'a>(p: &'a mail_parser::MessagePart<'a>) -> &'a [u8] {
    match &p.body {
        mail_parser::PartType::Message(inner) => inner.raw_message(),
        _ => p.contents(),
    }
}

/// The header-like blocks of a report part, separated by blank lines; each a list of (name in
/// lower case, unfolded value).
fn fields(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn field(block: &[(String, String)], name: &str) -> Option<String> {
    block.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// `rfc822; someone@example.org` → `someone@example.org`.
fn address_field(value: String) -> Option<String> {
    let address = value.split_once(';').map(|(_, a)| a).unwrap_or(&value);
    let address = address.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase();
    let address = xtext_decode(&address);
    match address.rsplit_once('@') {
        Some((l, d)) if !l.is_empty() && !d.is_empty() && !address.contains(char::is_whitespace) => Some(address),
        _ => None,
    }
}

fn dsn_recipient(block: &[(String, String)]) -> Option<DsnRecipient> {
    let recipient = field(block, "final-recipient")
        .and_then(address_field)
        .or_else(|| field(block, "original-recipient").and_then(address_field))?;
    let action = match field(block, "action")?.to_ascii_lowercase().split_whitespace().next()? {
        "delivered" => DsnAction::Delivered,
        "relayed" | "expanded" => DsnAction::Relayed,
        "delayed" => DsnAction::Delayed,
        "failed" => DsnAction::Failed,
        _ => return None,
    };
    let status = field(block, "status")?;
    let status: String = status.split_whitespace().next()?.to_string();
    let valid = status.split('.').count() == 3
        && status.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return None;
    }
    let diagnostic = field(block, "diagnostic-code")
        .map(|d| d.split_once(';').map(|(_, t)| t.trim().to_string()).unwrap_or(d))
        .map(|d| printable(&d, 300))
        .unwrap_or_default();
    Some(DsnRecipient { recipient, action, status, diagnostic })
}

/// `manual-action/MDN-sent-manually; displayed`, with MSSanté's error codes where they travel:
/// an `/error` modifier or an `error` disposition, the code in the disposition, an `Error:`
/// field, or the subject `[KO Intégration système !][903] …`.
fn disposition(value: &str, error_field: Option<&str>, subject: Option<&str>) -> Option<Disposition> {
    let (_, kind) = value.split_once(';')?;
    let kind = kind.trim().to_ascii_lowercase();
    let (base, modifiers) = kind.split_once('/').unwrap_or((kind.as_str(), ""));
    let base = base.trim();
    let is_error = base == "error" || modifiers.contains("error") || value.to_ascii_lowercase().contains("/error");
    if is_error {
        let code = [Some(value), error_field, subject].into_iter().flatten().find_map(integration_code);
        return Some(Disposition::Error { code });
    }
    Some(match base {
        "displayed" => Disposition::Read { processed: false },
        "processed" => Disposition::Read { processed: true },
        "" => return None,
        _ => Disposition::Other,
    })
}

/// An MSSanté integration error code (900-906) in `text`.
fn integration_code(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        let before = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after = bytes.get(i + 3).is_none_or(|b| !b.is_ascii_digit());
        let n: u16 = text.get(i..i + 3)?.parse().ok()?;
        (before && after && (900..=906).contains(&n)).then_some(n)
    })
}

/// RFC 3461 xtext: `+HH` stands for a byte.
fn xtext_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' && i + 2 < b.len() {
            if let Some(n) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Why a delivery failed, as a key the interface translates: from the enhanced status code
/// (RFC 3463) of a report, or the reply code of Hygie's own attempt.
pub fn failure_reason(status: &str) -> &'static str {
    let mut parts = status.split('.');
    let (class, subject, detail) = (parts.next(), parts.next(), parts.next());
    match (class, subject, detail) {
        (_, Some("1"), Some("1" | "0" | "3")) | (_, Some("1"), Some("6")) => "unknown_mailbox",
        (_, Some("1"), Some("2")) | (_, Some("4"), Some("4")) => "unknown_domain",
        (_, Some("2"), Some("2")) => "mailbox_full",
        (_, Some("2"), Some("1")) => "mailbox_disabled",
        (_, Some("3"), Some("4")) | (_, Some("2"), Some("3")) => "too_large",
        (_, Some("7"), _) => "refused",
        (_, Some("4"), Some("7")) => "expired",
        (Some("4"), _, _) => "temporary",
        _ => "rejected",
    }
}

/// What the MSSanté integration codes mean, as a key the interface translates.
pub fn integration_reason(code: &str) -> &'static str {
    match code {
        "900" => "mss_900",
        "901" => "mss_901",
        "902" => "mss_902",
        "903" => "mss_903",
        "904" => "mss_904",
        "905" => "mss_905",
        "906" => "mss_906",
        _ => "mss_unknown",
    }
}

/// The read receipt a reader sends (RFC 8098): a human part in French and English, the
/// machine-readable part and the original's headers. `Original-Message-ID` is always set
/// (MSSanté requires it). Sent from the null sender; never asks a receipt itself.
pub struct Mdn<'a> {
    pub reader: &'a str,
    pub to: &'a str,
    pub original_message_id: &'a str,
    pub original_subject: &'a str,
    /// The original's header section, returned as `text/rfc822-headers`.
    pub original_headers: &'a [u8],
    pub automatic: bool,
    pub message_id: &'a str,
    pub date_secs: i64,
    pub reporting_ua: &'a str,
}

impl Mdn<'_> {
    pub fn build(&self) -> String {
        use base64::Engine;
        let b64 = |s: &str| {
            let enc = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            enc.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
        };
        let boundary = format!("hygie-mdn-{}", crate::random_hex(8));
        let mode =
            if self.automatic { "automatic-action/MDN-sent-automatically" } else { "manual-action/MDN-sent-manually" };
        let subject = printable(self.original_subject, 200);
        let encoded_subject = format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(format!("Accusé de lecture / Read: {subject}"))
        );
        let date = time::OffsetDateTime::from_unix_timestamp(self.date_secs)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc2822).ok())
            .unwrap_or_default();
        let human = format!(
            "Votre message « {subject} » a été affiché par {reader}. Cela ne garantit pas qu'il a été lu ou compris.\r\n\r\n\
             Your message \"{subject}\" was displayed by {reader}. This is no guarantee that it was read or understood.\r\n",
            reader = self.reader
        );
        let headers = String::from_utf8_lossy(self.original_headers);
        let headers: String = headers.lines().map(|l| format!("{}\r\n", l.trim_end_matches('\r'))).collect();
        format!(
            "From: <{reader}>\r\nTo: <{to}>\r\nSubject: {encoded_subject}\r\nDate: {date}\r\nMessage-ID: <{id}>\r\n\
             In-Reply-To: <{orig}>\r\nReferences: <{orig}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=disposition-notification; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{human}\r\n\
             --{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n\
             Reporting-UA: {ua}\r\nFinal-Recipient: rfc822;{reader}\r\nOriginal-Message-ID: <{orig}>\r\n\
             Disposition: {mode}; displayed\r\n\r\n\
             --{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--{boundary}--\r\n",
            reader = self.reader,
            to = self.to,
            id = self.message_id,
            orig = self.original_message_id,
            human = b64(&human),
            ua = self.reporting_ua,
        )
    }
}

/// The header section of a raw message (up to the first blank line).
pub fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
    match end {
        Some(i) => &raw[..i],
        None => raw,
    }
}

/// One step of a recipient's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `queued`, `handed_over`, `delivered`, `relayed`, `delayed`, `failed`, `read`,
    /// `read_failed`.
    pub kind: String,
    /// When, if known.
    pub at_ms: Option<Millis>,
    /// The status code (`5.1.1`, an SMTP reply code, an MSSanté code 900-906).
    pub status: String,
    /// A key for the reason of a failure (see [`failure_reason`], [`integration_reason`]).
    pub reason: Option<&'static str>,
    pub diagnostic: String,
    /// The report it came from, in the holder's mailbox.
    pub report: Option<i64>,
}

/// Where one recipient of a sent message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientTimeline {
    pub recipient: String,
    pub steps: Vec<Step>,
    /// The furthest step: `queued`, `handed_over`, `delivered`, `delayed`, `read`, `failed`.
    pub state: &'static str,
}

/// The summary of a sent message's receipts for its list line.
pub fn overall(recipients: &[RecipientTimeline]) -> &'static str {
    if recipients.is_empty() {
        return "";
    }
    if recipients.iter().any(|r| r.state == "failed") {
        "failed"
    } else if recipients.iter().all(|r| r.state == "read") {
        "read"
    } else if recipients.iter().all(|r| r.state == "read" || r.state == "delivered") {
        "delivered"
    } else {
        "pending"
    }
}

fn state_of(steps: &[Step]) -> &'static str {
    let rank = |k: &str| match k {
        "queued" => (0, "queued"),
        "handed_over" | "relayed" => (1, "handed_over"),
        "delayed" => (2, "delayed"),
        "delivered" => (3, "delivered"),
        "read" => (4, "read"),
        "failed" | "read_failed" => (5, "failed"),
        _ => (0, "queued"),
    };
    steps.iter().map(|s| rank(&s.kind)).max().map(|(_, s)| s).unwrap_or("queued")
}

/// A sent message's recipients, read from its copy's rows.
pub(crate) fn recipients_of(to: &str, cc: &str, bcc: &str) -> Vec<String> {
    let mut all: Vec<String> = [to, cc, bcc]
        .iter()
        .flat_map(|l| l.split(',').map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Rows the timeline is built from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OutboxState {
    pub recipient: String,
    pub status: String,
    pub sent_ms: Option<Millis>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ReceiptRow {
    pub recipient: String,
    pub kind: String,
    pub status: String,
    pub diagnostic: String,
    pub report_ref: Option<i64>,
    pub at_ms: Millis,
}

/// Builds each recipient's timeline: queued when sent; for a recipient on another operator,
/// handed over when the relay took it (or failed when Hygie gave up); for one here, delivered
/// at once; then what the reports said, in order.
pub(crate) fn build_timeline(
    recipients: &[String],
    sent_ms: Millis,
    outbox: &[OutboxState],
    receipts: &[ReceiptRow],
) -> Vec<RecipientTimeline> {
    recipients
        .iter()
        .map(|r| {
            let mut steps = vec![Step {
                kind: "queued".into(),
                at_ms: Some(sent_ms),
                status: String::new(),
                reason: None,
                diagnostic: String::new(),
                report: None,
            }];
            match outbox.iter().find(|o| &o.recipient == r) {
                Some(o) if o.status == "sent" => steps.push(Step {
                    kind: "handed_over".into(),
                    at_ms: o.sent_ms,
                    status: String::new(),
                    reason: None,
                    diagnostic: String::new(),
                    report: None,
                }),
                Some(o) if o.status == "failed" => {
                    let error = o.last_error.clone().unwrap_or_default();
                    let code: String = error.chars().filter(|c| c.is_ascii_digit()).take(3).collect();
                    let reason = match code.as_bytes().first() {
                        Some(b'5') => match code.as_str() {
                            "550" | "551" | "553" => "unknown_mailbox",
                            "552" => "mailbox_full",
                            "554" => "refused",
                            _ => "rejected",
                        },
                        _ => "unreachable",
                    };
                    steps.push(Step {
                        kind: "failed".into(),
                        at_ms: None,
                        status: code,
                        reason: Some(reason),
                        diagnostic: String::new(),
                        report: None,
                    })
                }
                Some(_) => {}
                None => steps.push(Step {
                    kind: "delivered".into(),
                    at_ms: Some(sent_ms),
                    status: String::new(),
                    reason: None,
                    diagnostic: String::new(),
                    report: None,
                }),
            }
            let mut mine: Vec<&ReceiptRow> = receipts.iter().filter(|x| &x.recipient == r).collect();
            mine.sort_by_key(|x| x.at_ms);
            for x in mine {
                let reason = match x.kind.as_str() {
                    "failed" => Some(failure_reason(&x.status)),
                    "read_failed" => Some(integration_reason(&x.status)),
                    _ => None,
                };
                steps.push(Step {
                    kind: x.kind.clone(),
                    at_ms: Some(x.at_ms),
                    status: x.status.clone(),
                    reason,
                    diagnostic: x.diagnostic.clone(),
                    report: x.report_ref,
                });
            }
            let state = state_of(&steps);
            RecipientTimeline { recipient: r.clone(), steps, state }
        })
        .collect()
}

/// Records a report in the caller's write transaction, for `account_id` (who received it):
/// finds the message of theirs it is about, then one row per recipient of that message the
/// report speaks of (others are ignored: a report cannot add a recipient). Returns the sent
/// message and how many receipts were recorded, `None` when the report matches nothing of theirs.
pub(crate) trait ReceiptTx {
    fn match_report_in(
        &mut self,
        account_id: i64,
        candidates: &[String],
    ) -> impl std::future::Future<Output = Result<Option<(i64, Vec<String>)>, sqlx::Error>> + Send;

    fn record_report_in(
        &mut self,
        account_id: i64,
        sent: &(i64, Vec<String>),
        report: &Report,
        report_ref: Option<i64>,
        now: Millis,
    ) -> impl std::future::Future<Output = Result<usize, sqlx::Error>> + Send;
}

macro_rules! impl_receipt_tx {
    ($conn:ty) => {
        impl ReceiptTx for $conn {
            async fn match_report_in(
                &mut self,
                account_id: i64,
                candidates: &[String],
            ) -> Result<Option<(i64, Vec<String>)>, sqlx::Error> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    id: i64,
                    to_addrs: String,
                    cc_addrs: String,
                    bcc_addrs: String,
                }
                for c in candidates {
                    // A message the account sent: written from its own address, not a draft.
                    let row: Option<Row> = sqlx::query_as(
                        "SELECT m.id, m.to_addrs, m.cc_addrs, m.bcc_addrs FROM messages m \
                         JOIN mail_folders f ON f.id = m.folder_id JOIN accounts a ON a.id = m.account_id \
                         WHERE m.account_id = $1 AND m.message_id = $2 AND f.role <> 'drafts' \
                         AND lower(m.from_addr) = a.address ORDER BY m.id LIMIT 1",
                    )
                    .bind(account_id)
                    .bind(c)
                    .fetch_optional(&mut *self)
                    .await?;
                    if let Some(r) = row {
                        return Ok(Some((r.id, recipients_of(&r.to_addrs, &r.cc_addrs, &r.bcc_addrs))));
                    }
                }
                Ok(None)
            }

            async fn record_report_in(
                &mut self,
                account_id: i64,
                sent: &(i64, Vec<String>),
                report: &Report,
                report_ref: Option<i64>,
                now: Millis,
            ) -> Result<usize, sqlx::Error> {
                let mut n = 0;
                for (recipient, kind, status, diagnostic) in report.receipts() {
                    if !sent.1.contains(&recipient) {
                        continue;
                    }
                    if kind == "read" || kind == "read_failed" {
                        // At most one read receipt per recipient is kept.
                        let have: Option<i64> = sqlx::query_scalar(
                            "SELECT id FROM mail_receipts WHERE account_id = $1 AND message_ref = $2 \
                             AND recipient = $3 AND kind IN ('read', 'read_failed')",
                        )
                        .bind(account_id)
                        .bind(sent.0)
                        .bind(&recipient)
                        .fetch_optional(&mut *self)
                        .await?;
                        if have.is_some() {
                            continue;
                        }
                    }
                    sqlx::query(
                        "INSERT INTO mail_receipts (account_id, message_ref, recipient, kind, status, diagnostic, report_ref, at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(account_id)
                    .bind(sent.0)
                    .bind(&recipient)
                    .bind(kind)
                    .bind(&status)
                    .bind(&diagnostic)
                    .bind(report_ref)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                    n += 1;
                }
                Ok(n)
            }
        }
    };
}

impl_receipt_tx!(sqlx::SqliteConnection);
impl_receipt_tx!(sqlx::PgConnection);

/// The read-receipt setting of a holder: always send, ask each time, never send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptSetting {
    Always,
    Ask,
    Never,
}

impl ReceiptSetting {
    pub fn parse(s: &str) -> Option<ReceiptSetting> {
        match s {
            "always" => Some(ReceiptSetting::Always),
            "ask" => Some(ReceiptSetting::Ask),
            "never" => Some(ReceiptSetting::Never),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptSetting::Always => "always",
            ReceiptSetting::Ask => "ask",
            ReceiptSetting::Never => "never",
        }
    }
}

/// What the reader of a message is shown about its read receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptPrompt {
    /// None asked, or not to be answered (a report, one's own message, the setting "never").
    #[default]
    None,
    /// Asked and not answered yet: "L'expéditeur demande un accusé de lecture. L'envoyer ?"
    Ask,
    /// Sent (by the holder, or automatically as their setting says).
    Sent,
    Declined,
}

/// Why a read receipt is not sent.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("message not found")]
    NotFound,
    /// The message asks for none, is a report, or is the holder's own.
    #[error("no read receipt asked")]
    NotAsked,
    /// Already sent or declined: at most one answer per message.
    #[error("already answered")]
    AlreadyAnswered,
    /// The holder's setting is "never".
    #[error("read receipts are off")]
    Off,
    /// The address to answer is neither here nor in the trust space.
    #[error("the receipt address is outside the trust space")]
    OutsideTrustSpace,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReceiptError {
    fn from(e: sqlx::Error) -> Self {
        ReceiptError::Store(StoreError::Query(e))
    }
}

impl ReceiptError {
    pub fn audit_code(&self) -> &'static str {
        match self {
            ReceiptError::NotFound => "not_found",
            ReceiptError::NotAsked => "not_asked",
            ReceiptError::AlreadyAnswered => "already_answered",
            ReceiptError::Off => "off",
            ReceiptError::OutsideTrustSpace => "outside_trust_space",
            ReceiptError::Store(_) => "internal",
        }
    }
}

pub async fn setting(db: &Db, account_id: i64) -> Result<ReceiptSetting, StoreError> {
    let s: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT mail_read_receipts FROM accounts WHERE id = $1").bind(account_id).fetch_optional(p).await?);
    Ok(s.as_deref().and_then(ReceiptSetting::parse).unwrap_or(ReceiptSetting::Ask))
}

pub(crate) async fn set_setting(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    value: ReceiptSetting,
) -> Result<(), StoreError> {
    let event = holder.event("mail.receipt_setting", Outcome::Success).object(value.as_str());
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE accounts SET mail_read_receipts = $1 WHERE id = $2")
            .bind(value.as_str()).bind(holder.account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Asked {
    message_id: String,
    from_addr: String,
    subject: String,
    role: String,
    raw: Vec<u8>,
}

async fn asked(db: &Db, account_id: i64, id: i64) -> Result<Option<Asked>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.message_id, m.from_addr, m.subject, f.role, m.raw FROM messages m \
         JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = $1 AND m.account_id = $2")
        .bind(id).bind(account_id).fetch_optional(p).await?))
}

/// Where the receipt of message `a` goes, if one is to be answered by `holder`.
fn receipt_address(holder: &Holder, a: &Asked) -> Option<String> {
    if a.role == "sent"
        || a.role == "drafts"
        || a.from_addr.eq_ignore_ascii_case(&holder.address)
        || a.message_id.is_empty()
    {
        return None;
    }
    requested(&a.raw)
}

async fn answered(db: &Db, account_id: i64, id: i64) -> Result<Option<String>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT answer FROM mail_receipt_answers WHERE account_id = $1 AND message_ref = $2")
        .bind(account_id).bind(id).fetch_optional(p).await?))
}

/// Whether the receipt message `id` asks for goes back to its author: only then may it be sent
/// without asking (RFC 8098 §2.1: a receipt asked for someone else is asked of the reader).
pub(crate) async fn asked_by_author(db: &Db, holder: &Holder, id: i64) -> Result<bool, StoreError> {
    let Some(a) = asked(db, holder.account_id, id).await? else { return Ok(false) };
    Ok(receipt_address(holder, &a).is_some_and(|to| to.eq_ignore_ascii_case(&a.from_addr)))
}

/// What the reader of message `id` is shown about its read receipt, given their setting.
pub(crate) async fn prompt(db: &Db, holder: &Holder, id: i64) -> Result<ReceiptPrompt, StoreError> {
    let Some(a) = asked(db, holder.account_id, id).await? else { return Ok(ReceiptPrompt::None) };
    if receipt_address(holder, &a).is_none() {
        return Ok(ReceiptPrompt::None);
    }
    Ok(match answered(db, holder.account_id, id).await?.as_deref() {
        Some("sent") => ReceiptPrompt::Sent,
        Some(_) => ReceiptPrompt::Declined,
        None if setting(db, holder.account_id).await? == ReceiptSetting::Never => ReceiptPrompt::None,
        None => ReceiptPrompt::Ask,
    })
}

/// Answers the read receipt message `id` asks for: sends it (`send`; `automatic` when the
/// holder's setting sends it without asking) or declines it. At most one answer per message,
/// recorded with the audit record in one transaction. The receipt leaves from the null sender:
/// to a mailbox here it is delivered at once (and recorded on the sender's timeline in the same
/// transaction, as a report from elsewhere would be); to another operator it is queued.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn answer(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    id: i64,
    send: bool,
    automatic: bool,
    instance_domains: &[String],
) -> Result<ReceiptPrompt, ReceiptError> {
    let result = answer_checked(db, clock, holder, id, send, automatic, instance_domains).await;
    if let Err(e) = &result {
        if !matches!(e, ReceiptError::Store(_)) {
            let action = if send { "mail.receipt.send" } else { "mail.receipt.decline" };
            let event = holder.event(action, Outcome::Denied(e.audit_code().into())).object(format!("message:{id}"));
            audit::append(db, clock, event).await?;
        }
    }
    result
}

async fn answer_checked(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    id: i64,
    send: bool,
    automatic: bool,
    instance_domains: &[String],
) -> Result<ReceiptPrompt, ReceiptError> {
    let a = asked(db, holder.account_id, id).await?.ok_or(ReceiptError::NotFound)?;
    let to = receipt_address(holder, &a).ok_or(ReceiptError::NotAsked)?;
    if send && setting(db, holder.account_id).await? == ReceiptSetting::Never {
        return Err(ReceiptError::Off);
    }
    if answered(db, holder.account_id, id).await?.is_some() {
        return Err(ReceiptError::AlreadyAnswered);
    }
    let now = clock.now_ms();
    let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    // Where it goes: a mailbox here (its account, Inbox and Archives) or another operator.
    let mut local: Option<(i64, i64, i64)> = None;
    if send {
        if instance_domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            let active = |x: &accounts::Account| AccountStatus::parse(&x.status) == Some(AccountStatus::Active);
            // A receipt to an address here that holds no mailbox goes nowhere; it is still answered.
            if let Some(acc) = accounts::find_by_address(db, &to).await?.filter(active) {
                local = Some((
                    acc.id,
                    folder_id(db, clock, acc.id, "inbox").await?,
                    folder_id(db, clock, acc.id, "archive").await?,
                ));
            }
        } else if !crate::trust_space::contains(db, domain).await? {
            return Err(ReceiptError::OutsideTrustSpace);
        }
    }
    let own_domain = holder.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("hygie");
    let raw = Mdn {
        reader: &holder.address,
        to: &to,
        original_message_id: &a.message_id,
        original_subject: &a.subject,
        original_headers: header_section(&a.raw),
        automatic,
        message_id: &format!("{}@{own_domain}", crate::random_hex(16)),
        date_secs: now / 1000,
        reporting_ua: &format!("{own_domain}; Hygie"),
    }
    .build();
    let mode = if automatic { "automatic" } else { "manual" };
    let (action, answer) = if send { ("mail.receipt.send", "sent") } else { ("mail.receipt.decline", "declined") };
    let object = if send {
        format!("message:{id} mode:{mode} to:{}", if local.is_some() { "local" } else { "remote" })
    } else {
        format!("message:{id}")
    };
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO mail_receipt_answers (account_id, message_ref, answer, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, message_ref) DO NOTHING")
            .bind(holder.account_id).bind(id).bind(answer).bind(now).execute(&mut *tx).await?.rows_affected();
        if inserted == 0 {
            return Err(ReceiptError::AlreadyAnswered);
        }
        if send {
            match local {
                Some((account, inbox, archive)) => {
                    let full = format!("Return-Path: <>\r\n{raw}");
                    let (_, recorded) = deliver_report_in(&mut *tx, account, inbox, archive, full.as_bytes(), now).await?;
                    if let Some(event) = recorded {
                        tx.append_audit(db.audit_key(), now, &event).await?;
                    }
                }
                None => {
                    sqlx::query(
                        "INSERT INTO outbox (created_ms, channel, category, recipient, body, next_attempt_ms, account_id) \
                         VALUES ($1, 'mss', $5, $2, $3, $1, $4)")
                        .bind(now).bind(&to).bind(&raw).bind(holder.account_id).bind(crate::outbox::REPORT_CATEGORY)
                        .execute(&mut *tx).await?;
                }
            }
        }
        tx.append_audit(db.audit_key(), now, &holder.event(action, Outcome::Success).object(object)).await?;
        tx.commit().await?;
    });
    Ok(if send { ReceiptPrompt::Sent } else { ReceiptPrompt::Declined })
}

/// Stores a report (`raw`, as received) for `account` in the caller's transaction: when it is
/// about one of the account's sent messages, it is filed in Archives, read, and each recipient's
/// receipt recorded with an audit record; otherwise it is ordinary mail in the Inbox. Returns
/// the stored id (`None`: already held) and, when it was filed as a report, the audit record of
/// its receipts, for the caller to append last (the audit head is locked last). The delivery of mail from
/// elsewhere and the receipts sent between two mailboxes here both come through this.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deliver_report_in<C>(
    tx: &mut C,
    account: i64,
    inbox: i64,
    archive: i64,
    raw: &[u8],
    now: Millis,
) -> Result<(Option<i64>, Option<AuditEvent>), sqlx::Error>
where
    C: super::ingest::IngestTx + ReceiptTx + MarkReadTx + Send,
{
    let Some(prepared) = super::ingest::Prepared::new(raw, Some(now), true, now) else { return Ok((None, None)) };
    store_report_in(tx, account, inbox, archive, &prepared, parse(raw).as_ref(), raw, now).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_report_in<C>(
    tx: &mut C,
    account: i64,
    inbox: i64,
    archive: i64,
    prepared: &super::ingest::Prepared,
    report: Option<&Report>,
    raw: &[u8],
    now: Millis,
) -> Result<(Option<i64>, Option<AuditEvent>), sqlx::Error>
where
    C: super::ingest::IngestTx + ReceiptTx + MarkReadTx + Send,
{
    let sent = match report {
        Some(r) => {
            let candidates = r.candidates(prepared.summary.in_reply_to.as_deref(), &prepared.summary.references);
            tx.match_report_in(account, &candidates).await?
        }
        None => None,
    };
    let (Some(report), Some(sent)) = (report, sent) else {
        return Ok((tx.store_in(account, inbox, prepared, raw, now).await?, None));
    };
    let Some(stored) = tx.store_in(account, archive, prepared, raw, now).await? else {
        return Ok((None, None));
    };
    tx.mark_read_in(stored).await?;
    let n = tx.record_report_in(account, &sent, report, Some(stored), now).await?;
    let kinds: Vec<&str> = report.receipts().iter().map(|r| r.1).collect();
    let event = AuditEvent::new(crate::audit::Actor::System, "mail.receipt.record", Outcome::Success).object(format!(
        "account:{account} message:{} report:{stored} receipts:{n} kinds:{}",
        sent.0,
        kinds.join(",")
    ));
    Ok((Some(stored), Some(event)))
}

/// Each recipient's timeline of the holder's sent message `id`; `None` when it is not theirs.
pub async fn timeline(db: &Db, account_id: i64, id: i64) -> Result<Option<Vec<RecipientTimeline>>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        to_addrs: String,
        cc_addrs: String,
        bcc_addrs: String,
        date_ms: Millis,
    }
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.to_addrs, m.cc_addrs, m.bcc_addrs, m.date_ms FROM messages m \
         JOIN mail_folders f ON f.id = m.folder_id JOIN accounts a ON a.id = m.account_id \
         WHERE m.id = $1 AND m.account_id = $2 AND f.role <> 'drafts' AND lower(m.from_addr) = a.address")
        .bind(id).bind(account_id).fetch_optional(p).await?);
    let Some(r) = row else { return Ok(None) };
    let outbox: Vec<OutboxState> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT recipient, status, sent_ms, last_error FROM outbox \
         WHERE account_id = $1 AND message_ref = $2 AND channel = 'mss'")
        .bind(account_id).bind(id).fetch_all(p).await?);
    let receipts: Vec<ReceiptRow> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT recipient, kind, status, diagnostic, report_ref, at_ms FROM mail_receipts \
         WHERE account_id = $1 AND message_ref = $2 ORDER BY at_ms, id")
        .bind(account_id).bind(id).fetch_all(p).await?);
    let recipients = recipients_of(&r.to_addrs, &r.cc_addrs, &r.bcc_addrs);
    Ok(Some(build_timeline(&recipients, r.date_ms, &outbox, &receipts)))
}

/// The list mark of each of `ids` (the holder's sent messages): see [`overall`].
pub async fn marks(db: &Db, account_id: i64, ids: &[i64]) -> Result<Vec<(i64, &'static str)>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(t) = timeline(db, account_id, *id).await? {
            out.push((*id, overall(&t)));
        }
    }
    Ok(out)
}

/// Marks a stored message read, in the caller's transaction.
pub(crate) trait MarkReadTx {
    fn mark_read_in(&mut self, id: i64) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

macro_rules! impl_mark_read_tx {
    ($conn:ty) => {
        impl MarkReadTx for $conn {
            async fn mark_read_in(&mut self, id: i64) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE messages SET unread = FALSE WHERE id = $1").bind(id).execute(&mut *self).await?;
                Ok(())
            }
        }
    };
}

impl_mark_read_tx!(sqlx::SqliteConnection);
impl_mark_read_tx!(sqlx::PgConnection);

#[cfg(test)]
mod tests;
