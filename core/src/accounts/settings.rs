//! The holder's own account: accepting the terms, preferences, password, notification address
//! and mobile, open sessions. Each verb checks what the holder may do, changes the store, queues
//! the notice it owes and writes the audit record, in one transaction.

use secrecy::SecretString;

use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::auth::otp::{self, Verify};
use crate::auth::policy::{self, PasswordProblem};
use crate::auth::{password, signin};
use crate::clock::{Clock, Millis};
use crate::notify::{self, Destination};
use crate::outbox::OutboxTx;
use crate::store::{BeginWrite, Db, StoreError};

/// A sensitive change needs the password typed again within this time.
pub const REAUTH_WINDOW_MS: Millis = 5 * 60_000;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The terms in force are not the version the holder read (a newer one was published).
    #[error("the terms in force changed")]
    TermsChanged,
    /// The password was not typed again in the last five minutes.
    #[error("reauthentication required")]
    ReauthRequired,
    #[error("wrong password")]
    WrongPassword,
    #[error("password refused")]
    Password(PasswordProblem),
    /// A notification address inside the trust space or on this instance's domains: it would
    /// not reach the holder outside Hygie.
    #[error("notification address on a secure domain")]
    OnSecureDomain,
    /// Too many codes asked for in the hour.
    #[error("rate limited")]
    RateLimited { retry_after_ms: Millis },
    #[error("wrong code")]
    WrongCode { attempts_left: i64 },
    #[error("code expired")]
    CodeExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SettingsError {
    fn from(e: sqlx::Error) -> Self {
        SettingsError::Store(StoreError::Query(e))
    }
}

/// Refuses a sensitive change unless the holder proved who they are in the last five minutes.
pub fn require_fresh(holder: &Holder, now: Millis) -> Result<(), SettingsError> {
    match holder.session {
        Some(s) if now - s.authenticated_ms <= REAUTH_WINDOW_MS => Ok(()),
        _ => Err(SettingsError::ReauthRequired),
    }
}

/// Accepts the terms in force, which must be `version` (the one the holder read).
pub async fn accept_terms(db: &Db, clock: &dyn Clock, holder: &Holder, version: &str) -> Result<(), SettingsError> {
    if crate::terms::current_version(db).await?.as_deref() != Some(version) {
        return Err(SettingsError::TermsChanged);
    }
    let now = clock.now_ms();
    let event = holder.event("terms.accept", Outcome::Success).object(format!("terms:{version}"));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query(
            "INSERT INTO terms_acceptances (account_id, version, accepted_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, version) DO NOTHING")
            .bind(holder.account_id).bind(version).bind(now).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Saves the holder's preferences (new-mail notices; directory: liste rouge, phone, paper).
pub async fn set_preferences(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    p: super::Preferences,
) -> Result<(), StoreError> {
    let flags = format!(
        "notify:{},liste_rouge:{},publish_phone:{},no_paper:{}",
        p.notify_new_mail, p.liste_rouge, p.publish_phone, p.no_paper
    );
    let event = holder.event("settings.preferences", Outcome::Success).object(flags);
    crate::with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET notify_new_mail = $1, liste_rouge = $2, publish_phone = $3, no_paper = $4 WHERE id = $5")
            .bind(p.notify_new_mail).bind(p.liste_rouge).bind(p.publish_phone).bind(p.no_paper).bind(holder.account_id)
            .execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Ends one of the holder's sessions (`Some(id)`), or every one but the current (`None`).
/// Returns how many ended.
pub async fn end_sessions(db: &Db, clock: &dyn Clock, holder: &Holder, which: Option<i64>) -> Result<u64, StoreError> {
    let now = clock.now_ms();
    let current = holder.session.map(|s| s.id).unwrap_or(-1);
    let object = match which {
        Some(id) => format!("session:{id}"),
        None => format!("others_of_session:{current}"),
    };
    let event = holder.event("session.end", Outcome::Success).object(object);
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = match which {
            Some(id) => sqlx::query(
                "UPDATE sessions SET ended_ms = $1 WHERE id = $2 AND account_id = $3 AND ended_ms IS NULL")
                .bind(now).bind(id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected(),
            None => sqlx::query(
                "UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND ended_ms IS NULL AND id <> $3")
                .bind(now).bind(holder.account_id).bind(current).execute(&mut *tx).await?.rows_affected(),
        };
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        n
    }))
}

