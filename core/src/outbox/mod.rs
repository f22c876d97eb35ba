//! The one durable outbox for messages to people outside Hygie: one-time codes, notifications,
//! copies of contact requests. Producers [`enqueue`] rows in the database; a worker
//! ([`run_once`], driven by the server) claims due rows, hands them to a [`Transport`], and
//! retries with backoff. Claims are leases in the database (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so several Hygie instances can drain one outbox without sending anything twice:
//! each claim names its holder (`lease_owner`) and lasts until `locked_until_ms`; the holder
//! renews it while a long send goes on, and records the outcome only while it still holds it.
//! A worker that stalled past its lease records nothing: the row is someone else's by then.
//!
//! A message body is kept only until it is delivered or given up on: then it is erased from the
//! database.

mod transport;

pub use transport::{
    smtp_mailer, DevOutbox, DevOutboxEntry, EmailTransport, MssRoute, MssSmtp, MssTls, MssTransport, SmsGateway,
    SmsTransport, SmtpSecurity, SmtpSettings, Transport, TransportError, REPORT_CATEGORY,
};

use crate::clock::{Clock, Millis};
use crate::store::{Db, Pool, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    /// A secure message to a mailbox of another operator of the trust space: the body is the
    /// raw RFC 5322 message, sent over SMTP to that recipient alone.
    Mss,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Mss => "mss",
        }
    }

    fn parse(s: &str) -> Channel {
        match s {
            "sms" => Channel::Sms,
            "mss" => Channel::Mss,
            _ => Channel::Email,
        }
    }
}

/// A message to queue. `category` names its kind (`contact.copy`, `auth.code`, ...) for
/// operators and audit; it never carries content.
#[derive(Clone)]
pub struct Outgoing {
    pub channel: Channel,
    pub category: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    /// Where a reply should go (email only).
    pub reply_to: Option<String>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("channel", &self.channel)
            .field("category", &self.category)
            .finish_non_exhaustive()
    }
}

/// A claimed message, ready to hand to a transport.
#[derive(Clone)]
pub struct Claimed {
    pub id: i64,
    /// Who holds the lease: only this holder may record the outcome.
    pub lease_owner: String,
    pub created_ms: Millis,
    pub attempts: i64,
    pub message: Outgoing,
    /// For secure mail: the sender's account and their Sent copy.
    pub origin: Option<Origin>,
}

/// Who sent a secure message, and which of their messages it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub account_id: i64,
    pub message_id: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    created_ms: i64,
    channel: String,
    category: String,
    recipient: String,
    subject: Option<String>,
    reply_to: Option<String>,
    body: Option<String>,
    attempts: i64,
    account_id: Option<i64>,
    message_ref: Option<i64>,
}

