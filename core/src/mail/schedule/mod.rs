//! Undo send and scheduled send. A message sent with a delay (the holder's undo delay, or a date
//! and time they chose) is saved as a draft, with a `scheduled_sends` row saying when it is due
//! (recorded in the same transaction): the draft then shows in "Programmés", not in Drafts. The outbox worker
//! ([`run_due`], driven by the server beside [`crate::outbox::run_once`]) claims due rows under a
//! lease in the database (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and sends each through
//! [`Mailbox::send`], the verb of an immediate send, with the same checks. That send takes the
//! `scheduled_sends` row (only while this worker's lease is on it) and the draft in its own
//! transaction: a message leaves once, whatever the number of instances or restarts. A message
//! refused at its time goes back to Drafts with a notice in the Inbox: nothing is lost.
//!
//! Until it leaves, the holder may change its time, or take it back into Drafts (the undo).

use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

use super::{folder_id, import_batch, summarise, Draft, Imported, MailPolicy, Mailbox, SendError};
use crate::audit::{AuditTx, Outcome};
use crate::auth::holder::{Holder, Level};
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, Pool, StoreError};

/// The longest undo delay a holder may choose, in seconds.
pub const MAX_UNDO_SECS: i64 = 30;
/// A message may be scheduled at most this far ahead (a year).
pub const MAX_AHEAD_MS: Millis = 366 * 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The time chosen has already passed.
    #[error("the time is in the past")]
    Past,
    /// More than [`MAX_AHEAD_MS`] ahead.
    #[error("the time is too far ahead")]
    TooFar,
    /// An undo delay outside 0–30 s.
    #[error("the delay must be 0 to 30 s")]
    InvalidDelay,
    /// Not one of the holder's scheduled messages (sent, taken back, or another holder's).
    #[error("no such scheduled message")]
    NotFound,
    /// A worker is sending it right now: too late to change its time.
    #[error("the message is leaving")]
    Leaving,
    /// Saving it as a draft first was refused (size, quota, files).
    #[error(transparent)]
    Draft(#[from] SendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ScheduleError {
    fn from(e: sqlx::Error) -> Self {
        ScheduleError::Store(StoreError::Query(e))
    }
}

impl From<super::MailError> for ScheduleError {
    fn from(e: super::MailError) -> Self {
        ScheduleError::Draft(e.into())
    }
}

/// Paris time (Europe/Paris, with its summer time), as the holder reads and picks it.
pub mod paris {
    use crate::clock::Millis;
    use jiff::civil::{Date, Time};
    use jiff::tz::TimeZone;
    use jiff::Timestamp;

    fn zone() -> Option<TimeZone> {
        TimeZone::get("Europe/Paris").ok()
    }

    /// The instant of `date` (`2026-12-24`) at `time` (`14:30`) in Paris. A time that does not
    /// exist (the hour skipped in spring) is read as the same time after the change; a time
    /// that comes twice (autumn) as the first one. `None` when either cannot be read.
    pub fn to_ms(date: &str, time: &str) -> Option<Millis> {
        let d: Date = date.trim().parse().ok()?;
        let t: Time = time.trim().parse().ok()?;
        let zoned = d.to_datetime(t).to_zoned_datetime(zone()?).ok()?;
        Some(zoned.timestamp().as_millisecond())
    }

    /// `24/12/2026 14:30`: the day and time in Paris.
    pub fn format(ms: Millis) -> String {
        let (Ok(ts), Some(tz)) = (Timestamp::from_millisecond(ms), zone()) else { return String::new() };
        ts.to_zoned_datetime(tz).strftime("%d/%m/%Y %H:%M").to_string()
    }

    /// How a list dates `ms` on the day `now_ms`, in Paris: the local time
    /// (`2026-12-08T14:32:05+01:00`) and how many days before today it is (0 today, 1 yesterday;
    /// negative in the future).
    pub fn calendar(ms: Millis, now_ms: Millis) -> Option<(String, i64)> {
        let tz = zone()?;
        let at = Timestamp::from_millisecond(ms).ok()?.to_zoned_datetime(tz.clone());
        let now = Timestamp::from_millisecond(now_ms).ok()?.to_zoned_datetime(tz);
        let days = at.date().until(now.date()).ok()?.get_days() as i64;
        Some((at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(), days))
    }

