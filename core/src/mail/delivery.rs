//! Mail from the other operators of the trust space: one message received over SMTP or LMTP,
//! for its envelope (the peer, MAIL FROM, RCPT TO), goes into each local recipient's Inbox
//! through the same ingest as imported mail ([`super::ingest`]: conversation, search index), with
//! the new-mail notice and the audit record in the same transaction, committed before the verb
//! returns. Deliveries that arrive together share one commit (group commit): one writer takes
//! every message waiting and commits them at once, so a disk flush is paid per batch, not per
//! message.
//!
//! Every rule is here, not in the protocol adapter: the sender's domain is in the trust space
//! (or one of this instance's), each recipient is an active mailbox on this instance's domains
//! with room for the message, the message is within the size limit and parses, and the peer is
//! within its hourly limit. The adapter maps the typed refusals to its reply codes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::ingest::{IngestTx, Prepared};
use super::send::NoticeTx;
use super::{attach, folder_id};
use crate::accounts;
use crate::audit::{self, Actor, AuditEvent, AuditTx, Outcome};
use crate::auth::holder::AccountStatus;
use crate::clock::{Clock, Millis};
use crate::ratelimit::{self, Decision, Limit, RateTx};
use crate::store::{Backend, BeginWrite, Db, StoreError};

/// The domain of patients' mailboxes (`<INS>@patient.mssante.fr`): their local part is a
/// patient's identifier, so the audit trail keeps only the domain.
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";

/// Most messages one batch commits at once, and most bytes.
const BATCH_MESSAGES: usize = 64;
const BATCH_BYTES: usize = 64 * 1024 * 1024;

/// What the instance decides for mail from elsewhere: set once at start-up.
#[derive(Debug, Clone)]
pub struct InboundPolicy {
    /// The instance's own mail domains: the only ones it accepts mail for.
    pub domains: Vec<String>,
    /// The address links in new-mail notices point to.
    pub public_url: String,
    /// The largest message accepted, as received (headers and encoded attachments).
    pub max_message_bytes: i64,
    /// Each mailbox's quota (see [`attach::usage`]).
    pub quota_bytes: i64,
    /// Messages one peer address may hand over in an hour, every instance together.
    pub peer_messages_per_hour: i64,
}

/// The protocol a message came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Smtp,
    Lmtp,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Smtp => "smtp",
            Channel::Lmtp => "lmtp",
        }
    }
}

/// Who hands the message over, and for whom.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub channel: Channel,
    /// The peer's IP address.
    pub peer_ip: String,
    /// The name the peer gave (EHLO / LHLO), unverified.
    pub helo: String,
    /// Whether the session is encrypted.
    pub tls: bool,
    /// The reverse path; empty for the null sender `<>` (delivery reports).
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// What the session's checks already established (empty when built outside a session).
    pub checked: Checked,
}

/// What [`Inbound::check_peer`], [`Inbound::check_sender`] and [`Inbound::add_recipient`]
/// established during the session, so that delivery does not ask the database again what it
/// answered a moment earlier. Only those checks fill it; the quota is checked again with the
/// message's real size.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The peer was within its hourly limit at MAIL.
    peer: bool,
    /// The reverse path that passed the trust-space check.
    sender: Option<String>,
    /// Each recipient that passed, with its account.
    recipients: Vec<(String, i64)>,
}

impl Envelope {
    /// Forgets the transaction (RSET, a new MAIL, after DATA); the peer and its name stay.
    pub fn reset(&mut self) {
        self.mail_from.clear();
        self.recipients.clear();
        self.checked = Checked::default();
    }
}

