//! The holder's own folders: create, rename, nest (three levels at most), delete (their messages
//! go to the Trash). Standard folders cannot be renamed or deleted. A folder is named in lists
//! and URLs by a key: a standard folder's role (`inbox`…) or `d<ID>` for the holder's own.

use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::Clock;
use crate::store::{BeginWrite, Db, StoreError};

/// The deepest nesting: a folder, a sub-folder and a sub-sub-folder.
pub const MAX_DEPTH: usize = 3;
pub const NAME_MAX: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// Empty, too long, or with control characters or a slash.
    #[error("invalid folder name")]
    InvalidName,
    /// A folder of that name already sits beside it (letter case aside).
    #[error("a folder has that name already")]
    Duplicate,
    #[error("folders nest three levels deep at most")]
    TooDeep,
    /// Not one of the holder's own folders (or a standard one, which cannot change).
    #[error("no such folder")]
    NotFound,
    #[error("a folder cannot go inside itself")]
    Cycle,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for FolderError {
    fn from(e: sqlx::Error) -> Self {
        FolderError::Store(StoreError::Query(e))
    }
}

impl FolderError {
    fn outcome(&self) -> Outcome {
        match self {
            FolderError::NotFound => Outcome::Denied("not_found".into()),
            _ => Outcome::Failure("invalid".into()),
        }
    }
}

/// Records a refused folder change; a store failure is returned as is.
async fn recorded<T>(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    action: &str,
    object: Option<String>,
    result: Result<T, FolderError>,
) -> Result<T, FolderError> {
    match result {
        Err(FolderError::Store(e)) => Err(FolderError::Store(e)),
        Err(e) => {
            let mut event = holder.event(action, e.outcome());
            event.object = object;
            audit::append(db, clock, event).await?;
            Err(e)
        }
        ok => ok,
    }
}

/// A folder name as kept: trimmed, one line, no slash, 1 to 60 characters.
pub fn clean_name(name: &str) -> Result<String, FolderError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > NAME_MAX || n.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(FolderError::InvalidName);
    }
    Ok(n.to_string())
}

/// The folder id behind `key` for `account_id` (a role, or `d<ID>` for one of its own folders).
pub async fn resolve(db: &Db, clock: &dyn Clock, account_id: i64, key: &str) -> Result<Option<i64>, StoreError> {
    if let Some(id) = key.strip_prefix('d').and_then(|n| n.parse::<i64>().ok()) {
        let found: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT id FROM mail_folders WHERE id = $1 AND account_id = $2 AND role = 'custom'")
            .bind(id).bind(account_id).fetch_optional(p).await?);
        return Ok(found);
    }
    if super::STANDARD_FOLDERS.iter().any(|(role, _)| *role == key) {
        return Ok(Some(super::folder_id(db, clock, account_id, key).await?));
    }
    Ok(None)
}

/// The name of one of the account's own folders, by key (`d<ID>`); `None` for anything else.
pub async fn own_name(db: &Db, account_id: i64, key: &str) -> Result<Option<String>, StoreError> {
    let Some(id) = key.strip_prefix('d').and_then(|n| n.parse::<i64>().ok()) else { return Ok(None) };
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT name FROM mail_folders WHERE id = $1 AND account_id = $2 AND role = 'custom'")
        .bind(id).bind(account_id).fetch_optional(p).await?))
}

#[derive(sqlx::FromRow)]
struct Own {
    id: i64,
    name: String,
    parent_id: Option<i64>,
}

async fn own(db: &Db, account_id: i64) -> Result<Vec<Own>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, name, parent_id FROM mail_folders WHERE account_id = $1 AND role = 'custom'")
        .bind(account_id).fetch_all(p).await?))
}

fn depth(all: &[Own], id: i64) -> usize {
    let mut d = 1;
    let mut at = all.iter().find(|f| f.id == id).and_then(|f| f.parent_id);
    while let Some(p) = at {
        d += 1;
        at = all.iter().find(|f| f.id == p).and_then(|f| f.parent_id);
        if d > 10 {
            break;
        }
    }
    d
}

/// How many levels lie under `id` (0 for a leaf).
fn height(all: &[Own], id: i64) -> usize {
    all.iter().filter(|f| f.parent_id == Some(id)).map(|c| 1 + height(all, c.id)).max().unwrap_or(0)
}

fn check_siblings(all: &[Own], parent: Option<i64>, name: &str, except: Option<i64>) -> Result<(), FolderError> {
    let taken = all
        .iter()
        .any(|f| f.parent_id == parent && Some(f.id) != except && f.name.to_lowercase() == name.to_lowercase());
    if taken {
        Err(FolderError::Duplicate)
    } else {
        Ok(())
    }
}