/// Status counts, for `hygie outbox list` and health checks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// How retries are spaced, and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base_ms: Millis,
    pub max_ms: Millis,
    pub max_attempts: i64,
    /// Secure mail is retried for this long (from when it was sent) rather than a number of
    /// times: another operator's server may be down for hours.
    pub mss_expiry_ms: Millis,
    /// How long a claim stays exclusive; a worker that dies mid-send releases it by expiry.
    pub lease_ms: Millis,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base_ms: 5_000, max_ms: 3_600_000, max_attempts: 10, mss_expiry_ms: 48 * 3_600_000, lease_ms: 120_000 }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`: base · 2^(attempts-1), capped.
    pub fn delay_after(&self, attempts: i64) -> Millis {
        let exp = (attempts.max(1) - 1).min(30) as u32;
        self.base_ms.saturating_mul(1i64 << exp).min(self.max_ms)
    }
}

/// Queues a message inside the caller's write transaction: it leaves only if the change it
/// belongs to commits. Implemented for both engines' connections (call it on `&mut *tx`).
pub trait OutboxTx {
    fn enqueue_in(
        &mut self,
        now: Millis,
        msg: &Outgoing,
    ) -> impl std::future::Future<Output = Result<i64, sqlx::Error>> + Send;
}

macro_rules! impl_outbox_tx {
    ($conn:ty) => {
        impl OutboxTx for $conn {
            async fn enqueue_in(&mut self, now: Millis, msg: &Outgoing) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar(
                    "INSERT INTO outbox (created_ms, channel, category, recipient, subject, reply_to, body, next_attempt_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $1) RETURNING id",
                )
                .bind(now)
                .bind(msg.channel.as_str())
                .bind(&msg.category)
                .bind(&msg.recipient)
                .bind(&msg.subject)
                .bind(&msg.reply_to)
                .bind(&msg.body)
                .fetch_one(&mut *self)
                .await
            }
        }
    };
}

impl_outbox_tx!(sqlx::SqliteConnection);
impl_outbox_tx!(sqlx::PgConnection);

/// Queues a message; returns its id.
pub async fn enqueue(db: &Db, clock: &dyn Clock, msg: &Outgoing) -> Result<i64, StoreError> {
    let now = clock.now_ms();
    Ok(crate::with_pool!(db, p => {
        let mut conn = p.acquire().await?;
        conn.enqueue_in(now, msg).await?
    }))
}

/// Claims up to `limit` due messages for `policy.lease_ms`, under a new lease owner.
pub async fn claim(db: &Db, clock: &dyn Clock, policy: &RetryPolicy, limit: i64) -> Result<Vec<Claimed>, StoreError> {
    claim_as(db, clock, policy, limit, &crate::random_hex(12)).await
}

/// Claims up to `limit` due messages for `policy.lease_ms` on behalf of `owner`.
pub async fn claim_as(
    db: &Db,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    limit: i64,
    owner: &str,
) -> Result<Vec<Claimed>, StoreError> {
    let now = clock.now_ms();
    let lease_until = now + policy.lease_ms;
    let rows: Vec<ClaimedRow> = match db.pool() {
        Pool::Sqlite(p) => {
            // The write lock first: two claims run one after the other.
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
            let rows = sqlx::query_as(
                "UPDATE outbox SET locked_until_ms = $1, lease_owner = $4 WHERE id IN ( \
                   SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 \
                   AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY id LIMIT $3) \
                 RETURNING id, created_ms, channel, category, recipient, subject, reply_to, body, attempts, account_id, message_ref",
            )
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .bind(owner)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows
        }
        Pool::Postgres(p) => {
            // The due rows are locked once, in a CTE (a subquery under IN may be run again by
            // the planner), skipping those another claim is taking; a row whose lease was just
            // renewed elsewhere is re-checked against the condition once its lock is free.
            sqlx::query_as(
                "WITH due AS ( \
                   SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 \
                   AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY id LIMIT $3 \
                   FOR UPDATE SKIP LOCKED) \
                 UPDATE outbox o SET locked_until_ms = $1, lease_owner = $4 FROM due WHERE o.id = due.id \
                 RETURNING o.id, o.created_ms, o.channel, o.category, o.recipient, o.subject, o.reply_to, o.body, \
                   o.attempts, o.account_id, o.message_ref",
            )
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .bind(owner)
            .fetch_all(p)
            .await?
        }
    };
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(|r| Claimed {
            id: r.id,
            lease_owner: owner.to_string(),
            created_ms: r.created_ms,
            attempts: r.attempts,
            origin: match (r.account_id, r.message_ref) {
                (Some(account_id), Some(message_id)) => Some(Origin { account_id, message_id }),
                _ => None,
            },
            message: Outgoing {
                channel: Channel::parse(&r.channel),
                category: r.category,
                recipient: r.recipient,
                subject: r.subject,
                body: r.body.unwrap_or_default(),
                reply_to: r.reply_to,
            },
        })
        .collect();
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// The condition of every update by a lease holder: the row is still pending, theirs, and
/// their lease has not run out (`$now`, `$owner` being the last two parameters given).
macro_rules! held {
    ($now:literal, $owner:literal) => {
        concat!(" AND status = 'pending' AND lease_owner = $", $owner, " AND locked_until_ms > $", $now)
    };
}

/// Extends `claimed`'s lease to `policy.lease_ms` from now, during a long send. Whether it is
/// still held: `false` once it ran out (another worker may have the row).
pub async fn renew(db: &Db, clock: &dyn Clock, policy: &RetryPolicy, claimed: &Claimed) -> Result<bool, StoreError> {
    let now = clock.now_ms();
    let n = crate::with_pool!(db, p => sqlx::query(concat!(
        "UPDATE outbox SET locked_until_ms = $1 WHERE id = $2", held!("3", "4")))
        .bind(now + policy.lease_ms)
        .bind(claimed.id)
        .bind(now)
        .bind(&claimed.lease_owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Marks a message delivered and erases its body, if `claimed`'s lease is still held. Whether
/// it was: a worker whose lease ran out marks nothing.
pub async fn mark_sent(db: &Db, clock: &dyn Clock, claimed: &Claimed) -> Result<bool, StoreError> {
    let n = crate::with_pool!(db, p => sqlx::query(concat!(
        "UPDATE outbox SET status = 'sent', sent_ms = $1, body = NULL, reply_to = NULL, locked_until_ms = NULL, \
         lease_owner = NULL, attempts = attempts + 1, last_error = NULL WHERE id = $2", held!("1", "3")))
        .bind(clock.now_ms())
        .bind(claimed.id)
        .bind(&claimed.lease_owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// What recording a failed attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Due again later.
    Retry,
    /// Failed for good.
    GaveUp,
    /// Nothing: the lease had run out.
    LeaseLost,
}

/// Whether a failed attempt is the last: on a permanent error, after `policy.max_attempts`, or
/// for secure mail once `policy.mss_expiry_ms` has passed since it was sent.
pub fn gives_up(policy: &RetryPolicy, claimed: &Claimed, permanent: bool, now: Millis) -> bool {
    permanent
        || match claimed.message.channel {
            Channel::Mss => now - claimed.created_ms >= policy.mss_expiry_ms,
            _ => claimed.attempts + 1 >= policy.max_attempts,
        }
}

/// Records a failed attempt: schedules a retry, or gives up (see [`gives_up`]), if `claimed`'s
/// lease is still held.
pub async fn mark_attempt_failed(
    db: &Db,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    claimed: &Claimed,
    error: &TransportError,
    permanent: bool,
) -> Result<Attempt, StoreError> {
    let attempts = claimed.attempts + 1;
    let now = clock.now_ms();
    let give_up = gives_up(policy, claimed, permanent, now);
    let next = now + policy.delay_after(attempts);
    let status = if give_up { "failed" } else { "pending" };
    // The error text comes from the transport (status codes, server replies): no message content.
    let reason: String = error.to_string().chars().take(500).collect();
    let n = crate::with_pool!(db, p => sqlx::query(concat!(
        "UPDATE outbox SET status = $1, attempts = $2, next_attempt_ms = $3, locked_until_ms = NULL, lease_owner = NULL, \
         last_error = $4, body = CASE WHEN $1 = 'failed' THEN NULL ELSE body END WHERE id = $5", held!("6", "7")))
        .bind(status)
        .bind(attempts)
        .bind(next)
        .bind(&reason)
        .bind(claimed.id)
        .bind(now)
        .bind(&claimed.lease_owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(match (n, give_up) {
        (0, _) => Attempt::LeaseLost,
        (_, true) => Attempt::GaveUp,
        (_, false) => Attempt::Retry,
    })
}

pub async fn stats(db: &Db) -> Result<QueueStats, StoreError> {
    let rows: Vec<(String, i64)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT status, COUNT(*) FROM outbox GROUP BY status").fetch_all(p).await?);
    let mut s = QueueStats::default();
    for (status, n) in rows {
        match status.as_str() {
            "pending" => s.pending = n,
            "sent" => s.sent = n,
            _ => s.failed = n,
        }
    }
    Ok(s)
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends one claimed message, renewing its lease every third of `policy.lease_ms` while the
/// transport works (a slow relay must not let another worker take the row meanwhile).
async fn send_renewing(
    db: &Db,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    transport: &Transport,
    item: &Claimed,
) -> Result<(), TransportError> {
    let send = transport.send(item.id, clock.now_ms(), &item.message);
    tokio::pin!(send);
    let every = std::time::Duration::from_millis((policy.lease_ms / 3).max(1) as u64);
    loop {
        tokio::select! {
            result = &mut send => return result,
            _ = tokio::time::sleep(every) => match renew(db, clock, policy, item).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(outbox_id = item.id, "outbox lease lost while sending"),
                Err(e) => tracing::warn!(outbox_id = item.id, error = %e, "outbox lease not renewed"),
            },
        }
    }
}

/// One pass of the worker: claim what is due (under a lease owner of its own), send it, record
/// the outcome in the queue and in the audit trail (category and id only). An outcome is
/// recorded only while the pass still holds the row's lease.
pub async fn run_once(
    db: &Db,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    transport: &Transport,
    batch: i64,
) -> Result<PassReport, StoreError> {
    use crate::audit::{self, Actor, AuditEvent, Outcome};
    let mut report = PassReport::default();
    for item in claim(db, clock, policy, batch).await? {
        let object = format!("outbox:{}", item.id);
        match send_renewing(db, clock, policy, transport, &item).await {
            Ok(()) => {
                if !mark_sent(db, clock, &item).await? {
                    tracing::warn!(outbox_id = item.id, "outbox lease ran out before the delivery was recorded");
                    continue;
                }
                report.sent += 1;
                let ev =
                    AuditEvent::new(Actor::System, format!("outbox.sent.{}", item.message.category), Outcome::Success)
                        .object(object);
                audit::record(db, clock, ev).await;
            }
            Err(e) => {
                let permanent = e.is_permanent();
                tracing::warn!(outbox_id = item.id, attempt = item.attempts + 1, permanent, error = %e, "outbox delivery failed");
                // A secure message given up on is reported to its sender first: should recording
                // the failure then fail, the report may come twice, but it cannot be lost.
                if let (Channel::Mss, Some(origin)) = (item.message.channel, item.origin) {
                    if gives_up(policy, &item, permanent, clock.now_ms()) && renew(db, clock, policy, &item).await? {
                        crate::mail::report_failure(db, clock, origin, &item.message.recipient, &e, permanent).await?;
                    }
                }
                let attempt = mark_attempt_failed(db, clock, policy, &item, &e, permanent).await?;
                if attempt == Attempt::LeaseLost {
                    tracing::warn!(outbox_id = item.id, "outbox lease ran out before the failure was recorded");
                } else if attempt == Attempt::GaveUp {
                    report.failed += 1;
                    let ev = AuditEvent::new(
                        Actor::System,
                        format!("outbox.failed.{}", item.message.category),
                        Outcome::Failure(e.code().into()),
                    )
                    .object(object);
                    audit::record(db, clock, ev).await;
                } else {
                    report.retried += 1;
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
