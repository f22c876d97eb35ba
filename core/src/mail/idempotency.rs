//! Sends made once per key (the Web Services API's `Idempotency-Key`): the key and the answer
//! are stored in the send's own transaction (migration 0031), so a retry finds the first send
//! and gives its answer, and two retries at once cannot both commit a send: the second's
//! transaction fails on the key and rolls its send back.

use super::{Draft, Mailbox, SendError, Sent, SubmitError};
use crate::clock::{Clock, Millis};
use crate::store::{Db, StoreError};

/// How long a key is remembered.
pub const KEY_TTL_MS: Millis = 7 * 24 * 3_600_000;
/// The longest key taken.
pub const KEY_MAX_LEN: usize = 200;

/// A client's key for one send, with the fingerprint (a hash) of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// What a send made once per key gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once {
    /// Sent now.
    Sent(Sent),
    /// Sent before with this key and the same request: the Sent copy's id then.
    Replayed { sent_id: i64 },
    /// The key was used before for another request: nothing sent.
    KeyReused,
}

/// The Sent copy recorded under `key`, with its request's fingerprint.
async fn recorded(mailbox: &Mailbox<'_>, key: &str) -> Result<Option<(String, i64)>, StoreError> {
    let (db, clock) = mailbox.store();
    let since = clock.now_ms() - KEY_TTL_MS;
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT fingerprint, sent_id FROM api_idempotency WHERE account_id = $1 AND idem_key = $2 AND created_ms > $3")
        .bind(mailbox.holder().account_id).bind(key).bind(since).fetch_optional(p).await?))
}

fn answer(key: &IdempotencyKey, found: (String, i64)) -> Once {
    if found.0 == key.fingerprint {
        Once::Replayed { sent_id: found.1 }
    } else {
        Once::KeyReused
    }
}

/// Housekeeping: forgets every holder's keys past [`KEY_TTL_MS`] (a holder's own are also
/// forgotten at their next keyed send).
pub async fn purge_expired(db: &Db, clock: &dyn Clock) -> Result<u64, StoreError> {
    let before = clock.now_ms() - KEY_TTL_MS;
    Ok(crate::with_pool!(db, p => sqlx::query("DELETE FROM api_idempotency WHERE created_ms <= $1")
        .bind(before)
        .execute(p)
        .await?
        .rows_affected()))
}

fn is_key_taken(e: &SendError) -> bool {
    matches!(e, SendError::Store(StoreError::Query(q))
        if q.as_database_error().is_some_and(|d| d.is_unique_violation()))
}

/// Inside a send's transaction: records `key` for the Sent copy `sent_id` (and forgets the
/// holder's keys past their time). Fails on a key already recorded, which rolls the send back.
macro_rules! record_key_in {
    ($tx:expr, $key:expr, $account_id:expr, $sent_id:expr, $now:expr) => {
        if let Some(k) = $key {
            sqlx::query("DELETE FROM api_idempotency WHERE account_id = $1 AND created_ms <= $2")
                .bind($account_id)
                .bind($now - $crate::mail::idempotency::KEY_TTL_MS)
                .execute(&mut *$tx)
                .await?;
            sqlx::query(
                "INSERT INTO api_idempotency (account_id, idem_key, fingerprint, sent_id, created_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind($account_id)
            .bind(&k.key)
            .bind(&k.fingerprint)
            .bind($sent_id)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    };
}
pub(crate) use record_key_in;

impl Mailbox<'_> {
    /// [`Mailbox::send`], once per `key`: a retry with the same key and request gives the first
    /// send's id and sends nothing (nor counts against the hourly limit).
    pub async fn send_once(&self, key: &IdempotencyKey, draft: &Draft) -> Result<Once, SendError> {
        if let Some(found) = recorded(self, &key.key).await? {
            return Ok(answer(key, found));
        }
        match self.send_keyed(draft, Some(key)).await {
            Ok(sent) => Ok(Once::Sent(sent)),
            Err(e) if is_key_taken(&e) => match recorded(self, &key.key).await? {
                Some(found) => Ok(answer(key, found)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// [`Mailbox::submit`], once per `key`, as [`Mailbox::send_once`].
    pub async fn submit_once(
        &self,
        key: &IdempotencyKey,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<Once, SubmitError> {
        if let Some(found) = recorded(self, &key.key).await? {
            return Ok(answer(key, found));
        }
        match self.submit_keyed(recipients, raw, Some(key)).await {
            Ok(sent) => Ok(Once::Sent(sent)),
            Err(SubmitError::Send(e)) if is_key_taken(&e) => match recorded(self, &key.key).await? {
                Some(found) => Ok(answer(key, found)),
                None => Err(SubmitError::Send(e)),
            },
            Err(e) => Err(e),
        }
    }
}