    /// The day (`2026-12-24`) and time (`14:30`) in Paris, as date and time fields show them.
    pub fn parts(ms: Millis) -> (String, String) {
        let (Ok(ts), Some(tz)) = (Timestamp::from_millisecond(ms), zone()) else {
            return (String::new(), String::new());
        };
        let z = ts.to_zoned_datetime(tz);
        (z.strftime("%Y-%m-%d").to_string(), z.strftime("%H:%M").to_string())
    }
}

/// Inside the transaction of a scheduled message's send: takes its `scheduled_sends` row, if
/// the lease of `owner` is still on it. `false` when it is not (taken back, rescheduled and
/// claimed again, or sent by another worker): then nothing may be sent.
pub(crate) trait ScheduledTx {
    fn take_scheduled(
        &mut self,
        message_id: i64,
        account_id: i64,
        owner: &str,
    ) -> impl std::future::Future<Output = Result<bool, sqlx::Error>> + Send;
}

macro_rules! impl_scheduled_tx {
    ($conn:ty) => {
        impl ScheduledTx for $conn {
            async fn take_scheduled(
                &mut self,
                message_id: i64,
                account_id: i64,
                owner: &str,
            ) -> Result<bool, sqlx::Error> {
                let n = sqlx::query(
                    "DELETE FROM scheduled_sends WHERE message_id = $1 AND account_id = $2 AND lease_owner = $3",
                )
                .bind(message_id)
                .bind(account_id)
                .bind(owner)
                .execute(&mut *self)
                .await?
                .rows_affected();
                Ok(n == 1)
            }
        }
    };
}

impl_scheduled_tx!(sqlx::SqliteConnection);
impl_scheduled_tx!(sqlx::PgConnection);

/// A message waiting to leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub id: i64,
    pub send_at_ms: Millis,
}

/// One line of the `Programmés` view.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduledItem {
    pub id: i64,
    pub to_addrs: String,
    pub subject: String,
    pub snippet: String,
    pub send_at_ms: Millis,
}

/// What sending from the webmail did: sent at once (no undo delay), or scheduled for the end of
/// the delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sending {
    Sent(super::Sent),
    Delayed { scheduled: Scheduled, delay_secs: i64 },
}

/// The holder's undo delay, in seconds.
pub(crate) async fn undo_delay(db: &Db, account_id: i64) -> Result<i64, StoreError> {
    let secs: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT undo_send_secs FROM accounts WHERE id = $1").bind(account_id).fetch_optional(p).await?);
    Ok(secs.unwrap_or(0))
}

