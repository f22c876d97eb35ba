//! The one durable outbox for messages to people outside Hygie: one-time codes, notifications,
//! copies of contact requests. Producers [`enqueue`] rows in the database; a worker
//! ([`run_once`], driven by the server) claims due rows, hands them to a [`Transport`], and
//! retries with backoff. Claims are leases in the database (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so several Hygie instances can drain one outbox without sending anything twice.
//!
//! A message body is kept only until it is delivered or given up on: then it is erased from the
//! database.

mod transport;

pub use transport::{
    smtp_mailer, DevOutbox, DevOutboxEntry, EmailTransport, MssTransport, SmsGateway, SmsTransport, SmtpSecurity,
    SmtpSettings, Transport, TransportError,
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

/// Queues a message; returns its id.
pub async fn enqueue(db: &Db, clock: &dyn Clock, msg: &Outgoing) -> Result<i64, StoreError> {
    let now = clock.now_ms();
    let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO outbox (created_ms, channel, category, recipient, subject, reply_to, body, next_attempt_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $1) RETURNING id")
        .bind(now)
        .bind(msg.channel.as_str())
        .bind(&msg.category)
        .bind(&msg.recipient)
        .bind(&msg.subject)
        .bind(&msg.reply_to)
        .bind(&msg.body)
        .fetch_one(p)
        .await?);
    Ok(id)
}

/// Claims up to `limit` due messages for `policy.lease_ms`.
pub async fn claim(db: &Db, clock: &dyn Clock, policy: &RetryPolicy, limit: i64) -> Result<Vec<Claimed>, StoreError> {
    let now = clock.now_ms();
    let lease_until = now + policy.lease_ms;
    let rows: Vec<ClaimedRow> = match db.pool() {
        Pool::Sqlite(p) => {
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
            let rows = sqlx::query_as(
                "UPDATE outbox SET locked_until_ms = $1 WHERE id IN ( \
                   SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 \
                   AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY id LIMIT $3) \
                 RETURNING id, created_ms, channel, category, recipient, subject, reply_to, body, attempts, account_id, message_ref",
            )
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows
        }
        Pool::Postgres(p) => {
            sqlx::query_as(
                "UPDATE outbox SET locked_until_ms = $1 WHERE id IN ( \
                   SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 \
                   AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY id LIMIT $3 \
                   FOR UPDATE SKIP LOCKED) \
                 RETURNING id, created_ms, channel, category, recipient, subject, reply_to, body, attempts, account_id, message_ref",
            )
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?
        }
    };
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(|r| Claimed {
            id: r.id,
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

/// Marks a message delivered and erases its body.
pub async fn mark_sent(db: &Db, clock: &dyn Clock, id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_ms = $1, body = NULL, reply_to = NULL, locked_until_ms = NULL, \
         attempts = attempts + 1, last_error = NULL WHERE id = $2")
        .bind(clock.now_ms())
        .bind(id)
        .execute(p)
        .await?; });
    Ok(())
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

/// Records a failed attempt: schedules a retry, or gives up (see [`gives_up`]). Returns whether
/// the message is now failed for good.
pub async fn mark_attempt_failed(
    db: &Db,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    claimed: &Claimed,
    error: &TransportError,
    permanent: bool,
) -> Result<bool, StoreError> {
    let attempts = claimed.attempts + 1;
    let now = clock.now_ms();
    let give_up = gives_up(policy, claimed, permanent, now);
    let next = now + policy.delay_after(attempts);
    let status = if give_up { "failed" } else { "pending" };
    // The error text comes from the transport (status codes, server replies): no message content.
    let reason: String = error.to_string().chars().take(500).collect();
    crate::with_pool!(db, p => { sqlx::query(
        "UPDATE outbox SET status = $1, attempts = $2, next_attempt_ms = $3, locked_until_ms = NULL, \
         last_error = $4, body = CASE WHEN $1 = 'failed' THEN NULL ELSE body END WHERE id = $5")
        .bind(status)
        .bind(attempts)
        .bind(next)
        .bind(&reason)
        .bind(claimed.id)
        .execute(p)
        .await?; });
    Ok(give_up)
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

/// One pass of the worker: claim what is due, send it, record the outcome in the queue and in
/// the audit trail (category and id only).
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
        match transport.send(item.id, clock.now_ms(), &item.message).await {
            Ok(()) => {
                mark_sent(db, clock, item.id).await?;
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
                    if gives_up(policy, &item, permanent, clock.now_ms()) {
                        crate::mail::report_failure(db, clock, origin, &item.message.recipient, &e, permanent).await?;
                    }
                }
                let gave_up = mark_attempt_failed(db, clock, policy, &item, &e, permanent).await?;
                if gave_up {
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
