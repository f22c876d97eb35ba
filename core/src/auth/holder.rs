//! The holder: who is acting, resolved once per request (or per connection) by whichever channel
//! they came through. The web resolves it from the session cookie; mail clients, other
//! operators and business software will build the same value from their own credentials. Core
//! verbs take a `&Holder` and decide from it alone what may be done, and in whose name the audit
//! record is written.

use crate::audit::{Actor, AuditEvent, Outcome};
use crate::clock::Millis;
use crate::store::{Db, StoreError};

pub use super::session::Level;

/// An account's state, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Created, not yet activated by its holder.
    Pending,
    Active,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn parse(s: &str) -> Option<AccountStatus> {
        Some(match s {
            "pending" => AccountStatus::Pending,
            "active" => AccountStatus::Active,
            "suspended" => AccountStatus::Suspended,
            "closed" => AccountStatus::Closed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }
}

/// What the holder's channel knows of how they signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderSession {
    pub id: i64,
    /// When the holder last proved who they are (sign-in, or the password typed again).
    pub authenticated_ms: Millis,
}

/// A signed-in, active, unlocked account's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub account_id: i64,
    /// The mailbox address, lower case.
    pub address: String,
    /// First and last name, as a message's sender name shows them.
    pub name: String,
    /// How strongly they proved who they are.
    pub level: Level,
    /// Whether they accepted the terms of use in force (true when none are published).
    pub terms_accepted: bool,
    /// The web session it came from, if it came from one.
    pub session: Option<HolderSession>,
    /// The client's address, for the audit trail.
    pub ip: Option<String>,
}

/// Why a holder may not do what they asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HolderDenied {
    /// Not signed in strongly enough (a session still waiting for its code).
    #[error("a stronger sign-in is needed")]
    Level { needed: Level },
    /// The terms in force must be accepted first.
    #[error("the terms in force are not accepted")]
    TermsPending,
}

impl Holder {
    /// Who the audit trail names.
    pub fn actor(&self) -> Actor {
        Actor::Account(self.account_id.to_string())
    }

    /// An audit record of this holder's action, with their client address.
    pub fn event(&self, action: impl Into<String>, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(self.actor(), action, outcome).ip(self.ip.clone())
    }

    /// Allows the holder to act at `level` and with the terms in force accepted.
    pub fn require(&self, level: Level) -> Result<(), HolderDenied> {
        self.require_level(level)?;
        if self.terms_accepted {
            Ok(())
        } else {
            Err(HolderDenied::TermsPending)
        }
    }

    /// Allows the holder to act at `level`, terms accepted or not (the acceptance page itself,
    /// signing out).
    pub fn require_level(&self, level: Level) -> Result<(), HolderDenied> {
        if self.level >= level {
            Ok(())
        } else {
            Err(HolderDenied::Level { needed: level })
        }
    }

    /// Resolves the holder of `account_id` signed in at `level`: `None` unless the account is
    /// active and not locked. One query, which reads only the version of the terms in force, not
    /// their text.
    pub async fn resolve(
        db: &Db,
        account_id: i64,
        level: Level,
        session: Option<HolderSession>,
        ip: Option<String>,
    ) -> Result<Option<Holder>, StoreError> {
        type Row = (String, String, String, String, Option<Millis>, bool);
        let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
            "SELECT a.address, a.first_name, a.last_name, a.status, a.locked_ms, \
               NOT EXISTS (SELECT 1 FROM (SELECT version FROM terms_versions ORDER BY seq DESC LIMIT 1) cur \
                 WHERE NOT EXISTS (SELECT 1 FROM terms_acceptances t \
                   WHERE t.account_id = a.id AND t.version = cur.version)) \
             FROM accounts a WHERE a.id = $1")
            .bind(account_id).fetch_optional(p).await?);
        let Some((address, first, last, status, locked_ms, terms_accepted)) = row else { return Ok(None) };
        if AccountStatus::parse(&status) != Some(AccountStatus::Active) || locked_ms.is_some() {
            return Ok(None);
        }
        let name = format!("{first} {last}").trim().to_string();
        Ok(Some(Holder { account_id, address, name, level, terms_accepted, session, ip }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{self, AccountRecord, Created};
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;
    use crate::terms;

    #[tokio::test]
    async fn only_active_unlocked_accounts_have_a_holder_and_terms_are_tracked() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let r = AccountRecord {
                address: "h@hygie.example".into(),
                mailbox_type: "personal".into(),
                kind: "other".into(),
                first_name: "Jeanne".into(),
                last_name: "Martin".into(),
                notification_email: "h@exemple.fr".into(),
                ..Default::default()
            };
            let Created::New(id) = accounts::create(&t.db, &clock, &r).await.unwrap() else { panic!() };
            assert!(Holder::resolve(&t.db, id, Level::Full, None, None).await.unwrap().is_none(), "pending");
            accounts::activate(&t.db, id).await.unwrap();
            let h = Holder::resolve(&t.db, id, Level::Full, None, Some("192.0.2.7".into())).await.unwrap().unwrap();
            assert_eq!((h.address.as_str(), h.name.as_str()), ("h@hygie.example", "Jeanne Martin"));
            // No terms published in this database: nothing to accept.
            assert!(h.terms_accepted);
            assert_eq!(h.require(Level::Full), Ok(()));
            let doc = terms::TermsDocument {
                version: "9.0".into(),
                date: "2026-12-01".into(),
                title: "CGU".into(),
                body_md: "x".into(),
            };
            terms::add(&t.db, &clock, &doc).await.unwrap();
            let h = Holder::resolve(&t.db, id, Level::Full, None, None).await.unwrap().unwrap();
            assert!(!h.terms_accepted);
            assert_eq!(h.require(Level::Full), Err(HolderDenied::TermsPending));
            assert_eq!(h.require_level(Level::Full), Ok(()));
            terms::accept(&t.db, &clock, id, "9.0").await.unwrap();
            let h = Holder::resolve(&t.db, id, Level::Password, None, None).await.unwrap().unwrap();
            assert!(h.terms_accepted);
            assert_eq!(h.require(Level::Full), Err(HolderDenied::Level { needed: Level::Full }));
            assert_eq!(h.event("mail.send", Outcome::Success).actor, Actor::Account(id.to_string()));
            crate::with_pool!(&t.db, p => { sqlx::query("UPDATE accounts SET locked_ms = 1 WHERE id = $1")
                .bind(id).execute(p).await.unwrap(); });
            assert!(Holder::resolve(&t.db, id, Level::Full, None, None).await.unwrap().is_none(), "locked");
        }
    }
}
