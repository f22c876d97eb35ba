//! Accounts (secure mailboxes) and their single-use links (activation, reset, unlock).
//!
//! Input is validated by `app::domain::account::NewAccount::parse`; this module stores it.

pub mod settings;

use sha2::{Digest, Sha256};

use crate::audit::{self, Actor, AuditEvent, Outcome};
use crate::clock::{Clock, Millis};
use crate::outbox::{self, Channel, Outgoing};
use crate::store::{Db, StoreError};

/// Single-use links are valid 72 hours.
pub const ACTIVATION_TTL_MS: Millis = 72 * 3_600_000;

/// An account to store (already validated).
#[derive(Debug, Clone, Default)]
pub struct AccountRecord {
    pub address: String,
    pub mailbox_type: String,
    pub kind: String,
    pub last_name: String,
    pub first_name: String,
    pub id_kind: Option<String>,
    pub id_value: Option<String>,
    pub profession: Option<String>,
    pub specialty: Option<String>,
    pub practice_place: Option<String>,
    pub authority: Option<String>,
    pub role: Option<String>,
    pub notification_email: String,
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new account, with its id.
    New(i64),
    /// An account with this address already existed: nothing was changed.
    Existing(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Activation,
    Reset,
    Unlock,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Activation => "activation",
            TokenPurpose::Reset => "reset",
            TokenPurpose::Unlock => "unlock",
        }
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Stores an account in `pending` status unless its address exists (idempotent imports).
pub async fn create(db: &Db, clock: &dyn Clock, a: &AccountRecord) -> Result<Created, StoreError> {
    let keys = crate::directory::account_keys(a);
    let inserted: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO accounts (address, mailbox_type, kind, last_name, first_name, id_kind, id_value, profession, \
         specialty, practice_place, authority, role, notification_email, mobile, created_ms, \
         name_key, rev_key, profession_key, specialty_key, place_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT (address) DO NOTHING RETURNING id")
        .bind(&a.address)
        .bind(&a.mailbox_type)
        .bind(&a.kind)
        .bind(&a.last_name)
        .bind(&a.first_name)
        .bind(&a.id_kind)
        .bind(&a.id_value)
        .bind(&a.profession)
        .bind(&a.specialty)
        .bind(&a.practice_place)
        .bind(&a.authority)
        .bind(&a.role)
        .bind(&a.notification_email)
        .bind(&a.mobile)
        .bind(clock.now_ms())
        .bind(&keys[0])
        .bind(&keys[1])
        .bind(&keys[2])
        .bind(&keys[3])
        .bind(&keys[4])
        .fetch_optional(p)
        .await?);
    match inserted {
        Some(id) => Ok(Created::New(id)),
        None => {
            let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar("SELECT id FROM accounts WHERE address = $1")
                .bind(&a.address).fetch_one(p).await?);
            Ok(Created::Existing(id))
        }
    }
}

/// Issues a single-use link token; only its hash is stored. Returns the token to send.
pub async fn issue_token(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    purpose: TokenPurpose,
    ttl_ms: Millis,
) -> Result<String, StoreError> {
    let token = crate::random_hex(32);
    let now = clock.now_ms();
    crate::with_pool!(db, p => { sqlx::query(
        "INSERT INTO account_tokens (token_hash, account_id, purpose, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(account_id)
        .bind(purpose.as_str())
        .bind(now)
        .bind(now + ttl_ms)
        .execute(p)
        .await?; });
    Ok(token)
}

/// Uses a token: returns its account if it exists, has this purpose, is unexpired and unused;
/// marks it used in the same statement, so that two concurrent uses cannot both succeed.
pub async fn consume_token(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Option<i64>, StoreError> {
    let now = clock.now_ms();
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "UPDATE account_tokens SET used_ms = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_ms IS NULL AND expires_ms > $1 RETURNING account_id")
        .bind(now)
        .bind(token_hash(token))
        .bind(purpose.as_str())
        .fetch_optional(p)
        .await?))
}

