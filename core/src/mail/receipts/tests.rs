use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::mail::delivery::{Channel, Envelope, Inbound, InboundPolicy};
use crate::mail::{attach, Draft};
use crate::store::testing::TestDb;

/// A delivery-status report as Postfix writes one: two recipients, one delivered, one refused
/// with 5.1.1, the envelope id Hygie gave and the returned headers.
fn postfix_dsn(envid: &str, original: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.labo.mssante.fr (Mail Delivery System)\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         To: alice@hygie.example\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1\"\r\n\
         Message-Id: <20261203100000.ABC@mx.labo.mssante.fr>\r\n\r\n\
         This is a MIME-encapsulated message.\r\n\r\n\
         --B1\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is the mail system at host mx.labo.mssante.fr.\r\n\r\n\
         <y@labo.mssante.fr>: unknown user: \"y\"\r\n\r\n\
         --B1\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.labo.mssante.fr\r\n\
         X-Postfix-Queue-ID: ABC\r\n\
         X-Postfix-Sender: rfc822; alice@hygie.example\r\n\
         Original-Envelope-Id: {envid}\r\n\
         Arrival-Date: Thu,  3 Dec 2026 10:00:00 +0100 (CET)\r\n\r\n\
         Final-Recipient: rfc822; x@labo.mssante.fr\r\n\
         Original-Recipient: rfc822;x@labo.mssante.fr\r\n\
         Action: delivered\r\n\
         Status: 2.0.0\r\n\
         Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as DEF\r\n\r\n\
         Final-Recipient: rfc822; y@labo.mssante.fr\r\n\
         Original-Recipient: rfc822;y@labo.mssante.fr\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Diagnostic-Code: X-Postfix; unknown user: \"y\"\r\n\r\n\
         --B1\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         From: Alice <alice@hygie.example>\r\nTo: x@labo.mssante.fr, y@labo.mssante.fr\r\n\
         Subject: =?utf-8?q?R=C3=A9sultats?=\r\nMessage-ID: <{original}>\r\n\r\n\
         --B1--\r\n"
    )
    .into_bytes()
}

fn mdn(original: &str, reader: &str, disposition: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: <{reader}>\r\nTo: <alice@hygie.example>\r\nSubject: {subject}\r\nMessage-ID: <mdn-{}@labo.mssante.fr>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=disposition-notification; boundary=\"M\"\r\n\r\n\
         --M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLu.\r\n\
         --M\r\nContent-Type: message/disposition-notification\r\n\r\n\
         Reporting-UA: labo.mssante.fr; LIS\r\nFinal-Recipient: rfc822;{reader}\r\n\
         Original-Message-ID: <{original}>\r\nDisposition: {disposition}\r\n\r\n\
         --M--\r\n",
        crate::random_hex(4)
    )
    .into_bytes()
}

#[test]
fn a_delivery_report_gives_each_recipient_its_status() {
    let report = parse(&postfix_dsn("abc@hygie.example", "abc@hygie.example")).expect("a report");
    let Report::Delivery { envelope_id, original_message_id, recipients } = &report else { panic!("{report:?}") };
    assert_eq!(envelope_id.as_deref(), Some("abc@hygie.example"));
    assert_eq!(original_message_id.as_deref(), Some("abc@hygie.example"));
    assert_eq!(recipients.len(), 2);
    assert_eq!(recipients[0].recipient, "x@labo.mssante.fr");
    assert_eq!((recipients[0].action, recipients[0].status.as_str()), (DsnAction::Delivered, "2.0.0"));
    assert_eq!(recipients[1].recipient, "y@labo.mssante.fr");
    assert_eq!((recipients[1].action, recipients[1].status.as_str()), (DsnAction::Failed, "5.1.1"));
    assert_eq!(recipients[1].diagnostic, "unknown user: \"y\"");
    assert_eq!(failure_reason(&recipients[1].status), "unknown_mailbox");
    assert_eq!(report.candidates(None, &[]), ["abc@hygie.example"]);
    assert!(is_report(&postfix_dsn("a", "b")));
}

