//! Mail that its author's own software wrote: a mail client over SMTP submission, business
//! software through the API. The message is kept as written (its MIME structure, its `X-MSS-*`
//! headers, an IHE XDM package), and the rules are the webmail's: the author is the holder,
//! every recipient is checked before anything leaves, the limits and the quota hold, and the
//! Sent copy, the Inbox copies, the queue to other operators and the record are committed in
//! one transaction.

use mail_parser::MessageParser;

use super::send::{self, domain_of, route_addresses, PATIENT_MAX_BYTES};
use super::*;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Not a message: it does not parse, or it has no From.
    #[error("not a message")]
    Malformed,
    /// The From header is not the holder's own address alone: nobody writes in another's name.
    #[error("the author is not the holder")]
    NotTheAuthor,
    /// Bytes that are not UTF-8 in a message for another operator (the queue keeps text): the
    /// client must encode them (quoted-printable or base64).
    #[error("8-bit text that is not UTF-8")]
    NotUtf8,
    #[error(transparent)]
    Send(#[from] SendError),
}

impl From<StoreError> for SubmitError {
    fn from(e: StoreError) -> Self {
        SubmitError::Send(SendError::Store(e))
    }
}

impl From<sqlx::Error> for SubmitError {
    fn from(e: sqlx::Error) -> Self {
        SubmitError::Send(e.into())
    }
}

impl SubmitError {
    pub fn audit_code(&self) -> &'static str {
        match self {
            SubmitError::Malformed => "malformed",
            SubmitError::NotTheAuthor => "not_the_author",
            SubmitError::NotUtf8 => "not_utf8",
            SubmitError::Send(e) => e.audit_code(),
        }
    }

    fn audit_outcome(&self) -> Outcome {
        match self {
            SubmitError::NotTheAuthor => Outcome::Denied(self.audit_code().into()),
            SubmitError::Send(e) => e.audit_outcome(),
            _ => Outcome::Failure(self.audit_code().into()),
        }
    }
}

/// Sends `raw` from `sender` to `recipients` (the envelope: To, Cc and Bcc together). A refusal
/// is recorded too. See the module's description.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn submit(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    recipients: &[String],
    raw: &[u8],
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
    key: Option<&IdempotencyKey>,
) -> Result<Sent, SubmitError> {
    let result = submit_checked(db, clock, sender, recipients, raw, instance_domains, limits, key).await;
    match &result {
        Ok((_, local)) => {
            // Delivered and committed: a notice that fails must not turn "sent" into an error.
            for account_id in local {
                if let Err(e) = send::notify_new_mail(db, clock, *account_id, public_url).await {
                    tracing::warn!(error = %e, account = account_id, "new-mail notice not queued");
                }
            }
        }
        Err(SubmitError::Send(SendError::Store(_))) => {}
        Err(e) => {
            audit::append(db, clock, sender.event("mail.send", e.audit_outcome())).await?;
        }
    }
    result.map(|(sent, _)| sent)
}

#[allow(clippy::too_many_arguments)]
async fn submit_checked(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    recipients: &[String],
    raw: &[u8],
    instance_domains: &[String],
    limits: &attach::Limits,
    key: Option<&IdempotencyKey>,
) -> Result<(Sent, Vec<i64>), SubmitError> {
    if raw.len() as i64 > limits.max_encoded_bytes() {
        return Err(SendError::TooLarge { max_bytes: limits.max_encoded_bytes() }.into());
    }
    let now = clock.now_ms();
    let written = Written::new(raw, sender, now)?;
    let (local, local_addresses, remote) = route_addresses(db, recipients.iter(), instance_domains).await?;
    let size = written.kept.len() as i64;
    let to_patient =
        local_addresses.iter().chain(&remote).any(|a| domain_of(a).eq_ignore_ascii_case(delivery::PATIENT_DOMAIN));
    if to_patient && written.delivered.len() as i64 > PATIENT_MAX_BYTES {
        return Err(SendError::TooLargeForPatient { max_bytes: PATIENT_MAX_BYTES }.into());
    }
    if attach::usage(db, sender.account_id).await? + size > limits.quota_bytes {
        return Err(SendError::QuotaExceeded { quota_bytes: limits.quota_bytes }.into());
    }
    let delivered_size = written.delivered.len() as i64;
    for (id, address) in local.iter().zip(&local_addresses) {
        let own_copy = if *id == sender.account_id { size } else { 0 };
        if attach::usage(db, *id).await? + own_copy + delivered_size > limits.quota_bytes {
            return Err(SendError::MailboxFull(address.clone()).into());
        }
    }
    let queued_text = if remote.is_empty() {
        String::new()
    } else {
        String::from_utf8(written.delivered.clone()).map_err(|_| SubmitError::NotUtf8)?
    };
    let sent_copy = Prepared::new(&written.kept, Some(now), false, now).ok_or(SubmitError::Malformed)?;
    let inbox_copy = Prepared::new(&written.delivered, Some(now), true, now).ok_or(SubmitError::Malformed)?;

    let sent_folder = folder_id(db, clock, sender.account_id, "sent").await?;
    let mut inboxes = Vec::new();
    for id in &local {
        inboxes.push((*id, folder_id(db, clock, *id, "inbox").await?));
    }
    let mut delivered = Vec::new();
    let sent_id = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let sent_id = tx.store_copy_in(sender.account_id, sent_folder, &sent_copy, &written.kept, now).await?
            .ok_or_else(|| StoreError::Other("sent copy not stored".into()))?;
        for (account_id, folder) in &inboxes {
            if let Some(id) = tx.store_copy_in(*account_id, *folder, &inbox_copy, &written.delivered, now).await? {
                delivered.push(id);
            }
        }
        // One queue entry per recipient on another operator, as the webmail's send does.
        for address in &remote {
            sqlx::query(
                "INSERT INTO outbox (created_ms, channel, category, recipient, body, next_attempt_ms, account_id, message_ref) \
                 VALUES ($1, 'mss', 'mail.remote', $2, $3, $1, $4, $5)")
                .bind(now).bind(address).bind(&queued_text).bind(sender.account_id).bind(sent_id)
                .execute(&mut *tx).await?;
        }
        super::idempotency::record_key_in!(tx, key, sender.account_id, sent_id, now);
        let object = format!("message:{sent_id} recipients:{} queued:{}", delivered.len(), remote.len());
        tx.append_audit(db.audit_key(), now, &sender.event("mail.send", Outcome::Success).object(object)).await?;
        tx.commit().await?;
        sent_id
    });
    Ok((Sent { sent_id, delivered, queued: remote }, local))
}

