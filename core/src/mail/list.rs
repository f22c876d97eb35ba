//! Lists: a folder's page (folded into conversations or not), the newest message, a
//! conversation.

use super::*;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

/// A line of a message list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListItem {
    pub id: i64,
    pub from_addr: String,
    pub from_name: String,
    pub to_addrs: String,
    pub subject: String,
    pub snippet: String,
    pub date_ms: Millis,
    pub unread: bool,
    pub flagged: bool,
    pub urgent: bool,
    pub has_attachments: bool,
    /// Messages of its conversation in the mailbox, itself included.
    pub thread_count: i64,
    /// When the list folds conversations: the messages of this line's conversation in this
    /// folder, newest first, itself included (actions on the line apply to all of them). Empty
    /// when the list does not fold.
    #[sqlx(skip)]
    pub folded_ids: Vec<i64>,
    /// When folded: the oldest unread message of the line's conversation in this folder (the
    /// one to open first), if any.
    #[sqlx(skip)]
    pub first_unread: Option<i64>,
}

/// One page of a folder, newest first, and the folder's total: messages, or with `fold`,
/// conversations (one line each, its newest message in the folder; the total counts
/// conversations).
/// One page of one of the holder's folders, newest first (one line per conversation when
/// `fold`), and the folder's size. The listing shows subjects and senders, so it is recorded:
/// no record, no list.
pub(crate) async fn list(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    role: &str,
    page: i64,
    per_page: i64,
    fold: bool,
) -> Result<(Vec<ListItem>, i64), StoreError> {
    let account_id = holder.account_id;
    let folder = folders::resolve(db, clock, account_id, role)
        .await?
        .ok_or_else(|| StoreError::Other(format!("no folder {role}")))?;
    // Folded, a line is a message with no newer one of its conversation in the folder.
    let newest_only = if fold {
        " AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.account_id = m.account_id AND n.folder_id = m.folder_id \
         AND n.thread_id = m.thread_id AND (n.date_ms > m.date_ms OR (n.date_ms = m.date_ms AND n.id > m.id)))"
    } else {
        ""
    };
    // Drafts scheduled to leave (undo send, scheduled send) show in "Programmés", not here.
    let (waiting, waiting_plain) = if role == "drafts" {
        (
            " AND NOT EXISTS (SELECT 1 FROM scheduled_sends s WHERE s.message_id = m.id)",
            " AND NOT EXISTS (SELECT 1 FROM scheduled_sends s WHERE s.message_id = messages.id)",
        )
    } else {
        ("", "")
    };
    let mut items: Vec<ListItem> = crate::with_pool!(db, p => sqlx::query_as(
        &format!("SELECT m.id, m.from_addr, m.from_name, m.to_addrs, m.subject, m.snippet, m.date_ms, m.unread, m.flagged, \
         m.urgent, m.attachment_names <> '' AS has_attachments, {THREAD_COUNT} FROM messages m \
         WHERE m.account_id = $1 AND m.folder_id = $2{newest_only}{waiting} ORDER BY m.date_ms DESC, m.id DESC LIMIT $3 OFFSET $4"))
        .bind(account_id).bind(folder).bind(per_page).bind(page.max(0) * per_page).fetch_all(p).await?);
    let count = if fold { "COUNT(DISTINCT thread_id)" } else { "COUNT(*)" };
    let total: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        &format!("SELECT {count} FROM messages WHERE account_id = $1 AND folder_id = $2{waiting_plain}"))
        .bind(account_id).bind(folder).fetch_one(p).await?);
    if fold && !items.is_empty() {
        fold_lines(db, account_id, folder, &mut items).await?;
    }
    let object = format!("folder:{role} page:{} lines:{}", page.max(0), items.len());
    audit::append(db, clock, holder.event("mail.list", Outcome::Success).object(object)).await?;
    Ok((items, total))
}

/// Where a page of a list starts: after the line (date, id) that ended the previous page.
pub type ListCursor = (Millis, i64);

/// One page of one of the holder's folders, newest first, one line per message, starting after
/// `after` (the last line of the previous page; a page that does not shift when mail arrives,
/// as an offset would). Recorded as [`list`] is.
pub(crate) async fn list_after(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    role: &str,
    after: Option<ListCursor>,
    per_page: i64,
) -> Result<Vec<ListItem>, StoreError> {
    let account_id = holder.account_id;
    let folder = folders::resolve(db, clock, account_id, role)
        .await?
        .ok_or_else(|| StoreError::Other(format!("no folder {role}")))?;
    let waiting = if role == "drafts" {
        " AND NOT EXISTS (SELECT 1 FROM scheduled_sends s WHERE s.message_id = m.id)"
    } else {
        ""
    };
    let (date, id) = after.unwrap_or((Millis::MAX, i64::MAX));
    let items: Vec<ListItem> = crate::with_pool!(db, p => sqlx::query_as(
        &format!("SELECT m.id, m.from_addr, m.from_name, m.to_addrs, m.subject, m.snippet, m.date_ms, m.unread, m.flagged, \
         m.urgent, m.attachment_names <> '' AS has_attachments, {THREAD_COUNT} FROM messages m \
         WHERE m.account_id = $1 AND m.folder_id = $2{waiting} AND (m.date_ms < $3 OR (m.date_ms = $3 AND m.id < $4)) \
         ORDER BY m.date_ms DESC, m.id DESC LIMIT $5"))
        .bind(account_id).bind(folder).bind(date).bind(id).bind(per_page).fetch_all(p).await?);
    let object = format!("folder:{role} after:{} lines:{}", after.map_or(0, |a| a.1), items.len());
    audit::append(db, clock, holder.event("mail.list", Outcome::Success).object(object)).await?;
    Ok(items)
}

