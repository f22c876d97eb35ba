//! The holder's mailbox: the one way every channel (the webmail, and next IMAP, SMTP submission
//! and the Web Services API) acts on mail. Each verb checks what the holder may do, applies
//! the per-holder limits, changes the store and writes its audit record in one transaction;
//! the channel only authenticates the holder, parses its protocol and maps the answer.

use crate::auth::holder::Holder;
use crate::clock::Clock;
use crate::ratelimit::{self, Decision, Limit};
use crate::store::{Db, StoreError};

use super::receipts::{self, ReceiptError, ReceiptPrompt, ReceiptSetting};
use super::{
    attach, drafts, folders, folders::FolderError, schedule, Action, Draft, FolderRow, ListItem, Opened,
    RemoteDelivery, SearchAfter, SearchQuery, SendError, Sent, ThreadItem,
};

/// What the instance decides for every mailbox: set once at start-up.
#[derive(Debug, Clone)]
pub struct MailPolicy {
    /// The instance's own mail domains: mail to them is delivered here.
    pub domains: Vec<String>,
    /// The address links in notices point to.
    pub public_url: String,
    pub limits: attach::Limits,
}

/// How much one holder may do in an hour, whatever the channel. Generous for a person, a brake
/// on a stolen session or a runaway script.
pub mod hourly {
    pub const SENDS: i64 = 200;
    pub const DRAFT_SAVES: i64 = 2_000;
    pub const SEARCHES: i64 = 600;
    pub const UPLOADS: i64 = 300;
    /// PDF pages drawn (and page counts), each a call to the confined renderer.
    pub const PREVIEWS: i64 = 2_000;
}

/// Lines in the first page of a search (the webmail's, the API's default).
pub const SEARCH_RESULTS: i64 = 200;

/// A page of search results.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub items: Vec<ListItem>,
    /// How many messages match in all: given with the first page.
    pub total: Option<i64>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<SearchAfter>,
}

/// A refusal of a verb that is not about the message itself.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Over the holder's hourly limit for this verb (the refusal is recorded).
    #[error("rate limited, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A file over the per-message limit.
    #[error("over {max_bytes} bytes")]
    TooLarge { max_bytes: i64 },
    /// The mailbox would be over its quota.
    #[error("quota exceeded")]
    QuotaExceeded { quota_bytes: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MailError {
    /// The audit trail's short code for the refusal.
    fn audit_code(&self) -> &'static str {
        match self {
            MailError::RateLimited { .. } => "rate_limited",
            MailError::TooLarge { .. } => "too_large",
            MailError::QuotaExceeded { .. } => "quota",
            MailError::Store(_) => "internal",
        }
    }
}

impl From<MailError> for SendError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::RateLimited { retry_after_secs } => SendError::RateLimited { retry_after_secs },
            MailError::TooLarge { max_bytes } => SendError::TooLarge { max_bytes },
            MailError::QuotaExceeded { quota_bytes } => SendError::QuotaExceeded { quota_bytes },
            MailError::Store(e) => SendError::Store(e),
        }
    }
}

/// One holder's mailbox, for the length of a request (or of a protocol command).
pub struct Mailbox<'a> {
    db: &'a Db,
    clock: &'a dyn Clock,
    holder: &'a Holder,
    policy: &'a MailPolicy,
}

