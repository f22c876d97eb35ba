//! The holder's terminals ("Mes terminaux"): what proves a sign-in besides the password. Here,
//! the authenticator app (TOTP, RFC 6238): a 160-bit secret from the OS random source,
//! shown once as a QR code and as a key to type, sealed at rest under a key kept outside the
//! database and bound to its account; a code is accepted once (the matched time step is kept
//! and a step at or below it refused, atomically), with one step of clock skew either way.
//! Passkeys and security keys are in [`super::passkeys`].
//!
//! Adding or removing a terminal needs a sign-in less than five minutes old, is recorded and
//! tells the holder at their notification address, in the same transaction as the change.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::accounts::settings::{require_fresh, SettingsError};
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::notify;
use crate::outbox::OutboxTx;
use crate::store::{BeginWrite, Db, StoreError};

/// Longest name a holder may give a terminal.
pub const NAME_MAX: usize = 60;
/// An enrolment must be confirmed with a first code within this time.
pub const ENROL_TTL_MS: Millis = 10 * 60_000;
/// Terminals one account may have (pending enrolments included).
pub const MAX_TERMINALS: i64 = 10;
const STEP_SECS: u64 = 30;

/// One of the holder's terminals, as "Mes terminaux" lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Terminal {
    pub id: i64,
    /// `totp` (an authenticator app) or `passkey` (a passkey or security key).
    pub kind: String,
    pub name: String,
    pub created_ms: Millis,
    pub last_used_ms: Option<Millis>,
    /// When a passkey's signature counter went backwards (it may have been copied): it proves
    /// nothing since.
    pub flagged_ms: Option<Millis>,
    /// A security key that does not verify its holder: after the password only.
    pub second_factor_only: bool,
}

/// What the holder needs to add an authenticator app: the QR code (inline SVG), the same as
/// an `otpauth://` address, and the key to type by hand. Shown once, never stored in clear.
pub struct TotpEnrolment {
    pub terminal_id: i64,
    pub qr_svg: String,
    pub otpauth_url: Zeroizing<String>,
    /// Base32, in groups of four for reading.
    pub manual_key: Zeroizing<String>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment").field("terminal_id", &self.terminal_id).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The holder's sign-in is more than five minutes old: type the password again.
    #[error("reauthentication required")]
    ReauthRequired,
    #[error("a name is required")]
    NameRequired,
    #[error("name too long")]
    NameTooLong,
    #[error("too many terminals")]
    TooMany,
    /// No such terminal of this holder (or its enrolment expired).
    #[error("terminal not found")]
    NotFound,
    /// The key's answer did not prove what it must (cancelled, wrong site, bad signature).
    #[error("the key's answer was refused")]
    KeyRefused,
    /// This key is already registered, to this account or another.
    #[error("key already registered")]
    KeyTaken,
    #[error("wrong code")]
    WrongCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TerminalError {
    fn from(e: sqlx::Error) -> Self {
        TerminalError::Store(StoreError::Query(e))
    }
}

impl From<SettingsError> for TerminalError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Store(e) => TerminalError::Store(e),
            _ => TerminalError::ReauthRequired,
        }
    }
}

/// What a code typed at sign-in proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    Accepted {
        terminal_id: i64,
    },
    /// A code of a time step already used: someone may have seen it.
    Replayed {
        terminal_id: i64,
    },
    Wrong,
}

// ---- Sealing -----------------------------------------------------------------------------

fn cipher(db: &Db) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(db.audit_key().subkey("terminals").as_slice().into())
}

/// Binds a sealed secret to its account: a row copied to another account does not open.
fn aad(account_id: i64) -> Vec<u8> {
    format!("hygie terminal of account {account_id}").into_bytes()
}

/// The nonce (24 bytes) then the ciphertext.
fn seal(db: &Db, account_id: i64, secret: &[u8]) -> Vec<u8> {
    use rand::RngCore;
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(db)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &aad(account_id) })
        .expect("sealing does not fail for small inputs");
    [nonce.as_slice(), &sealed].concat()
}

fn unseal(db: &Db, account_id: i64, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 24 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(24);
    cipher(db).decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad(account_id) }).ok().map(Zeroizing::new)
}

fn totp(secret: &[u8], account_name: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_step_duration(STEP_SECS)
        .with_skew(1)
        .with_issuer(Some("Hygie"))
        .with_account_name(account_name)
        .build()
        .ok()
}

pub(crate) fn qr_svg(text: &str) -> String {
    use qrcode::render::svg;
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    }
}