/// Why a message, or one of its recipients, is refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the sender address is not valid")]
    BadSender,
    /// The envelope sender's domain is neither in the trust space nor one of ours.
    #[error("the sender is outside the trust space")]
    SenderOutsideTrustSpace,
    /// The author (header `From`) is outside the trust space.
    #[error("the author is outside the trust space")]
    AuthorOutsideTrustSpace,
    #[error("the recipient address is not valid")]
    BadRecipient,
    /// A domain this instance does not hold: Hygie is no relay.
    #[error("not a domain of this instance")]
    NotLocal,
    /// On one of our domains, but no active mailbox.
    #[error("no such mailbox")]
    UnknownMailbox,
    /// The recipient's mailbox has no room for the message.
    #[error("mailbox full")]
    MailboxFull,
    #[error("message over {max_bytes} bytes")]
    TooLarge { max_bytes: i64 },
    #[error("not a valid message")]
    Malformed,
    #[error("no recipient")]
    NoRecipient,
    /// The peer handed over more messages this hour than it may.
    #[error("peer over its hourly limit, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeliveryError {
    /// The audit trail's short code (never an address).
    pub fn audit_code(&self) -> &'static str {
        match self {
            DeliveryError::BadSender => "bad_sender",
            DeliveryError::SenderOutsideTrustSpace => "outside_trust_space",
            DeliveryError::AuthorOutsideTrustSpace => "author_outside_trust_space",
            DeliveryError::BadRecipient => "bad_recipient",
            DeliveryError::NotLocal => "not_local",
            DeliveryError::UnknownMailbox => "unknown_mailbox",
            DeliveryError::MailboxFull => "mailbox_full",
            DeliveryError::TooLarge { .. } => "too_large",
            DeliveryError::Malformed => "malformed",
            DeliveryError::NoRecipient => "no_recipient",
            DeliveryError::RateLimited { .. } => "rate_limited",
            DeliveryError::Store(_) => "internal",
        }
    }

    /// Whether the peer should try again later (the refusal may not hold then).
    pub fn is_temporary(&self) -> bool {
        matches!(self, DeliveryError::MailboxFull | DeliveryError::RateLimited { .. } | DeliveryError::Store(_))
    }
}

/// One recipient's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub account_id: i64,
    /// The message's id in the recipient's mailbox; `None` when it already held a message with
    /// the same Message-ID (a peer that retries after a lost answer delivers nothing twice).
    pub message: Option<i64>,
}

/// A message stored for all its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub stored: Vec<Stored>,
}

struct Job {
    prepared: Prepared,
    raw: Vec<u8>,
    /// (account, its Inbox) for each recipient, each account once.
    targets: Vec<(i64, i64)>,
    /// A delivery-status or read report, with each target's Archives (where it is filed when it
    /// is about a message the target sent).
    report: Option<(super::receipts::Report, Vec<i64>)>,
    event: AuditEvent,
    /// The audit object without the stored ids, which are known only in the transaction.
    object: String,
    peer_key: String,
    reply: oneshot::Sender<Result<Vec<Option<i64>>, StoreError>>,
}

struct Inner {
    db: Db,
    clock: Arc<dyn Clock>,
    policy: InboundPolicy,
    jobs: mpsc::Sender<Job>,
    /// Transactions committed by the writers (each holds one or more deliveries).
    commits: Arc<AtomicU64>,
}

/// Delivery of mail from elsewhere: the checks and the delivery verb, and the writers that
/// commit deliveries in batches. Cheap to clone; the writers stop when the last clone is dropped.
#[derive(Clone)]
pub struct Inbound {
    inner: Arc<Inner>,
}

impl Inbound {
    /// Starts the writers (one on SQLite, which has one writer anyway; two on PostgreSQL) and
    /// returns the verb's handle and the writers' tasks.
    pub fn start(db: Db, clock: Arc<dyn Clock>, policy: InboundPolicy) -> (Inbound, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        let commits = Arc::new(AtomicU64::new(0));
        let inner = Arc::new(Inner { db, clock, policy, jobs: tx, commits: commits.clone() });
        let tasks = (0..writers)
            .map(|_| {
                let rx = rx.clone();
                let commits = commits.clone();
                let db = inner.db.clone();
                let clock = inner.clock.clone();
                let policy = inner.policy.clone();
                tokio::spawn(async move { writer(db, clock, policy, rx, commits).await })
            })
            .collect();
        (Inbound { inner }, tasks)
    }

