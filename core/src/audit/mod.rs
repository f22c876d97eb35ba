//! The audit trail: an append-only, keyed hash chain of every action.
//!
//! Each record carries the hash of the previous one (`prev_hash`) and its own hash over its
//! fields and `prev_hash`: an HMAC-SHA256 under the [`AuditKey`], which lives outside the
//! database, so write access to the database alone cannot forge or rebuild the chain. Editing,
//! deleting or reordering records breaks the chain, and [`verify`] names the first record where
//! it breaks. The newest sequence number and hash are also kept in `audit_head`, updated in the
//! same transaction, so that cutting off the end of the chain is detected as well.
//!
//! An action and its record commit together: a verb writes its change and calls
//! [`AuditTx::append_audit`] last, inside the same transaction. If the record cannot be
//! written, the transaction rolls back and the action fails.
//!
//! Records never hold message content, codes, tokens or passwords: only who, what, on which
//! object, and how it ended.

mod key;

use std::future::Future;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use key::{AuditKey, KeyError};

use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A visitor who is not signed in (the IP is recorded beside it).
    Anonymous,
    /// A signed-in account, by its id.
    Account(String),
    /// The operator, through the command line (the OS user name).
    Operator(String),
    /// Hygie itself (workers, start-up).
    System,
    /// Another mail server handing Hygie a message, by the channel it used (`smtp`, `lmtp`;
    /// its address is recorded beside it).
    Peer(String),
}

impl Actor {
    pub fn as_text(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".into(),
            Actor::Account(id) => format!("account:{id}"),
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::System => "system".into(),
            Actor::Peer(channel) => format!("peer:{channel}"),
        }
    }
}

/// How the action ended. Failure reasons are short codes, never user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure(String),
    Denied(String),
}