/// Refuses a new terminal when the account has [`MAX_TERMINALS`] (pending enrolments included).
pub(crate) async fn check_room(db: &Db, account_id: i64, now: Millis) -> Result<(), TerminalError> {
    let count: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND removed_ms IS NULL \
         AND (confirmed_ms IS NOT NULL OR created_ms > $2)")
        .bind(account_id).bind(now - ENROL_TTL_MS).fetch_one(p).await?);
    if count >= MAX_TERMINALS {
        return Err(TerminalError::TooMany);
    }
    Ok(())
}

pub(crate) fn clean_name(name: &str) -> Result<String, TerminalError> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    if name.is_empty() {
        return Err(TerminalError::NameRequired);
    }
    if name.chars().count() > NAME_MAX {
        return Err(TerminalError::NameTooLong);
    }
    Ok(name)
}

// ---- Verbs -------------------------------------------------------------------------------

/// The holder's terminals in use, oldest first.
pub async fn list(db: &Db, account_id: i64) -> Result<Vec<Terminal>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, kind, name, created_ms, last_used_ms, flagged_ms, second_factor_only FROM terminals \
         WHERE account_id = $1 AND confirmed_ms IS NOT NULL AND removed_ms IS NULL ORDER BY id")
        .bind(account_id).fetch_all(p).await?))
}

/// Whether the account has any terminal (passkey or authenticator app): then the notification
/// mailbox alone cannot reset its password.
pub async fn has_any(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND confirmed_ms IS NOT NULL AND removed_ms IS NULL")
        .bind(account_id).fetch_one(p).await?);
    Ok(n > 0)
}

/// Whether the account has an authenticator app in use (sign-in then asks for its code first).
pub async fn has_totp(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND kind = 'totp' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL")
        .bind(account_id).fetch_one(p).await?);
    Ok(n > 0)
}

/// Starts adding an authenticator app named `name`: a new secret, sealed and kept unconfirmed
/// until the holder types a first code ([`confirm_totp`]) within ten minutes.
pub async fn start_totp(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    name: &str,
) -> Result<TotpEnrolment, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let name = clean_name(name)?;
    check_room(db, holder.account_id, now).await?;
    let secret = {
        use rand::RngCore;
        let mut s = Zeroizing::new([0u8; 20]);
        rand::rngs::OsRng.fill_bytes(s.as_mut());
        s
    };
    let t = totp(secret.as_slice(), &holder.address).ok_or(TerminalError::NotFound)?;
    let url = Zeroizing::new(t.to_url().map_err(|_| TerminalError::NotFound)?);
    let base32 = t.secret().to_base32();
    let manual_key = Zeroizing::new(
        base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" "),
    );
    let sealed = seal(db, holder.account_id, secret.as_slice());
    let id: i64 = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO terminals (account_id, kind, name, sealed_secret, created_ms) \
             VALUES ($1, 'totp', $2, $3, $4) RETURNING id")
            .bind(holder.account_id).bind(&name).bind(&sealed).bind(now).fetch_one(&mut *tx).await?;
        let event = holder.event("terminal.totp.start", Outcome::Success).object(format!("terminal:{id}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        id
    });
    Ok(TotpEnrolment { terminal_id: id, qr_svg: qr_svg(&url), otpauth_url: url, manual_key })
}

/// Confirms an authenticator app with the first code it shows: from now on it proves sign-ins.
/// A notice goes to the notification address. With the holder's first terminal come ten
/// recovery codes, returned once.
pub async fn confirm_totp(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    terminal_id: i64,
    code: &str,
) -> Result<Option<Vec<Zeroizing<String>>>, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let row: Option<(Vec<u8>, String)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT sealed_secret, name FROM terminals WHERE id = $1 AND account_id = $2 AND kind = 'totp' \
         AND confirmed_ms IS NULL AND removed_ms IS NULL AND created_ms > $3")
        .bind(terminal_id).bind(holder.account_id).bind(now - ENROL_TTL_MS).fetch_optional(p).await?);
    let Some((sealed, name)) = row else { return Err(TerminalError::NotFound) };
    let step = unseal(db, holder.account_id, &sealed)
        .and_then(|s| totp(&s, &holder.address))
        .and_then(|t| t.check(code.trim(), (now / 1000) as u64));
    let object = format!("terminal:{terminal_id} kind:totp");
    let Some(step) = step else {
        audit::append(db, clock, holder.event("terminal.add", Outcome::Failure("wrong_code".into())).object(object))
            .await?;
        return Err(TerminalError::WrongCode);
    };
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(TerminalError::NotFound)?;
    let notice = notify::terminal_added(&account.notification_email, &account.address, &name);
    let first = list(db, holder.account_id).await?.is_empty();
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query(
            "UPDATE terminals SET confirmed_ms = $1, last_step = $2, last_used_ms = $1 \
             WHERE id = $3 AND account_id = $4 AND confirmed_ms IS NULL")
            .bind(now).bind(step as i64).bind(terminal_id).bind(holder.account_id)
            .execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Err(TerminalError::NotFound);
        }
        let codes = if first { Some(replace_recovery_codes(db, &mut *tx, now, holder.account_id).await?) } else { None };
        tx.enqueue_in(now, &notice).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("terminal.add", Outcome::Success).object(object)).await?;
        tx.commit().await?;
        codes
    }))
}