pub(crate) async fn set_undo_delay(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    secs: i64,
) -> Result<(), ScheduleError> {
    if !(0..=MAX_UNDO_SECS).contains(&secs) {
        return Err(ScheduleError::InvalidDelay);
    }
    let event = holder.event("mail.undo_delay", Outcome::Success).object(format!("secs:{secs}"));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE accounts SET undo_send_secs = $1 WHERE id = $2")
            .bind(secs).bind(holder.account_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), clock.now_ms(), &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Schedules `d` (recipients checked as addresses) to leave at `send_at`: saved as a draft (in
/// place of `d.replaces_draft` when it has one), then its time and the record (`mail.schedule`)
/// in one transaction.
pub(crate) async fn schedule(
    mailbox: &Mailbox<'_>,
    db: &Db,
    clock: &dyn Clock,
    d: &Draft,
    send_at: Millis,
) -> Result<Scheduled, ScheduleError> {
    let holder = mailbox.holder();
    let now = clock.now_ms();
    if send_at < now {
        return Err(ScheduleError::Past);
    }
    if send_at > now + MAX_AHEAD_MS {
        return Err(ScheduleError::TooFar);
    }
    // The recipients are checked now as at sending (and again then): a refused address is said
    // at once, not at the end of the delay.
    if let Err(e) = super::send::route(db, d, &mailbox.policy().domains).await {
        if !matches!(e, SendError::Store(_)) {
            crate::audit::append(db, clock, holder.event("mail.schedule", e.audit_outcome())).await?;
        }
        return Err(e.into());
    }
    let typed = super::drafts::Typed { to: d.to.join(", "), cc: d.cc.join(", "), bcc: d.bcc.join(", ") };
    let bare = Draft { to: Vec::new(), cc: Vec::new(), bcc: Vec::new(), scheduled_lease: None, ..d.clone() };
    let saved = mailbox.save_draft(d.replaces_draft, &bare, &typed).await?;
    let drafts = folder_id(db, clock, holder.account_id, "drafts").await?;
    let event = holder.event("mail.schedule", Outcome::Success).object(format!("message:{} at:{send_at}", saved.id));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let there: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM messages WHERE id = $1 AND account_id = $2 AND folder_id = $3")
            .bind(saved.id).bind(holder.account_id).bind(drafts).fetch_optional(&mut *tx).await?;
        if there.is_none() {
            // Discarded in another window between the save and now.
            return Err(ScheduleError::NotFound);
        }
        sqlx::query("INSERT INTO scheduled_sends (message_id, account_id, send_at_ms, created_ms, read_receipt) \
                     VALUES ($1, $2, $3, $4, $5)")
            .bind(saved.id).bind(holder.account_id).bind(send_at).bind(now).bind(d.read_receipt)
            .execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(Scheduled { id: saved.id, send_at_ms: send_at })
}

/// The holder's scheduled messages, soonest first (recorded: the list shows subjects).
pub(crate) async fn list(db: &Db, clock: &dyn Clock, holder: &Holder) -> Result<Vec<ScheduledItem>, StoreError> {
    let items: Vec<ScheduledItem> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.id, m.to_addrs, m.subject, m.snippet, s.send_at_ms FROM scheduled_sends s \
         JOIN messages m ON m.id = s.message_id AND m.account_id = s.account_id \
         WHERE s.account_id = $1 ORDER BY s.send_at_ms, m.id")
        .bind(holder.account_id).fetch_all(p).await?);
    let event = holder.event("mail.list", Outcome::Success).object(format!("folder:scheduled lines:{}", items.len()));
    crate::audit::append(db, clock, event).await?;
    Ok(items)
}

/// Records a refused change of a scheduled message and returns the refusal.
async fn refused(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    action: &str,
    id: i64,
    e: ScheduleError,
) -> ScheduleError {
    let code = match &e {
        ScheduleError::NotFound => Outcome::Denied("not_found".into()),
        ScheduleError::Leaving => Outcome::Failure("leaving".into()),
        ScheduleError::Past => Outcome::Failure("past".into()),
        ScheduleError::TooFar => Outcome::Failure("too_far".into()),
        _ => return e,
    };
    match crate::audit::append(db, clock, holder.event(action, code).object(format!("message:{id}"))).await {
        Ok(_) => e,
        Err(store) => ScheduleError::Store(store),
    }
}

/// Moves scheduled message `id` to `send_at`, unless a worker is sending it right now.
pub(crate) async fn reschedule(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    id: i64,
    send_at: Millis,
) -> Result<Scheduled, ScheduleError> {
    let now = clock.now_ms();
    let check = if send_at < now {
        Err(ScheduleError::Past)
    } else if send_at > now + MAX_AHEAD_MS {
        Err(ScheduleError::TooFar)
    } else {
        Ok(())
    };
    if let Err(e) = check {
        return Err(refused(db, clock, holder, "mail.reschedule", id, e).await);
    }
    let event = holder.event("mail.reschedule", Outcome::Success).object(format!("message:{id} at:{send_at}"));
    let outcome: Result<(), ScheduleError> = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query(
            "UPDATE scheduled_sends SET send_at_ms = $1 WHERE message_id = $2 AND account_id = $3 \
             AND (locked_until_ms IS NULL OR locked_until_ms <= $4)")
            .bind(send_at).bind(id).bind(holder.account_id).bind(now).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            tx.append_audit(db.audit_key(), now, &event).await?;
            tx.commit().await?;
            Ok(())
        } else {
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT message_id FROM scheduled_sends WHERE message_id = $1 AND account_id = $2")
                .bind(id).bind(holder.account_id).fetch_optional(&mut *tx).await?;
            Err(if exists.is_some() { ScheduleError::Leaving } else { ScheduleError::NotFound })
        }
    });
    match outcome {
        Ok(()) => Ok(Scheduled { id, send_at_ms: send_at }),
        Err(e) => Err(refused(db, clock, holder, "mail.reschedule", id, e).await),
    }
}

