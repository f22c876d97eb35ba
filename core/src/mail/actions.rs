//! Actions on a selection of messages: read, flag, move, Trash, restore, delete.

use super::*;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::Clock;
use crate::store::Backend;
use crate::store::{BeginWrite, Db, StoreError};

/// What can be done to a selection of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    MarkRead,
    MarkUnread,
    Flag,
    Unflag,
    /// Move to a standard folder (not the Trash: see `Trash`).
    MoveTo(&'static str),
    /// Move to one of the holder's own folders.
    MoveToFolder(i64),
    /// To the Trash, remembering where from.
    Trash,
    /// Out of the Trash, back where it came from (the Inbox if that is unknown).
    Restore,
    /// For good; only messages already in the Trash.
    DeleteForever,
}

impl Action {
    /// The action as the audit trail names it (`mail.trash`, `mail.move:d12`...).
    pub fn audit_name(&self) -> String {
        match self {
            Action::MarkRead => "mail.read".into(),
            Action::MarkUnread => "mail.unread".into(),
            Action::Flag => "mail.flag".into(),
            Action::Unflag => "mail.unflag".into(),
            Action::MoveTo(role) => format!("mail.{role}"),
            Action::MoveToFolder(id) => format!("mail.move:d{id}"),
            Action::Trash => "mail.trash".into(),
            Action::Restore => "mail.restore".into(),
            Action::DeleteForever => "mail.delete".into(),
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "read" => Action::MarkRead,
            "unread" => Action::MarkUnread,
            "flag" => Action::Flag,
            "unflag" => Action::Unflag,
            "inbox" => Action::MoveTo("inbox"),
            "archive" => Action::MoveTo("archive"),
            "trash" => Action::Trash,
            "restore" => Action::Restore,
            "delete" => Action::DeleteForever,
            other => Action::MoveToFolder(other.strip_prefix("move:d")?.parse().ok()?),
        })
    }
}

/// Applies `action` to the holder's messages among `ids` (others' ids are ignored), and records
/// it in the same transaction. Returns how many messages changed.
pub(crate) async fn apply(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    ids: &[i64],
    action: Action,
) -> Result<u64, StoreError> {
    apply_all(db, clock, holder, &[(action, ids)]).await
}

/// Applies each action to its messages (the holder's among them), in order, in one transaction:
/// all or none, each recorded as on its own (a client changing several things of a message at
/// once). Returns how many changes in all. An action naming a folder that is not the holder's
/// is recorded as refused and nothing is applied.
pub(crate) async fn apply_all(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    changes: &[(Action, &[i64])],
) -> Result<u64, StoreError> {
    let account_id = holder.account_id;
    let changes: Vec<(Action, &[i64])> = changes.iter().copied().filter(|(_, ids)| !ids.is_empty()).collect();
    if changes.is_empty() {
        return Ok(0);
    }
    let trash = folder_id(db, clock, account_id, "trash").await?;
    let inbox = folder_id(db, clock, account_id, "inbox").await?;
    let mut steps = Vec::with_capacity(changes.len());
    for (action, ids) in changes {
        let target = match action {
            Action::MoveTo(role) => folder_id(db, clock, account_id, role).await?,
            Action::MoveToFolder(id) => match folders::resolve(db, clock, account_id, &format!("d{id}")).await? {
                Some(f) => f,
                None => {
                    let event = holder.event(action.audit_name(), Outcome::Denied("not_found".into()));
                    audit::append(db, clock, event.object(format!("folder:{id}"))).await?;
                    return Ok(0);
                }
            },
            _ => 0,
        };
        let (sql, a, b): (&str, i64, i64) = match action {
            Action::MarkRead => {
                ("UPDATE messages SET unread = FALSE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0)
            }
            Action::MarkUnread => {
                ("UPDATE messages SET unread = TRUE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0)
            }
            Action::Flag => ("UPDATE messages SET flagged = TRUE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0),
            Action::Unflag => {
                ("UPDATE messages SET flagged = FALSE WHERE id = $1 AND account_id = $2 AND $3 = $3", 0, 0)
            }
            Action::MoveTo(_) | Action::MoveToFolder(_) => {
                ("UPDATE messages SET folder_id = $3, trashed_from = NULL WHERE id = $1 AND account_id = $2", target, 0)
            }
            Action::Trash => (
                "UPDATE messages SET trashed_from = folder_id, folder_id = $3 WHERE id = $1 AND account_id = $2 \
                 AND folder_id <> $3",
                trash,
                0,
            ),
            Action::Restore => (
                "UPDATE messages SET folder_id = COALESCE(trashed_from, $4), trashed_from = NULL \
                 WHERE id = $1 AND account_id = $2 AND folder_id = $3",
                trash,
                inbox,
            ),
            Action::DeleteForever => {
                ("DELETE FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3", trash, 0)
            }
        };
        steps.push((action, ids, sql, a, b));
    }
    let sqlite = db.backend() == Backend::Sqlite;
    let event = |action: Action, ids: &[i64], changed: u64| {
        let listed: Vec<String> = ids.iter().take(50).map(i64::to_string).collect();
        let object = format!("messages:{} changed:{changed}", listed.join(","));
        holder.event(action.audit_name(), Outcome::Success).object(object)
    };
    let mut total = 0;
    // Every selection changes together, or not at all.
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for (action, ids, sql, a, b) in &steps {
            let mut changed = 0;
            for id in *ids {
                if *action == Action::DeleteForever && sqlite {
                    sqlx::query("DELETE FROM messages_fts WHERE rowid IN \
                                 (SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3)")
                        .bind(id).bind(account_id).bind(trash).execute(&mut *tx).await?;
                }
                let q = sqlx::query(sql).bind(id).bind(account_id).bind(a);
                let q = if *action == Action::Restore { q.bind(b) } else { q };
                changed += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.append_audit(db.audit_key(), clock.now_ms(), &event(*action, ids, changed)).await?;
            total += changed;
        }
        tx.commit().await?;
    });
    Ok(total)
}

/// Deletes every message in the holder's Trash, recorded in the same transaction. Returns how
/// many.
pub(crate) async fn empty_trash(db: &Db, clock: &dyn Clock, holder: &Holder) -> Result<u64, StoreError> {
    let account_id = holder.account_id;
    let trash = folder_id(db, clock, account_id, "trash").await?;
    let sqlite = db.backend() == Backend::Sqlite;
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        if sqlite {
            sqlx::query(
                "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE account_id = $1 AND folder_id = $2)")
                .bind(account_id).bind(trash).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM messages WHERE account_id = $1 AND folder_id = $2")
            .bind(account_id).bind(trash).execute(&mut *tx).await?.rows_affected();
        let event = holder.event("mail.empty_trash", Outcome::Success).object(format!("deleted:{n}"));
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
        n
    }))
}
