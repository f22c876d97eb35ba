use super::*;
use crate::clock::ManualClock;
use crate::mail::attach;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;
const LEASE: Millis = 120_000;

use crate::mail::tests::holder;

fn policy() -> MailPolicy {
    MailPolicy {
        domains: vec!["hygie.example".to_string()],
        public_url: "https://h.example".into(),
        limits: attach::Limits::default(),
    }
}

fn letter(to: &str) -> Draft {
    Draft {
        to: vec![to.to_string()],
        subject: "Compte rendu de consultation".into(),
        body: "Tension 12/8, à revoir dans un mois.".into(),
        attachments: vec![attach::Part {
            name: "ordonnance.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"Paracetamol 1 g".to_vec(),
        }],
        ..Default::default()
    }
}

/// (folder role, subject) of the account's messages, oldest first.
async fn messages(db: &Db, account_id: i64) -> Vec<(String, String)> {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT f.role, m.subject FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 ORDER BY m.id")
        .bind(account_id).fetch_all(p).await.unwrap())
}

async fn actions(db: &Db) -> Vec<(String, String)> {
    crate::with_pool!(db, p => sqlx::query_as("SELECT action, outcome FROM audit_log ORDER BY seq")
        .fetch_all(p).await.unwrap())
}

fn count(v: &[(String, String)], role: &str) -> usize {
    v.iter().filter(|(r, _)| r == role).count()
}

#[test]
fn paris_time_follows_summer_time() {
    // Winter: UTC+1; summer: UTC+2.
    assert_eq!(paris::to_ms("2026-12-24", "14:30"), Some(1_798_119_000_000));
    assert_eq!(paris::to_ms("2026-07-14", "14:30"), Some(1_784_032_200_000));
    assert_eq!(paris::format(1_798_119_000_000), "24/12/2026 14:30");
    assert_eq!(paris::format(1_784_032_200_000), "14/07/2026 14:30");
    assert_eq!(paris::parts(1_784_032_200_000), ("2026-07-14".to_string(), "14:30".to_string()));
    // 29 March 2026, 02:30 does not exist in Paris: read as 03:30 summer time (01:30 UTC).
    let skipped = paris::to_ms("2026-03-29", "02:30").unwrap();
    assert_eq!(paris::format(skipped), "29/03/2026 03:30");
    // 25 October 2026, 02:30 comes twice: the first (summer time, 00:30 UTC).
    let fold = paris::to_ms("2026-10-25", "02:30").unwrap();
    assert_eq!(fold, paris::to_ms("2026-10-25", "00:00").unwrap() + 9_000_000);
    assert_eq!(paris::format(fold), "25/10/2026 02:30");
    assert_eq!(paris::format(fold + 3_600_000), "25/10/2026 02:30", "the second one");
    assert_eq!(paris::to_ms("2026-13-01", "10:00"), None);
    assert_eq!(paris::to_ms("2026-12-01", "25:00"), None);
    assert_eq!(paris::to_ms("", ""), None);
}