    pub fn policy(&self) -> &InboundPolicy {
        &self.inner.policy
    }

    /// How many transactions the writers committed so far (fewer than deliveries when they
    /// arrived together).
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    fn peer_limit(&self) -> Limit {
        Limit { max: self.inner.policy.peer_messages_per_hour, window_ms: 3_600_000 }
    }

    /// Records a refusal (without content; the recipient's address only when it is on one of
    /// our domains).
    async fn refused(&self, env: &Envelope, e: &DeliveryError, recipient: Option<&str>) -> Result<(), StoreError> {
        let outcome = if e.is_temporary() && !matches!(e, DeliveryError::RateLimited { .. }) {
            Outcome::Failure(e.audit_code().into())
        } else {
            Outcome::Denied(e.audit_code().into())
        };
        let mut object = format!("from:{}", audit_address(&env.mail_from));
        if let Some(r) = recipient.filter(|r| self.is_local(domain_of(r))) {
            object.push_str(&format!(" to:{}", printable(r, 254)));
        }
        let event = AuditEvent::new(Actor::Peer(env.channel.as_str().into()), "mail.receive", outcome)
            .ip(Some(env.peer_ip.clone()))
            .object(object);
        audit::append(&self.inner.db, self.inner.clock.as_ref(), event).await?;
        Ok(())
    }

    fn is_local(&self, domain: &str) -> bool {
        self.inner.policy.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether the peer may hand over one more message this hour (counted when one is
    /// delivered). A refusal is recorded.
    pub async fn check_peer(&self, env: &mut Envelope) -> Result<(), DeliveryError> {
        let key = peer_key(&env.peer_ip);
        match ratelimit::peek(&self.inner.db, self.inner.clock.as_ref(), &key, self.peer_limit()).await? {
            Decision::Allowed { .. } => {
                env.checked.peer = true;
                Ok(())
            }
            Decision::Limited { retry_after_ms } => {
                let e = DeliveryError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) };
                self.refused(env, &e, None).await?;
                Err(e)
            }
        }
    }

    /// Whether the envelope sender may write here: its domain is in the trust space or one of
    /// ours. The null sender (delivery reports) passes; its message's author is checked at
    /// delivery. A refusal is recorded.
    pub async fn check_sender(&self, env: &mut Envelope) -> Result<(), DeliveryError> {
        let result = self.sender_allowed(&env.mail_from).await;
        match &result {
            Ok(()) => env.checked.sender = Some(env.mail_from.clone()),
            Err(e) if !matches!(e, DeliveryError::Store(_)) => self.refused(env, e, None).await?,
            Err(_) => {}
        }
        result
    }