impl Outcome {
    pub fn as_text(&self) -> String {
        match self {
            Outcome::Success => "success".into(),
            Outcome::Failure(r) => format!("failure:{r}"),
            Outcome::Denied(r) => format!("denied:{r}"),
        }
    }
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Actor,
    pub ip: Option<String>,
    pub action: String,
    pub object: Option<String>,
    pub outcome: Outcome,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: impl Into<String>, outcome: Outcome) -> Self {
        Self { actor, ip: None, action: action.into(), object: None, outcome }
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub object: Option<String>,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Feeds a record's fields, length-prefixed so that no two different records serialise alike.
#[allow(clippy::too_many_arguments)]
fn feed(
    mut update: impl FnMut(&[u8]),
    version: &str,
    prev_hash: &str,
    seq: i64,
    at_ms: Millis,
    actor: &str,
    ip: Option<&str>,
    action: &str,
    object: Option<&str>,
    outcome: &str,
) {
    let mut field = |s: Option<&str>| match s {
        Some(s) => {
            update(&(s.len() as u64).to_be_bytes());
            update(s.as_bytes());
        }
        None => update(&u64::MAX.to_be_bytes()),
    };
    field(Some(version));
    field(Some(prev_hash));
    field(Some(&seq.to_string()));
    field(Some(&at_ms.to_string()));
    field(Some(actor));
    field(ip);
    field(Some(action));
    field(object);
    field(Some(outcome));
}

/// The unkeyed hash of records written before the trail had a key: SHA-256 over the fields.
#[allow(clippy::too_many_arguments)]
pub fn record_hash(
    prev_hash: &str,
    seq: i64,
    at_ms: Millis,
    actor: &str,
    ip: Option<&str>,
    action: &str,
    object: Option<&str>,
    outcome: &str,
) -> String {
    let mut h = Sha256::new();
    feed(|b| h.update(b), "hygie-audit-v1", prev_hash, seq, at_ms, actor, ip, action, object, outcome);
    hex::encode(h.finalize())
}

/// The hash of a record: HMAC-SHA256 under `key` over the fields, or the unkeyed hash for a
/// record older than the key.
#[allow(clippy::too_many_arguments)]
pub fn sealed_hash(
    key: &AuditKey,
    prev_hash: &str,
    seq: i64,
    at_ms: Millis,
    actor: &str,
    ip: Option<&str>,
    action: &str,
    object: Option<&str>,
    outcome: &str,
) -> String {
    if seq < key.from_seq() {
        return record_hash(prev_hash, seq, at_ms, actor, ip, action, object, outcome);
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.secret()) else {
        unreachable!("HMAC takes keys of any length")
    };
    feed(|b| mac.update(b), "hygie-audit-v2", prev_hash, seq, at_ms, actor, ip, action, object, outcome);
    hex::encode(mac.finalize().into_bytes())
}

impl AuditRecord {
    fn expected_hash(&self, key: &AuditKey) -> String {
        sealed_hash(
            key,
            &self.prev_hash,
            self.seq,
            self.at_ms,
            &self.actor,
            self.ip.as_deref(),
            &self.action,
            self.object.as_deref(),
            &self.outcome,
        )
    }
}

/// Appends to the audit chain inside a write transaction that the caller commits: the record
/// commits or rolls back with the change it records. Implemented for both engines' connections,
/// so a verb calls it on `&mut *tx` in either arm of [`crate::with_pool!`].
///
/// Call it last before commit: on PostgreSQL it locks the chain's head row until the transaction
/// ends (appends from every instance are serialised there), and on SQLite the transaction must
/// be a write transaction from the start ([`BeginWrite::begin_write`]).
pub trait AuditTx {
    fn append_audit(
        &mut self,
        key: &AuditKey,
        at_ms: Millis,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<i64, sqlx::Error>> + Send;

    /// Appends `events` in order, reading and moving the chain's head once for all of them (a
    /// batch of deliveries): the same records as one [`AuditTx::append_audit`] each, in fewer
    /// statements under the head's lock. Returns the last one's sequence number (0 for none).
    fn append_audits(
        &mut self,
        key: &AuditKey,
        at_ms: Millis,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<i64, sqlx::Error>> + Send;
}

macro_rules! impl_audit_tx {
    ($conn:ty, $head_sql:expr) => {
        impl AuditTx for $conn {
            async fn append_audit(
                &mut self,
                key: &AuditKey,
                at_ms: Millis,
                event: &AuditEvent,
            ) -> Result<i64, sqlx::Error> {
                self.append_audits(key, at_ms, std::slice::from_ref(event)).await
            }

            async fn append_audits(
                &mut self,
                key: &AuditKey,
                at_ms: Millis,
                events: &[AuditEvent],
            ) -> Result<i64, sqlx::Error> {
                if events.is_empty() {
                    return Ok(0);
                }
                let (mut seq, mut hash): (i64, String) = sqlx::query_as($head_sql).fetch_one(&mut *self).await?;
                for event in events {
                    let actor = event.actor.as_text();
                    let outcome = event.outcome.as_text();
                    let prev = std::mem::take(&mut hash);
                    seq += 1;
                    hash = sealed_hash(
                        key,
                        &prev,
                        seq,
                        at_ms,
                        &actor,
                        event.ip.as_deref(),
                        &event.action,
                        event.object.as_deref(),
                        &outcome,
                    );
                    sqlx::query(
                        "INSERT INTO audit_log (seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(seq)
                    .bind(at_ms)
                    .bind(&actor)
                    .bind(&event.ip)
                    .bind(&event.action)
                    .bind(&event.object)
                    .bind(&outcome)
                    .bind(&prev)
                    .bind(&hash)
                    .execute(&mut *self)
                    .await?;
                }
                sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(&hash)
                    .execute(&mut *self)
                    .await?;
                Ok(seq)
            }
        }
    };
}

impl_audit_tx!(sqlx::SqliteConnection, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
impl_audit_tx!(sqlx::PgConnection, "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE");

/// Appends `event` on its own (an action whose only effect is its record: a refusal, a read,
/// an operator command) and returns its sequence number.
pub async fn append(db: &Db, clock: &dyn Clock, event: AuditEvent) -> Result<i64, StoreError> {
    let key = db.audit_key().clone();
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let seq = tx.append_audit(&key, clock.now_ms(), &event).await?;
        tx.commit().await?;
        seq
    }))
}

/// Records an event, logging (without content) if the trail cannot be written. Use where the
/// action itself already succeeded and must not be reported as failed; prefer [`append`] where
/// the caller can refuse the action instead.
pub async fn record(db: &Db, clock: &dyn Clock, event: AuditEvent) {
    let action = event.action.clone();
    if let Err(e) = append(db, clock, event).await {
        tracing::error!(action = %action, error = %e, "audit trail write failed");
    }
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The sequence number of the first record that does not fit.
    pub seq: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// A record's fields no longer match its hash (it was edited).
    HashMismatch,
    /// A record does not point to the hash of the record before it (one was removed, inserted
    /// or moved).
    ChainMismatch,
    /// A sequence number is missing (records were deleted).
    MissingRecord,
    /// The chain ends before the recorded head (its last records were deleted).
    TruncatedEnd,
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakReason::HashMismatch => "its content does not match its hash (edited)",
            BreakReason::ChainMismatch => "it does not follow the previous record (removed, inserted or reordered)",
            BreakReason::MissingRecord => "the record with this number is missing (deleted)",
            BreakReason::TruncatedEnd => "the chain ends before its recorded head (last records deleted)",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: i64,
    pub first_break: Option<Break>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks the whole chain in order, in pages, and reports the first break. Records are checked
/// with the store's key (from the key's first record on).
pub async fn verify(db: &Db) -> Result<VerifyReport, StoreError> {
    let key = db.audit_key().clone();
    const PAGE: i64 = 2_000;
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut after = 0i64;
    let mut count = 0i64;
    loop {
        let page: Vec<AuditRecord> = crate::with_pool!(db, p => sqlx::query_as(
            "SELECT seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(PAGE)
            .fetch_all(p)
            .await?);
        if page.is_empty() {
            break;
        }
        for r in &page {
            count += 1;
            if r.seq != expected_seq {
                return Ok(broken(count, expected_seq, BreakReason::MissingRecord));
            }
            if r.prev_hash != prev_hash {
                return Ok(broken(count, r.seq, BreakReason::ChainMismatch));
            }
            if r.expected_hash(&key) != r.hash {
                return Ok(broken(count, r.seq, BreakReason::HashMismatch));
            }
            prev_hash = r.hash.clone();
            expected_seq += 1;
            after = r.seq;
        }
    }
    let (head_seq, head_hash): (i64, String) = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetch_one(p).await?);
    if head_seq != expected_seq - 1 || head_hash != prev_hash {
        return Ok(broken(count, expected_seq, BreakReason::TruncatedEnd));
    }
    Ok(VerifyReport { records: count, first_break: None })
}

fn broken(records: i64, seq: i64, reason: BreakReason) -> VerifyReport {
    VerifyReport { records, first_break: Some(Break { seq, reason }) }
}

/// The chain's head: the last sequence number and its hash.
pub async fn head(db: &Db) -> Result<(i64, String), StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
        .fetch_one(p)
        .await?))
}

/// `text` made safe to print on a terminal: control characters (escape sequences, carriage
/// returns, bidi overrides) are shown as `\u{…}` instead of acting on the operator's screen.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let format_char = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            | '\u{061c}' | '\u{feff}');
        if c.is_control() || format_char || c == '\\' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The newest records, newest first (for the operator's `hygie audit tail`).
pub async fn latest(db: &Db, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash \
         FROM audit_log ORDER BY seq DESC LIMIT $1")
        .bind(limit)
        .fetch_all(p)
        .await?))
}

#[cfg(test)]
mod tests;