#[test]
fn a_malformed_or_ordinary_message_is_no_report() {
    // No Action nor Status: nothing usable.
    let broken = "From: MAILER-DAEMON@mx.labo.mssante.fr\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
        --B\r\nContent-Type: text/plain\r\n\r\nOops\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n\
        Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; y@labo.mssante.fr\r\nStatus: nonsense\r\n\r\n--B--\r\n";
    assert_eq!(parse(broken.as_bytes()), None);
    assert_eq!(parse(b"From: a@b.fr\r\nSubject: x\r\n\r\nhello\r\n"), None);
    // A disposition report without a recipient.
    let no_recipient = "From: a@labo.mssante.fr\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=disposition-notification; boundary=\"M\"\r\n\r\n\
        --M\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--M--\r\n";
    assert_eq!(parse(no_recipient.as_bytes()), None);
    assert!(!is_report(b"From: a@b.fr\r\nSubject: x\r\n\r\nhello\r\n"));
}

#[test]
fn read_receipts_and_integration_errors_are_read() {
    let r = parse(&mdn("m1@hygie.example", "x@labo.mssante.fr", "manual-action/MDN-sent-manually; displayed", "Lu"))
        .unwrap();
    assert_eq!(
        r,
        Report::Disposition {
            original_message_id: Some("m1@hygie.example".into()),
            recipient: "x@labo.mssante.fr".into(),
            disposition: Disposition::Read { processed: false },
        }
    );
    assert_eq!(r.receipts(), [("x@labo.mssante.fr".to_string(), "read", "displayed".to_string(), String::new())]);
    let e = parse(&mdn(
        "m1@hygie.example",
        "x@labo.mssante.fr",
        "automatic-action/MDN-sent-automatically; processed/error",
        "[KO Intégration système !][903] XDM/1.0/DDM+CR Dupont",
    ))
    .unwrap();
    let Report::Disposition { disposition, .. } = &e else { panic!() };
    assert_eq!(disposition, &Disposition::Error { code: Some(903) });
    assert_eq!(e.receipts()[0].1, "read_failed");
    assert_eq!(integration_reason("903"), "mss_903");
    assert_eq!(integration_code("code 9031"), None);
    assert_eq!(integration_code("erreur 906."), Some(906));
}

#[test]
fn a_receipt_is_asked_by_its_header_and_never_for_a_report() {
    let asked =
        b"From: a@labo.mssante.fr\r\nDisposition-Notification-To: Dr A <A@Labo.mssante.fr>\r\nSubject: x\r\n\r\nhi\r\n";
    assert_eq!(requested(asked).as_deref(), Some("a@labo.mssante.fr"));
    assert_eq!(requested(b"From: a@labo.mssante.fr\r\nSubject: x\r\n\r\nhi\r\n"), None);
    let null =
        b"Return-Path: <>\r\nFrom: a@labo.mssante.fr\r\nDisposition-Notification-To: a@labo.mssante.fr\r\n\r\nx\r\n";
    assert_eq!(requested(null), None, "never answer a report with a report");
    let report = mdn("m", "x@labo.mssante.fr", "manual-action/MDN-sent-manually; displayed", "Lu");
    let with_dnt = [b"Disposition-Notification-To: x@labo.mssante.fr\r\n".to_vec(), report].concat();
    assert_eq!(requested(&with_dnt), None);
}

#[test]
fn the_receipt_hygie_writes_reads_back() {
    let original = b"From: a@labo.mssante.fr\r\nSubject: CR\r\nMessage-ID: <o1@labo.mssante.fr>\r\n\r\nbody\r\n";
    let raw = Mdn {
        reader: "bruno@hygie.example",
        to: "a@labo.mssante.fr",
        original_message_id: "o1@labo.mssante.fr",
        original_subject: "Compte rendu opératoire",
        original_headers: header_section(original),
        automatic: false,
        message_id: "r1@hygie.example",
        date_secs: 1_800_000_000,
        reporting_ua: "hygie.example; Hygie",
    }
    .build();
    assert!(raw.is_ascii(), "7-bit, for any relay");
    assert!(raw.contains("Disposition: manual-action/MDN-sent-manually; displayed"));
    assert!(raw.contains("Original-Message-ID: <o1@labo.mssante.fr>"));
    assert!(!raw.contains("Disposition-Notification-To"));
    assert_eq!(
        parse(raw.as_bytes()),
        Some(Report::Disposition {
            original_message_id: Some("o1@labo.mssante.fr".into()),
            recipient: "bruno@hygie.example".into(),
            disposition: Disposition::Read { processed: false },
        })
    );
    let s = crate::mail::summarise(raw.as_bytes()).unwrap();
    assert_eq!(s.subject, "Accusé de lecture / Read: Compte rendu opératoire");
    assert!(s.body_text.contains("a été affiché par bruno@hygie.example"), "{}", s.body_text);
    assert!(is_report(raw.as_bytes()));
}

