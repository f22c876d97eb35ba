//! What the authentication tests share.

use crate::accounts::{self, AccountRecord, Created};
use crate::auth::holder::{Holder, HolderSession, Level};
use crate::auth::session::{self, NewSession, SessionPolicy};
use crate::clock::Clock;
use crate::store::Db;

/// An active account `local@hygie.example` (notices to `local@exemple.fr`) and its holder,
/// signed in just now with a session of its own.
pub(crate) async fn holder(db: &Db, clock: &dyn Clock, local: &str) -> Holder {
    let r = AccountRecord {
        address: format!("{local}@hygie.example"),
        mailbox_type: "personal".into(),
        kind: "health".into(),
        first_name: "Inès".into(),
        last_name: local.into(),
        notification_email: format!("{local}@exemple.fr"),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(db, clock, &r).await.unwrap() else { panic!("{local} exists") };
    accounts::activate(db, id).await.unwrap();
    let (sid, _) = session::create(
        db,
        clock,
        &SessionPolicy::default(),
        NewSession { account_id: id, level: Level::Full, challenge_id: None, ip: None, user_agent: None, factor: None },
    )
    .await
    .unwrap();
    let mut h = Holder::resolve(db, id, Level::Full, None, None).await.unwrap().unwrap();
    h.session = Some(HolderSession { id: sid, authenticated_ms: clock.now_ms() });
    h
}

/// The categories of the messages queued in the outbox, oldest first.
pub(crate) async fn outbox_categories(db: &Db) -> Vec<String> {
    crate::with_pool!(db, p => sqlx::query_scalar("SELECT category FROM outbox ORDER BY id").fetch_all(p).await.unwrap())
}
