//! Sending: checking every recipient, the Sent and Inbox copies and the queue to other
//! operators in one transaction with the record; delivery reports and new-mail notices.
use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

use super::*;
use crate::accounts;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::{AccountStatus, Holder};
use crate::clock::{Clock, Millis};
use crate::store::Backend;
use crate::store::{BeginWrite, Db, StoreError};

/// The largest message Mon Espace Santé takes at a patient's address, as sent (headers and
/// encoded attachments together): 25 MB.
pub const PATIENT_MAX_BYTES: i64 = 25 * 1024 * 1024;

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
    /// To a patient's address (Mon Espace Santé), the message as sent, attachments encoded, is
    /// over the limit that service sets ([`PATIENT_MAX_BYTES`]).
    #[error("message to a patient over {max_bytes} bytes")]
    TooLargeForPatient { max_bytes: i64 },
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
    /// Over the holder's hourly limit (see [`super::mailbox::hourly`]).
    #[error("rate limited, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
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

pub(crate) fn domain_of(address: &str) -> &str {
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
    Ok(crate::with_pool!(db, p => {
        let mut conn = p.acquire().await?;
        conn.notify_new_mail_in(now, account_id, public_url).await?
    }))
}

/// [`notify_new_mail`] inside the caller's write transaction: the notice is queued only if the
/// delivery it announces commits. Implemented for both engines' connections.
pub(crate) trait NoticeTx {
    fn notify_new_mail_in(
        &mut self,
        now: Millis,
        account_id: i64,
        public_url: &str,
    ) -> impl std::future::Future<Output = Result<bool, sqlx::Error>> + Send;
}

macro_rules! impl_notice_tx {
    ($conn:ty) => {
        impl NoticeTx for $conn {
            async fn notify_new_mail_in(
                &mut self,
                now: Millis,
                account_id: i64,
                public_url: &str,
            ) -> Result<bool, sqlx::Error> {
                use crate::outbox::OutboxTx;
                // One statement decides, so that two instances delivering at once send one notice.
                let to: Option<String> = sqlx::query_scalar(
                    "UPDATE accounts SET new_mail_notified_ms = $1 WHERE id = $2 AND notify_new_mail \
                     AND (new_mail_notified_ms IS NULL OR new_mail_notified_ms <= $3) RETURNING notification_email",
                )
                .bind(now)
                .bind(account_id)
                .bind(now - NOTICE_INTERVAL_MS)
                .fetch_optional(&mut *self)
                .await?;
                let Some(to) = to else { return Ok(false) };
                self.enqueue_in(now, &crate::notify::new_mail(&to, public_url)).await?;
                Ok(true)
            }
        }
    };
}

impl_notice_tx!(sqlx::SqliteConnection);
impl_notice_tx!(sqlx::PgConnection);

impl SendError {
    /// How the audit trail records the refusal: another holder's message is denied, the rest
    /// are failures.
    pub fn audit_outcome(&self) -> Outcome {
        match self {
            SendError::ForwardedNotFound | SendError::RateLimited { .. } => Outcome::Denied(self.audit_code().into()),
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
            SendError::TooLargeForPatient { .. } => "too_large_for_patient",
            SendError::QuotaExceeded { .. } => "quota",
            SendError::MailboxFull(_) => "mailbox_full",
            SendError::DraftGone => "draft_gone",
            SendError::UnknownUpload => "unknown_upload",
            SendError::ForwardedNotFound => "not_found",
            SendError::RateLimited { .. } => "rate_limited",
            SendError::Store(_) => "internal",
        }
    }
}