/// Removes one of the holder's terminals: it proves nothing from now on, and the sessions it
/// opened (other than this one) end. A notice goes to the notification address.
pub async fn remove(db: &Db, clock: &dyn Clock, holder: &Holder, terminal_id: i64) -> Result<u64, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let name: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT name FROM terminals WHERE id = $1 AND account_id = $2 AND removed_ms IS NULL")
        .bind(terminal_id).bind(holder.account_id).fetch_optional(p).await?);
    let Some(name) = name else { return Err(TerminalError::NotFound) };
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(TerminalError::NotFound)?;
    let notice = notify::terminal_removed(&account.notification_email, &account.address, &name);
    let keep = holder.session.map(|s| s.id).unwrap_or(-1);
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("UPDATE terminals SET removed_ms = $1 WHERE id = $2 AND account_id = $3 AND removed_ms IS NULL")
            .bind(now).bind(terminal_id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Err(TerminalError::NotFound);
        }
        let ended = sqlx::query(
            "UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND terminal_id = $3 AND ended_ms IS NULL AND id <> $4")
            .bind(now).bind(holder.account_id).bind(terminal_id).bind(keep).execute(&mut *tx).await?.rows_affected();
        tx.enqueue_in(now, &notice).await?;
        let event = holder
            .event("terminal.remove", Outcome::Success)
            .object(format!("terminal:{terminal_id} sessions_ended:{ended}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        ended
    }))
}

/// The operator's way back in for a holder who lost every terminal and their recovery codes
/// (their identity checked out of band): all terminals and recovery codes of the account stop
/// working and every session ends, so that sign-in and password reset fall back to the codes by
/// SMS or email. The holder is told at their notification address; recorded in the same
/// transaction, as `operator`. Returns how many terminals were removed.
pub async fn reset_by_operator(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    operator: audit::Actor,
) -> Result<u64, StoreError> {
    let now = clock.now_ms();
    let Some(account) = crate::accounts::get(db, account_id).await? else { return Ok(0) };
    let notice = notify::terminals_reset(&account.notification_email, &account.address);
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let removed = sqlx::query("UPDATE terminals SET removed_ms = $1 WHERE account_id = $2 AND removed_ms IS NULL")
            .bind(now).bind(account_id).execute(&mut *tx).await?.rows_affected();
        let codes = sqlx::query("UPDATE recovery_codes SET used_ms = $1 WHERE account_id = $2 AND used_ms IS NULL")
            .bind(now).bind(account_id).execute(&mut *tx).await?.rows_affected();
        let ended = sqlx::query("UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND ended_ms IS NULL")
            .bind(now).bind(account_id).execute(&mut *tx).await?.rows_affected();
        tx.enqueue_in(now, &notice).await?;
        let event = audit::AuditEvent::new(operator, "terminal.reset", Outcome::Success).object(format!(
            "account:{account_id} terminals:{removed} recovery_codes:{codes} sessions_ended:{ended}"
        ));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        removed
    }))
}

/// Checks a code typed at sign-in against the account's authenticator apps. The first that
/// matches takes the code's time step, only if it is later than the last one it accepted (one
/// atomic update, so two instances cannot both accept it).
pub async fn verify_totp(db: &Db, clock: &dyn Clock, account_id: i64, code: &str) -> Result<TotpCheck, StoreError> {
    let now = clock.now_ms();
    let rows: Vec<(i64, Vec<u8>)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, sealed_secret FROM terminals WHERE account_id = $1 AND kind = 'totp' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL ORDER BY id")
        .bind(account_id).fetch_all(p).await?);
    let address: String = crate::with_pool!(db, p => sqlx::query_scalar("SELECT address FROM accounts WHERE id = $1")
        .bind(account_id).fetch_one(p).await?);
    for (id, sealed) in rows {
        let Some(t) = unseal(db, account_id, &sealed).and_then(|s| totp(&s, &address)) else {
            tracing::error!(terminal = id, "a terminal secret does not open: wrong key file?");
            continue;
        };
        let Some(step) = t.check(code.trim(), (now / 1000) as u64) else { continue };
        let taken = crate::with_pool!(db, p => sqlx::query(
            "UPDATE terminals SET last_step = $1, last_used_ms = $2 WHERE id = $3 AND last_step < $1")
            .bind(step as i64).bind(now).bind(id).execute(p).await?.rows_affected());
        return Ok(if taken == 1 {
            TotpCheck::Accepted { terminal_id: id }
        } else {
            TotpCheck::Replayed { terminal_id: id }
        });
    }
    Ok(TotpCheck::Wrong)
}