/// Creates an account and, when it is new, emails an activation link to its notification
/// address through the outbox. Both are recorded in the audit trail.
pub async fn create_and_invite(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    a: &AccountRecord,
    public_url: &str,
) -> Result<Created, StoreError> {
    let created = create(db, clock, a).await?;
    let Created::New(id) = created else {
        return Ok(created);
    };
    let token = issue_token(db, clock, id, TokenPurpose::Activation, ACTIVATION_TTL_MS).await?;
    let link = format!("{}/activation/{token}", public_url.trim_end_matches('/'));
    let body = format!(
        "Bonjour,\n\n\
         Un compte de messagerie sécurisée de santé Hygie a été créé pour vous : {address}\n\n\
         Pour l'activer et choisir votre mot de passe, ouvrez ce lien (valable 72 heures, utilisable une seule fois) :\n\
         {link}\n\n\
         Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n\
         ---\n\
         A secure health messaging account was created for you: {address}\n\
         To activate it and choose your password, open the link above (valid for 72 hours, single use).\n",
        address = a.address
    );
    let mail = Outgoing {
        channel: Channel::Email,
        category: "account.activation".into(),
        recipient: a.notification_email.clone(),
        subject: Some("Activez votre compte Hygie / Activate your Hygie account".into()),
        body,
        reply_to: None,
    };
    outbox::enqueue(db, clock, &mail).await?;
    audit::append(
        db,
        clock,
        AuditEvent::new(actor.clone(), "account.create", Outcome::Success).object(format!("account:{id}")),
    )
    .await?;
    audit::append(
        db,
        clock,
        AuditEvent::new(actor.clone(), "account.activation.sent", Outcome::Success).object(format!("account:{id}")),
    )
    .await?;
    Ok(created)
}

/// A stored account, as sign-in and the settings page need it. Not `Debug`: it holds the
/// password hash.
#[derive(Clone, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub address: String,
    pub mailbox_type: String,
    pub kind: String,
    pub last_name: String,
    pub first_name: String,
    pub id_kind: Option<String>,
    pub id_value: Option<String>,
    pub profession: Option<String>,
    pub specialty: Option<String>,
    pub practice_place: Option<String>,
    pub authority: Option<String>,
    pub role: Option<String>,
    pub notification_email: String,
    pub mobile: Option<String>,
    pub status: String,
    pub password_hash: Option<String>,
    pub failed_logins: i64,
    pub locked_ms: Option<Millis>,
    pub notify_new_mail: bool,
    pub liste_rouge: bool,
    pub publish_phone: bool,
    pub no_paper: bool,
}

const ACCOUNT_COLUMNS: &str = "id, address, mailbox_type, kind, last_name, first_name, id_kind, id_value, profession, \
    specialty, practice_place, authority, role, notification_email, mobile, status, password_hash, failed_logins, \
    locked_ms, notify_new_mail, liste_rouge, publish_phone, no_paper";

/// Addresses are compared lower-case and trimmed.
pub fn normalise_address(address: &str) -> String {
    address.trim().to_lowercase()
}

pub async fn find_by_address(db: &Db, address: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address = $1");
    let a = normalise_address(address);
    Ok(crate::with_pool!(db, p => sqlx::query_as(&sql).bind(&a).fetch_optional(p).await?))
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
    Ok(crate::with_pool!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?))
}

/// A live (unused, unexpired) link token: its account and the code challenge sent with it.
/// Does not use it.
pub async fn peek_token(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT account_id, challenge_id FROM account_tokens WHERE token_hash = $1 AND purpose = $2 \
         AND used_ms IS NULL AND expires_ms > $3")
        .bind(token_hash(token)).bind(purpose.as_str()).bind(clock.now_ms()).fetch_optional(p).await?))
}

/// Ties a code challenge to a link token (a reset link sent with an SMS code).
pub async fn attach_challenge(db: &Db, token: &str, challenge_id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query("UPDATE account_tokens SET challenge_id = $1 WHERE token_hash = $2")
        .bind(challenge_id).bind(token_hash(token)).execute(p).await?; });
    Ok(())
}

/// Stores a new password hash; clears the failure count and any lock.
pub async fn set_password_hash(db: &Db, clock: &dyn Clock, id: i64, hash: &str) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query(
        "UPDATE accounts SET password_hash = $1, password_changed_ms = $2, failed_logins = 0, locked_ms = NULL \
         WHERE id = $3")
        .bind(hash).bind(clock.now_ms()).bind(id).execute(p).await?; });
    Ok(())
}

/// Voids the account's live reset and unlock links (after a password or address change).
pub async fn revoke_links(db: &Db, clock: &dyn Clock, id: i64) -> Result<u64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query(REVOKE_LINKS)
        .bind(clock.now_ms()).bind(id).execute(p).await?.rows_affected()))
}

/// Spends an account's live reset and unlock links ($1: now, $2: the account): after a new
/// password, an old link must not set another.
pub(crate) const REVOKE_LINKS: &str = "UPDATE account_tokens SET used_ms = $1 WHERE account_id = $2 \
     AND used_ms IS NULL AND purpose IN ('reset', 'unlock')";

/// Turns a pending account active (after it chose its password).
pub async fn activate(db: &Db, id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query("UPDATE accounts SET status = 'active' WHERE id = $1 AND status = 'pending'")
        .bind(id).execute(p).await?; });
    Ok(())
}

/// The holder's preferences: new-mail notification and, for the directory, liste rouge,
/// publishing the phone number and no more paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub notify_new_mail: bool,
    pub liste_rouge: bool,
    pub publish_phone: bool,
    pub no_paper: bool,
}