/// Sends `d` from `sender`: every recipient is checked first (nothing is sent if one is refused),
/// then the sender's Sent copy, each recipient's Inbox copy and the audit record are written in
/// one transaction, committed before this returns. A refusal is recorded too. Recipients who
/// asked for it are then told at their notification address (links point to `public_url`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_keyed(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    d: &Draft,
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
    key: Option<&IdempotencyKey>,
) -> Result<Sent, SendError> {
    let result = send_checked(db, clock, sender, d, instance_domains, public_url, limits, key).await;
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

/// [`send_keyed`] without an idempotency key, for the tests.
#[cfg(test)]
pub(crate) async fn send(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    d: &Draft,
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
) -> Result<Sent, SendError> {
    send_keyed(db, clock, sender, d, instance_domains, public_url, limits, None).await
}

/// Every recipient of `d` (lower case, once each), checked, nothing sent if one is refused: on
/// this instance's domains, an active mailbox (its account and address); elsewhere, a domain
/// of the trust space (the address, to queue).
pub(crate) async fn route(
    db: &Db,
    d: &Draft,
    instance_domains: &[String],
) -> Result<(Vec<i64>, Vec<String>, Vec<String>), SendError> {
    route_addresses(db, d.to.iter().chain(&d.cc).chain(&d.bcc), instance_domains).await
}

/// [`route`] for addresses given one by one (an SMTP envelope's recipients).
pub(crate) async fn route_addresses(
    db: &Db,
    addresses: impl Iterator<Item = &String>,
    instance_domains: &[String],
) -> Result<(Vec<i64>, Vec<String>, Vec<String>), SendError> {
    let mut all: Vec<String> = addresses.map(|a| a.trim().to_lowercase()).collect();
    all.sort();
    all.dedup();
    if all.is_empty() {
        return Err(SendError::NoRecipient);
    }
    let mut local: Vec<i64> = Vec::new();
    let mut local_addresses: Vec<String> = Vec::new();
    let mut remote: Vec<String> = Vec::new();
    for address in all {
        let domain = domain_of(&address);
        if instance_domains.iter().any(|x| x.eq_ignore_ascii_case(domain)) {
            let active = |a: &accounts::Account| AccountStatus::parse(&a.status) == Some(AccountStatus::Active);
            match accounts::find_by_address(db, &address).await?.filter(active) {
                Some(a) => {
                    local.push(a.id);
                    local_addresses.push(address);
                }
                None => return Err(SendError::UnknownMailbox(address)),
            }
        } else if crate::trust_space::contains(db, domain).await? {
            remote.push(address);
        } else {
            return Err(SendError::OutsideTrustSpace(address));
        }
    }
    Ok((local, local_addresses, remote))
}

#[allow(clippy::too_many_arguments)]
async fn send_checked(
    db: &Db,
    clock: &dyn Clock,
    sender: &Holder,
    d: &Draft,
    instance_domains: &[String],
    public_url: &str,
    limits: &attach::Limits,
    key: Option<&IdempotencyKey>,
) -> Result<Sent, SendError> {
    let mut gathered = d.with_files(db, sender.account_id, limits).await?;
    let declared = d.body.len() as i64 + d.attachments.iter().map(|a| a.bytes.len() as i64).sum::<i64>();
    if declared > limits.max_message_bytes {
        return Err(SendError::TooLarge { max_bytes: limits.max_message_bytes });
    }
    let (local, local_addresses, remote) = route(db, &gathered, instance_domains).await?;
    let to_patient = local_addresses
        .iter()
        .chain(&remote)
        .any(|a| domain_of(a).eq_ignore_ascii_case(super::delivery::PATIENT_DOMAIN));
    // `X-MSS-MES: FIN` is for a patient's address only.
    gathered.patient_no_reply &= to_patient;
    let d = &gathered;
    let now = clock.now_ms();
    let message_id = format!("{}@{}", crate::random_hex(16), domain_of(&sender.address));
    let raw = build(sender, d, &message_id, now / 1000).map_err(|e| StoreError::Other(e.to_string()))?;
    let size = raw.len() as i64;
    if to_patient && size > PATIENT_MAX_BYTES {
        return Err(SendError::TooLargeForPatient { max_bytes: PATIENT_MAX_BYTES });
    }
    let leaving: i64 = d.attachments.iter().map(|a| a.bytes.len() as i64).sum();
    if attach::usage(db, sender.account_id).await? - leaving + size > limits.quota_bytes {
        return Err(SendError::QuotaExceeded { quota_bytes: limits.quota_bytes });
    }
    for (id, address) in local.iter().zip(&local_addresses) {
        if *id != sender.account_id && attach::usage(db, *id).await? + size > limits.quota_bytes {
            return Err(SendError::MailboxFull(address.clone()));
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
                 attachment_names, uid) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $13, $18, \
                         (SELECT uidnext FROM mail_folders WHERE id = $2)) RETURNING id")
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
            // Sent by the scheduled-send worker: only while its lease holds, so it leaves once.
            if let Some(owner) = &d.scheduled_lease {
                use schedule::ScheduledTx;
                if !tx.take_scheduled(draft, sender.account_id, owner).await? {
                    return Err(SendError::DraftGone);
                }
            }
            if sqlite {
                sqlx::query("DELETE FROM messages_fts WHERE rowid IN \
                             (SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3)")
                    .bind(draft).bind(sender.account_id).bind(drafts_folder).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query("DELETE FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3")
                .bind(draft).bind(sender.account_id).bind(drafts_folder).execute(&mut *tx).await?.rows_affected();
            if deleted == 0 && d.scheduled_lease.is_some() {
                return Err(SendError::DraftGone);
            }
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
        super::idempotency::record_key_in!(tx, key, sender.account_id, ids[0], now);
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
            // As the holder sees it in the list: a health document's subject without its prefix.
            (Some(ids), super::mss::display_subject(&o.subject).0, crate::clock::format_utc(o.date_ms))
        }
        // Deleted for good since: the report still says who did not get it.
        None => (None, String::new(), String::new()),
    };
    let (why_fr, why_en) = if let (false, crate::outbox::TransportError::Tls(_)) = (permanent, error) {
        (
            format!(
                "Aucune connexion chiffrée de confiance n'a pu être établie avec le serveur du destinataire \
                 pendant le délai de remise ({error}) ; le message n'a pas été transmis en clair."
            ),
            format!(
                "No trusted encrypted connection could be made with the recipient's server within the delivery \
                 period ({error}); the message was not sent in clear."
            ),
        )
    } else if let (true, crate::outbox::TransportError::Dns(..)) = (permanent, error) {
        (
            format!("Le domaine du destinataire n'existe pas ou ne reçoit pas de courrier ({error})."),
            format!("The recipient's domain does not exist or takes no mail ({error})."),
        )
    } else if permanent {
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