/// Takes scheduled message `id` back into Drafts (the undo, or to edit it): it will not leave.
/// Should a worker be sending it at this moment, one of the two wins: the send (then this is
/// [`ScheduleError::NotFound`]) or this (then the send finds nothing to send).
pub(crate) async fn unschedule(db: &Db, clock: &dyn Clock, holder: &Holder, id: i64) -> Result<(), ScheduleError> {
    let drafts = folder_id(db, clock, holder.account_id, "drafts").await?;
    let now = clock.now_ms();
    let event = holder.event("mail.schedule_cancel", Outcome::Success).object(format!("message:{id}"));
    let found: bool = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("DELETE FROM scheduled_sends WHERE message_id = $1 AND account_id = $2")
            .bind(id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected();
        // Back at the top of Drafts.
        let moved = sqlx::query("UPDATE messages SET date_ms = $1 WHERE id = $2 AND account_id = $3 AND folder_id = $4")
            .bind(now).bind(id).bind(holder.account_id).bind(drafts).execute(&mut *tx).await?.rows_affected();
        if n == 1 && moved == 1 {
            tx.append_audit(db.audit_key(), now, &event).await?;
            tx.commit().await?;
            true
        } else {
            false
        }
    });
    if found {
        Ok(())
    } else {
        Err(refused(db, clock, holder, "mail.schedule_cancel", id, ScheduleError::NotFound).await)
    }
}

/// A due row, claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Due {
    pub message_id: i64,
    pub account_id: i64,
    pub send_at_ms: Millis,
}

/// Claims up to `limit` due scheduled messages for `lease_ms` on behalf of `owner`.
pub(crate) async fn claim(
    db: &Db,
    clock: &dyn Clock,
    lease_ms: Millis,
    limit: i64,
    owner: &str,
) -> Result<Vec<Due>, StoreError> {
    let now = clock.now_ms();
    let mut rows: Vec<Due> = match db.pool() {
        Pool::Sqlite(p) => {
            // The write lock first: two claims run one after the other.
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
            let rows = sqlx::query_as(
                "UPDATE scheduled_sends SET locked_until_ms = $1, lease_owner = $4 WHERE message_id IN ( \
                   SELECT message_id FROM scheduled_sends WHERE send_at_ms <= $2 \
                   AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY send_at_ms LIMIT $3) \
                 RETURNING message_id, account_id, send_at_ms",
            )
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .bind(owner)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows
        }
        // As the outbox's claim: the due rows locked once, in a CTE, skipping those another
        // claim is taking.
        Pool::Postgres(p) => {
            sqlx::query_as(
                "WITH due AS ( \
               SELECT message_id FROM scheduled_sends WHERE send_at_ms <= $2 \
               AND (locked_until_ms IS NULL OR locked_until_ms <= $2) ORDER BY send_at_ms LIMIT $3 \
               FOR UPDATE SKIP LOCKED) \
             UPDATE scheduled_sends s SET locked_until_ms = $1, lease_owner = $4 FROM due \
             WHERE s.message_id = due.message_id RETURNING s.message_id, s.account_id, s.send_at_ms",
            )
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .bind(owner)
            .fetch_all(p)
            .await?
        }
    };
    rows.sort_by_key(|r| (r.send_at_ms, r.message_id));
    Ok(rows)
}

/// What one pass over the due scheduled messages did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DueReport {
    pub sent: usize,
    /// Refused at their time: back in Drafts, with a notice.
    pub returned: usize,
    /// Taken back or sent elsewhere meanwhile: nothing to do.
    pub gone: usize,
}

impl DueReport {
    pub fn any(&self) -> bool {
        self.sent + self.returned + self.gone > 0
    }
}