// ---- Recovery codes ----------------------------------------------------------------------

/// Recovery codes a holder gets at once.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A keyed hash: the codes are short enough that a plain hash of a stolen table could be
/// searched; under the key outside the database it cannot.
fn recovery_hash(db: &Db, account_id: i64, code: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(&db.audit_key().subkey("recovery codes")).expect("any key length");
    mac.update(format!("{account_id}:{code}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A code as typed: lower case, without spaces or dashes; `None` if it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let c: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
    (c.len() == 10 && c.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(c)
}

/// Ten new recovery codes for the holder (`xxxxx-xxxxx`, 50 bits each), replacing any earlier
/// ones, in the transaction `tx` (which records it).
pub(crate) async fn replace_recovery_codes<'c, C>(
    db: &Db,
    conn: &mut C,
    now: Millis,
    account_id: i64,
) -> Result<Vec<Zeroizing<String>>, StoreError>
where
    C: RecoveryConn,
{
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<Zeroizing<String>> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw: String =
                (0..10).map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char).collect();
            Zeroizing::new(format!("{}-{}", &raw[..5], &raw[5..]))
        })
        .collect();
    let hashes: Vec<String> =
        codes.iter().map(|c| recovery_hash(db, account_id, &normalise_recovery_code(c).unwrap_or_default())).collect();
    conn.replace(account_id, now, &hashes).await?;
    Ok(codes)
}

/// Both engines' connections can replace an account's recovery codes.
#[allow(async_fn_in_trait)]
pub(crate) trait RecoveryConn {
    async fn replace(&mut self, account_id: i64, now: Millis, hashes: &[String]) -> Result<(), StoreError>;
}

macro_rules! recovery_conn {
    ($conn:ty) => {
        impl RecoveryConn for $conn {
            async fn replace(&mut self, account_id: i64, now: Millis, hashes: &[String]) -> Result<(), StoreError> {
                sqlx::query("UPDATE recovery_codes SET used_ms = $1 WHERE account_id = $2 AND used_ms IS NULL")
                    .bind(now)
                    .bind(account_id)
                    .execute(&mut *self)
                    .await?;
                for h in hashes {
                    sqlx::query("INSERT INTO recovery_codes (account_id, code_hash, created_ms) VALUES ($1, $2, $3)")
                        .bind(account_id)
                        .bind(h)
                        .bind(now)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(())
            }
        }
    };
}
recovery_conn!(sqlx::SqliteConnection);
recovery_conn!(sqlx::PgConnection);

/// New recovery codes for the holder (the earlier ones stop working), after a sign-in less than
/// five minutes old. Shown once.
pub async fn new_recovery_codes(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
) -> Result<Vec<Zeroizing<String>>, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    if list(db, holder.account_id).await?.is_empty() {
        return Err(TerminalError::NotFound);
    }
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let codes = replace_recovery_codes(db, &mut *tx, now, holder.account_id).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("terminal.recovery.new", Outcome::Success)).await?;
        tx.commit().await?;
        codes
    }))
}

/// How many unused recovery codes the account has.
pub async fn recovery_codes_left(db: &Db, account_id: i64) -> Result<i64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_ms IS NULL")
        .bind(account_id).fetch_one(p).await?))
}

/// Spends one of the account's recovery codes, if `typed` is one (once: an atomic update).
pub async fn use_recovery_code(db: &Db, clock: &dyn Clock, account_id: i64, typed: &str) -> Result<bool, StoreError> {
    let Some(code) = normalise_recovery_code(typed) else { return Ok(false) };
    let hash = recovery_hash(db, account_id, &code);
    let n = crate::with_pool!(db, p => sqlx::query(
        "UPDATE recovery_codes SET used_ms = $1 WHERE account_id = $2 AND code_hash = $3 AND used_ms IS NULL")
        .bind(clock.now_ms()).bind(account_id).bind(&hash).execute(p).await?.rows_affected());
    Ok(n == 1)
}

/// The current code of a terminal's secret given as its base32 key: what an authenticator app
/// shows (tests, and the operator's diagnostics).
pub fn code_for(manual_key: &str, at_ms: Millis) -> Option<String> {
    let compact: String = manual_key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = Secret::try_from_base32(compact).ok()?;
    let t = Builder::new().with_secret(secret).with_digits(6).with_step_duration(STEP_SECS).build_noncompliant();
    Some(t.generate((at_ms / 1000) as u64).to_string())
}

#[cfg(test)]
mod tests;