/// Scheduled, the message waits in its own folder (not in Drafts, not in the folder list), can
/// be moved in time, and leaves at its time through the send verb, once; each step recorded.
#[tokio::test]
async fn a_scheduled_message_waits_can_move_and_leaves_once_at_its_time() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let s = mailbox.send_at(&letter(&b.address), T0 + 3_600_000).await.unwrap();
        assert_eq!(s.send_at_ms, T0 + 3_600_000);
        // Kept as a draft, shown in "Programmés" only: not in the Drafts list nor its count.
        assert_eq!(messages(&t.db, a.account_id).await, [("drafts".into(), "Compte rendu de consultation".into())]);
        assert_eq!(mailbox.list("drafts", 0, 50, false).await.unwrap(), (Vec::new(), 0));
        let drafts = mailbox.folders().await.unwrap().into_iter().find(|f| f.role == "drafts").unwrap();
        assert_eq!(drafts.total, 0);
        // Not to be changed by a composer still open on it.
        let typed = crate::mail::drafts::Typed::default();
        let late = mailbox.save_draft(Some(s.id), &letter(&b.address), &typed).await;
        assert!(matches!(late, Err(SendError::DraftGone)), "{late:?}");
        let listed = mailbox.scheduled().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].id, listed[0].to_addrs.as_str(), listed[0].send_at_ms),
            (s.id, "bruno@hygie.example", T0 + 3_600_000)
        );

        // Refused: the past, and too far ahead.
        assert!(matches!(mailbox.reschedule(s.id, T0 - 1).await, Err(ScheduleError::Past)));
        assert!(matches!(mailbox.reschedule(s.id, T0 + MAX_AHEAD_MS + 1).await, Err(ScheduleError::TooFar)));
        assert!(matches!(mailbox.send_at(&letter(&b.address), T0 - 60_000).await, Err(ScheduleError::Past)));
        // A recipient refused now is said now, as for an immediate send; nothing is kept.
        let outside = mailbox.send_with_undo(&letter("quelqu.un@gmail.com")).await;
        assert!(matches!(outside, Err(ScheduleError::Draft(SendError::OutsideTrustSpace(_)))), "{outside:?}");
        assert_eq!(mailbox.scheduled().await.unwrap().len(), 1);
        mailbox.reschedule(s.id, T0 + 7_200_000).await.unwrap();

        // Not due yet: nothing leaves.
        clock.advance_ms(3_600_000);
        assert_eq!(run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap(), DueReport::default());
        assert!(messages(&t.db, b.account_id).await.is_empty());
        clock.advance_ms(3_600_000);
        let report = run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap();
        assert_eq!(report, DueReport { sent: 1, ..Default::default() });
        assert_eq!(messages(&t.db, a.account_id).await, [("sent".into(), "Compte rendu de consultation".into())]);
        assert_eq!(messages(&t.db, b.account_id).await, [("inbox".into(), "Compte rendu de consultation".into())]);
        // The text and the file went along.
        let id: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT id FROM messages WHERE account_id = $1").bind(b.account_id).fetch_one(p).await.unwrap());
        let inbox_copy = Mailbox::new(&t.db, &clock, &b, &policy).open(id).await.unwrap().unwrap();
        assert_eq!(inbox_copy.body_text.trim_end(), "Tension 12/8, à revoir dans un mois.");
        assert_eq!(inbox_copy.attachment_names, ["ordonnance.txt"]);
        assert!(mailbox.scheduled().await.unwrap().is_empty());
        // Once: later passes find nothing.
        clock.advance_ms(LEASE * 2);
        assert_eq!(run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap(), DueReport::default());
        assert_eq!(messages(&t.db, b.account_id).await.len(), 1);
        // Too late to move or take back.
        assert!(matches!(mailbox.reschedule(s.id, T0 + 99_000_000).await, Err(ScheduleError::NotFound)));
        assert!(matches!(mailbox.unschedule(s.id).await, Err(ScheduleError::NotFound)));

        let log = actions(&t.db).await;
        let names: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
        assert!(log.contains(&("mail.schedule".into(), "failure:outside_trust_space".into())), "{log:?}");
        for expected in ["mail.draft_create", "mail.schedule", "mail.reschedule", "mail.send"] {
            assert!(names.contains(&expected), "{expected} recorded: {names:?}");
        }
        let send = log.iter().find(|(a, _)| a == "mail.send").unwrap();
        assert_eq!(send.1, "success");
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

/// The undo: a message sent with a delay waits; taken back, it is a draft again and nothing
/// leaves. With a delay of 0 it leaves at once.
#[tokio::test]
async fn undo_send_takes_the_message_back_into_drafts() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        assert_eq!(mailbox.undo_delay().await.unwrap(), 10, "ten seconds by default");
        let Sending::Delayed { scheduled, delay_secs } = mailbox.send_with_undo(&letter(&b.address)).await.unwrap()
        else {
            panic!("delayed")
        };
        assert_eq!((delay_secs, scheduled.send_at_ms), (10, T0 + 10_000));
        clock.advance_ms(4_000);
        mailbox.unschedule(scheduled.id).await.unwrap();
        assert_eq!(messages(&t.db, a.account_id).await, [("drafts".into(), "Compte rendu de consultation".into())]);
        // The draft keeps its recipients as typed and its file.
        let draft = mailbox.open(scheduled.id).await.unwrap().unwrap();
        assert_eq!(draft.to_addrs, "bruno@hygie.example");
        assert_eq!(draft.attachment_names, ["ordonnance.txt"]);
        clock.advance_ms(60_000);
        assert_eq!(run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap(), DueReport::default());
        assert!(messages(&t.db, b.account_id).await.is_empty(), "nothing left");
        assert!(matches!(mailbox.unschedule(scheduled.id).await, Err(ScheduleError::NotFound)), "only once");

        // Sent again from that draft, and left to go.
        let again = Draft { replaces_draft: Some(scheduled.id), ..letter(&b.address) };
        let Sending::Delayed { scheduled: s2, .. } = mailbox.send_with_undo(&again).await.unwrap() else { panic!() };
        assert_eq!(s2.id, scheduled.id, "the same draft");
        clock.advance_ms(10_000);
        assert_eq!(run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap().sent, 1);
        assert_eq!(count(&messages(&t.db, b.account_id).await, "inbox"), 1);
        // The attachment went once (the draft's file, not twice).
        let id: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT id FROM messages WHERE account_id = $1").bind(b.account_id).fetch_one(p).await.unwrap());
        let got = Mailbox::new(&t.db, &clock, &b, &policy).open(id).await.unwrap().unwrap();
        assert_eq!(got.attachment_names, ["ordonnance.txt"]);

        // Delay 0: at once. Out of range: refused.
        assert!(matches!(mailbox.set_undo_delay(31).await, Err(ScheduleError::InvalidDelay)));
        assert!(matches!(mailbox.set_undo_delay(-1).await, Err(ScheduleError::InvalidDelay)));
        mailbox.set_undo_delay(0).await.unwrap();
        assert_eq!(mailbox.undo_delay().await.unwrap(), 0);
        assert!(matches!(mailbox.send_with_undo(&letter(&b.address)).await.unwrap(), Sending::Sent(_)));
        assert_eq!(count(&messages(&t.db, b.account_id).await, "inbox"), 2);
        let names: Vec<String> = actions(&t.db).await.into_iter().map(|(a, _)| a).collect();
        assert!(names.iter().any(|a| a == "mail.schedule_cancel"));
        assert!(names.iter().any(|a| a == "mail.undo_delay"));
    }
}