/// The scheduled draft, as a message to send under `owner`'s lease.
async fn draft_of(db: &Db, due: &Due, owner: &str) -> Result<Option<Draft>, StoreError> {
    type Row = (String, String, String, String, bool, Option<String>, Vec<u8>, bool);
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.to_addrs, m.cc_addrs, m.bcc_addrs, m.subject, m.urgent, m.in_reply_to, m.raw, s.read_receipt \
         FROM messages m JOIN scheduled_sends s ON s.message_id = m.id WHERE m.id = $1 AND m.account_id = $2")
        .bind(due.message_id).bind(due.account_id).fetch_optional(p).await?);
    let Some((to, cc, bcc, subject, urgent, in_reply_to, raw, read_receipt)) = row else { return Ok(None) };
    let summary = summarise(&raw).unwrap_or_default();
    let list = |s: &str| -> Vec<String> {
        s.split([',', ';', ' ']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect()
    };
    Ok(Some(Draft {
        to: list(&to),
        cc: list(&cc),
        bcc: list(&bcc),
        subject,
        body: summary.body_text,
        urgent,
        in_reply_to,
        references: summary.references,
        attachments: Vec::new(),
        upload_ids: Vec::new(),
        forward_from: Some(due.message_id),
        forward_parts: (0..summary.attachment_names.len()).collect(),
        replaces_draft: Some(due.message_id),
        read_receipt,
        patient_no_reply: super::mss::Headers::read(&raw).patient_reply_forbidden,
        scheduled_lease: Some(owner.to_string()),
    }))
}

/// Why a scheduled message could not leave, in French and in English (never its content; an
/// address the holder typed may be named).
fn reasons(e: Option<&SendError>) -> (String, String) {
    match e {
        None => ("votre compte n'est pas actif".into(), "your account is not active".into()),
        Some(SendError::NoRecipient) => ("il n'a aucun destinataire".into(), "it has no recipient".into()),
        Some(SendError::OutsideTrustSpace(a)) => (
            format!("l'adresse {a} est hors de l'espace de confiance MSSanté"),
            format!("{a} is outside the MSSanté trust space"),
        ),
        Some(SendError::UnknownMailbox(a)) => (
            format!("l'adresse {a} ne correspond à aucune boîte aux lettres active"),
            format!("{a} is not an active mailbox"),
        ),
        Some(SendError::TooLarge { .. }) => {
            ("il dépasse la taille maximale d'un message".into(), "it is over the message size limit".into())
        }
        Some(SendError::TooLargeForPatient { .. }) => (
            "il dépasse la taille qu'accepte la messagerie des patients".into(),
            "it is over the size the patients' mail service accepts".into(),
        ),
        Some(SendError::QuotaExceeded { .. }) => {
            ("votre boîte aux lettres est pleine".into(), "your mailbox is full".into())
        }
        Some(SendError::MailboxFull(a)) => {
            (format!("la boîte aux lettres de {a} est pleine"), format!("{a}'s mailbox is full"))
        }
        Some(SendError::RateLimited { .. }) => {
            ("trop de messages ont été envoyés dans l'heure".into(), "too many messages were sent this hour".into())
        }
        Some(SendError::UnknownUpload | SendError::ForwardedNotFound) => {
            ("une pièce jointe n'est plus disponible".into(), "an attachment is no longer available".into())
        }
        Some(SendError::DraftGone | SendError::Store(_)) => ("erreur interne".into(), "internal error".into()),
    }
}