#[test]
fn the_timeline_orders_each_recipients_steps() {
    let recipients = vec!["b@hygie.example".to_string(), "x@labo.mssante.fr".into(), "y@labo.mssante.fr".into()];
    let outbox = vec![
        OutboxState {
            recipient: "x@labo.mssante.fr".into(),
            status: "sent".into(),
            sent_ms: Some(20),
            last_error: None,
        },
        OutboxState {
            recipient: "y@labo.mssante.fr".into(),
            status: "failed".into(),
            sent_ms: None,
            last_error: Some("SMTP: server replied 550".into()),
        },
    ];
    let receipts = vec![
        ReceiptRow {
            recipient: "x@labo.mssante.fr".into(),
            kind: "read".into(),
            status: "displayed".into(),
            diagnostic: String::new(),
            report_ref: Some(9),
            at_ms: 40,
        },
        ReceiptRow {
            recipient: "x@labo.mssante.fr".into(),
            kind: "delivered".into(),
            status: "2.0.0".into(),
            diagnostic: String::new(),
            report_ref: Some(8),
            at_ms: 30,
        },
    ];
    let t = build_timeline(&recipients, 10, &outbox, &receipts);
    let kinds = |i: usize| t[i].steps.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>();
    assert_eq!(kinds(0), ["queued", "delivered"], "a mailbox here has it at once");
    assert_eq!(kinds(1), ["queued", "handed_over", "delivered", "read"]);
    assert_eq!(t[1].state, "read");
    assert_eq!(kinds(2), ["queued", "failed"]);
    assert_eq!((t[2].steps[1].status.as_str(), t[2].steps[1].reason), ("550", Some("unknown_mailbox")));
    assert_eq!(overall(&t), "failed");
    assert_eq!(overall(&t[..2]), "delivered");
    assert_eq!(overall(&t[1..2]), "read");
}

// ---- Store, on both engines ----

use crate::mail::tests::holder;

fn policy() -> crate::mail::MailPolicy {
    crate::mail::MailPolicy {
        domains: vec!["hygie.example".into()],
        public_url: "https://hygie.example".into(),
        limits: attach::Limits::default(),
    }
}

async fn folder_of(db: &Db, id: i64) -> (String, bool) {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT f.role, m.unread FROM messages m JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = $1")
        .bind(id).fetch_one(p).await.unwrap())
}

async fn actions(db: &Db) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = crate::audit::latest(db, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("mail.receipt"))
        .map(|r| (r.action, r.outcome))
        .collect();
    v.reverse();
    v
}