    async fn sender_allowed(&self, address: &str) -> Result<(), DeliveryError> {
        if address.is_empty() {
            return Ok(());
        }
        let domain = match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => domain,
            _ => return Err(DeliveryError::BadSender),
        };
        if self.in_trust_space(domain).await? {
            Ok(())
        } else {
            Err(DeliveryError::SenderOutsideTrustSpace)
        }
    }

    async fn in_trust_space(&self, domain: &str) -> Result<bool, StoreError> {
        Ok(self.is_local(domain) || crate::trust_space::contains(&self.inner.db, domain).await?)
    }

    /// Whether `address` is an active mailbox here with room for `size` more bytes (the size
    /// the peer announced, 0 when unknown). Returns the account. A refusal is recorded.
    pub async fn check_recipient(&self, env: &Envelope, address: &str, size: i64) -> Result<i64, DeliveryError> {
        let result = self.recipient(address, size).await;
        if let Err(e) = &result {
            if !matches!(e, DeliveryError::Store(_)) {
                self.refused(env, e, Some(address)).await?;
            }
        }
        result
    }

    /// [`Self::check_recipient`], then adds `address` to the envelope's recipients.
    pub async fn add_recipient(&self, env: &mut Envelope, address: &str, size: i64) -> Result<i64, DeliveryError> {
        let account = self.check_recipient(env, address, size).await?;
        env.recipients.push(address.to_string());
        env.checked.recipients.push((address.to_string(), account));
        Ok(account)
    }

    /// A recipient at delivery: one that passed [`Self::add_recipient`] needs only its quota
    /// checked again, with the message's real size.
    async fn recipient_at_delivery(&self, env: &Envelope, address: &str, size: i64) -> Result<i64, DeliveryError> {
        let Some(&(_, account)) = env.checked.recipients.iter().find(|(a, _)| a == address) else {
            return self.check_recipient(env, address, size).await;
        };
        if attach::usage(&self.inner.db, account).await? + size > self.inner.policy.quota_bytes {
            let e = DeliveryError::MailboxFull;
            self.refused(env, &e, Some(address)).await?;
            return Err(e);
        }
        Ok(account)
    }

    async fn recipient(&self, address: &str, size: i64) -> Result<i64, DeliveryError> {
        let address = address.trim().to_lowercase();
        let domain = match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => domain,
            _ => return Err(DeliveryError::BadRecipient),
        };
        if !self.is_local(domain) {
            return Err(DeliveryError::NotLocal);
        }
        let active = |a: &accounts::Account| AccountStatus::parse(&a.status) == Some(AccountStatus::Active);
        let Some(account) = accounts::find_by_address(&self.inner.db, &address).await?.filter(active) else {
            return Err(DeliveryError::UnknownMailbox);
        };
        if attach::usage(&self.inner.db, account.id).await? + size > self.inner.policy.quota_bytes {
            return Err(DeliveryError::MailboxFull);
        }
        Ok(account.id)
    }

    /// Delivers `raw` to every recipient of `env`, or to none: any refusal refuses the whole
    /// message (SMTP answers once after DATA). Committed before it returns.
    pub async fn deliver(&self, env: &Envelope, raw: &[u8]) -> Result<Delivered, DeliveryError> {
        let mut each = self.run(env, raw, true).await;
        let first_error = each.iter().position(|r| r.is_err());
        match first_error {
            Some(i) => Err(each.swap_remove(i).unwrap_err()),
            None => Ok(Delivered { stored: each.into_iter().filter_map(Result::ok).collect() }),
        }
    }

    /// Delivers `raw` to each recipient of `env` that can take it, with one answer per
    /// recipient in envelope order (LMTP). What was stored is committed before it returns.
    pub async fn deliver_each(&self, env: &Envelope, raw: &[u8]) -> Vec<Result<Stored, DeliveryError>> {
        self.run(env, raw, false).await
    }

    async fn run(&self, env: &Envelope, raw: &[u8], whole: bool) -> Vec<Result<Stored, DeliveryError>> {
        let n = env.recipients.len();
        let all = |e: DeliveryError| -> Vec<Result<Stored, DeliveryError>> {
            // The same refusal for each recipient; a store error stays one (logged once).
            let mut v = Vec::with_capacity(n);
            for _ in 1..n {
                v.push(Err(copy_error(&e)));
            }
            v.push(Err(e));
            v
        };
        if n == 0 {
            return vec![Err(DeliveryError::NoRecipient)];
        }
        match self.message_checks(env, raw).await {
            Ok(()) => {}
            Err(e) => {
                if !matches!(e, DeliveryError::Store(_)) {
                    if let Err(s) = self.refused(env, &e, None).await {
                        return all(DeliveryError::Store(s));
                    }
                }
                return all(e);
            }
        }
        let now = self.inner.clock.now_ms();
        let full = with_trace(env, raw, &self.inner.policy.domains[0], now);
        let Some(prepared) = Prepared::new(&full, Some(now), true, now) else {
            let e = DeliveryError::Malformed;
            return match self.refused(env, &e, None).await {
                Ok(()) => all(e),
                Err(s) => all(DeliveryError::Store(s)),
            };
        };
        // The author, as the holder will see it, is inside the trust space too.
        match self.author_allowed(&prepared.summary.from_addr).await {
            Ok(()) => {}
            Err(e) => {
                if !matches!(e, DeliveryError::Store(_)) {
                    if let Err(s) = self.refused(env, &e, None).await {
                        return all(DeliveryError::Store(s));
                    }
                }
                return all(e);
            }
        }
        let size = full.len() as i64;
        let mut answers: Vec<Result<Stored, DeliveryError>> = Vec::with_capacity(n);
        let mut targets: Vec<(i64, i64)> = Vec::new();
        for address in &env.recipients {
            match self.recipient_at_delivery(env, address, size).await {
                Ok(account) => {
                    if !targets.iter().any(|(a, _)| *a == account) {
                        match folder_id(&self.inner.db, self.inner.clock.as_ref(), account, "inbox").await {
                            Ok(folder) => targets.push((account, folder)),
                            Err(e) => return all(e.into()),
                        }
                    }
                    answers.push(Ok(Stored { account_id: account, message: None }));
                }
                Err(e) => answers.push(Err(e)),
            }
        }
        if whole {
            if let Some(i) = answers.iter().position(|a| a.is_err()) {
                let e = answers.swap_remove(i).unwrap_err();
                return all(e);
            }
        }
        if targets.is_empty() {
            return answers;
        }
        let report = match super::receipts::parse(&full) {
            Some(r) => {
                let mut archives = Vec::with_capacity(targets.len());
                for (account, _) in &targets {
                    match folder_id(&self.inner.db, self.inner.clock.as_ref(), *account, "archive").await {
                        Ok(f) => archives.push(f),
                        Err(e) => return all(e.into()),
                    }
                }
                Some((r, archives))
            }
            None => None,
        };
        let recipients: Vec<String> = targets.iter().map(|(a, _)| format!("account:{a}")).collect();
        let object = format!(
            "from:{} to:{} message-id:{} size:{} helo:{} tls:{}",
            audit_address(&env.mail_from),
            recipients.join(","),
            printable(&prepared.message_id, 200),
            raw.len(),
            printable(&env.helo, 100),
            if env.tls { "yes" } else { "no" },
        );
        let event = AuditEvent::new(Actor::Peer(env.channel.as_str().into()), "mail.receive", Outcome::Success)
            .ip(Some(env.peer_ip.clone()));
        let (reply, answer) = oneshot::channel();
        let job = Job {
            prepared,
            raw: full,
            targets: targets.clone(),
            report,
            event,
            object,
            peer_key: peer_key(&env.peer_ip),
            reply,
        };
        let gone = || StoreError::Other("the delivery writer stopped".into());
        if self.inner.jobs.send(job).await.is_err() {
            return all(gone().into());
        }
        let ids = match answer.await {
            Ok(Ok(ids)) => ids,
            Ok(Err(e)) => return all(e.into()),
            Err(_) => return all(gone().into()),
        };
        for a in answers.iter_mut().flatten() {
            if let Some(i) = targets.iter().position(|(acc, _)| *acc == a.account_id) {
                a.message = ids[i];
            }
        }
        answers
    }

    /// What holds for the message whatever its recipient: size, sender, the peer's limit.
    async fn message_checks(&self, env: &Envelope, raw: &[u8]) -> Result<(), DeliveryError> {
        let max = self.inner.policy.max_message_bytes;
        if raw.len() as i64 > max {
            return Err(DeliveryError::TooLarge { max_bytes: max });
        }
        if env.checked.sender.as_deref() != Some(env.mail_from.as_str()) {
            self.sender_allowed(&env.mail_from).await?;
        }
        if env.checked.peer {
            return Ok(());
        }
        let key = peer_key(&env.peer_ip);
        if let Decision::Limited { retry_after_ms } =
            ratelimit::peek(&self.inner.db, self.inner.clock.as_ref(), &key, self.peer_limit()).await?
        {
            return Err(DeliveryError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) });
        }
        Ok(())
    }

    async fn author_allowed(&self, from: &str) -> Result<(), DeliveryError> {
        match from.rsplit_once('@') {
            Some((_, domain)) if !domain.is_empty() && self.in_trust_space(domain).await? => Ok(()),
            _ => Err(DeliveryError::AuthorOutsideTrustSpace),
        }
    }
}