/// Changes the password (`current` required, typed again within five minutes): the new hash,
/// reset and unlock links revoked, every other session ended, a notice to the notification
/// address and the record, in one transaction. Returns how many sessions ended.
pub async fn change_password(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    current: &str,
    new_password: &str,
) -> Result<u64, SettingsError> {
    require_fresh(holder, clock.now_ms())?;
    let account = super::get(db, holder.account_id).await?.ok_or(SettingsError::ReauthRequired)?;
    let stored = account.password_hash.clone().map(password::PasswordHashString::from_stored);
    if !password::verify(SecretString::from(policy::normalise(current)), stored).await {
        let event = holder.event("password.change", Outcome::Failure("wrong_password".into()));
        audit::append(db, clock, event).await?;
        return Err(SettingsError::WrongPassword);
    }
    let hash = signin::hash_new_password(&account, new_password).await?.map_err(SettingsError::Password)?;
    let now = clock.now_ms();
    let keep = holder.session.map(|s| s.id).unwrap_or(-1);
    let notice = notify::password_changed(&account.notification_email, &account.address);
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, password_changed_ms = $2, failed_logins = 0, locked_ms = NULL \
             WHERE id = $3")
            .bind(&hash).bind(now).bind(holder.account_id).execute(&mut *tx).await?;
        sqlx::query(super::REVOKE_LINKS)
            .bind(now).bind(holder.account_id).execute(&mut *tx).await?;
        let ended = sqlx::query(
            "UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND ended_ms IS NULL AND id <> $3")
            .bind(now).bind(holder.account_id).bind(keep).execute(&mut *tx).await?.rows_affected();
        tx.enqueue_in(now, &notice).await?;
        let event = holder.event("password.change", Outcome::Success).object(format!("sessions_ended:{ended}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        ended
    }))
}

impl Destination {
    fn purpose(self) -> &'static str {
        match self {
            Destination::NotificationEmail => "change_email",
            Destination::Mobile => "change_mobile",
        }
    }

    fn from_purpose(p: &str) -> Option<Destination> {
        match p {
            "change_email" => Some(Destination::NotificationEmail),
            "change_mobile" => Some(Destination::Mobile),
            _ => None,
        }
    }
}

/// Codes sent to new destinations an account may ask for per hour: they cost money and land on
/// someone's phone.
pub const DESTINATION_CODES_PER_HOUR: i64 = 5;

/// Starts changing the notification address or the mobile to `value` (already parsed and
/// normalised): a code goes to the new destination. Returns the challenge to confirm.
pub async fn start_change_destination(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    what: Destination,
    value: &str,
    instance_domains: &[String],
) -> Result<i64, SettingsError> {
    require_fresh(holder, clock.now_ms())?;
    if what == Destination::NotificationEmail {
        let domain = value.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        let on_instance = instance_domains.iter().any(|d| d.eq_ignore_ascii_case(domain));
        if on_instance || crate::trust_space::contains(db, domain).await? {
            return Err(SettingsError::OnSecureDomain);
        }
    }
    let limit = crate::ratelimit::Limit { max: DESTINATION_CODES_PER_HOUR, window_ms: 3_600_000 };
    let key = format!("destination:{}", holder.account_id);
    if let crate::ratelimit::Decision::Limited { retry_after_ms } =
        crate::ratelimit::hit(db, clock, &key, limit).await?
    {
        let event =
            holder.event(format!("settings.{}.code_sent", what.purpose()), Outcome::Denied("rate_limited".into()));
        audit::append(db, clock, event).await?;
        return Err(SettingsError::RateLimited { retry_after_ms });
    }
    let channel = match what {
        Destination::NotificationEmail => crate::outbox::Channel::Email,
        Destination::Mobile => crate::outbox::Channel::Sms,
    };
    let (challenge, code) =
        otp::start_with_payload(db, clock, holder.account_id, what.purpose(), channel.as_str(), Some(value)).await?;
    let message = notify::destination_code(what, value, &holder.address, code.expose());
    let now = clock.now_ms();
    let event = holder.event(format!("settings.{}.code_sent", what.purpose()), Outcome::Success);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        tx.enqueue_in(now, &message).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(challenge)
}