#[tokio::test]
async fn two_mailboxes_here_exchange_a_read_receipt_once() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let p = policy();
        let (ma, mb) =
            (crate::mail::Mailbox::new(&t.db, &clock, &a, &p), crate::mail::Mailbox::new(&t.db, &clock, &b, &p));
        let d = Draft {
            to: vec![b.address.clone()],
            subject: "Compte rendu".into(),
            body: "Suites simples.".into(),
            read_receipt: true,
            ..Default::default()
        };
        let sent = ma.send(&d).await.unwrap();
        let got = sent.delivered[0];
        // Bruno opens it: asked (the default setting), nothing sent yet.
        let opened = mb.open(got).await.unwrap().unwrap();
        assert_eq!(opened.read_receipt, ReceiptPrompt::Ask);
        let tl = ma.timeline(sent.sent_id).await.unwrap().unwrap();
        assert_eq!(tl[0].state, "delivered");
        // Alice's own copy asks nothing of her; another holder cannot see her timeline.
        assert_eq!(ma.open(sent.sent_id).await.unwrap().unwrap().read_receipt, ReceiptPrompt::None);
        assert_eq!(mb.timeline(sent.sent_id).await.unwrap(), None);
        assert_eq!(mb.timeline(got).await.unwrap(), None, "a received message has no timeline");

        clock.advance_ms(60_000);
        assert_eq!(mb.answer_receipt(got, true).await.unwrap(), ReceiptPrompt::Sent);
        // At most one: a second answer is refused, and recorded.
        assert!(matches!(mb.answer_receipt(got, true).await, Err(ReceiptError::AlreadyAnswered)));
        assert!(matches!(mb.answer_receipt(got, false).await, Err(ReceiptError::AlreadyAnswered)));
        assert_eq!(mb.open(got).await.unwrap().unwrap().read_receipt, ReceiptPrompt::Sent);

        let tl = ma.timeline(sent.sent_id).await.unwrap().unwrap();
        assert_eq!(tl[0].state, "read");
        let read = tl[0].steps.last().unwrap();
        assert_eq!((read.kind.as_str(), read.at_ms), ("read", Some(1_800_000_060_000)));
        // The receipt is filed in Alice's Archives, read; not in her Inbox.
        let report = read.report.unwrap();
        assert_eq!(folder_of(&t.db, report).await, ("archive".to_string(), false));
        assert_eq!(ma.list("inbox", 0, 50, false).await.unwrap().1, 0);
        // The receipt is a report: Alice is never asked to answer it.
        assert_eq!(ma.open(report).await.unwrap().unwrap().read_receipt, ReceiptPrompt::None);
        assert!(matches!(ma.answer_receipt(report, true).await, Err(ReceiptError::NotAsked)));
        assert_eq!(ma.receipt_marks(&[sent.sent_id, got]).await.unwrap(), [(sent.sent_id, "read")]);

        assert_eq!(
            actions(&t.db).await,
            [
                ("mail.receipt.record".to_string(), "success".to_string()),
                ("mail.receipt.send".into(), "success".into()),
                ("mail.receipt.send".into(), "denied:already_answered".into()),
                ("mail.receipt.decline".into(), "denied:already_answered".into()),
                ("mail.receipt.send".into(), "denied:not_asked".into()),
            ]
        );
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn the_setting_sends_declines_or_never_asks() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
        let p = policy();
        let (ma, mb) =
            (crate::mail::Mailbox::new(&t.db, &clock, &a, &p), crate::mail::Mailbox::new(&t.db, &clock, &b, &p));
        let ask = |s: &str| Draft {
            to: vec![b.address.clone()],
            subject: s.into(),
            body: "x".into(),
            read_receipt: true,
            ..Default::default()
        };
        assert_eq!(mb.receipt_setting().await.unwrap(), ReceiptSetting::Ask);
        // Never: no prompt, and no receipt can be sent.
        mb.set_receipt_setting(ReceiptSetting::Never).await.unwrap();
        let one = ma.send(&ask("un")).await.unwrap();
        assert_eq!(mb.open(one.delivered[0]).await.unwrap().unwrap().read_receipt, ReceiptPrompt::None);
        assert!(matches!(mb.answer_receipt(one.delivered[0], true).await, Err(ReceiptError::Off)));
        assert_eq!(ma.timeline(one.sent_id).await.unwrap().unwrap()[0].state, "delivered");
        // Always: sent on opening, automatically, once.
        mb.set_receipt_setting(ReceiptSetting::Always).await.unwrap();
        let two = ma.send(&ask("deux")).await.unwrap();
        assert_eq!(mb.open(two.delivered[0]).await.unwrap().unwrap().read_receipt, ReceiptPrompt::Sent);
        assert_eq!(mb.open(two.delivered[0]).await.unwrap().unwrap().read_receipt, ReceiptPrompt::Sent);
        assert_eq!(ma.timeline(two.sent_id).await.unwrap().unwrap()[0].state, "read");
        let n: i64 = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_receipts WHERE message_ref = $1").bind(two.sent_id).fetch_one(p).await.unwrap());
        assert_eq!(n, 1);
        let raw: Vec<u8> = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT m.raw FROM messages m JOIN mail_receipts r ON r.report_ref = m.id WHERE r.message_ref = $1")
            .bind(two.sent_id).fetch_one(p).await.unwrap());
        assert!(String::from_utf8_lossy(&raw).contains("automatic-action/MDN-sent-automatically; displayed"));
        // Even then, a receipt asked for someone other than the author is asked of the reader.
        let elsewhere = "From: Dr X <x@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Autre\r\n\
            Message-ID: <ext0@labo.mssante.fr>\r\nDisposition-Notification-To: <secretariat@labo.mssante.fr>\r\n\r\nx\r\n";
        let imported = crate::mail::Imported { raw: elsewhere.as_bytes().to_vec(), date_ms: None, unread: true };
        crate::mail::import_batch(&t.db, &clock, b.account_id, "inbox", &[imported]).await.unwrap();
        let ext0: i64 = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT id FROM messages WHERE message_id = 'ext0@labo.mssante.fr'").fetch_one(p).await.unwrap());
        assert_eq!(mb.open(ext0).await.unwrap().unwrap().read_receipt, ReceiptPrompt::Ask);
        // Ask, then declined: recorded, nothing sent, never asked again.
        mb.set_receipt_setting(ReceiptSetting::Ask).await.unwrap();
        let three = ma.send(&ask("trois")).await.unwrap();
        assert_eq!(mb.answer_receipt(three.delivered[0], false).await.unwrap(), ReceiptPrompt::Declined);
        assert_eq!(mb.open(three.delivered[0]).await.unwrap().unwrap().read_receipt, ReceiptPrompt::Declined);
        assert_eq!(ma.timeline(three.sent_id).await.unwrap().unwrap()[0].state, "delivered");
        // A message that asks nothing: nothing to answer.
        let four = ma.send(&Draft { read_receipt: false, ..ask("quatre") }).await.unwrap();
        assert_eq!(mb.open(four.delivered[0]).await.unwrap().unwrap().read_receipt, ReceiptPrompt::None);

        // A receipt asked by another operator's author leaves through the outbox from the
        // null sender, with no reference to a Sent message (no failure report for a report).
        let inbound_raw = "From: Dr X <x@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Bilan\r\n\
            Message-ID: <ext1@labo.mssante.fr>\r\nDisposition-Notification-To: <x@labo.mssante.fr>\r\n\r\nBilan.\r\n";
        let n = crate::mail::import_batch(
            &t.db,
            &clock,
            b.account_id,
            "inbox",
            &[crate::mail::Imported { raw: inbound_raw.as_bytes().to_vec(), date_ms: None, unread: true }],
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        let ext: i64 = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT id FROM messages WHERE message_id = 'ext1@labo.mssante.fr'").fetch_one(p).await.unwrap());
        assert_eq!(mb.answer_receipt(ext, true).await.unwrap(), ReceiptPrompt::Sent);
        let queued: (String, String, Option<i64>, String) = crate::with_pool!(t.db, p => sqlx::query_as(
            "SELECT recipient, category, message_ref, body FROM outbox WHERE category = 'mail.report'")
            .fetch_one(p).await.unwrap());
        assert_eq!((queued.0.as_str(), queued.1.as_str(), queued.2), ("x@labo.mssante.fr", "mail.report", None));
        assert!(queued.3.contains("Original-Message-ID: <ext1@labo.mssante.fr>"));
    }
}