impl<'a> Mailbox<'a> {
    pub fn new(db: &'a Db, clock: &'a dyn Clock, holder: &'a Holder, policy: &'a MailPolicy) -> Mailbox<'a> {
        Mailbox { db, clock, holder, policy }
    }

    pub fn holder(&self) -> &Holder {
        self.holder
    }

    /// The store and clock, for the verbs of other modules of `mail` (see `imap`).
    pub(super) fn store(&self) -> (&'a Db, &'a dyn Clock) {
        (self.db, self.clock)
    }

    pub fn policy(&self) -> &MailPolicy {
        self.policy
    }

    pub fn limits(&self) -> &attach::Limits {
        &self.policy.limits
    }

    /// Counts one `verb` against the holder's hourly `max`; past it, records the refusal.
    async fn within_hourly(&self, verb: &str, action: &str, max: i64) -> Result<(), MailError> {
        let key = format!("{verb}:{}", self.holder.account_id);
        let limit = Limit { max, window_ms: 3_600_000 };
        match ratelimit::hit(self.db, self.clock, &key, limit).await? {
            Decision::Allowed { .. } => Ok(()),
            Decision::Limited { retry_after_ms } => {
                let event = self.holder.event(action, crate::audit::Outcome::Denied("rate_limited".into()));
                crate::audit::append(self.db, self.clock, event).await?;
                Err(MailError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) })
            }
        }
    }

    // ---- Folders ----

    /// The standard folders (made on first use) and the holder's own, with their counts.
    pub async fn folders(&self) -> Result<Vec<FolderRow>, StoreError> {
        super::folders(self.db, self.clock, self.holder.account_id).await
    }

    /// The name of one of the holder's own folders by its key (`d12`); `None` if not theirs.
    pub async fn own_folder_name(&self, key: &str) -> Result<Option<String>, StoreError> {
        folders::own_name(self.db, self.holder.account_id, key).await
    }

    pub async fn create_folder(&self, name: &str, parent: Option<i64>) -> Result<i64, FolderError> {
        folders::create(self.db, self.clock, self.holder, name, parent).await
    }

    pub async fn rename_folder(&self, id: i64, name: &str) -> Result<(), FolderError> {
        folders::rename(self.db, self.clock, self.holder, id, name).await
    }

    /// Deletes a folder of one's own and its sub-folders; their messages go to the Trash.
    pub async fn delete_folder(&self, id: i64) -> Result<u64, FolderError> {
        folders::delete(self.db, self.clock, self.holder, id).await
    }

    // ---- Lists ----

    /// One page of a folder, newest first (recorded: a list shows subjects); with the total.
    pub async fn list(
        &self,
        role: &str,
        page: i64,
        per_page: i64,
        fold: bool,
    ) -> Result<(Vec<ListItem>, i64), StoreError> {
        super::list(self.db, self.clock, self.holder, role, page, per_page, fold).await
    }

    /// One page of a folder, newest first, one line per message, after the line `after` ended
    /// the previous page with (recorded as [`Self::list`] is).
    pub async fn list_after(
        &self,
        key: &str,
        after: Option<super::ListCursor>,
        per_page: i64,
    ) -> Result<Vec<ListItem>, StoreError> {
        super::list::list_after(self.db, self.clock, self.holder, key, after, per_page).await
    }

    /// The key of the folder (a role, or `d<ID>`) message `id` is in; `None` when the message is
    /// not the holder's: what a channel asks before acting on one message by its id.
    pub async fn folder_of(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(i64, String)> = crate::with_pool!(self.db, p => sqlx::query_as(
            "SELECT f.id, f.role FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
             WHERE m.id = $1 AND m.account_id = $2")
            .bind(id).bind(self.holder.account_id).fetch_optional(p).await?);
        Ok(row.map(|(id, role)| if role == "custom" { format!("d{id}") } else { role }))
    }

    /// Whether `key` (a standard folder's role, or `d<ID>` for one of the holder's own folders)
    /// names one of the holder's folders: what a channel asks before [`Self::list`].
    pub async fn has_folder(&self, key: &str) -> Result<bool, StoreError> {
        if super::STANDARD_FOLDERS.iter().any(|(role, _)| *role == key) {
            return Ok(true);
        }
        // One lookup by id: not the whole folder list with its counts.
        Ok(self.own_folder_name(key).await?.is_some())
    }

    /// Whether the holder's lists fold conversations into one line.
    pub async fn folds_threads(&self) -> Result<bool, StoreError> {
        super::folds_threads(self.db, self.holder.account_id).await
    }

    pub async fn set_folds_threads(&self, fold: bool) -> Result<(), StoreError> {
        super::set_folds_threads(self.db, self.clock, self.holder, fold).await
    }

    pub async fn compact_list(&self) -> Result<bool, StoreError> {
        super::compact_list(self.db, self.holder.account_id).await
    }

    pub async fn set_compact_list(&self, compact: bool) -> Result<(), StoreError> {
        super::set_compact_list(self.db, self.clock, self.holder, compact).await
    }

    /// The id of the newest message: what a page polls to show new mail.
    pub async fn newest(&self) -> Result<i64, StoreError> {
        super::newest(self.db, self.holder.account_id).await
    }

    /// Bytes the mailbox holds (messages and files kept for the next message).
    pub async fn usage(&self) -> Result<i64, StoreError> {
        attach::usage(self.db, self.holder.account_id).await
    }

    /// Messages of every folder (or of `folder`) matching `query`, newest first: the first
    /// [`SEARCH_RESULTS`] (see [`Self::search_page`] for the rest).
    pub async fn search(&self, query: &SearchQuery, folder: Option<&str>) -> Result<Vec<ListItem>, MailError> {
        Ok(self.search_page(query, folder, None, SEARCH_RESULTS).await?.items)
    }

    /// A page of the messages of every folder (or of `folder`) matching `query`, newest first:
    /// `limit` (at most 500) after `after`; the first page (no `after`) also counts them all.
    /// Recorded with the number of results, never the words (they may name a patient); no
    /// record, no results. Each page counts as a search in the hourly limit.
    pub async fn search_page(
        &self,
        query: &SearchQuery,
        folder: Option<&str>,
        after: Option<SearchAfter>,
        limit: i64,
    ) -> Result<SearchResults, MailError> {
        self.within_hourly("search", "mail.search", hourly::SEARCHES).await?;
        let (db, clock, account) = (self.db, self.clock, self.holder.account_id);
        let limit = limit.clamp(1, 500);
        let items = super::search(db, clock, account, query, folder, after, limit).await?;
        let total = match after {
            None if (items.len() as i64) < limit => Some(items.len() as i64),
            None => Some(super::search_count(db, clock, account, query, folder).await?),
            Some(_) => None,
        };
        let next = match items.last() {
            Some(last) if items.len() as i64 == limit => Some(SearchAfter { date_ms: last.date_ms, id: last.id }),
            _ => None,
        };
        let object = match total {
            Some(t) => format!("results:{} total:{t}", items.len()),
            None => format!("results:{}", items.len()),
        };
        let event = self.holder.event("mail.search", crate::audit::Outcome::Success).object(object);
        crate::audit::append(self.db, self.clock, event).await?;
        Ok(SearchResults { items, total, next })
    }

    /// The ids of every message of `folder` (or of every folder) matching `query`, all of
    /// them: a mail client's SEARCH. Recorded and limited as [`Self::search`].
    pub async fn search_ids(&self, query: &SearchQuery, folder: Option<&str>) -> Result<Vec<i64>, MailError> {
        self.within_hourly("search", "mail.search", hourly::SEARCHES).await?;
        let ids = super::search_ids(self.db, self.clock, self.holder.account_id, query, folder).await?;
        let event =
            self.holder.event("mail.search", crate::audit::Outcome::Success).object(format!("results:{}", ids.len()));
        crate::audit::append(self.db, self.clock, event).await?;
        Ok(ids)
    }

    // ---- Reading ----

    /// Opens one of the holder's messages: marked read and recorded in one transaction.
    /// When it asks for a read receipt, the prompt is given; with the setting "always" the
    /// receipt is sent now (once).
    pub async fn open(&self, id: i64) -> Result<Option<Opened>, StoreError> {
        let Some(mut opened) = super::open(self.db, self.clock, self.holder, id).await? else { return Ok(None) };
        let mut prompt = receipts::prompt(self.db, self.holder, id).await?;
        if prompt == ReceiptPrompt::Ask
            && receipts::setting(self.db, self.holder.account_id).await? == ReceiptSetting::Always
            && receipts::asked_by_author(self.db, self.holder, id).await?
        {
            prompt = match self.answer_receipt_as(id, true, true).await {
                Ok(p) => p,
                Err(ReceiptError::Store(e)) => return Err(e),
                // Refused (an address outside the trust space, answered meanwhile): asked instead.
                Err(_) => receipts::prompt(self.db, self.holder, id).await?,
            };
        }
        opened.read_receipt = prompt;
        Ok(Some(opened))
    }

    /// Sends (`send`) or declines the read receipt message `id` asks for: once per message.
    pub async fn answer_receipt(&self, id: i64, send: bool) -> Result<ReceiptPrompt, ReceiptError> {
        self.answer_receipt_as(id, send, false).await
    }

    async fn answer_receipt_as(&self, id: i64, send: bool, automatic: bool) -> Result<ReceiptPrompt, ReceiptError> {
        receipts::answer(self.db, self.clock, self.holder, id, send, automatic, &self.policy.domains).await
    }

    /// Each recipient's timeline of a message the holder sent; `None` when not theirs.
    pub async fn timeline(&self, id: i64) -> Result<Option<Vec<receipts::RecipientTimeline>>, StoreError> {
        receipts::timeline(self.db, self.holder.account_id, id).await
    }

    /// Each recipient's timeline of a message the holder sent, on its own (the Web Services
    /// API), recorded as a reading (`mail.receipts`; refused `not_found` when not theirs): in the
    /// webmail the timeline comes with the opened message and its `mail.open` record.
    pub async fn receipts(&self, id: i64) -> Result<Option<Vec<receipts::RecipientTimeline>>, StoreError> {
        let timeline = self.timeline(id).await?;
        let event = match &timeline {
            Some(t) => self
                .holder
                .event("mail.receipts", crate::audit::Outcome::Success)
                .object(format!("message:{id} recipients:{}", t.len())),
            None => self
                .holder
                .event("mail.receipts", crate::audit::Outcome::Denied("not_found".into()))
                .object(format!("message:{id}")),
        };
        crate::audit::append(self.db, self.clock, event).await?;
        Ok(timeline)
    }

    /// The receipts mark of each of the holder's sent messages among `ids`.
    pub async fn receipt_marks(&self, ids: &[i64]) -> Result<Vec<(i64, &'static str)>, StoreError> {
        receipts::marks(self.db, self.holder.account_id, ids).await
    }

    pub async fn receipt_setting(&self) -> Result<ReceiptSetting, StoreError> {
        receipts::setting(self.db, self.holder.account_id).await
    }

    pub async fn set_receipt_setting(&self, value: ReceiptSetting) -> Result<(), StoreError> {
        receipts::set_setting(self.db, self.clock, self.holder, value).await
    }

    /// The holder's messages of a conversation, oldest first.
    pub async fn thread(&self, thread_id: &str) -> Result<Vec<ThreadItem>, StoreError> {
        super::thread(self.db, self.holder.account_id, thread_id).await
    }

    /// Where delivery to other operators stands for a message the holder sent.
    pub async fn remote_deliveries(&self, id: i64) -> Result<Vec<RemoteDelivery>, StoreError> {
        super::remote_deliveries(self.db, self.holder.account_id, id).await
    }

    /// Shows remote images from the sender of message `id` from now on; false if not theirs.
    pub async fn allow_images_from(&self, id: i64) -> Result<bool, StoreError> {
        super::allow_images_from(self.db, self.clock, self.holder, id).await
    }

    /// Attachment `index` of one of the holder's messages.
    pub async fn attachment(&self, id: i64, index: usize) -> Result<Option<super::Attachment>, StoreError> {
        super::attachment(self.db, self.holder.account_id, id, index).await
    }

    /// Attachment `index` of one of the holder's messages if it is a PDF by its content.
    pub async fn pdf_attachment(&self, id: i64, index: usize) -> Result<Option<super::Attachment>, StoreError> {
        super::pdf_attachment(self.db, self.holder.account_id, id, index).await
    }

    /// Document `doc` of the XDM package that is attachment `index` of one of the holder's
    /// messages, as a file to download.
    pub async fn xdm_document(
        &self,
        id: i64,
        index: usize,
        doc: usize,
    ) -> Result<Option<super::Attachment>, StoreError> {
        super::xdm_document(self.db, self.holder.account_id, id, index, doc).await
    }

    /// The PDF of that document (its file, or the PDF its CDA embeds), to preview.
    pub async fn xdm_pdf(&self, id: i64, index: usize, doc: usize) -> Result<Option<super::Attachment>, StoreError> {
        super::xdm_pdf(self.db, self.holder.account_id, id, index, doc).await
    }

    /// Counts one PDF preview (`action`: a page count or a page drawn) against the holder's
    /// hourly limit; past it, records the refusal.
    pub async fn may_preview(&self, action: &str) -> Result<(), MailError> {
        self.within_hourly("preview", action, hourly::PREVIEWS).await
    }

    // ---- Writing ----

    /// Sends a message: checked (recipients in the trust space, sizes, quota), delivered to the
    /// mailboxes here and queued for other operators, with the record, in one transaction. A
    /// refusal is recorded too.
    pub async fn send(&self, draft: &Draft) -> Result<Sent, SendError> {
        self.send_keyed(draft, None).await
    }

    /// [`Self::send`], with the client's idempotency key recorded in the send's transaction.
    pub(super) async fn send_keyed(
        &self,
        draft: &Draft,
        key: Option<&super::IdempotencyKey>,
    ) -> Result<Sent, SendError> {
        self.within_hourly("send", "mail.send", hourly::SENDS).await?;
        let p = self.policy;
        super::send_keyed(self.db, self.clock, self.holder, draft, &p.domains, &p.public_url, &p.limits, key).await
    }

    /// Sends a message its author's software wrote (a mail client over SMTP submission, business
    /// software through the API), kept as written, to the envelope's `recipients`: the author
    /// must be the holder; the same checks, copies, queue, limits and record as [`Mailbox::send`].
    pub async fn submit(&self, recipients: &[String], raw: &[u8]) -> Result<Sent, super::SubmitError> {
        self.submit_keyed(recipients, raw, None).await
    }

    /// [`Self::submit`], with the client's idempotency key recorded in the send's transaction.
    pub(super) async fn submit_keyed(
        &self,
        recipients: &[String],
        raw: &[u8],
        key: Option<&super::IdempotencyKey>,
    ) -> Result<Sent, super::SubmitError> {
        self.within_hourly("send", "mail.send", hourly::SENDS).await.map_err(SendError::from)?;
        let p = self.policy;
        let (domains, url, limits) = (&p.domains, &p.public_url, &p.limits);
        super::submit::submit(self.db, self.clock, self.holder, recipients, raw, domains, url, limits, key).await
    }

    /// Whether the holder may write to `address` (an active mailbox here, or a domain of the
    /// trust space), asked as each recipient is named (SMTP's RCPT), before the message comes.
    pub async fn may_write_to(&self, address: &str) -> Result<(), SendError> {
        super::send::route_addresses(self.db, std::iter::once(&address.to_string()), &self.policy.domains).await?;
        Ok(())
    }

    /// Sends a message from the webmail: at once when the holder's undo delay is 0, otherwise
    /// scheduled for the end of the delay (it can be taken back until then).
    pub async fn send_with_undo(&self, draft: &Draft) -> Result<schedule::Sending, schedule::ScheduleError> {
        let delay_secs = schedule::undo_delay(self.db, self.holder.account_id).await?;
        if delay_secs == 0 {
            return Ok(schedule::Sending::Sent(self.send(draft).await?));
        }
        let at = self.clock.now_ms() + delay_secs * 1000;
        let scheduled = schedule::schedule(self, self.db, self.clock, draft, at).await?;
        Ok(schedule::Sending::Delayed { scheduled, delay_secs })
    }

    /// Schedules a message to leave at `send_at` (saved first, like a draft); recorded.
    pub async fn send_at(
        &self,
        draft: &Draft,
        send_at: crate::clock::Millis,
    ) -> Result<schedule::Scheduled, schedule::ScheduleError> {
        schedule::schedule(self, self.db, self.clock, draft, send_at).await
    }

    /// The holder's scheduled messages, soonest first.
    pub async fn scheduled(&self) -> Result<Vec<schedule::ScheduledItem>, StoreError> {
        schedule::list(self.db, self.clock, self.holder).await
    }

    /// Changes when one of the holder's scheduled messages leaves.
    pub async fn reschedule(
        &self,
        id: i64,
        send_at: crate::clock::Millis,
    ) -> Result<schedule::Scheduled, schedule::ScheduleError> {
        schedule::reschedule(self.db, self.clock, self.holder, id, send_at).await
    }

    /// Takes one of the holder's scheduled messages back into Drafts: it will not leave.
    pub async fn unschedule(&self, id: i64) -> Result<(), schedule::ScheduleError> {
        schedule::unschedule(self.db, self.clock, self.holder, id).await
    }

    /// How long a message sent from the webmail waits before leaving (seconds, 0 to 30).
    pub async fn undo_delay(&self) -> Result<i64, StoreError> {
        schedule::undo_delay(self.db, self.holder.account_id).await
    }

    pub async fn set_undo_delay(&self, secs: i64) -> Result<(), schedule::ScheduleError> {
        schedule::set_undo_delay(self.db, self.clock, self.holder, secs).await
    }

    /// Saves the message being written into Drafts (`existing`: the same draft, saved again).
    pub async fn save_draft(
        &self,
        existing: Option<i64>,
        draft: &Draft,
        typed: &drafts::Typed,
    ) -> Result<drafts::Saved, SendError> {
        self.within_hourly("draft", "mail.draft", hourly::DRAFT_SAVES).await?;
        drafts::save(self.db, self.clock, self.holder, existing, draft, typed, &self.policy.limits).await
    }

    /// Applies `action` to the holder's messages among `ids`; returns how many changed.
    pub async fn apply(&self, ids: &[i64], action: Action) -> Result<u64, StoreError> {
        super::apply(self.db, self.clock, self.holder, ids, action).await
    }

    /// Applies each action to its messages in one transaction (all or none), each recorded as
    /// on its own; returns how many changes in all.
    pub async fn apply_all(&self, changes: &[(Action, &[i64])]) -> Result<u64, StoreError> {
        super::apply_all(self.db, self.clock, self.holder, changes).await
    }

    /// Deletes everything in the Trash; returns how many messages.
    pub async fn empty_trash(&self) -> Result<u64, StoreError> {
        super::empty_trash(self.db, self.clock, self.holder).await
    }

    /// Records the refusal of `action` and returns it.
    async fn refused(&self, action: &str, e: MailError) -> MailError {
        let event = self.holder.event(action, crate::audit::Outcome::Denied(e.audit_code().into()));
        match crate::audit::append(self.db, self.clock, event).await {
            Ok(_) => e,
            Err(store) => MailError::Store(store),
        }
    }

    /// Before a file's bytes are read: counts it against the holder's hourly limit and refuses
    /// a declared size over the per-message limit (each refusal recorded).
    pub async fn may_upload(&self, declared_bytes: Option<i64>) -> Result<(), MailError> {
        let max_bytes = self.policy.limits.max_message_bytes;
        if declared_bytes.is_some_and(|n| n > max_bytes) {
            return Err(self.refused("mail.upload", MailError::TooLarge { max_bytes }).await);
        }
        self.within_hourly("upload", "mail.upload", hourly::UPLOADS).await
    }

    /// A file whose bytes turned out larger than the per-message limit: recorded, refused.
    pub async fn upload_too_large(&self) -> MailError {
        self.refused("mail.upload", MailError::TooLarge { max_bytes: self.policy.limits.max_message_bytes }).await
    }

    /// Keeps a file for the holder's next message, within the per-message limit and the quota.
    pub async fn store_upload(
        &self,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<attach::Upload, MailError> {
        let limits = &self.policy.limits;
        if bytes.len() as i64 > limits.max_message_bytes {
            return Err(self.upload_too_large().await);
        }
        if self.usage().await? + bytes.len() as i64 > limits.quota_bytes {
            return Err(self
                .refused("mail.upload", MailError::QuotaExceeded { quota_bytes: limits.quota_bytes })
                .await);
        }
        Ok(attach::store_upload(self.db, self.clock, self.holder, name, content_type, bytes).await?)
    }

    /// Removes a file kept for the next message; false if not theirs.
    pub async fn delete_upload(&self, id: i64) -> Result<bool, StoreError> {
        attach::delete_upload(self.db, self.clock, self.holder, id).await
    }
}