fn copy_error(e: &DeliveryError) -> DeliveryError {
    match e {
        DeliveryError::BadSender => DeliveryError::BadSender,
        DeliveryError::SenderOutsideTrustSpace => DeliveryError::SenderOutsideTrustSpace,
        DeliveryError::AuthorOutsideTrustSpace => DeliveryError::AuthorOutsideTrustSpace,
        DeliveryError::BadRecipient => DeliveryError::BadRecipient,
        DeliveryError::NotLocal => DeliveryError::NotLocal,
        DeliveryError::UnknownMailbox => DeliveryError::UnknownMailbox,
        DeliveryError::MailboxFull => DeliveryError::MailboxFull,
        DeliveryError::TooLarge { max_bytes } => DeliveryError::TooLarge { max_bytes: *max_bytes },
        DeliveryError::Malformed => DeliveryError::Malformed,
        DeliveryError::NoRecipient => DeliveryError::NoRecipient,
        DeliveryError::RateLimited { retry_after_secs } => {
            DeliveryError::RateLimited { retry_after_secs: *retry_after_secs }
        }
        DeliveryError::Store(s) => DeliveryError::Store(StoreError::Other(s.to_string())),
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// The rate-limit key of a peer (IPv6 by its /64).
fn peer_key(ip: &str) -> String {
    format!("smtp-peer:{}", ratelimit::ip_key(ip))
}

/// An address as the audit trail keeps it: a patient's only by its domain, `<>` for none.
fn audit_address(address: &str) -> String {
    if address.is_empty() {
        "<>".into()
    } else if domain_of(address).eq_ignore_ascii_case(PATIENT_DOMAIN) {
        format!("(patient)@{PATIENT_DOMAIN}")
    } else {
        printable(address, 254)
    }
}

/// Peer-given text for a header or the audit trail: printable ASCII, no spaces, at most `max`.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| c.is_ascii_graphic()).take(max).collect()
}

/// The message as stored: `Return-Path` and a `Received` trace (RFC 5321 §4.4), then the
/// message as received.
fn with_trace(env: &Envelope, raw: &[u8], by: &str, now: Millis) -> Vec<u8> {
    let with = match (env.channel, env.tls) {
        (Channel::Smtp, true) => "ESMTPS",
        (Channel::Smtp, false) => "ESMTP",
        (Channel::Lmtp, true) => "LMTPS",
        (Channel::Lmtp, false) => "LMTP",
    };
    let date = time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc2822).ok())
        .unwrap_or_default();
    let helo = match printable(&env.helo, 100) {
        h if h.is_empty() => "unknown".to_string(),
        h => h,
    };
    let trace = format!(
        "Return-Path: <{}>\r\nReceived: from {helo} ([{}])\r\n\tby {by} (Hygie) with {with}\r\n\tid {}; {date}\r\n",
        printable(&env.mail_from, 254),
        printable(&env.peer_ip, 64),
        crate::random_hex(8),
    );
    let mut full = Vec::with_capacity(trace.len() + raw.len());
    full.extend_from_slice(trace.as_bytes());
    full.extend_from_slice(raw);
    full
}