/// Gives each folded line its conversation's messages in the folder, and marks the line unread,
/// flagged or with attachments when any of them is.
async fn fold_lines(db: &Db, account_id: i64, folder: i64, items: &mut [ListItem]) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Member {
        id: i64,
        thread_id: String,
        date_ms: Millis,
        unread: bool,
        flagged: bool,
        has_attachments: bool,
    }
    let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
    // The lines' ids are integers from the database: listing them in the statement is safe. The
    // conversations are looked up through the lines' thread ids (a join from the lines lets
    // SQLite walk the whole folder first).
    let sql = format!(
        "SELECT m.id, m.thread_id, m.date_ms, m.unread, m.flagged, m.attachment_names <> '' AS has_attachments \
         FROM messages m WHERE m.account_id = $1 AND m.folder_id = $2 AND m.thread_id IN \
         (SELECT t.thread_id FROM messages t WHERE t.account_id = $1 AND t.folder_id = $2 AND t.id IN ({}))",
        ids.join(", ")
    );
    let mut members: Vec<Member> = crate::with_pool!(db, p => sqlx::query_as(&sql)
        .bind(account_id).bind(folder).fetch_all(p).await?);
    members.sort_by(|a, b| (b.date_ms, b.id).cmp(&(a.date_ms, a.id)));
    for item in items.iter_mut() {
        let Some(thread) = members.iter().find(|m| m.id == item.id).map(|m| m.thread_id.clone()) else {
            continue;
        };
        for m in members.iter().filter(|m| m.thread_id == thread) {
            item.folded_ids.push(m.id);
            item.unread |= m.unread;
            item.flagged |= m.flagged;
            item.has_attachments |= m.has_attachments;
            if m.unread {
                // Newest first: the last one seen is the oldest.
                item.first_unread = Some(m.id);
            }
        }
    }
    Ok(())
}

/// Does the account's message list fold conversations (the default)?
pub async fn folds_threads(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    Ok(list_choice(db, account_id, ListChoice::FoldThreads).await?.unwrap_or(true))
}

/// Folds conversations in the account's message lists, or shows every message on its own line.
pub(crate) async fn set_folds_threads(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    fold: bool,
) -> Result<(), StoreError> {
    let choice = if fold { "conversations" } else { "messages" };
    set_list_choice(db, clock, holder, ListChoice::FoldThreads, fold, choice).await
}

/// Does the account's message list show compact lines (the holder's choice; comfortable by default)?
pub async fn compact_list(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    Ok(list_choice(db, account_id, ListChoice::Compact).await?.unwrap_or(false))
}

/// Keeps the account's list density: compact lines, or comfortable ones.
pub(crate) async fn set_compact_list(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    compact: bool,
) -> Result<(), StoreError> {
    let choice = if compact { "compact" } else { "comfortable" };
    set_list_choice(db, clock, holder, ListChoice::Compact, compact, choice).await
}

/// A yes-or-no display choice of the account's message list, kept on the account.
#[derive(Clone, Copy)]
enum ListChoice {
    FoldThreads,
    Compact,
}

impl ListChoice {
    /// Its column (a fixed name, never the caller's text) and its audit action.
    fn column_and_action(self) -> (&'static str, &'static str) {
        match self {
            ListChoice::FoldThreads => ("mail_fold_threads", "mail.folding"),
            ListChoice::Compact => ("mail_compact", "mail.density"),
        }
    }
}

async fn list_choice(db: &Db, account_id: i64, which: ListChoice) -> Result<Option<bool>, StoreError> {
    let sql = format!("SELECT {} FROM accounts WHERE id = $1", which.column_and_action().0);
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(&sql).bind(account_id).fetch_optional(p).await?))
}

/// Sets the choice and records it (`choice` names the value) in one transaction.
async fn set_list_choice(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    which: ListChoice,
    value: bool,
    choice: &str,
) -> Result<(), StoreError> {
    let (column, action) = which.column_and_action();
    let event = holder.event(action, Outcome::Success).object(choice);
    let sql = format!("UPDATE accounts SET {column} = $1 WHERE id = $2");
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query(&sql).bind(value).bind(holder.account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// The id of the account's newest message (0 for an empty mailbox): open pages compare it to
/// show new mail without a reload. One index lookup.
pub async fn newest(db: &Db, account_id: i64) -> Result<i64, StoreError> {
    let id: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT MAX(id) FROM messages WHERE account_id = $1").bind(account_id).fetch_one(p).await?);
    Ok(id.unwrap_or(0))
}

/// A message of a conversation, for the reader.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThreadItem {
    pub id: i64,
    pub role: String,
    pub from_addr: String,
    pub from_name: String,
    pub snippet: String,
    pub date_ms: Millis,
    pub unread: bool,
}

/// The account's messages of conversation `thread_id`, oldest first (at most 200), the Trash
/// left out.
pub async fn thread(db: &Db, account_id: i64, thread_id: &str) -> Result<Vec<ThreadItem>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.id, f.role, m.from_addr, m.from_name, m.snippet, m.date_ms, m.unread \
         FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND m.thread_id = $2 AND f.role <> 'trash' ORDER BY m.date_ms, m.id LIMIT 200")
        .bind(account_id).bind(thread_id).fetch_all(p).await?))
}