/// Creates a folder of the holder's, inside `parent` (one of their own folders) or at the top,
/// recorded in the same transaction.
pub(crate) async fn create(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, FolderError> {
    let result = create_checked(db, clock, holder, name, parent).await;
    recorded(db, clock, holder, "mail.folder_create", None, result).await
}

async fn create_checked(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, FolderError> {
    let account_id = holder.account_id;
    let name = clean_name(name)?;
    let all = own(db, account_id).await?;
    if let Some(p) = parent {
        if !all.iter().any(|f| f.id == p) {
            return Err(FolderError::NotFound);
        }
        if depth(&all, p) >= MAX_DEPTH {
            return Err(FolderError::TooDeep);
        }
    }
    check_siblings(&all, parent, &name, None)?;
    let now = clock.now_ms();
    let id: i64 = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mail_folders (account_id, role, name, parent_id, created_ms) VALUES ($1, 'custom', $2, $3, $4) \
             RETURNING id")
            .bind(account_id).bind(&name).bind(parent).bind(now).fetch_one(&mut *tx).await?;
        let event = holder.event("mail.folder_create", Outcome::Success).object(format!("folder:{id}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// Renames one of the holder's own folders, recorded in the same transaction.
pub(crate) async fn rename(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    id: i64,
    name: &str,
) -> Result<(), FolderError> {
    let result = rename_checked(db, clock, holder, id, name).await;
    recorded(db, clock, holder, "mail.folder_rename", Some(format!("folder:{id}")), result).await
}

async fn rename_checked(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64, name: &str) -> Result<(), FolderError> {
    let account_id = holder.account_id;
    let name = clean_name(name)?;
    let all = own(db, account_id).await?;
    let Some(f) = all.iter().find(|f| f.id == id) else { return Err(FolderError::NotFound) };
    check_siblings(&all, f.parent_id, &name, Some(id))?;
    let event = holder.event("mail.folder_rename", Outcome::Success).object(format!("folder:{id}"));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE mail_folders SET name = $1 WHERE id = $2 AND account_id = $3")
            .bind(&name).bind(id).bind(account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Moves one of the account's own folders inside another (or to the top with `None`).
pub async fn nest(db: &Db, account_id: i64, id: i64, parent: Option<i64>) -> Result<(), FolderError> {
    let all = own(db, account_id).await?;
    let Some(f) = all.iter().find(|f| f.id == id) else { return Err(FolderError::NotFound) };
    if let Some(p) = parent {
        if !all.iter().any(|x| x.id == p) {
            return Err(FolderError::NotFound);
        }
        // Not inside itself or one of its own sub-folders.
        let mut at = Some(p);
        while let Some(x) = at {
            if x == id {
                return Err(FolderError::Cycle);
            }
            at = all.iter().find(|f| f.id == x).and_then(|f| f.parent_id);
        }
        if depth(&all, p) + 1 + height(&all, id) > MAX_DEPTH {
            return Err(FolderError::TooDeep);
        }
    }
    check_siblings(&all, parent, &f.name, Some(id))?;
    crate::with_pool!(db, pool => { sqlx::query("UPDATE mail_folders SET parent_id = $1 WHERE id = $2 AND account_id = $3")
        .bind(parent).bind(id).bind(account_id).execute(pool).await?; });
    Ok(())
}

/// Deletes one of the holder's own folders and its sub-folders; their messages go to the Trash
/// (from where "restore" puts them in the Inbox). Recorded in the same transaction. Returns how
/// many messages moved.
pub(crate) async fn delete(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<u64, FolderError> {
    let result = delete_checked(db, clock, holder, id).await;
    recorded(db, clock, holder, "mail.folder_delete", Some(format!("folder:{id}")), result).await
}

async fn delete_checked(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<u64, FolderError> {
    let account_id = holder.account_id;
    let all = own(db, account_id).await?;
    if !all.iter().any(|f| f.id == id) {
        return Err(FolderError::NotFound);
    }
    // The folder and everything under it, deepest first.
    let mut doomed = vec![id];
    let mut i = 0;
    while i < doomed.len() {
        let parent = doomed[i];
        doomed.extend(all.iter().filter(|f| f.parent_id == Some(parent)).map(|f| f.id));
        i += 1;
    }
    doomed.reverse();
    let trash = super::folder_id(db, clock, account_id, "trash").await?;
    let mut moved = 0;
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for f in &doomed {
            moved += sqlx::query(
                "UPDATE messages SET folder_id = $1, trashed_from = NULL WHERE folder_id = $2 AND account_id = $3")
                .bind(trash).bind(f).bind(account_id).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE messages SET trashed_from = NULL WHERE trashed_from = $1 AND account_id = $2")
                .bind(f).bind(account_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM mail_folders WHERE id = $1 AND account_id = $2 AND role = 'custom'")
                .bind(f).bind(account_id).execute(&mut *tx).await?;
        }
        let event = holder.event("mail.folder_delete", Outcome::Success).object(format!("folder:{id} moved:{moved}"));
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(moved)
}