/// A writer: takes every delivery waiting (up to a batch), commits them in one transaction and
/// answers each. A batch that fails is retried one delivery at a time, so that one bad message
/// does not refuse the others.
async fn writer(
    db: Db,
    clock: Arc<dyn Clock>,
    policy: InboundPolicy,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    commits: Arc<AtomicU64>,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut bytes = first.raw.len();
            let mut batch = vec![first];
            while batch.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(job) => {
                        bytes += job.raw.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let limit = Limit { max: policy.peer_messages_per_hour, window_ms: 3_600_000 };
        match commit(&db, clock.as_ref(), &policy, limit, &batch).await {
            Ok(ids) => {
                commits.fetch_add(1, Ordering::Relaxed);
                for (job, ids) in batch.into_iter().zip(ids) {
                    let _ = job.reply.send(Ok(ids));
                }
            }
            Err(e) if batch.len() == 1 => {
                tracing::error!(error = %e, "inbound delivery not committed");
                if let Some(job) = batch.into_iter().next() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = batch.len(), "delivery batch failed; committing one by one");
                for job in batch {
                    let one = commit(&db, clock.as_ref(), &policy, limit, std::slice::from_ref(&job)).await;
                    match &one {
                        Ok(_) => {
                            commits.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tracing::error!(error = %e, "inbound delivery not committed"),
                    }
                    let _ = job.reply.send(one.map(|mut v| v.remove(0)));
                }
            }
        }
    }
}