/// A scheduled message refused at its time: back into Drafts (only while `owner`'s lease is on
/// it), recorded in the same transaction, then a notice in the holder's Inbox. Whether it was
/// returned.
async fn give_back(
    db: &Db,
    clock: &dyn Clock,
    due: &Due,
    owner: &str,
    holder: Option<&Holder>,
    error: Option<&SendError>,
) -> Result<bool, StoreError> {
    let drafts = folder_id(db, clock, due.account_id, "drafts").await?;
    let now = clock.now_ms();
    let code = error.map(SendError::audit_code).unwrap_or("inactive");
    let mut event = match holder {
        Some(h) => h.event("mail.schedule_return", Outcome::Failure(code.into())),
        None => crate::audit::AuditEvent::new(
            crate::audit::Actor::System,
            "mail.schedule_return",
            Outcome::Failure(code.into()),
        ),
    };
    event.object = Some(format!("message:{} account:{}", due.message_id, due.account_id));
    let subject: Option<String> = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        if !tx.take_scheduled(due.message_id, due.account_id, owner).await? {
            None
        } else {
            let subject: Option<String> = sqlx::query_scalar(
                "UPDATE messages SET date_ms = $1 WHERE id = $2 AND account_id = $3 AND folder_id = $4 RETURNING subject")
                .bind(now).bind(due.message_id).bind(due.account_id).bind(drafts)
                .fetch_optional(&mut *tx).await?;
            tx.append_audit(db.audit_key(), now, &event).await?;
            tx.commit().await?;
            Some(subject.unwrap_or_default())
        }
    });
    let Some(subject) = subject else { return Ok(false) };
    let Some(account) = crate::accounts::get(db, due.account_id).await? else { return Ok(true) };
    let (why_fr, why_en) = reasons(error);
    let when = paris::format(due.send_at_ms);
    let body = format!(
        "Votre message programmé pour le {when} (heure de Paris) n'est pas parti : {why_fr}.\n\n\
         Objet : {subject}\n\n\
         Il est de retour dans vos « Brouillons » : corrigez-le, puis envoyez-le ou programmez-le de nouveau.\n\n---\n\
         Your message scheduled for {when} (Paris time) was not sent: {why_en}.\n\
         Subject: {subject}\n\nIt is back in your Drafts: correct it, then send or schedule it again.\n"
    );
    let domain = account.address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
    let raw = MessageBuilder::new()
        .from(Address::new_address(Some("Hygie (envoi programmé)"), format!("mailer-daemon@{domain}")))
        .to(Address::new_address(None::<String>, account.address.clone()))
        .subject(format!("Envoi programmé non effectué / Scheduled message not sent: {subject}"))
        .text_body(body)
        .message_id(format!("{}@{domain}", crate::random_hex(16)))
        .date(now / 1000)
        .write_to_vec()
        .map_err(|e| StoreError::Other(e.to_string()))?;
    import_batch(db, clock, account.id, "inbox", &[Imported { raw, date_ms: Some(now), unread: true }]).await?;
    Ok(true)
}

/// One pass over the due scheduled messages (the outbox worker runs it beside
/// [`crate::outbox::run_once`]): claims up to `batch` under a lease of `lease_ms`, and sends each
/// as its holder, through [`Mailbox::send`].
pub async fn run_due(
    db: &Db,
    clock: &dyn Clock,
    policy: &MailPolicy,
    lease_ms: Millis,
    batch: i64,
) -> Result<DueReport, StoreError> {
    run_due_as(db, clock, policy, lease_ms, batch, &crate::random_hex(12)).await
}

pub(crate) async fn run_due_as(
    db: &Db,
    clock: &dyn Clock,
    policy: &MailPolicy,
    lease_ms: Millis,
    batch: i64,
    owner: &str,
) -> Result<DueReport, StoreError> {
    let mut report = DueReport::default();
    for due in claim(db, clock, lease_ms, batch, owner).await? {
        send_claimed(db, clock, policy, &due, owner, &mut report).await?;
    }
    Ok(report)
}

pub(crate) async fn send_claimed(
    db: &Db,
    clock: &dyn Clock,
    policy: &MailPolicy,
    due: &Due,
    owner: &str,
    report: &mut DueReport,
) -> Result<(), StoreError> {
    let Some(holder) = Holder::resolve(db, due.account_id, Level::Full, None, None).await? else {
        if give_back(db, clock, due, owner, None, None).await? {
            report.returned += 1;
        }
        return Ok(());
    };
    let Some(draft) = draft_of(db, due, owner).await? else {
        report.gone += 1;
        return Ok(());
    };
    match Mailbox::new(db, clock, &holder, policy).send(&draft).await {
        Ok(_) => report.sent += 1,
        // Taken back, moved out of its folder, or sent by another worker: nothing to send. A row
        // still under this lease (its message moved elsewhere) is let go.
        Err(SendError::DraftGone) => {
            crate::with_pool!(db, p => { sqlx::query(
                "DELETE FROM scheduled_sends WHERE message_id = $1 AND account_id = $2 AND lease_owner = $3")
                .bind(due.message_id).bind(due.account_id).bind(owner).execute(p).await?; });
            report.gone += 1;
        }
        // The database failed: the lease runs out and the message is tried again.
        Err(SendError::Store(e)) => {
            tracing::warn!(message = due.message_id, error = %e, "scheduled message not sent; will retry");
        }
        Err(e) => {
            if give_back(db, clock, due, owner, Some(&holder), Some(&e)).await? {
                report.returned += 1;
            } else {
                report.gone += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