/// Sets preferences without a holder or a record: for tests that arrange a directory. Holders
/// change theirs through [`settings::set_preferences`].
#[cfg(test)]
pub async fn set_preferences(db: &Db, id: i64, p: Preferences) -> Result<(), StoreError> {
    crate::with_pool!(db, pool => { sqlx::query(
        "UPDATE accounts SET notify_new_mail = $1, liste_rouge = $2, publish_phone = $3, no_paper = $4 WHERE id = $5")
        .bind(p.notify_new_mail).bind(p.liste_rouge).bind(p.publish_phone).bind(p.no_paper).bind(id)
        .execute(pool).await?; });
    Ok(())
}

/// Emails the holder at their notification address (security notices, terms updates).
pub async fn notify(
    db: &Db,
    clock: &dyn Clock,
    a: &Account,
    category: &str,
    subject: &str,
    body: String,
) -> Result<(), StoreError> {
    let mail = Outgoing {
        channel: Channel::Email,
        category: category.into(),
        recipient: a.notification_email.clone(),
        subject: Some(subject.into()),
        body,
        reply_to: None,
    };
    outbox::enqueue(db, clock, &mail).await?;
    Ok(())
}

/// How many accounts there are.
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(p).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    fn record(address: &str) -> AccountRecord {
        AccountRecord {
            address: address.into(),
            mailbox_type: "personal".into(),
            kind: "other".into(),
            last_name: "Martin".into(),
            first_name: "Claire".into(),
            authority: Some("Conseil départemental".into()),
            role: Some("Assistante sociale".into()),
            notification_email: "claire@exemple.fr".into(),
            mobile: Some("+33612345678".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn creation_is_idempotent_and_invites_once() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let actor = Actor::Operator("root".into());
            let first =
                create_and_invite(&t.db, &clock, &actor, &record("claire@hygie.example"), "https://hygie.example/")
                    .await
                    .unwrap();
            let Created::New(id) = first else { panic!("expected a new account") };
            let again =
                create_and_invite(&t.db, &clock, &actor, &record("claire@hygie.example"), "https://hygie.example")
                    .await
                    .unwrap();
            assert_eq!(again, Created::Existing(id));
            assert_eq!(count(&t.db).await.unwrap(), 1);

            let mails = outbox::claim(&t.db, &clock, &outbox::RetryPolicy::default(), 10).await.unwrap();
            assert_eq!(mails.len(), 1, "one invitation only");
            let body = &mails[0].message.body;
            assert_eq!(mails[0].message.recipient, "claire@exemple.fr");
            let link = body.lines().find(|l| l.starts_with("https://hygie.example/activation/")).unwrap();
            let token = link.rsplit('/').next().unwrap();
            assert_eq!(token.len(), 64);

            let (status, stored): (String, i64) = crate::with_pool!(&t.db, p => sqlx::query_as(
                "SELECT a.status, (SELECT COUNT(*) FROM account_tokens k WHERE k.token_hash = $1) FROM accounts a WHERE a.id = $2")
                .bind(token).bind(id).fetch_one(p).await.unwrap());
            assert_eq!(status, "pending");
            assert_eq!(stored, 0, "the token itself is never stored");
            assert_eq!(consume_token(&t.db, &clock, token, TokenPurpose::Activation).await.unwrap(), Some(id));
            assert!(audit::verify(&t.db).await.unwrap().is_intact());
        }
    }

    #[tokio::test]
    async fn tokens_are_single_use_scoped_and_expire() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let Created::New(id) = create(&t.db, &clock, &record("a@hygie.example")).await.unwrap() else { panic!() };
            let token = issue_token(&t.db, &clock, id, TokenPurpose::Activation, ACTIVATION_TTL_MS).await.unwrap();
            assert_eq!(consume_token(&t.db, &clock, &token, TokenPurpose::Reset).await.unwrap(), None, "wrong purpose");
            assert_eq!(
                consume_token(&t.db, &clock, "0".repeat(64).as_str(), TokenPurpose::Activation).await.unwrap(),
                None
            );
            assert_eq!(consume_token(&t.db, &clock, &token, TokenPurpose::Activation).await.unwrap(), Some(id));
            assert_eq!(consume_token(&t.db, &clock, &token, TokenPurpose::Activation).await.unwrap(), None, "reused");

            let late = issue_token(&t.db, &clock, id, TokenPurpose::Activation, ACTIVATION_TTL_MS).await.unwrap();
            clock.advance_ms(ACTIVATION_TTL_MS);
            assert_eq!(
                consume_token(&t.db, &clock, &late, TokenPurpose::Activation).await.unwrap(),
                None,
                "expired at 72 h"
            );
        }
    }
}