/// Confirms a new destination with the code it received: the account changes, reset and unlock
/// links are revoked, the previous notification address is told, and it is recorded, in one
/// transaction.
pub async fn confirm_change_destination(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    challenge: i64,
    code: &str,
) -> Result<Destination, SettingsError> {
    require_fresh(holder, clock.now_ms())?;
    let Some((purpose, _, Some(value))) = otp::describe(db, clock, challenge, holder.account_id).await? else {
        return Err(SettingsError::CodeExpired);
    };
    let what = Destination::from_purpose(&purpose).ok_or(SettingsError::CodeExpired)?;
    match otp::verify(db, clock, challenge, holder.account_id, code).await? {
        Verify::Ok => {}
        Verify::Wrong { attempts_left } => {
            let event = holder.event(format!("settings.{purpose}"), Outcome::Failure("wrong_code".into()));
            audit::append(db, clock, event).await?;
            return Err(SettingsError::WrongCode { attempts_left });
        }
        Verify::Dead => return Err(SettingsError::CodeExpired),
    }
    let account = super::get(db, holder.account_id).await?.ok_or(SettingsError::CodeExpired)?;
    // The previous notification address hears about the change, in case it was not the holder.
    let notice = notify::destination_changed(&account.notification_email, &account.address, what);
    let sql = match what {
        Destination::NotificationEmail => "UPDATE accounts SET notification_email = $1 WHERE id = $2",
        Destination::Mobile => "UPDATE accounts SET mobile = $1 WHERE id = $2",
    };
    let now = clock.now_ms();
    let event = holder.event(format!("settings.{purpose}"), Outcome::Success);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query(sql).bind(&value).bind(holder.account_id).execute(&mut *tx).await?;
        sqlx::query(super::REVOKE_LINKS)
            .bind(now).bind(holder.account_id).execute(&mut *tx).await?;
        tx.enqueue_in(now, &notice).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{self, AccountRecord, Created, Preferences};
    use crate::auth::holder::{HolderSession, Level};
    use crate::clock::ManualClock;
    use crate::store::testing::{break_audit, repair_audit, TestDb};

    async fn holder(db: &Db, clock: &ManualClock) -> Holder {
        let r = AccountRecord {
            address: "rene@hygie.example".into(),
            mailbox_type: "personal".into(),
            kind: "health".into(),
            first_name: "René".into(),
            last_name: "Blanc".into(),
            notification_email: "rene@exemple.fr".into(),
            ..Default::default()
        };
        let Created::New(id) = accounts::create(db, clock, &r).await.unwrap() else { panic!() };
        accounts::activate(db, id).await.unwrap();
        let hash = password::hash(SecretString::from("le mot de passe de René".to_string())).await.unwrap();
        accounts::set_password_hash(db, clock, id, hash.as_stored()).await.unwrap();
        let session = HolderSession { id: 0, authenticated_ms: clock.now_ms() };
        Holder::resolve(db, id, Level::Full, Some(session), None).await.unwrap().unwrap()
    }

    async fn outbox_size(db: &Db) -> i64 {
        crate::with_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(p).await.unwrap())
    }

    /// A settings change, its notice and its record commit together: with the audit trail
    /// unwritable, the password, the preferences and the outbox stay as they were.
    #[tokio::test]
    async fn a_settings_change_without_its_record_changes_nothing() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let h = holder(&t.db, &clock).await;
            let before = accounts::get(&t.db, h.account_id).await.unwrap().unwrap().password_hash;
            let queued = outbox_size(&t.db).await;
            let prefs = Preferences { notify_new_mail: false, liste_rouge: true, publish_phone: false, no_paper: true };

            break_audit(&t.db).await;
            let changed =
                change_password(&t.db, &clock, &h, "le mot de passe de René", "un tout autre secret 2026").await;
            assert!(matches!(changed, Err(SettingsError::Store(_))), "{changed:?}");
            assert!(set_preferences(&t.db, &clock, &h, prefs).await.is_err());
            repair_audit(&t.db).await;

            let after = accounts::get(&t.db, h.account_id).await.unwrap().unwrap();
            assert_eq!(after.password_hash, before, "the old password still works");
            assert!(after.notify_new_mail && !after.liste_rouge, "preferences unchanged");
            assert_eq!(outbox_size(&t.db).await, queued, "no notice about a change that did not happen");

            // Working again: changed, told, recorded.
            change_password(&t.db, &clock, &h, "le mot de passe de René", "un tout autre secret 2026").await.unwrap();
            assert_eq!(outbox_size(&t.db).await, queued + 1);
            let last = crate::audit::latest(&t.db, 1).await.unwrap();
            assert_eq!((last[0].action.as_str(), last[0].outcome.as_str()), ("password.change", "success"));
            // Five minutes later, a sensitive change needs the password again.
            clock.advance_ms(REAUTH_WINDOW_MS + 1);
            assert!(matches!(
                change_password(&t.db, &clock, &h, "un tout autre secret 2026", "encore un autre 2027").await,
                Err(SettingsError::ReauthRequired)
            ));
        }
    }
}