/// A submitted message made ready to keep and to deliver.
struct Written {
    /// The author's copy, as written, with a Message-ID and a Date when it had none.
    kept: Vec<u8>,
    /// What recipients get: the same without its Bcc header.
    delivered: Vec<u8>,
}

impl Written {
    fn new(raw: &[u8], sender: &Holder, now: Millis) -> Result<Written, SubmitError> {
        let parsed = MessageParser::default().parse_headers(raw).ok_or(SubmitError::Malformed)?;
        let authors = parsed.from().ok_or(SubmitError::Malformed)?;
        let mut authors = authors.iter();
        let (Some(author), None) = (authors.next(), authors.next()) else { return Err(SubmitError::NotTheAuthor) };
        if !author.address().is_some_and(|a| a.trim().eq_ignore_ascii_case(&sender.address)) {
            return Err(SubmitError::NotTheAuthor);
        }
        let (head, body) = split_head(raw);
        let mut added = String::new();
        if parsed.message_id().is_none() {
            added.push_str(&format!("Message-ID: <{}@{}>\r\n", crate::random_hex(16), domain_of(&sender.address)));
        }
        if parsed.date().is_none() {
            let date = mail_parser::DateTime::from_timestamp(now / 1000);
            added.push_str(&format!("Date: {}\r\n", date.to_rfc822()));
        }
        let mut kept = Vec::with_capacity(raw.len() + added.len());
        kept.extend_from_slice(added.as_bytes());
        kept.extend_from_slice(raw);
        let mut delivered = Vec::with_capacity(raw.len() + added.len());
        delivered.extend_from_slice(added.as_bytes());
        delivered.extend_from_slice(&without_header(head, "bcc"));
        delivered.extend_from_slice(body);
        Ok(Written { kept, delivered })
    }
}

/// The header block (with the line that ends it) and the body of a message.
fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut at = 0;
    while at < raw.len() {
        let end = raw[at..].iter().position(|b| *b == b'\n').map(|i| at + i + 1).unwrap_or(raw.len());
        let line = &raw[at..end];
        if line == b"\r\n" || line == b"\n" {
            return raw.split_at(end);
        }
        at = end;
    }
    (raw, &[])
}

/// `head` without the header `name` (case-insensitive), its folded lines included.
fn without_header(head: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut dropping = false;
    let mut at = 0;
    while at < head.len() {
        let end = head[at..].iter().position(|b| *b == b'\n').map(|i| at + i + 1).unwrap_or(head.len());
        let line = &head[at..end];
        let folded = matches!(line.first(), Some(b' ' | b'\t'));
        if !folded {
            dropping = line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && line[name.len()] == b':';
        }
        if !dropping {
            out.extend_from_slice(line);
        }
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_is_dropped_with_its_folded_lines_and_nothing_else() {
        let raw = b"From: a@x.fr\r\nBcc: secret@x.fr,\r\n  other@x.fr\r\nSubject: Bcc: in a subject\r\nBCC:x@y.fr\r\n\r\nBcc: body\r\n";
        let (head, body) = split_head(raw);
        assert_eq!(body, b"Bcc: body\r\n");
        let kept = String::from_utf8(without_header(head, "bcc")).unwrap();
        assert_eq!(kept, "From: a@x.fr\r\nSubject: Bcc: in a subject\r\n\r\n");
    }

    #[test]
    fn a_message_without_a_body_is_all_head() {
        assert_eq!(split_head(b"From: a@x.fr\n"), (&b"From: a@x.fr\n"[..], &b""[..]));
        assert_eq!(split_head(b"From: a@x.fr\n\nHi"), (&b"From: a@x.fr\n\n"[..], &b"Hi"[..]));
    }
}