/// Stores every job of `batch` for its recipients, with its notices, the peer's count and its
/// audit record, in one transaction. Rows that other transactions may lock too are taken in one
/// order whatever the batch (the peers' counters by key, then the accounts by id, then the audit
/// head), so that writers of several instances on one PostgreSQL never deadlock.
async fn commit(
    db: &Db,
    clock: &dyn Clock,
    policy: &InboundPolicy,
    limit: Limit,
    batch: &[Job],
) -> Result<Vec<Vec<Option<i64>>>, StoreError> {
    let now = clock.now_ms();
    let mut out = Vec::with_capacity(batch.len());
    let mut peers: Vec<&str> = batch.iter().map(|j| j.peer_key.as_str()).collect();
    peers.sort_unstable();
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let mut told: Vec<i64> = Vec::new();
        let mut recorded: Vec<AuditEvent> = Vec::new();
        for job in batch {
            let mut ids = Vec::with_capacity(job.targets.len());
            for (i, (account, folder)) in job.targets.iter().enumerate() {
                let (id, filed) = match &job.report {
                    // A report about a message the account sent is filed, its receipts recorded.
                    Some((report, archives)) => {
                        super::receipts::store_report_in(
                            &mut *tx, *account, *folder, archives[i], &job.prepared, Some(report),
                            &job.raw, now,
                        )
                        .await?
                    }
                    None => (tx.store_in(*account, *folder, &job.prepared, &job.raw, now).await?, None),
                };
                // A report filed under its message is no new mail to announce.
                if id.is_some() && filed.is_none() {
                    told.push(*account);
                }
                recorded.extend(filed);
                ids.push(id);
            }
            out.push(ids);
        }
        for key in peers {
            tx.hit_in(now, key, limit).await?;
        }
        told.sort_unstable();
        told.dedup();
        for account in told {
            tx.notify_new_mail_in(now, account, &policy.public_url).await?;
        }
        let mut events: Vec<AuditEvent> = Vec::with_capacity(batch.len() + recorded.len());
        for (job, ids) in batch.iter().zip(&out) {
            let stored: Vec<String> =
                ids.iter().map(|id| id.map_or_else(|| "present".to_string(), |id| id.to_string())).collect();
            events.push(job.event.clone().object(format!("{} messages:{}", job.object, stored.join(","))));
        }
        events.extend(recorded);
        tx.append_audits(db.audit_key(), now, &events).await?;
        tx.commit().await?;
    });
    Ok(out)
}

#[cfg(test)]
mod tests;