fn inbound_policy() -> InboundPolicy {
    InboundPolicy {
        domains: vec!["hygie.example".into()],
        public_url: "https://hygie.example".into(),
        max_message_bytes: 200_000,
        quota_bytes: 10_000_000,
        peer_messages_per_hour: 1_000,
    }
}

#[tokio::test]
async fn reports_from_elsewhere_update_the_timeline_in_the_delivery() {
    for t in TestDb::both().await {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        crate::trust_space::replace(&t.db, clock.as_ref(), &["labo.mssante.fr".into()]).await.unwrap();
        let p = policy();
        let ma = crate::mail::Mailbox::new(&t.db, clock.as_ref(), &a, &p);
        let d = Draft {
            to: vec!["x@labo.mssante.fr".into(), "y@labo.mssante.fr".into()],
            subject: "Résultats".into(),
            body: "x".into(),
            read_receipt: true,
            ..Default::default()
        };
        let sent = ma.send(&d).await.unwrap();
        let message_id: String = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT message_id FROM messages WHERE id = $1").bind(sent.sent_id).fetch_one(p).await.unwrap());
        let (inbound, _w) = Inbound::start(t.db.clone(), clock.clone(), inbound_policy());
        let env = |to: &str| Envelope {
            channel: Channel::Smtp,
            peer_ip: "192.0.2.7".into(),
            helo: "mx.labo.mssante.fr".into(),
            tls: true,
            mail_from: String::new(),
            recipients: vec![to.to_string()],
            checked: Default::default(),
        };
        clock.advance_ms(5_000);
        let dsn = postfix_dsn(&message_id, &message_id);
        // The MAILER-DAEMON's domain is the laboratory's own.
        let dsn = String::from_utf8(dsn)
            .unwrap()
            .replace("MAILER-DAEMON@mx.labo.mssante.fr", "MAILER-DAEMON@labo.mssante.fr");
        let got = inbound.deliver(&env("alice@hygie.example"), dsn.as_bytes()).await.unwrap();
        let report = got.stored[0].message.unwrap();
        assert_eq!(folder_of(&t.db, report).await, ("archive".to_string(), false), "filed, not in the Inbox");
        let tl = ma.timeline(sent.sent_id).await.unwrap().unwrap();
        assert_eq!(
            tl.iter().map(|r| (r.recipient.as_str(), r.state)).collect::<Vec<_>>(),
            [("x@labo.mssante.fr", "delivered"), ("y@labo.mssante.fr", "failed")]
        );
        let failed = tl[1].steps.last().unwrap();
        assert_eq!(
            (failed.status.as_str(), failed.reason, failed.report),
            ("5.1.1", Some("unknown_mailbox"), Some(report))
        );
        // A read receipt with an MSSanté integration error from x.
        clock.advance_ms(5_000);
        let ko = mdn(
            &message_id,
            "x@labo.mssante.fr",
            "automatic-action/MDN-sent-automatically; processed/error",
            "[KO Intégration système !][904] Résultats",
        );
        inbound.deliver(&env("alice@hygie.example"), &ko).await.unwrap();
        let tl = ma.timeline(sent.sent_id).await.unwrap().unwrap();
        let last = tl[0].steps.last().unwrap();
        assert_eq!((last.kind.as_str(), last.status.as_str(), last.reason), ("read_failed", "904", Some("mss_904")));
        // A second read receipt from x is not recorded; one naming someone not a recipient adds
        // nobody; a malformed report changes nothing and stays ordinary mail in the Inbox.
        let again = mdn(&message_id, "x@labo.mssante.fr", "manual-action/MDN-sent-manually; displayed", "Lu");
        inbound.deliver(&env("alice@hygie.example"), &again).await.unwrap();
        let stranger = mdn(&message_id, "z@labo.mssante.fr", "manual-action/MDN-sent-manually; displayed", "Lu");
        inbound.deliver(&env("alice@hygie.example"), &stranger).await.unwrap();
        let broken = format!(
            "From: MAILER-DAEMON@labo.mssante.fr\r\nMessage-ID: <broken@labo.mssante.fr>\r\nIn-Reply-To: <{message_id}>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n\
             Final-Recipient: rfc822; y@labo.mssante.fr\r\nAction: delivered\r\nStatus: garbage\r\n\r\n--B--\r\n"
        );
        let got = inbound.deliver(&env("alice@hygie.example"), broken.as_bytes()).await.unwrap();
        assert_eq!(folder_of(&t.db, got.stored[0].message.unwrap()).await, ("inbox".to_string(), true));
        let after = ma.timeline(sent.sent_id).await.unwrap().unwrap();
        assert_eq!(after, tl, "nothing changed");
        // A report for Bruno about Alice's message: it is not his, so it records nothing.
        let for_bruno = mdn(&message_id, "x@labo.mssante.fr", "manual-action/MDN-sent-manually; displayed", "Lu");
        let got = inbound.deliver(&env(&b.address), &for_bruno).await.unwrap();
        assert_eq!(folder_of(&t.db, got.stored[0].message.unwrap()).await.0, "inbox");
        let n: i64 = crate::with_pool!(t.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_receipts").fetch_one(p).await.unwrap());
        assert_eq!(n, 3, "delivered, failed, read_failed");
        let records = actions(&t.db).await;
        assert_eq!(records.iter().filter(|r| r.0 == "mail.receipt.record").count(), 4, "each filed report");
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}