/// Two workers claim at the same moment (two instances on one database): the message leaves
/// once. A worker whose lease ran out while another took the row sends nothing.
#[tokio::test]
async fn two_workers_at_once_send_a_due_message_once() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        for i in 0..6 {
            let d = Draft { subject: format!("Résultat {i}"), ..letter(&b.address) };
            mailbox.send_at(&d, T0 + 1_000).await.unwrap();
        }
        clock.advance_ms(1_000);
        let (r1, r2) =
            tokio::join!(run_due(&t.db, &clock, &policy, LEASE, 20), run_due(&t.db, &clock, &policy, LEASE, 20));
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        assert_eq!(r1.sent + r2.sent, 6, "{r1:?} {r2:?}");
        let got = messages(&t.db, b.account_id).await;
        assert_eq!(got.len(), 6);
        let mut subjects: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), 6, "each once");

        // A worker claims, stalls past its lease; another takes the row and sends it; the first
        // then wakes up: its send is refused, nothing leaves twice.
        let s = mailbox.send_at(&letter(&b.address), T0 + 2_000).await.unwrap();
        clock.advance_ms(1_000);
        let stalled = claim(&t.db, &clock, LEASE, 20, "stalled").await.unwrap();
        assert_eq!(stalled.len(), 1);
        assert_eq!(claim(&t.db, &clock, LEASE, 20, "other").await.unwrap().len(), 0, "held by its lease");
        clock.advance_ms(LEASE + 1);
        assert_eq!(run_due_as(&t.db, &clock, &policy, LEASE, 20, "other").await.unwrap().sent, 1);
        let mut late = DueReport::default();
        let draft = draft_of(&t.db, &stalled[0], "stalled").await.unwrap();
        assert!(draft.is_none(), "the message left already");
        send_claimed(&t.db, &clock, &policy, &stalled[0], "stalled", &mut late).await.unwrap();
        assert_eq!(late, DueReport { gone: 1, ..Default::default() });
        assert_eq!(messages(&t.db, b.account_id).await.len(), 7);
        assert!(mailbox.scheduled().await.unwrap().iter().all(|x| x.id != s.id));
    }
}

/// Taken back while a worker holds it: the worker's send finds nothing, even when the same
/// draft is scheduled again at once.
#[tokio::test]
async fn taken_back_during_a_send_nothing_leaves() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let s = mailbox.send_at(&letter(&b.address), T0 + 1_000).await.unwrap();
        clock.advance_ms(1_000);
        let claimed = claim(&t.db, &clock, LEASE, 20, "w1").await.unwrap();
        let draft = draft_of(&t.db, &claimed[0], "w1").await.unwrap().unwrap();
        // The holder takes it back and schedules it again before the worker sends.
        mailbox.unschedule(s.id).await.unwrap();
        let again = Draft { replaces_draft: Some(s.id), ..letter(&b.address) };
        mailbox.send_at(&again, T0 + 3_600_000).await.unwrap();
        let sent = Mailbox::new(&t.db, &clock, &a, &policy).send(&draft).await;
        assert!(matches!(sent, Err(SendError::DraftGone)), "{sent:?}");
        assert!(messages(&t.db, b.account_id).await.is_empty());
        assert_eq!(mailbox.scheduled().await.unwrap().len(), 1, "still scheduled for later");
    }
}

