//! The mailbox as IMAP sees it (RFC 9051): folders with their UIDVALIDITY, UIDNEXT and a
//! modification counter, each folder's messages by UID, their flags and whole text, and
//! APPEND. UIDs are given by the store itself (migration 0030: triggers on `messages`), in the
//! same transaction as whatever puts a message into a folder, strictly increasing and never
//! reused in that folder. Every change goes through the holder's verbs ([`Mailbox::apply`],
//! [`Mailbox::search`]), which check and record it; this module only reads, except APPEND.

use super::ingest::{IngestTx, Prepared};
use super::{attach, Action, MailError, Mailbox};
use crate::audit::{AuditTx, Outcome};
use crate::clock::Millis;
use crate::store::{BeginWrite, StoreError};

/// One folder of the holder's, for LIST, STATUS and SELECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapFolder {
    pub id: i64,
    /// As the other channels name it: a role, or `d<ID>`.
    pub key: String,
    pub role: String,
    pub name: String,
    pub parent_id: Option<i64>,
    /// The folder's id: never given to another folder, so a folder deleted and made again
    /// under the same name has another UIDVALIDITY.
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// Moves up on every change to the folder's messages (in, out, flags).
    pub modseq: i64,
    pub total: i64,
    pub unread: i64,
}

/// One message of a selected folder, in UID order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ImapMessage {
    pub id: i64,
    pub uid: i64,
    pub unread: bool,
    pub flagged: bool,
    pub date_ms: Millis,
    pub size: i64,
}

/// A message's whole text, to FETCH from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImapRaw {
    pub id: i64,
    pub raw: Vec<u8>,
}

/// What a new message gets in its folder (UIDPLUS: `APPENDUID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub uidvalidity: u32,
    pub uid: u32,
}

#[derive(sqlx::FromRow)]
struct Counters {
    id: i64,
    uidnext: i64,
    modseq: i64,
}

fn u32_of(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Drafts waiting to leave (undo send, scheduled send) are not in Drafts for the webmail: nor
/// for IMAP.
const NOT_WAITING: &str = "NOT EXISTS (SELECT 1 FROM scheduled_sends s WHERE s.message_id = m.id)";

impl Mailbox<'_> {
    /// The holder's folders with their IMAP counters, in the webmail's order.
    pub async fn imap_folders(&self) -> Result<Vec<ImapFolder>, StoreError> {
        let (db, _) = self.store();
        let rows = self.folders().await?;
        let counters: Vec<Counters> = crate::with_pool!(db, p => sqlx::query_as(
            "SELECT id, uidnext, modseq FROM mail_folders WHERE account_id = $1")
            .bind(self.holder().account_id).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .filter_map(|f| {
                let c = counters.iter().find(|c| c.id == f.id)?;
                Some(ImapFolder {
                    key: f.key(),
                    id: f.id,
                    role: f.role,
                    name: f.name,
                    parent_id: f.parent_id,
                    uidvalidity: u32_of(f.id),
                    uidnext: u32_of(c.uidnext),
                    modseq: c.modseq,
                    total: f.total,
                    unread: f.unread,
                })
            })
            .collect())
    }

    /// The folder's modification counter: what an IDLE-ing client polls (one indexed row).
    /// `None` if the folder is not the holder's (any more).
    pub async fn imap_modseq(&self, folder_id: i64) -> Result<Option<i64>, StoreError> {
        let (db, _) = self.store();
        Ok(crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT modseq FROM mail_folders WHERE id = $1 AND account_id = $2")
            .bind(folder_id).bind(self.holder().account_id).fetch_optional(p).await?))
    }

    /// The folder's messages in UID order (message sequence number = position + 1), with the
    /// folder's modification counter read in the same statement's snapshot.
    pub async fn imap_messages(&self, folder_id: i64) -> Result<Vec<ImapMessage>, StoreError> {
        let (db, _) = self.store();
        Ok(crate::with_pool!(db, p => sqlx::query_as(&format!(
            "SELECT m.id, m.uid, m.unread, m.flagged, m.date_ms, m.size FROM messages m \
             WHERE m.account_id = $1 AND m.folder_id = $2 AND {NOT_WAITING} ORDER BY m.uid"))
            .bind(self.holder().account_id).bind(folder_id).fetch_all(p).await?))
    }

    /// The UIDs messages `ids` of the holder's have in folder `folder_id` (after a move).
    pub async fn imap_uids_of(&self, folder_id: i64, ids: &[i64]) -> Result<Vec<(i64, i64)>, StoreError> {
        let (db, _) = self.store();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let uid: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
                "SELECT uid FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3")
                .bind(id).bind(self.holder().account_id).bind(folder_id).fetch_optional(p).await?);
            if let Some(uid) = uid {
                out.push((*id, uid));
            }
        }
        Ok(out)
    }

    /// The whole text of the holder's messages among `ids` (others' are not found), recorded
    /// as the webmail records it: reading (`mail.open`) when the client asked for `bodies`, a
    /// list (`mail.list`, it shows subjects) when only headers; one record per call (a FETCH
    /// part). The messages among `opened` are marked read in the same transaction as the
    /// `mail.open` record, as opening one in the webmail does (a FETCH of a body without PEEK).
    pub async fn imap_read(&self, ids: &[i64], bodies: bool, opened: &[i64]) -> Result<Vec<ImapRaw>, StoreError> {
        let (db, clock) = self.store();
        let account_id = self.holder().account_id;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(200) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            // Plain integers from the store: nothing of the client's in the statement.
            let rows: Vec<ImapRaw> = crate::with_pool!(db, p => sqlx::query_as(&format!(
                "SELECT id, raw FROM messages WHERE account_id = $1 AND id IN ({})", list.join(",")))
                .bind(account_id).fetch_all(p).await?);
            out.extend(rows);
        }
        if out.is_empty() {
            return Ok(out);
        }
        let listed: Vec<String> = out.iter().take(50).map(|r| r.id.to_string()).collect();
        let event = self
            .holder()
            .event(if bodies { "mail.open" } else { "mail.list" }, Outcome::Success)
            .object(format!("messages:{} count:{}", listed.join(","), out.len()));
        if !bodies || opened.is_empty() {
            crate::audit::append(db, clock, event).await?;
            return Ok(out);
        }
        crate::with_pool!(db, p => {
            let mut tx = p.begin_write().await?;
            for id in opened {
                sqlx::query("UPDATE messages SET unread = FALSE WHERE id = $1 AND account_id = $2 AND unread")
                    .bind(id).bind(account_id).execute(&mut *tx).await?;
            }
            tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
            tx.commit().await?;
        });
        Ok(out)
    }

    /// Puts a message the client wrote into folder `key` (APPEND): within the per-message limit
    /// and the quota, indexed for search, recorded (`mail.append`). `None` when the mailbox
    /// already holds a message with that Message-ID (Hygie keeps one copy of each).
    pub async fn imap_append(
        &self,
        key: &str,
        raw: &[u8],
        seen: bool,
        flagged: bool,
        date_ms: Option<Millis>,
    ) -> Result<Option<Appended>, AppendError> {
        let (db, clock) = self.store();
        let holder = self.holder();
        let limits = self.limits();
        let refuse =
            |why: &str| holder.event("mail.append", Outcome::Denied(why.into())).object(format!("folder:{key}"));
        let Some(folder) = super::folders::resolve(db, clock, holder.account_id, key).await? else {
            crate::audit::append(db, clock, refuse("not_found")).await?;
            return Err(AppendError::NoFolder);
        };
        if raw.len() as i64 > limits.max_message_bytes {
            crate::audit::append(db, clock, refuse("too_large")).await?;
            return Err(MailError::TooLarge { max_bytes: limits.max_message_bytes }.into());
        }
        if attach::usage(db, holder.account_id).await? + raw.len() as i64 > limits.quota_bytes {
            crate::audit::append(db, clock, refuse("quota")).await?;
            return Err(MailError::QuotaExceeded { quota_bytes: limits.quota_bytes }.into());
        }
        let now = clock.now_ms();
        let Some(prepared) = Prepared::new(raw, date_ms, !seen, now) else {
            crate::audit::append(db, clock, refuse("invalid")).await?;
            return Err(AppendError::NotAMessage);
        };
        let appended = crate::with_pool!(db, p => {
            let mut tx = p.begin_write().await?;
            let stored = tx.store_in(holder.account_id, folder, &prepared, raw, now).await?;
            let mut appended = None;
            if let Some(id) = stored {
                if flagged {
                    sqlx::query("UPDATE messages SET flagged = TRUE WHERE id = $1").bind(id).execute(&mut *tx).await?;
                }
                let uid: i64 = sqlx::query_scalar("SELECT uid FROM messages WHERE id = $1")
                    .bind(id).fetch_one(&mut *tx).await?;
                appended = Some(Appended { uidvalidity: u32_of(folder), uid: u32_of(uid) });
                let event = holder.event("mail.append", Outcome::Success).object(format!("folder:{key} message:{id}"));
                tx.append_audit(db.audit_key(), now, &event).await?;
            }
            tx.commit().await?;
            appended
        });
        match appended {
            Some(a) => Ok(Some(a)),
            None => Ok(self.imap_append_held(folder, &prepared.message_id, seen, flagged).await?),
        }
    }

    /// APPEND of a message the mailbox holds already (Hygie keeps one copy of each): a client
    /// that moves a message itself (a synchronising client moving a file between Maildir
    /// folders) writes it into the new folder and removes it from the old one, so the held
    /// message moves into `folder` with the client's flags, through the webmail's verbs and
    /// their records, in one transaction. `None` (kept where it is) when it is in that folder already, when the
    /// mailbox holds several copies (one's own message in Sent and Inbox), or when the folder is
    /// Sent or Drafts, where no message is moved.
    async fn imap_append_held(
        &self,
        folder: i64,
        message_id: &str,
        seen: bool,
        flagged: bool,
    ) -> Result<Option<Appended>, StoreError> {
        let (db, _) = self.store();
        let account_id = self.holder().account_id;
        let held: Vec<(i64, i64, bool, bool)> = crate::with_pool!(db, p => sqlx::query_as(&format!(
            "SELECT m.id, m.folder_id, m.unread, m.flagged FROM messages m \
             WHERE m.account_id = $1 AND m.message_id = $2 AND {NOT_WAITING} LIMIT 2"))
            .bind(account_id).bind(message_id).fetch_all(p).await?);
        let [(id, from, unread, was_flagged)] = held[..] else { return Ok(None) };
        let role: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT role FROM mail_folders WHERE id = $1 AND account_id = $2")
            .bind(folder).bind(account_id).fetch_optional(p).await?);
        let action = match role.as_deref() {
            _ if from == folder => return Ok(None),
            Some("trash") => Action::Trash,
            Some("inbox") => Action::MoveTo("inbox"),
            Some("archive") => Action::MoveTo("archive"),
            Some("custom") => Action::MoveToFolder(folder),
            _ => return Ok(None),
        };
        let ids = [id];
        let mut changes = vec![(action, &ids[..])];
        if unread == seen {
            changes.push((if seen { Action::MarkRead } else { Action::MarkUnread }, &ids[..]));
        }
        if was_flagged != flagged {
            changes.push((if flagged { Action::Flag } else { Action::Unflag }, &ids[..]));
        }
        self.apply_all(&changes).await?;
        Ok(self
            .imap_uids_of(folder, &[id])
            .await?
            .first()
            .map(|&(_, uid)| Appended { uidvalidity: u32_of(folder), uid: u32_of(uid) }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("no such folder")]
    NoFolder,
    #[error("not a message")]
    NotAMessage,
    #[error(transparent)]
    Refused(#[from] MailError),
}

impl From<StoreError> for AppendError {
    fn from(e: StoreError) -> Self {
        AppendError::Refused(MailError::Store(e))
    }
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Refused(MailError::Store(StoreError::Query(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::mail::tests::holder;
    use crate::mail::{import_batch, Action, Imported, MailPolicy};
    use crate::store::testing::TestDb;

    fn raw(id: &str) -> Imported {
        Imported {
            raw: format!(
                "From: Labo <labo@labo.mssante.fr>\r\nTo: alice@hygie.example\r\nSubject: Bilan {id}\r\n\
                 Message-ID: <{id}@labo>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nBilan normal.\r\n"
            )
            .into_bytes(),
            date_ms: None,
            unread: true,
        }
    }

    fn policy() -> MailPolicy {
        MailPolicy {
            domains: vec!["hygie.example".into()],
            public_url: "https://h.example".into(),
            limits: attach::Limits { max_message_bytes: 1024 * 1024, quota_bytes: 3 * 1024 * 1024 },
        }
    }

    /// UIDs strictly increase in a folder and are never given twice there: a message moved out
    /// and back gets a new one above every UID the folder gave; each change moves the folder's
    /// counter (what IDLE polls); another holder sees none of it.
    #[tokio::test]
    async fn uids_strictly_increase_and_are_never_reused_in_a_folder() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let policy = policy();
            let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
            let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
            import_batch(&t.db, &clock, a.account_id, "inbox", &[raw("1"), raw("2"), raw("3")]).await.unwrap();
            let folders = mailbox.imap_folders().await.unwrap();
            let inbox = folders.iter().find(|f| f.role == "inbox").unwrap().clone();
            let trash = folders.iter().find(|f| f.role == "trash").unwrap().clone();
            assert_eq!((inbox.uidvalidity, inbox.uidnext, inbox.total), (inbox.id as u32, 4, 3));
            assert_ne!(inbox.uidvalidity, trash.uidvalidity);
            let msgs = mailbox.imap_messages(inbox.id).await.unwrap();
            assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1, 2, 3]);

            // To the Trash and back: new UIDs each time, above all the folder gave.
            let before = mailbox.imap_modseq(inbox.id).await.unwrap().unwrap();
            assert_eq!(mailbox.apply(&[msgs[0].id, msgs[1].id], Action::Trash).await.unwrap(), 2);
            assert!(mailbox.imap_modseq(inbox.id).await.unwrap().unwrap() > before, "moved out: a change");
            let in_trash = mailbox.imap_messages(trash.id).await.unwrap();
            assert_eq!(in_trash.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1, 2]);
            mailbox.apply(&[msgs[0].id], Action::Restore).await.unwrap();
            let back = mailbox.imap_messages(inbox.id).await.unwrap();
            assert_eq!(back.iter().map(|m| (m.id, m.uid)).collect::<Vec<_>>(), vec![(msgs[2].id, 3), (msgs[0].id, 4)]);
            assert_eq!(mailbox.imap_uids_of(inbox.id, &[msgs[0].id, msgs[1].id]).await.unwrap(), vec![(msgs[0].id, 4)]);
            // Deleted for good: its UID is not given again.
            mailbox.apply(&[msgs[0].id], Action::Trash).await.unwrap();
            mailbox.apply(&[msgs[0].id], Action::DeleteForever).await.unwrap();
            import_batch(&t.db, &clock, a.account_id, "trash", &[raw("4")]).await.unwrap();
            let in_trash = mailbox.imap_messages(trash.id).await.unwrap();
            assert_eq!(in_trash.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![2, 4]);

            // A flag is a change too.
            let before = mailbox.imap_modseq(inbox.id).await.unwrap().unwrap();
            mailbox.apply(&[msgs[2].id], Action::Flag).await.unwrap();
            assert!(mailbox.imap_modseq(inbox.id).await.unwrap().unwrap() > before);
            assert!(mailbox.imap_messages(inbox.id).await.unwrap()[0].flagged);

            // APPEND: the next UID, recorded; the same Message-ID twice is kept once.
            let appended = mailbox.imap_append("drafts", &raw("5").raw, true, true, None).await.unwrap().unwrap();
            let drafts = mailbox.imap_folders().await.unwrap().into_iter().find(|f| f.role == "drafts").unwrap();
            assert_eq!((appended.uidvalidity, appended.uid, drafts.uidnext), (drafts.id as u32, 1, 2));
            let m = mailbox.imap_messages(drafts.id).await.unwrap();
            assert!(!m[0].unread && m[0].flagged);
            assert!(mailbox.imap_append("drafts", &raw("5").raw, true, false, None).await.unwrap().is_none());
            assert!(matches!(
                mailbox.imap_append("d999999", &raw("6").raw, true, false, None).await,
                Err(AppendError::NoFolder)
            ));
            // APPEND of a held message into another folder moves it there, with the client's
            // flags (a client that moved it itself): one copy still.
            let archive = mailbox.imap_folders().await.unwrap().into_iter().find(|f| f.role == "archive").unwrap();
            let moved = mailbox.imap_append("archive", &raw("3").raw, true, false, None).await.unwrap().unwrap();
            assert_eq!((moved.uidvalidity, moved.uid), (archive.id as u32, 1));
            let m = mailbox.imap_messages(archive.id).await.unwrap();
            assert_eq!((m.len(), m[0].id, m[0].unread, m[0].flagged), (1, msgs[2].id, false, false));
            assert!(mailbox.imap_messages(inbox.id).await.unwrap().is_empty());

            // A path that gives no UID, or a wrong one, still gets the next (the trigger).
            let copy = |uid: Option<i64>| {
                format!(
                    "INSERT INTO messages (account_id, folder_id, message_id, thread_id, in_reply_to, from_addr, \
                     from_name, to_addrs, cc_addrs, subject, snippet, date_ms, size, attachment_names, urgent, unread, \
                     raw, created_ms, uid) \
                     SELECT account_id, folder_id, $2, thread_id, in_reply_to, from_addr, from_name, to_addrs, \
                     cc_addrs, subject, snippet, date_ms, size, attachment_names, urgent, unread, raw, created_ms, {} \
                     FROM messages WHERE id = $1",
                    uid.map_or("NULL".to_string(), |u| u.to_string())
                )
            };
            let draft_id = mailbox.imap_messages(drafts.id).await.unwrap()[0].id;
            for (n, given) in [(None, 2), (Some(1), 3), (Some(99), 4)] {
                let sql = copy(n);
                crate::with_pool!(&t.db, p => sqlx::query(&sql)
                    .bind(draft_id).bind(format!("<copy{given}@labo>")).execute(p).await.map(|_| ()))
                .unwrap();
                let stored = mailbox.imap_messages(drafts.id).await.unwrap();
                assert_eq!(stored.last().unwrap().uid, given, "given {n:?}");
            }
            let drafts = mailbox.imap_folders().await.unwrap().into_iter().find(|f| f.role == "drafts").unwrap();
            assert_eq!(drafts.uidnext, 5);

            // Another holder: her folders' counters, her messages, nothing of Alice's.
            let theirs = Mailbox::new(&t.db, &clock, &b, &policy);
            assert_eq!(theirs.imap_modseq(inbox.id).await.unwrap(), None);
            assert!(theirs.imap_messages(inbox.id).await.unwrap().is_empty());
            assert!(theirs.imap_read(&[msgs[2].id], true, &[]).await.unwrap().is_empty());
            assert!(theirs.imap_uids_of(inbox.id, &[msgs[2].id]).await.unwrap().is_empty());
            let read = mailbox.imap_read(&[msgs[2].id], true, &[]).await.unwrap();
            assert!(String::from_utf8_lossy(&read[0].raw).contains("Bilan normal."));
        }
    }
}