/// Restart: a worker that claimed and died leaves the row to its lease; a new process on the
/// same database sends it once the lease is over.
#[tokio::test]
async fn a_scheduled_message_survives_a_restart() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        Mailbox::new(&t.db, &clock, &a, &policy).send_at(&letter(&b.address), T0 + 5_000).await.unwrap();
        clock.advance_ms(5_000);
        // The first process claims, then dies before sending.
        assert_eq!(claim(&t.db, &clock, LEASE, 20, "died").await.unwrap().len(), 1);
        t.db.close().await;
        let db = Db::connect(&t.url, crate::audit::AuditKey::for_tests()).await.unwrap();
        assert_eq!(run_due(&db, &clock, &policy, LEASE, 20).await.unwrap(), DueReport::default(), "leased");
        clock.advance_ms(LEASE);
        assert_eq!(run_due(&db, &clock, &policy, LEASE, 20).await.unwrap().sent, 1);
        clock.advance_ms(LEASE);
        assert_eq!(run_due(&db, &clock, &policy, LEASE, 20).await.unwrap(), DueReport::default());
        assert_eq!(messages(&db, b.account_id).await.len(), 1);
        db.close().await;
    }
}

/// Refused at its time (the recipient's mailbox closed meanwhile): back in Drafts, with a notice
/// in the Inbox saying why; recorded.
#[tokio::test]
async fn refused_at_its_time_the_message_comes_back_as_a_draft_with_a_notice() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let s = mailbox.send_at(&letter(&b.address), T0 + 60_000).await.unwrap();
        crate::with_pool!(&t.db, p => { sqlx::query("UPDATE accounts SET status = 'closed' WHERE id = $1")
            .bind(b.account_id).execute(p).await.unwrap(); });
        clock.advance_ms(60_000);
        let report = run_due(&t.db, &clock, &policy, LEASE, 20).await.unwrap();
        assert_eq!(report, DueReport { returned: 1, ..Default::default() });
        let mine = messages(&t.db, a.account_id).await;
        assert_eq!(mine[0], ("drafts".into(), "Compte rendu de consultation".into()));
        assert_eq!(mine[1].0, "inbox");
        assert!(mine[1].1.starts_with("Envoi programmé non effectué"), "{mine:?}");
        let notice_id: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT MAX(id) FROM messages WHERE account_id = $1").bind(a.account_id).fetch_one(p).await.unwrap());
        let notice = mailbox.open(notice_id).await.unwrap().unwrap();
        assert!(notice.body_text.contains("bruno@hygie.example ne correspond à aucune boîte aux lettres active"));
        assert!(notice.body_text.contains("heure de Paris"));
        assert!(!notice.body_text.contains("Tension"), "no content of the message");
        assert!(mailbox.open(s.id).await.unwrap().is_some(), "the draft is whole");
        assert!(mailbox.scheduled().await.unwrap().is_empty());
        assert!(messages(&t.db, b.account_id).await.is_empty());
        let log = actions(&t.db).await;
        assert!(log.contains(&("mail.send".into(), "failure:unknown_mailbox".into())), "{log:?}");
        assert!(log.contains(&("mail.schedule_return".into(), "failure:unknown_mailbox".into())), "{log:?}");
    }
}

/// Another holder's scheduled message cannot be seen, moved or taken back; each try recorded.
#[tokio::test]
async fn another_holders_scheduled_message_is_not_found() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let policy = policy();
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let s = Mailbox::new(&t.db, &clock, &a, &policy).send_at(&letter(&b.address), T0 + 60_000).await.unwrap();
        let other = Mailbox::new(&t.db, &clock, &b, &policy);
        assert!(other.scheduled().await.unwrap().is_empty());
        assert!(matches!(other.unschedule(s.id).await, Err(ScheduleError::NotFound)));
        assert!(matches!(other.reschedule(s.id, T0 + 1).await, Err(ScheduleError::NotFound)));
        assert_eq!(Mailbox::new(&t.db, &clock, &a, &policy).scheduled().await.unwrap().len(), 1);
        let denied = actions(&t.db).await.into_iter().filter(|(_, o)| o == "denied:not_found").count();
        assert_eq!(denied, 2);
    }
}

#[test]
fn a_list_dates_by_the_day_in_paris() {
    let now = paris::to_ms("2026-12-09", "10:00").unwrap();
    // 00:30 in Paris is still 8 December in UTC: today all the same.
    let (local, days) = paris::calendar(paris::to_ms("2026-12-09", "00:30").unwrap(), now).unwrap();
    assert_eq!((local.as_str(), days), ("2026-12-09T00:30:00+01:00", 0));
    assert_eq!(paris::calendar(paris::to_ms("2026-12-08", "23:59").unwrap(), now).unwrap().1, 1);
    assert_eq!(
        paris::calendar(paris::to_ms("2026-07-14", "12:00").unwrap(), now).unwrap().0,
        "2026-07-14T12:00:00+02:00"
    );
}
