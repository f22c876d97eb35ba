use super::*;
use crate::accounts;
use crate::accounts::{AccountRecord, Created};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

/// An active personal mailbox `local@hygie.example`, for the mail tests of every module.
pub(crate) async fn active_account(db: &Db, clock: &ManualClock, local: &str) -> i64 {
    let r = AccountRecord {
        address: format!("{local}@hygie.example"),
        mailbox_type: "personal".into(),
        kind: "health".into(),
        first_name: "Élise".into(),
        last_name: local.into(),
        notification_email: format!("{local}@exemple.fr"),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(db, clock, &r).await.unwrap() else { panic!() };
    accounts::activate(db, id).await.unwrap();
    id
}

/// [`active_account`], signed in fully.
pub(crate) async fn holder(db: &Db, clock: &ManualClock, local: &str) -> Holder {
    let id = active_account(db, clock, local).await;
    Holder::resolve(db, id, crate::auth::holder::Level::Full, None, None).await.unwrap().unwrap()
}

#[test]
fn mime_round_trip_keeps_accents_long_lines_and_headers() {
    let from = Holder {
        account_id: 1,
        address: "elise.morel@hygie.example".into(),
        name: "Élise Morel".into(),
        level: crate::auth::holder::Level::Full,
        terms_accepted: true,
        session: None,
        ip: None,
    };
    let long_line = "compte-rendu ".repeat(120);
    let d = Draft {
        to: vec!["paul@hygie.example".into()],
        cc: vec!["labo@labo.mssante.fr".into()],
        bcc: vec!["secret@hygie.example".into()],
        subject: "Résultats d'analyses — Mme Dœuf".into(),
        body: format!("Bonjour,\nVoici les résultats : glycémie à jeun 0,95 g/L.\n{long_line}\n"),
        urgent: true,
        in_reply_to: Some("abc@hygie.example".into()),
        references: vec!["root@hygie.example".into(), "abc@hygie.example".into()],
        attachments: vec![
            attach::Part {
                name: "Échographie rénale.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: (0..=255u8).cycle().take(70_000).collect(),
            },
            attach::Part { name: "notes.txt".into(), content_type: "text/plain".into(), bytes: b"a\r\nb".to_vec() },
        ],
        upload_ids: Vec::new(),
        forward_from: None,
        forward_parts: Vec::new(),
        replaces_draft: None,
        read_receipt: true,
        patient_no_reply: false,
        scheduled_lease: None,
    };
    let raw = build(&from, &d, "m1@hygie.example", 1_800_000_000).unwrap();
    assert!(raw.is_ascii(), "7-bit on the wire");
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("secret@"), "no Bcc in the message");
    // Every message sent carries the MSSanté client headers (no XDM package here: the software's
    // reference only).
    assert!(text.contains(&format!("X-MSS-NIL: {}\r\n", mss::SOFTWARE_REFERENCE)), "{text}");
    assert!(!text.contains("X-MSS-CODECDA") && !text.contains("X-MSS-INS"));
    assert!(text.lines().all(|l| l.len() <= 998), "RFC 5322 line length");
    assert!(text.contains("Disposition-Notification-To: <elise.morel@hygie.example>\r\n"), "a read receipt asked");
    assert_eq!(receipts::requested(&raw).as_deref(), Some("elise.morel@hygie.example"));
    let s = summarise(&raw).unwrap();
    assert_eq!(s.subject, d.subject);
    assert_eq!(s.from_addr, "elise.morel@hygie.example");
    assert_eq!(s.from_name, "Élise Morel");
    assert_eq!(s.to, ["paul@hygie.example"]);
    assert_eq!(s.cc, ["labo@labo.mssante.fr"]);
    assert_eq!(s.message_id, "m1@hygie.example");
    assert_eq!(s.in_reply_to.as_deref(), Some("abc@hygie.example"));
    assert_eq!(s.references, ["root@hygie.example", "abc@hygie.example"]);
    assert!(s.urgent);
    assert_eq!(s.body_text.trim_end(), d.body.trim_end());
    assert_eq!(s.attachment_names, ["Échographie rénale.pdf", "notes.txt"]);
    let parsed = MessageParser::default().parse(&raw).unwrap();
    let bytes: Vec<Vec<u8>> = parsed.attachments().map(|a| a.contents().to_vec()).collect();
    assert_eq!(bytes, [d.attachments[0].bytes.clone(), d.attachments[1].bytes.clone()], "bytes unchanged");
}

#[test]
fn received_attachment_names_are_shown_without_bidi_controls() {
    // "facture<RLO>fdp.exe" would read "factureexe.pdf" in a mail client.
    let raw = "From: a@labo.example\r\nTo: b@hygie.example\r\nSubject: Facture\r\nMIME-Version: 1.0\r\n\
               Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
               Ci-joint.\r\n--b\r\nContent-Type: application/octet-stream\r\n\
               Content-Disposition: attachment; filename*=UTF-8''facture%E2%80%AEfdp.exe\r\n\
               Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b--\r\n";
    let s = summarise(raw.as_bytes()).unwrap();
    assert_eq!(s.attachment_names, ["facturefdp.exe"]);
}

#[test]
fn search_operators_in_french_and_english() {
    let q = SearchQuery::parse(
        "Glycémie de:durand à:labo objet:résultats pj: non-lu: from:x to:y is:unread has:attachment",
    );
    assert_eq!(q.words, ["glycémie"]);
    assert_eq!(q.from, ["durand", "x"]);
    assert_eq!(q.to, ["labo", "y"]);
    assert_eq!(q.subject, ["résultats"]);
    assert!(q.has_attachment && q.unread);
    assert!(SearchQuery::parse("   ").is_empty());
    let d = SearchQuery::parse("bilan après:2026-10-01 avant:15/10/2026");
    assert_eq!(d.words, ["bilan"]);
    assert_eq!(d.after_ms, Some(1_790_812_800_000), "2026-10-01T00:00:00Z");
    assert_eq!(d.before_ms.zip(d.after_ms).map(|(b, a)| b - a), Some(14 * 86_400_000));
    assert_eq!(SearchQuery::parse("after:1/2/2027").after_ms, Some(1_801_440_000_000), "1 February 2027");
    let nonsense = SearchQuery::parse("avant:hier après:2026-13-01");
    assert_eq!((nonsense.before_ms, nonsense.after_ms), (None, None));
    assert_eq!(nonsense.words, ["avant:hier", "après:2026-13-01"], "kept as words, not lost");
}

#[test]
fn snippets_are_one_short_line_without_quotes() {
    assert_eq!(snippet("Bonjour,\n\n> ancien message\nVoici   la suite."), "Bonjour, Voici la suite.");
    assert_eq!(snippet(&"é".repeat(500)).chars().count(), 140);
}

#[tokio::test]
async fn local_delivery_is_atomic_scoped_and_keeps_bcc_private() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b, c) = (
            holder(&t.db, &clock, "alice").await,
            holder(&t.db, &clock, "bruno").await,
            holder(&t.db, &clock, "chloe").await,
        );
        let d = Draft {
            to: vec![b.address.clone()],
            bcc: vec![c.address.clone()],
            subject: "Patient commun".into(),
            body: "Pouvez-vous le voir demain ?".into(),
            ..Default::default()
        };
        let sent =
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        assert_eq!(sent.delivered.len(), 2);
        let (inbox, total) = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap();
        assert_eq!((inbox.len(), total), (1, 1));
        assert!(inbox[0].unread);
        assert_eq!(inbox[0].subject, "Patient commun");
        let opened = open(&t.db, &clock, &b, inbox[0].id).await.unwrap().unwrap();
        assert_eq!(opened.bcc_addrs, "", "Bcc is not disclosed to recipients");
        assert_eq!(opened.body_text.trim_end(), "Pouvez-vous le voir demain ?");
        assert!(!list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].unread, "read once opened");
        let mine = open(&t.db, &clock, &a, sent.sent_id).await.unwrap().unwrap();
        assert_eq!(mine.folder_role, "sent");
        assert_eq!(mine.bcc_addrs, c.address);
        // Another account's id is not found.
        assert!(open(&t.db, &clock, &a, inbox[0].id).await.unwrap().is_none());

        // Refusals name the address and deliver nothing.
        crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
        for (to, expect) in [("x@gmail.com", "outside"), ("nobody@hygie.example", "unknown")] {
            let d2 = Draft { to: vec![b.address.clone(), to.into()], subject: "x".into(), ..Default::default() };
            let err = send(&t.db, &clock, &a, &d2, &domains, "https://h.example", &attach::Limits::default())
                .await
                .unwrap_err();
            match (expect, err) {
                ("outside", SendError::OutsideTrustSpace(x)) | ("unknown", SendError::UnknownMailbox(x)) => {
                    assert_eq!(x, to)
                }
                (e, other) => panic!("{e}: {other:?}"),
            }
        }
        assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().1, 1, "nothing more delivered");

        // Bruno and Chloé were told once; within 15 minutes, not again; after, again.
        let notices = |db: Db| async move {
            let v: Vec<String> = crate::with_pool!(&db, p => sqlx::query_scalar(
                "SELECT recipient FROM outbox WHERE category = 'mail.notice' ORDER BY id").fetch_all(p).await.unwrap());
            v
        };
        assert_eq!(notices(t.db.clone()).await, ["bruno@exemple.fr", "chloe@exemple.fr"]);
        clock.advance_ms(14 * 60_000);
        send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        assert_eq!(notices(t.db.clone()).await.len(), 2);
        clock.advance_ms(60_000);
        accounts::set_preferences(
            &t.db,
            c.account_id,
            accounts::Preferences { notify_new_mail: false, liste_rouge: false, publish_phone: false, no_paper: false },
        )
        .await
        .unwrap();
        send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        assert_eq!(
            notices(t.db.clone()).await,
            ["bruno@exemple.fr", "chloe@exemple.fr", "bruno@exemple.fr"],
            "Chloé turned them off"
        );
        // Search: words (prefix), operators, scoped to the account.
        let found = |q: &str, who: i64| {
            let (db, clock) = (t.db.clone(), clock.clone());
            let q = SearchQuery::parse(q);
            async move { search(&db, &clock, who, &q, None, None, 50).await.unwrap().len() }
        };
        assert!(found("demain", b.account_id).await >= 1);
        assert!(found("pouv", b.account_id).await >= 1, "prefix");
        assert!(found("de:alice", b.account_id).await >= 1);
        assert_eq!(found("de:bruno", b.account_id).await, 0);
        assert!(found("objet:patient", b.account_id).await >= 1);
        assert_eq!(found("pj:", b.account_id).await, 0);
        assert_eq!(found("introuvable", b.account_id).await, 0);
        assert_eq!(found("demain", holder(&t.db, &clock, "dora").await.account_id).await, 0, "another mailbox");
        // The holder's token in the index is no word of the messages.
        assert_eq!(found(&format!("a{}", b.account_id), b.account_id).await, 0, "the owner column is not searched");
        assert!(found("demain à:bruno", a.account_id).await >= 1, "the sender finds it in Sent");
        let today = time::OffsetDateTime::from_unix_timestamp(clock.now_ms() / 1000).unwrap().date();
        let (y, m, d) = (today.year(), today.month() as u8, today.day());
        assert!(found(&format!("demain après:{y}-{m:02}-{d:02}"), b.account_id).await >= 1);
        assert_eq!(found(&format!("demain avant:{d:02}/{m:02}/{y}"), b.account_id).await, 0, "dates");

        // Import: stored as they are, searchable, attachments named, unparsable skipped.
        let mbox_msg = |n: usize| {
            Imported {
            raw: format!(
                "From: Laboratoire <resultats@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Bilan n°{n}\r\n\
                 Date: Mon, 2 Nov 2026 10:0{n}:00 +0100\r\nMessage-ID: <imp{n}@labo>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Hémoglobine glyquée {n}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
                 filename=\"bilan-{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
            ).into_bytes(),
            date_ms: None,
            unread: n % 2 == 0,
        }
        };
        let batch: Vec<Imported> = (1..=3).map(mbox_msg).collect();
        assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &batch).await.unwrap(), 3);
        assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &batch).await.unwrap(), 0, "idempotent");
        let (arch, _) = list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap();
        assert_eq!(arch.len(), 3);
        assert_eq!(arch[0].subject, "Bilan n°3", "by the Date header");
        assert!(arch.iter().all(|m| m.has_attachments));
        assert_eq!(found("pj: glyquée", b.account_id).await, 3);
        assert_eq!(found("bilan-2", b.account_id).await, 1, "attachment names are searched");
        let opened = open(&t.db, &clock, &b, arch[0].id).await.unwrap().unwrap();
        assert_eq!(opened.attachment_names, ["bilan-3.pdf"]);
        let pdf = attachment(&t.db, b.account_id, arch[0].id, 0).await.unwrap().unwrap();
        assert_eq!(
            (pdf.name.as_str(), pdf.content_type.as_str(), &pdf.bytes[..]),
            ("bilan-3.pdf", "application/pdf", &b"%PDF-"[..])
        );
        assert!(attachment(&t.db, a.account_id, arch[0].id, 0).await.unwrap().is_none(), "not another's");
        assert!(attachment(&t.db, b.account_id, arch[0].id, 1).await.unwrap().is_none());
        // An HTML mail opens sanitised.
        let hostile = Imported {
            raw: b"From: x@labo.mssante.fr\r\nTo: bruno@hygie.example\r\nSubject: html\r\nMIME-Version: 1.0\r\n\
                   Content-Type: text/html; charset=utf-8\r\n\r\n<p>Bonjour</p><script>alert(1)</script>\
                   <img src=\"https://traceur.example/p.gif\"><svg><animate/></svg>\r\n"
                .to_vec(),
            date_ms: None,
            unread: true,
        };
        assert_eq!(import_batch(&t.db, &clock, b.account_id, "archive", &[hostile]).await.unwrap(), 1);
        let html_id = list(&t.db, &clock, &b, "archive", 0, 50, false)
            .await
            .unwrap()
            .0
            .iter()
            .find(|m| m.subject == "html")
            .unwrap()
            .id;
        let h = open(&t.db, &clock, &b, html_id).await.unwrap().unwrap().body_html.unwrap();
        assert!(
            h.contains("<p>Bonjour</p>") && !h.contains("script") && !h.contains("traceur") && !h.contains("svg"),
            "{h}"
        );
        apply(&t.db, &clock, &b, &[html_id], Action::Trash).await.unwrap();
        apply(&t.db, &clock, &b, &arch.iter().map(|m| m.id).collect::<Vec<_>>(), Action::Trash).await.unwrap();
        empty_trash(&t.db, &clock, &b).await.unwrap();

        // Managing: read state, flag, archive, trash and restore, delete for good; scoped.
        let m = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].id;
        assert_eq!(apply(&t.db, &clock, &a, &[m], Action::Trash).await.unwrap(), 0, "not another's");
        assert_eq!(apply(&t.db, &clock, &b, &[m], Action::MarkUnread).await.unwrap(), 1);
        assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].unread);
        apply(&t.db, &clock, &b, &[m], Action::Flag).await.unwrap();
        assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap().0[0].flagged);
        apply(&t.db, &clock, &b, &[m], Action::MoveTo("archive")).await.unwrap();
        assert_eq!(list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap().1, 1);
        assert_eq!(apply(&t.db, &clock, &b, &[m], Action::DeleteForever).await.unwrap(), 0, "only from the Trash");
        apply(&t.db, &clock, &b, &[m], Action::Trash).await.unwrap();
        assert_eq!(list(&t.db, &clock, &b, "trash", 0, 50, false).await.unwrap().1, 1);
        assert_eq!(apply(&t.db, &clock, &b, &[m], Action::Restore).await.unwrap(), 1);
        assert_eq!(list(&t.db, &clock, &b, "archive", 0, 50, false).await.unwrap().1, 1, "back where it was");
        apply(&t.db, &clock, &b, &[m], Action::Trash).await.unwrap();
        assert_eq!(apply(&t.db, &clock, &b, &[m], Action::DeleteForever).await.unwrap(), 1);
        assert!(open(&t.db, &clock, &b, m).await.unwrap().is_none());
        apply(
            &t.db,
            &clock,
            &c,
            &[list(&t.db, &clock, &c, "inbox", 0, 50, false).await.unwrap().0[0].id],
            Action::Trash,
        )
        .await
        .unwrap();
        assert_eq!(empty_trash(&t.db, &clock, &c).await.unwrap(), 1);

        let f = folders(&t.db, &clock, b.account_id).await.unwrap();
        assert_eq!(
            f.iter().map(|f| f.role.as_str()).collect::<Vec<_>>(),
            ["inbox", "sent", "drafts", "archive", "trash"]
        );
    }
}

#[tokio::test]
async fn remote_recipients_are_queued_with_the_sent_copy_and_failures_come_back() {
    use crate::outbox::{self, DevOutbox, EmailTransport, MssTransport, RetryPolicy, SmsTransport, Transport};
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
        let d = Draft {
            to: vec![b.address.clone(), "y@labo.mssante.fr".into()],
            bcc: vec!["z@labo.mssante.fr".into()],
            subject: "Résultats d'analyse".into(),
            body: "Voir ci-dessous, œdème résolu.".into(),
            ..Default::default()
        };
        let sent =
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        assert_eq!(sent.delivered.len(), 1, "Bruno is here");
        assert_eq!(sent.queued, ["y@labo.mssante.fr", "z@labo.mssante.fr"]);
        let status = remote_deliveries(&t.db, a.account_id, sent.sent_id).await.unwrap();
        assert_eq!(status.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(), ["pending", "pending"]);
        assert!(remote_deliveries(&t.db, b.account_id, sent.sent_id).await.unwrap().is_empty(), "scoped by account");

        // Delivered through the development transport: the raw message, Bcc not in it.
        let dir = std::env::temp_dir().join(format!("hygie-mss-{}", crate::random_hex(6)));
        let policy = RetryPolicy::default();
        let dev = Transport::dev(&dir);
        assert_eq!(outbox::run_once(&t.db, &clock, &policy, &dev, 10).await.unwrap().sent, 3, "2 + Bruno's notice");
        let files = DevOutbox::new(&dir).list().unwrap();
        let mss: Vec<_> = files.iter().filter(|e| e.channel == "mss").collect();
        assert_eq!(mss.len(), 2);
        let parsed = summarise(mss[0].body.as_bytes()).unwrap();
        assert_eq!(parsed.subject, "Résultats d'analyse");
        assert_eq!(parsed.body_text.trim_end(), "Voir ci-dessous, œdème résolu.");
        assert!(!mss[0].body.to_lowercase().contains("z@labo"), "Bcc is not written into the message");
        let status = remote_deliveries(&t.db, a.account_id, sent.sent_id).await.unwrap();
        assert!(status.iter().all(|s| s.status == "sent" && s.sent_ms.is_some()));
        let _ = std::fs::remove_dir_all(&dir);

        // An operator that cannot be reached: retried, then given up after the expiry, and
        // the sender finds a report in their Inbox, in the conversation of the original.
        let unreachable = Transport {
            email: EmailTransport::Dev(DevOutbox::new(&dir)),
            sms: SmsTransport::Disabled,
            mss: MssTransport::Smtp(outbox::MssSmtp::relay(
                "127.0.0.1",
                9,
                outbox::SmtpSecurity::None,
                None,
                None,
                std::time::Duration::from_secs(2),
            )),
        };
        let policy = RetryPolicy { base_ms: 1_000, max_ms: 60_000, mss_expiry_ms: 3_600_000, ..RetryPolicy::default() };
        // A health document's subject: the report names it as the list shows it.
        let d2 =
            Draft { to: vec!["y@labo.mssante.fr".into()], subject: "XDM/1.0/DDM+Relance".into(), ..Default::default() };
        let second =
            send(&t.db, &clock, &a, &d2, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        assert_eq!(outbox::run_once(&t.db, &clock, &policy, &unreachable, 10).await.unwrap().retried, 1);
        assert_eq!(list(&t.db, &clock, &a, "inbox", 0, 50, false).await.unwrap().1, 0, "no report while retrying");
        clock.advance_ms(3_600_000);
        assert_eq!(outbox::run_once(&t.db, &clock, &policy, &unreachable, 10).await.unwrap().failed, 1);
        let (inbox, _) = list(&t.db, &clock, &a, "inbox", 0, 50, false).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].subject, "Non remis / Undelivered: Relance");
        assert!(inbox[0].unread);
        let report = open(&t.db, &clock, &a, inbox[0].id).await.unwrap().unwrap();
        assert!(report.body_text.contains("y@labo.mssante.fr"));
        let original = open(&t.db, &clock, &a, second.sent_id).await.unwrap().unwrap();
        assert_eq!(report.thread_id, original.thread_id);
        assert_eq!(remote_deliveries(&t.db, a.account_id, second.sent_id).await.unwrap()[0].status, "failed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn attachments_travel_with_the_message_within_the_size_limit_and_quota() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let pdf = b"%PDF-1.4 compte rendu".to_vec();
        let up =
            attach::store_upload(&t.db, &clock, &a, "Compte rendu été.pdf", "application/pdf", &pdf).await.unwrap();
        assert_eq!((up.name.as_str(), up.size), ("Compte rendu été.pdf", pdf.len() as i64));
        assert!(attach::uploads(&t.db, b.account_id, &[up.id]).await.unwrap().is_empty(), "another account's upload");
        // The verb gathers the upload itself.
        let d = Draft {
            to: vec![b.address.clone()],
            subject: "CR".into(),
            body: "Ci-joint.".into(),
            upload_ids: vec![up.id],
            ..Default::default()
        };
        let limits = attach::Limits::default();
        let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
        assert!(attach::uploads(&t.db, a.account_id, &[up.id]).await.unwrap().is_empty(), "the upload left with it");
        let got = open(&t.db, &clock, &b, sent.delivered[0]).await.unwrap().unwrap();
        assert_eq!(got.attachment_names, ["Compte rendu été.pdf"]);
        let file = attachment(&t.db, b.account_id, sent.delivered[0], 0).await.unwrap().unwrap();
        assert_eq!((file.content_type.as_str(), file.bytes), ("application/pdf", pdf.clone()));
        let (inbox, _) = list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap();
        assert!(inbox[0].has_attachments);
        let found =
            search(&t.db, &clock, b.account_id, &SearchQuery::parse("rendu pj:"), None, None, 10).await.unwrap();
        assert_eq!(found.len(), 1, "attachment names are searchable");

        // Over the per-message limit: refused, nothing stored.
        let small = attach::Limits { max_message_bytes: 1_000, quota_bytes: 1_000_000 };
        let big = Draft {
            to: vec![b.address.clone()],
            attachments: vec![attach::Part {
                name: "scanner.dcm".into(),
                content_type: "application/dicom".into(),
                bytes: vec![7; 1_001],
            }],
            ..Default::default()
        };
        assert!(matches!(
            send(&t.db, &clock, &a, &big, &domains, "https://h.example", &small).await,
            Err(SendError::TooLarge { max_bytes: 1_000 })
        ));
        // Quotas: the sender's own, then a full recipient.
        let used_a = attach::usage(&t.db, a.account_id).await.unwrap();
        let used_b = attach::usage(&t.db, b.account_id).await.unwrap();
        assert!(used_a > pdf.len() as i64 && used_b > pdf.len() as i64);
        let tight = attach::Limits { max_message_bytes: 1_000_000, quota_bytes: used_a + 10 };
        let note = Draft { to: vec![b.address.clone()], body: "x".into(), ..Default::default() };
        assert!(matches!(
            send(&t.db, &clock, &a, &note, &domains, "https://h.example", &tight).await,
            Err(SendError::QuotaExceeded { .. })
        ));
        let c = holder(&t.db, &clock, "chloe").await;
        let tight = attach::Limits { max_message_bytes: 1_000_000, quota_bytes: used_b + 10 };
        match send(&t.db, &clock, &c, &note, &domains, "https://h.example", &tight).await {
            Err(SendError::MailboxFull(x)) => assert_eq!(x, b.address),
            other => panic!("{other:?}"),
        }
        assert_eq!(attach::usage(&t.db, b.account_id).await.unwrap(), used_b, "nothing delivered");

        // Uploads never sent are deleted after a day.
        attach::store_upload(&t.db, &clock, &a, "oubli.txt", "text/plain", b"x").await.unwrap();
        assert_eq!(attach::purge_uploads(&t.db, &clock).await.unwrap(), 0);
        clock.advance_ms(attach::UPLOAD_TTL_MS + 1);
        assert_eq!(attach::purge_uploads(&t.db, &clock).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_reply_joins_its_conversation() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let limits = attach::Limits::default();
        let first = Draft { to: vec![b.address.clone()], subject: "Suivi".into(), ..Default::default() };
        let sent = send(&t.db, &clock, &a, &first, &domains, "https://h.example", &limits).await.unwrap();
        let received = open(&t.db, &clock, &b, sent.delivered[0]).await.unwrap().unwrap();
        clock.advance_ms(60_000);
        let reply = Draft {
            to: vec![a.address.clone()],
            subject: "RE: Suivi".into(),
            body: "Entendu.".into(),
            in_reply_to: Some(received.message_id.clone()),
            references: vec![received.message_id.clone()],
            ..Default::default()
        };
        let answered = send(&t.db, &clock, &b, &reply, &domains, "https://h.example", &limits).await.unwrap();
        let mine = open(&t.db, &clock, &a, answered.delivered[0]).await.unwrap().unwrap();
        let conv = thread(&t.db, a.account_id, &mine.thread_id).await.unwrap();
        assert_eq!(
            conv.iter().map(|c| (c.id, c.role.as_str())).collect::<Vec<_>>(),
            [(sent.sent_id, "sent"), (answered.delivered[0], "inbox")]
        );
        let (inbox, _) = list(&t.db, &clock, &a, "inbox", 0, 10, false).await.unwrap();
        assert_eq!(inbox[0].thread_count, 2);
        // Not another account's conversation, and not what is in the Trash.
        assert!(thread(&t.db, b.account_id, &mine.thread_id).await.unwrap().iter().all(|c| c.id != sent.sent_id));
        apply(&t.db, &clock, &a, &[sent.sent_id], Action::Trash).await.unwrap();
        assert_eq!(thread(&t.db, a.account_id, &mine.thread_id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn folded_lists_show_one_line_per_conversation() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let limits = attach::Limits::default();
        // Three messages of one conversation, and one on its own in between.
        let mut refs: Vec<String> = Vec::new();
        let mut delivered = Vec::new();
        for (n, subject) in ["Suivi", "Autre sujet", "RE: Suivi", "RE: Suivi"].iter().enumerate() {
            let alone = n == 1;
            let d = Draft {
                to: vec![b.address.clone()],
                subject: subject.to_string(),
                in_reply_to: if alone { None } else { refs.last().cloned() },
                references: if alone { Vec::new() } else { refs.clone() },
                ..Default::default()
            };
            let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
            let got = open(&t.db, &clock, &a, sent.sent_id).await.unwrap().unwrap();
            if !alone {
                refs.push(got.message_id);
            }
            delivered.push(sent.delivered[0]);
            clock.advance_ms(60_000);
        }
        let (first, other, _, newest) = (delivered[0], delivered[1], delivered[2], delivered[3]);
        // Bruno reads the newest: the older two stay unread.
        open(&t.db, &clock, &b, newest).await.unwrap();

        let (flat, total) = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap();
        assert_eq!((flat.len(), total), (4, 4));
        assert!(flat.iter().all(|l| l.folded_ids.is_empty()));

        let (lines, total) = list(&t.db, &clock, &b, "inbox", 0, 50, true).await.unwrap();
        assert_eq!(total, 2, "two conversations");
        assert_eq!(lines.iter().map(|l| l.id).collect::<Vec<_>>(), [newest, other]);
        assert_eq!(lines[0].folded_ids, [newest, delivered[2], first], "newest first");
        assert!(lines[0].unread, "unread while any message of it is");
        assert_eq!(lines[0].first_unread, Some(first), "the oldest unread opens first");
        assert_eq!(lines[0].thread_count, 3);
        assert_eq!((lines[1].folded_ids.clone(), lines[1].first_unread), (vec![other], Some(other)));

        // Pages count conversations.
        let (second, _) = list(&t.db, &clock, &b, "inbox", 1, 1, true).await.unwrap();
        assert_eq!(second.iter().map(|l| l.id).collect::<Vec<_>>(), [other]);

        // A message moved away leaves the conversation's line in this folder.
        apply(&t.db, &clock, &b, &[newest], Action::MoveTo("archive")).await.unwrap();
        let (lines, _) = list(&t.db, &clock, &b, "inbox", 0, 50, true).await.unwrap();
        assert_eq!(lines[0].folded_ids, [delivered[2], first]);
        let (archived, total) = list(&t.db, &clock, &b, "archive", 0, 50, true).await.unwrap();
        assert_eq!((archived[0].folded_ids.clone(), total), (vec![newest], 1));
        assert!(!archived[0].unread);

        // Alice's Sent folds the same way, on her own copies.
        let (sent, total) = list(&t.db, &clock, &a, "sent", 0, 50, true).await.unwrap();
        assert_eq!((sent.len(), total, sent[0].folded_ids.len()), (2, 2, 3));
        assert!(sent[0].folded_ids.iter().all(|id| !delivered.contains(id)));

        // The holder's choice, folded by default.
        assert!(folds_threads(&t.db, b.account_id).await.unwrap());
        set_folds_threads(&t.db, &clock, &b, false).await.unwrap();
        assert!(!folds_threads(&t.db, b.account_id).await.unwrap());
        assert!(folds_threads(&t.db, a.account_id).await.unwrap(), "one holder's choice only");
    }
}

#[tokio::test]
async fn two_processes_import_at_once_without_locking_each_other_out() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        // A second pool on the same database: the server and `hygie mail import` side by side.
        let other = Db::connect(&t.url, crate::audit::AuditKey::for_tests()).await.unwrap();
        let run = |db: Db, account: i64, tag: &'static str| {
            let clock = clock.clone();
            tokio::spawn(async move {
                for batch in 0..25 {
                    let messages: Vec<Imported> = (0..4)
                        .map(|n| Imported {
                            raw: format!(
                                "From: Labo <r@labo.mssante.fr>\r\nSubject: {tag} {batch}-{n}\r\n\
                                 Message-ID: <{tag}-{batch}-{n}@labo.mssante.fr>\r\n\r\nBilan.\r\n"
                            )
                            .into_bytes(),
                            date_ms: None,
                            unread: true,
                        })
                        .collect();
                    import_batch(&db, &clock, account, "inbox", &messages).await?;
                }
                Ok::<_, StoreError>(())
            })
        };
        let (x, y) = tokio::join!(run(t.db.clone(), a.account_id, "a"), run(other, b.account_id, "b"));
        x.unwrap().unwrap();
        y.unwrap().unwrap();
        assert_eq!(list(&t.db, &clock, &a, "inbox", 0, 10, false).await.unwrap().1, 100);
        assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().1, 100);
    }
}

#[tokio::test]
async fn drafts_are_saved_in_place_with_their_files_and_leave_when_sent() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let limits = attach::Limits::default();
        let typed = drafts::Typed { to: "bruno@, pas fini".into(), ..Default::default() };
        let up =
            attach::store_upload(&t.db, &clock, &a, "photo plaie.jpg", "image/jpeg", b"\xff\xd8jpeg").await.unwrap();
        let d = Draft {
            subject: "Pansement".into(),
            body: "Plaie propre, à revoir".into(),
            upload_ids: vec![up.id],
            ..Default::default()
        };
        let first = drafts::save(&t.db, &clock, &a, None, &d, &typed, &limits).await.unwrap();
        assert_eq!(first.attachment_names, ["photo plaie.jpg"]);
        assert!(
            attach::uploads(&t.db, a.account_id, &[up.id]).await.unwrap().is_empty(),
            "the upload is in the draft now"
        );
        // Saved again (more text, the file kept from the draft itself): same id, one draft.
        let kept = attachment(&t.db, a.account_id, first.id, 0).await.unwrap().unwrap();
        let d2 = Draft {
            body: "Plaie propre, à revoir jeudi".into(),
            subject: "Pansement".into(),
            attachments: vec![attach::Part { name: kept.name, content_type: kept.content_type, bytes: kept.bytes }],
            ..Default::default()
        };
        let typed2 = drafts::Typed { to: b.address.clone(), ..Default::default() };
        let second = drafts::save(&t.db, &clock, &a, Some(first.id), &d2, &typed2, &limits).await.unwrap();
        assert_eq!(second.id, first.id);
        let (list_drafts, total) = list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(list_drafts[0].to_addrs, b.address);
        let reopened = open(&t.db, &clock, &a, first.id).await.unwrap().unwrap();
        assert_eq!(reopened.body_text.trim_end(), "Plaie propre, à revoir jeudi");
        assert_eq!(reopened.attachment_names, ["photo plaie.jpg"]);
        let found =
            search(&t.db, &clock, a.account_id, &SearchQuery::parse("jeudi"), Some("drafts"), None, 10).await.unwrap();
        assert_eq!(found.len(), 1, "the index follows the latest text");
        assert!(search(&t.db, &clock, b.account_id, &SearchQuery::parse("jeudi"), None, None, 10)
            .await
            .unwrap()
            .is_empty());
        // Another account cannot overwrite it, nor learn that it exists.
        assert!(matches!(
            drafts::save(&t.db, &clock, &b, Some(first.id), &d2, &typed2, &limits).await,
            Err(SendError::DraftGone)
        ));
        assert_eq!(list(&t.db, &clock, &b, "drafts", 0, 10, false).await.unwrap().1, 0);

        // Sent: the draft leaves the Drafts folder in the same transaction.
        let out = Draft {
            to: vec![b.address.clone()],
            subject: "Pansement".into(),
            body: reopened.body_text.clone(),
            replaces_draft: Some(first.id),
            ..Default::default()
        };
        send(&t.db, &clock, &a, &out, &domains, "https://h.example", &limits).await.unwrap();
        assert_eq!(list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap().1, 0);
        // A save that arrives after the sending (a late autosave) does not bring it back.
        assert!(matches!(
            drafts::save(&t.db, &clock, &a, Some(first.id), &d2, &typed2, &limits).await,
            Err(SendError::DraftGone)
        ));
        assert_eq!(list(&t.db, &clock, &a, "drafts", 0, 10, false).await.unwrap().1, 0);
        assert!(search(&t.db, &clock, a.account_id, &SearchQuery::parse("jeudi"), Some("drafts"), None, 10)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn own_folders_nest_rename_take_messages_and_go_to_the_trash() {
    use folders::FolderError;
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let patients = folders::create(&t.db, &clock, &b, "  Patients  ", None).await.unwrap();
        let dupont = folders::create(&t.db, &clock, &b, "Famille Dupont", Some(patients)).await.unwrap();
        let y2026 = folders::create(&t.db, &clock, &b, "2026", Some(dupont)).await.unwrap();
        assert!(matches!(folders::create(&t.db, &clock, &b, "trop", Some(y2026)).await, Err(FolderError::TooDeep)));
        assert!(matches!(folders::create(&t.db, &clock, &b, "patients", None).await, Err(FolderError::Duplicate)));
        assert!(matches!(folders::create(&t.db, &clock, &b, "a/b", None).await, Err(FolderError::InvalidName)));
        assert!(matches!(folders::create(&t.db, &clock, &a, "x", Some(patients)).await, Err(FolderError::NotFound)));
        assert!(matches!(folders::nest(&t.db, b.account_id, patients, Some(y2026)).await, Err(FolderError::Cycle)));
        folders::rename(&t.db, &clock, &b, dupont, "Famille Dupond").await.unwrap();
        assert!(matches!(folders::rename(&t.db, &clock, &a, dupont, "volé").await, Err(FolderError::NotFound)));
        let inbox_id = folder_id(&t.db, &clock, b.account_id, "inbox").await.unwrap();
        assert!(folders::rename(&t.db, &clock, &b, inbox_id, "Autre").await.is_err(), "standard folders stay");
        let rows = folders(&t.db, &clock, b.account_id).await.unwrap();
        let d = rows.iter().find(|f| f.id == dupont).unwrap();
        assert_eq!((d.name.as_str(), d.parent_id), ("Famille Dupond", Some(patients)));

        // A message moves in; the folder lists it; another account cannot move into it.
        let d1 = Draft { to: vec![b.address.clone()], subject: "Dossier".into(), ..Default::default() };
        let sent =
            send(&t.db, &clock, &a, &d1, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        let m = sent.delivered[0];
        let key = format!("d{dupont}");
        assert_eq!(Action::parse(&format!("move:{key}")), Some(Action::MoveToFolder(dupont)));
        assert_eq!(apply(&t.db, &clock, &a, &[sent.sent_id], Action::MoveToFolder(dupont)).await.unwrap(), 0);
        assert_eq!(apply(&t.db, &clock, &b, &[m], Action::MoveToFolder(dupont)).await.unwrap(), 1);
        assert_eq!(list(&t.db, &clock, &b, &key, 0, 10, false).await.unwrap().1, 1);
        assert!(list(&t.db, &clock, &a, &key, 0, 10, false).await.is_err(), "not Alice's folder");
        let found =
            search(&t.db, &clock, b.account_id, &SearchQuery::parse("dossier"), Some(&key), None, 10).await.unwrap();
        assert_eq!(found.len(), 1);

        // Deleting "Patients" takes its sub-folders; the message goes to the Trash, and
        // restoring it brings it to the Inbox.
        assert_eq!(folders::delete(&t.db, &clock, &b, patients).await.unwrap(), 1);
        assert!(folders(&t.db, &clock, b.account_id).await.unwrap().iter().all(|f| f.role != "custom"));
        assert_eq!(list(&t.db, &clock, &b, "trash", 0, 10, false).await.unwrap().1, 1);
        apply(&t.db, &clock, &b, &[m], Action::Restore).await.unwrap();
        assert_eq!(list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().1, 1);
    }
}

#[tokio::test]
async fn remote_images_wait_for_the_holder_and_inline_images_show() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let b = holder(&t.db, &clock, "bruno").await;
        let raw = "From: Labo <labo@labo.mssante.fr>\r\nTo: bruno@hygie.example\r\nSubject: Images\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
            --r\r\nContent-Type: text/html\r\n\r\n<p>Logo <img src=\"cid:logo@labo\"> et \
            <img src=\"https://traceur.example/p.gif\"></p>\r\n\
            --r\r\nContent-Type: image/png\r\nContent-ID: <logo@labo>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            iVBORw0KGgo=\r\n--r--\r\n";
        let imported = Imported { raw: raw.as_bytes().to_vec(), date_ms: None, unread: true };
        import_batch(&t.db, &clock, b.account_id, "inbox", &[imported]).await.unwrap();
        let id = list(&t.db, &clock, &b, "inbox", 0, 10, false).await.unwrap().0[0].id;
        let first = open(&t.db, &clock, &b, id).await.unwrap().unwrap();
        let html = first.body_html.unwrap();
        assert!(first.remote_images_blocked);
        assert!(html.contains("data:image/png;base64,iVBORw0KGgo="), "{html}");
        assert!(!html.contains("traceur"));
        assert!(!allow_images_from(&t.db, &clock, &b, id + 1000).await.unwrap(), "not another's message");
        assert!(allow_images_from(&t.db, &clock, &b, id).await.unwrap());
        let again = open(&t.db, &clock, &b, id).await.unwrap().unwrap();
        assert!(!again.remote_images_blocked);
        assert!(again.body_html.unwrap().contains("https://traceur.example/p.gif"));
    }
}

async fn messages_of(db: &Db, account_id: i64) -> Vec<(i64, i64, bool)> {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, folder_id, unread FROM messages WHERE account_id = $1 ORDER BY id")
        .bind(account_id).fetch_all(p).await.unwrap())
}

/// An action and its audit record commit together: when the record cannot be written, the
/// action fails and nothing it would have changed has changed.
#[tokio::test]
async fn an_action_whose_audit_record_fails_changes_nothing() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let limits = attach::Limits::default();
        let d =
            Draft { to: vec![b.address.clone()], subject: "Bilan".into(), body: "Texte".into(), ..Default::default() };
        let first = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
        let received = first.delivered[0];
        let folder = folders::create(&t.db, &clock, &b, "Patients", None).await.unwrap();
        let before = (messages_of(&t.db, a.account_id).await, messages_of(&t.db, b.account_id).await);
        let head = crate::audit::head(&t.db).await.unwrap();

        crate::store::testing::break_audit(&t.db).await;
        assert!(matches!(
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await,
            Err(SendError::Store(_))
        ));
        assert!(apply(&t.db, &clock, &b, &[received], Action::Trash).await.is_err());
        assert!(apply(&t.db, &clock, &b, &[received], Action::MoveToFolder(folder)).await.is_err());
        assert!(empty_trash(&t.db, &clock, &b).await.is_err());
        assert!(open(&t.db, &clock, &b, received).await.is_err(), "no record, no reading");
        assert!(list(&t.db, &clock, &b, "inbox", 0, 50, false).await.is_err(), "no record, no list");
        assert!(folders::create(&t.db, &clock, &b, "Autre", None).await.is_err());
        assert!(folders::rename(&t.db, &clock, &b, folder, "Renommé").await.is_err());
        assert!(folders::delete(&t.db, &clock, &b, folder).await.is_err());
        let typed = drafts::Typed::default();
        assert!(drafts::save(&t.db, &clock, &a, None, &d, &typed, &limits).await.is_err());
        crate::store::testing::repair_audit(&t.db).await;

        assert_eq!((messages_of(&t.db, a.account_id).await, messages_of(&t.db, b.account_id).await), before);
        assert_eq!(crate::audit::head(&t.db).await.unwrap(), head, "no record either");
        let names: Vec<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT name FROM mail_folders WHERE account_id = $1 AND role = 'custom'")
                .bind(b.account_id).fetch_all(p).await.unwrap());
        assert_eq!(names, vec!["Patients".to_string()]);
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
        // Working again, each action leaves its record.
        apply(&t.db, &clock, &b, &[received], Action::Trash).await.unwrap();
        let last = crate::audit::latest(&t.db, 1).await.unwrap();
        assert_eq!(
            (last[0].action.as_str(), last[0].actor.clone()),
            ("mail.trash", format!("account:{}", b.account_id))
        );
    }
}

/// Several changes to a message at once (the API's PATCH, IMAP's STORE of two flags, an
/// APPEND that moves a held message) commit together, each with its record: none when one of
/// them cannot be done or recorded.
#[tokio::test]
async fn several_actions_commit_together_each_with_its_record() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let d =
            Draft { to: vec![b.address.clone()], subject: "Bilan".into(), body: "Texte".into(), ..Default::default() };
        let sent =
            send(&t.db, &clock, &a, &d, &domains, "https://h.example", &attach::Limits::default()).await.unwrap();
        let ids = [sent.delivered[0]];
        let before = messages_of(&t.db, b.account_id).await;

        // Another's folder: refused and recorded, and the flags before it are not changed.
        let theirs = folders::create(&t.db, &clock, &a, "Alice", None).await.unwrap();
        let changes =
            [(Action::MarkRead, &ids[..]), (Action::Flag, &ids[..]), (Action::MoveToFolder(theirs), &ids[..])];
        assert_eq!(apply_all(&t.db, &clock, &b, &changes).await.unwrap(), 0);
        assert_eq!(messages_of(&t.db, b.account_id).await, before);
        let last = crate::audit::latest(&t.db, 1).await.unwrap();
        assert_eq!(
            (last[0].action.as_str(), last[0].outcome.as_str()),
            (format!("mail.move:d{theirs}").as_str(), "denied:not_found")
        );

        // The trail cannot be written: nothing changes.
        let head = crate::audit::head(&t.db).await.unwrap();
        let changes = [(Action::MarkRead, &ids[..]), (Action::MoveTo("archive"), &ids[..])];
        crate::store::testing::break_audit(&t.db).await;
        assert!(apply_all(&t.db, &clock, &b, &changes).await.is_err());
        crate::store::testing::repair_audit(&t.db).await;
        assert_eq!(messages_of(&t.db, b.account_id).await, before);
        assert_eq!(crate::audit::head(&t.db).await.unwrap(), head);

        // All of them, one record each, in order.
        let changes = [(Action::MarkRead, &ids[..]), (Action::Flag, &ids[..]), (Action::MoveTo("archive"), &ids[..])];
        assert_eq!(apply_all(&t.db, &clock, &b, &changes).await.unwrap(), 3);
        let archive = folder_id(&t.db, &clock, b.account_id, "archive").await.unwrap();
        assert_eq!(messages_of(&t.db, b.account_id).await, vec![(ids[0], archive, false)]);
        let last: Vec<String> =
            crate::audit::latest(&t.db, 3).await.unwrap().into_iter().rev().map(|r| r.action).collect();
        assert_eq!(last, ["mail.read", "mail.flag", "mail.archive"]);
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

/// A forward lists each kept attachment once however often the request names it, loads the
/// original once, refuses another holder's message or upload, and checks sizes first.
#[tokio::test]
async fn forwarded_files_are_gathered_once_and_checked() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let limits = attach::Limits::default();
        let file = attach::Part {
            name: "bilan.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: vec![7u8; 300_000],
        };
        let d = Draft {
            to: vec![b.address.clone()],
            subject: "Bilan".into(),
            attachments: vec![file],
            ..Default::default()
        };
        let sent = send(&t.db, &clock, &a, &d, &domains, "https://h.example", &limits).await.unwrap();
        let got = sent.delivered[0];
        let forward = |parts: Vec<usize>| Draft {
            to: vec![a.address.clone()],
            subject: "TR: Bilan".into(),
            forward_from: Some(got),
            forward_parts: parts,
            ..Default::default()
        };
        let fwd =
            send(&t.db, &clock, &b, &forward(vec![0; 1_000]), &domains, "https://h.example", &limits).await.unwrap();
        let back = open(&t.db, &clock, &a, fwd.delivered[0]).await.unwrap().unwrap();
        assert_eq!(back.attachment_names, ["bilan.pdf"], "one copy, not a thousand");
        assert!(
            matches!(
                send(&t.db, &clock, &a, &forward(vec![0]), &domains, "https://h.example", &limits).await,
                Err(SendError::ForwardedNotFound)
            ),
            "another holder's message"
        );
        assert!(
            matches!(
                send(&t.db, &clock, &b, &forward(vec![3]), &domains, "https://h.example", &limits).await,
                Err(SendError::ForwardedNotFound)
            ),
            "no such attachment"
        );
        let tight = attach::Limits { max_message_bytes: 100_000, ..limits };
        assert!(
            matches!(
                send(&t.db, &clock, &b, &forward(vec![0]), &domains, "https://h.example", &tight).await,
                Err(SendError::TooLarge { .. })
            ),
            "checked against the limit before it is loaded"
        );
        let up = attach::store_upload(&t.db, &clock, &a, "x.txt", "text/plain", b"x").await.unwrap();
        let theirs = Draft { to: vec![a.address.clone()], upload_ids: vec![up.id], ..Default::default() };
        assert!(matches!(
            send(&t.db, &clock, &b, &theirs, &domains, "https://h.example", &limits).await,
            Err(SendError::UnknownUpload)
        ));
        // The upload of `a` is recorded among them.
        let log = crate::audit::latest(&t.db, 5).await.unwrap();
        let outcomes: Vec<&str> =
            log.iter().rev().filter(|r| r.action == "mail.send").map(|r| r.outcome.as_str()).collect();
        assert_eq!(outcomes, ["denied:not_found", "denied:not_found", "failure:too_large", "failure:unknown_upload"]);
    }
}

/// The holder's limits belong to the mailbox, not to a channel: sends counted elsewhere (another
/// channel, another instance) count here; the refusal is recorded and changes nothing; a
/// search is recorded with its number of results, never its words; a file over the quota is
/// refused and recorded.
#[tokio::test]
async fn the_mailbox_applies_the_holders_limits_whatever_the_channel() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let policy = MailPolicy {
            domains: vec!["hygie.example".to_string()],
            public_url: "https://h.example".into(),
            limits: attach::Limits { max_message_bytes: 1024 * 1024, quota_bytes: 3 * 1024 * 1024 },
        };
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let d = Draft {
            to: vec![b.address.clone()],
            subject: "Compte rendu opératoire".into(),
            body: "Suites simples.".into(),
            ..Default::default()
        };
        // 199 sends already counted this hour, through whatever channel.
        let limit = crate::ratelimit::Limit { max: hourly::SENDS, window_ms: 3_600_000 };
        for _ in 0..hourly::SENDS - 1 {
            crate::ratelimit::hit(&t.db, &clock, &format!("send:{}", a.account_id), limit).await.unwrap();
        }
        mailbox.send(&d).await.expect("the 200th send of the hour");
        let before = messages_of(&t.db, b.account_id).await;
        let refused = mailbox.send(&d).await;
        assert!(
            matches!(refused, Err(SendError::RateLimited { retry_after_secs }) if retry_after_secs > 0),
            "{refused:?}"
        );
        assert_eq!(messages_of(&t.db, b.account_id).await, before, "nothing delivered");
        let last = &crate::audit::latest(&t.db, 1).await.unwrap()[0];
        assert_eq!((last.action.as_str(), last.outcome.as_str()), ("mail.send", "denied:rate_limited"));
        clock.advance_ms(3_600_000);
        mailbox.send(&d).await.expect("a new hour");

        let found =
            Mailbox::new(&t.db, &clock, &b, &policy).search(&SearchQuery::parse("opératoire"), None).await.unwrap();
        assert_eq!(found.len(), 2);
        let last = &crate::audit::latest(&t.db, 1).await.unwrap()[0];
        assert_eq!((last.action.as_str(), last.object.as_deref()), ("mail.search", Some("results:2 total:2")));
        let trail = format!("{:?}", crate::audit::latest(&t.db, 1000).await.unwrap());
        assert!(!trail.contains("opératoire") && !trail.contains("Compte rendu"), "no words, no subjects");

        let file = vec![7u8; 1024 * 1024];
        // The messages sent count too: two more megabytes fit, a third does not.
        for _ in 0..2 {
            mailbox.store_upload("scanner.pdf", "application/pdf", &file).await.expect("within the quota");
        }
        let over = mailbox.store_upload("scanner.pdf", "application/pdf", &file).await;
        assert!(matches!(over, Err(MailError::QuotaExceeded { .. })), "{over:?}");
        let too_big = mailbox.store_upload("gros.pdf", "application/pdf", &vec![0u8; 1024 * 1024 + 1]).await;
        assert!(matches!(too_big, Err(MailError::TooLarge { .. })), "{too_big:?}");
        let outcomes: Vec<String> =
            crate::audit::latest(&t.db, 2).await.unwrap().into_iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, ["denied:too_large", "denied:quota"]);
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn mail_from_elsewhere_is_indexed_after_its_commit_and_always_found() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        let letter = |n: usize, to: &str| {
            Imported {
            raw: format!(
                "From: Laboratoire <resultats@labo.mssante.fr>\r\nTo: {to}\r\nSubject: Compte rendu {n}\r\n\
                 Message-ID: <idx{n}@labo>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0100\r\n\r\nÉchographie abdominale {n}\r\n"
            )
            .into_bytes(),
            date_ms: None,
            unread: true,
        }
        };
        let mine: Vec<Imported> = (1..=5).map(|n| letter(n, &b.address)).collect();
        assert_eq!(import_batch(&t.db, &clock, b.account_id, "inbox", &mine).await.unwrap(), 5);
        assert_eq!(import_batch(&t.db, &clock, a.account_id, "inbox", &[letter(9, &a.address)]).await.unwrap(), 1);
        assert_eq!(
            indexer::pending(&t.db, Some(b.account_id)).await.unwrap(),
            5,
            "{:?}: queued, not indexed",
            t.db.backend()
        );
        assert_eq!(indexer::pending(&t.db, None).await.unwrap(), 6);

        // The background loop takes the oldest first, in small batches.
        assert_eq!(indexer::index_pending(&t.db, None, 2).await.unwrap(), 2);
        assert_eq!(indexer::pending(&t.db, Some(b.account_id)).await.unwrap(), 3);
        // A queued message deleted before it was indexed leaves the queue with it.
        let (items, _) = list(&t.db, &clock, &b, "inbox", 0, 50, false).await.unwrap();
        let oldest_queued = items.iter().map(|m| m.id).min().unwrap() + 2;
        apply(&t.db, &clock, &b, &[oldest_queued], Action::Trash).await.unwrap();
        assert_eq!(apply(&t.db, &clock, &b, &[oldest_queued], Action::DeleteForever).await.unwrap(), 1);
        assert_eq!(indexer::pending(&t.db, Some(b.account_id)).await.unwrap(), 2);

        // A search indexes what is left of the holder's own first: nothing is missed, and
        // nobody else's queue is touched.
        let q = SearchQuery::parse("échographie");
        let hits = search(&t.db, &clock, b.account_id, &q, None, None, 50).await.unwrap();
        assert_eq!(hits.len(), 4, "{:?}", t.db.backend());
        assert_eq!(indexer::pending(&t.db, Some(b.account_id)).await.unwrap(), 0);
        assert_eq!(indexer::pending(&t.db, Some(a.account_id)).await.unwrap(), 1);
        assert_eq!(search(&t.db, &clock, a.account_id, &q, None, None, 50).await.unwrap().len(), 1);
        assert_eq!(indexer::index_pending(&t.db, None, 16).await.unwrap(), 0, "nothing left");
    }
}

#[tokio::test]
async fn a_message_to_a_patient_stays_within_mon_espace_santes_limit_as_sent() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        crate::trust_space::replace(&t.db, &clock, &["patient.mssante.fr".to_string(), "chu.mssante.fr".to_string()])
            .await
            .unwrap();
        let a = holder(&t.db, &clock, "alice").await;
        let limits = attach::Limits { max_message_bytes: 30 * 1024 * 1024, quota_bytes: 200 * 1024 * 1024 };
        // 19 MB of scans: within the per-message limit, over 25 MB once encoded in base64.
        let scans = |to: &str| Draft {
            to: vec![to.to_string()],
            subject: "Imagerie".into(),
            body: "Vos clichés.".into(),
            attachments: vec![attach::Part {
                name: "irm.zip".into(),
                content_type: "application/zip".into(),
                bytes: vec![42; 19 * 1024 * 1024],
            }],
            ..Default::default()
        };
        let patient = "261037512345603@patient.mssante.fr";
        assert!(matches!(
            send(&t.db, &clock, &a, &scans(patient), &domains, "https://h.example", &limits).await,
            Err(SendError::TooLargeForPatient { max_bytes: PATIENT_MAX_BYTES })
        ));
        let (sent, _) = list(&t.db, &clock, &a, "sent", 0, 10, false).await.unwrap();
        assert!(sent.is_empty(), "nothing stored, nothing queued");
        let refused = crate::audit::latest(&t.db, 5).await.unwrap();
        assert!(
            refused.iter().any(|r| r.action == "mail.send" && r.outcome.ends_with(":too_large_for_patient")),
            "the refusal is recorded: {refused:?}"
        );
        // The same message to a hospital leaves; a small one to the patient too.
        send(&t.db, &clock, &a, &scans("dr.roy@chu.mssante.fr"), &domains, "https://h.example", &limits).await.unwrap();
        let short =
            Draft { to: vec![patient.into()], subject: "RDV".into(), body: "À mardi.".into(), ..Default::default() };
        send(&t.db, &clock, &a, &short, &domains, "https://h.example", &limits).await.unwrap();
    }
}

#[tokio::test]
async fn the_patient_may_not_reply_only_when_the_author_says_so_and_only_to_a_patient() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let domains = vec!["hygie.example".to_string()];
        crate::trust_space::replace(&t.db, &clock, &["patient.mssante.fr".to_string(), "chu.mssante.fr".to_string()])
            .await
            .unwrap();
        let a = holder(&t.db, &clock, "alice").await;
        let limits = attach::Limits { max_message_bytes: 1024 * 1024, quota_bytes: 10 * 1024 * 1024 };
        let patient = "261037512345603@patient.mssante.fr";
        let note = |to: &str, no_reply: bool| Draft {
            to: vec![to.to_string()],
            subject: "Résultats".into(),
            body: "Normaux.".into(),
            patient_no_reply: no_reply,
            ..Default::default()
        };
        let queued = |to: &'static str| {
            let db = t.db.clone();
            async move {
                let body: String = crate::with_pool!(&db, p => sqlx::query_scalar(
                    "SELECT body FROM outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1")
                    .bind(to).fetch_one(p).await.unwrap());
                body
            }
        };
        send(&t.db, &clock, &a, &note(patient, true), &domains, "https://h.example", &limits).await.unwrap();
        let body = queued(patient).await;
        assert!(body.contains("\r\nX-MSS-MES: FIN\r\n"), "{body}");
        assert_eq!(crate::mail::mss::Headers::read(body.as_bytes()).patient_reply_forbidden, true);
        send(&t.db, &clock, &a, &note(patient, false), &domains, "https://h.example", &limits).await.unwrap();
        assert!(!queued(patient).await.contains("X-MSS-MES"), "the patient may reply by default");
        // To a professional, the choice means nothing and is not sent.
        send(&t.db, &clock, &a, &note("dr.roy@chu.mssante.fr", true), &domains, "https://h.example", &limits)
            .await
            .unwrap();
        assert!(!queued("dr.roy@chu.mssante.fr").await.contains("X-MSS-MES"));
    }
}

/// A message written by the holder's own software (SMTP submission, the API) is kept as
/// written, its Bcc hidden from the recipients, and follows the webmail's rules: the author
/// must be the holder, every recipient is checked before anything is stored, the Sent copy,
/// the Inbox copies (one's own too), the queue and the record commit together.
#[tokio::test]
async fn a_message_written_elsewhere_is_kept_as_written_under_the_webmails_rules() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        crate::trust_space::replace(&t.db, &clock, &["labo.mssante.fr".into()]).await.unwrap();
        let policy = MailPolicy {
            domains: vec!["hygie.example".to_string()],
            public_url: "https://h.example".into(),
            limits: attach::Limits { max_message_bytes: 64 * 1024, quota_bytes: 3 * 1024 * 1024 },
        };
        let (a, b, c) = (
            holder(&t.db, &clock, "alice").await,
            holder(&t.db, &clock, "bruno").await,
            holder(&t.db, &clock, "carla").await,
        );
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let raw = |from: &str| {
            format!(
                "From: Alice <{from}>\r\nTo: {}\r\nBcc: {}\r\nSubject: =?utf-8?q?Compte_rendu_op=C3=A9ratoire?=\r\n\
                 X-MSS-INS: 1234567890123 (patient)\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Suites simples.\r\n",
                b.address, c.address
            )
            .into_bytes()
        };
        let envelope =
            vec![b.address.clone(), c.address.clone(), a.address.clone(), "resultats@labo.mssante.fr".to_string()];
        let sent = mailbox.submit(&envelope, &raw(&a.address)).await.expect("submitted");
        assert_eq!(
            (sent.delivered.len(), sent.queued.len()),
            (3, 1),
            "bruno, carla, alice's own Inbox; the lab queued"
        );

        let stored = |id: i64| {
            let db = t.db.clone();
            async move {
                let raw: Vec<u8> = crate::with_pool!(&db, p => sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
                    .bind(id).fetch_one(p).await.unwrap());
                String::from_utf8(raw).unwrap()
            }
        };
        let last = &crate::audit::latest(&t.db, 1).await.unwrap()[0];
        assert_eq!(last.action, "mail.send");
        assert_eq!(last.object.as_deref(), Some(format!("message:{} recipients:3 queued:1", sent.sent_id).as_str()));
        let kept = stored(sent.sent_id).await;
        assert!(kept.contains("X-MSS-INS: 1234567890123") && kept.contains("Bcc: carla@"), "kept as written");
        assert!(kept.contains("Message-ID: <") && kept.contains("Date: "), "a Message-ID and a Date added");
        for id in &sent.delivered {
            let copy = stored(*id).await;
            assert!(!copy.to_lowercase().contains("bcc"), "no recipient sees the Bcc");
            assert!(copy.contains("X-MSS-INS: 1234567890123"));
        }
        // Recipients sorted by address: alice, bruno, carla.
        let opened = Mailbox::new(&t.db, &clock, &b, &policy).open(sent.delivered[1]).await.unwrap().unwrap();
        assert_eq!((opened.subject.as_str(), opened.folder_role.as_str()), ("Compte rendu opératoire", "inbox"));
        let queued: String = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT body FROM outbox WHERE category = 'mail.remote' AND message_ref = $1")
            .bind(sent.sent_id).fetch_one(p).await.unwrap());
        assert!(!queued.to_lowercase().contains("bcc:"));

        // Refusals change nothing and are recorded.
        let before = (messages_of(&t.db, b.account_id).await, messages_of(&t.db, a.account_id).await);
        let not_mine = mailbox.submit(&envelope[..1], &raw(&b.address)).await;
        assert!(matches!(not_mine, Err(SubmitError::NotTheAuthor)), "{not_mine:?}");
        let last = &crate::audit::latest(&t.db, 1).await.unwrap()[0];
        assert_eq!((last.action.as_str(), last.outcome.as_str()), ("mail.send", "denied:not_the_author"));
        let unknown = mailbox.submit(&[b.address.clone(), "personne@hygie.example".into()], &raw(&a.address)).await;
        assert!(matches!(unknown, Err(SubmitError::Send(SendError::UnknownMailbox(_)))), "{unknown:?}");
        let outside = mailbox.submit(&["x@gmail.com".to_string()], &raw(&a.address)).await;
        assert!(matches!(outside, Err(SubmitError::Send(SendError::OutsideTrustSpace(_)))), "{outside:?}");
        let big = [raw(&a.address), vec![b'x'; 2 * 1024 * 1024]].concat();
        let too_big = mailbox.submit(&envelope[..1], &big).await;
        assert!(matches!(too_big, Err(SubmitError::Send(SendError::TooLarge { .. }))), "{too_big:?}");
        let garbage = mailbox.submit(&envelope[..1], b"\r\n\r\nno head").await;
        assert!(matches!(garbage, Err(SubmitError::Malformed)), "{garbage:?}");
        assert_eq!((messages_of(&t.db, b.account_id).await, messages_of(&t.db, a.account_id).await), before);
        assert!(mailbox.may_write_to("resultats@labo.mssante.fr").await.is_ok());
        assert!(matches!(mailbox.may_write_to("x@gmail.com").await, Err(SendError::OutsideTrustSpace(_))));
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

/// A search is complete: its pages, walked with the cursor each gives, hold every match once,
/// newest first (messages of the same minute too); the first page tells how many in all; a mail
/// client gets every id at once; another holder finds none of them.
#[tokio::test]
async fn search_pages_hold_every_match_once_and_count_them() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let policy = MailPolicy {
            domains: vec!["hygie.example".to_string()],
            public_url: "https://h.example".into(),
            limits: attach::Limits::default(),
        };
        let (a, b) = (holder(&t.db, &clock, "alice").await, holder(&t.db, &clock, "bruno").await);
        // 23 matches, in pairs of the same date, and 4 that do not match.
        let letter = |n: usize, word: &str| Imported {
            raw: format!(
                "From: Labo <labo@labo.mssante.fr>\r\nTo: {}\r\nSubject: Bilan {n}\r\nMessage-ID: <s{n}@labo>\r\n\
                 Date: Mon, 7 Dec 2026 {:02}:00:00 +0100\r\n\r\nRésultat {word}.\r\n",
                a.address,
                n / 2
            )
            .into_bytes(),
            date_ms: None,
            unread: true,
        };
        let batch: Vec<Imported> = (0..27).map(|n| letter(n, if n % 7 == 3 { "normal" } else { "glycémie" })).collect();
        assert_eq!(import_batch(&t.db, &clock, a.account_id, "inbox", &batch).await.unwrap(), 27);
        let mailbox = Mailbox::new(&t.db, &clock, &a, &policy);
        let q = SearchQuery::parse("glycémie");

        let first = mailbox.search_page(&q, None, None, 5).await.unwrap();
        assert_eq!((first.items.len(), first.total), (5, Some(23)));
        let mut seen: Vec<ListItem> = first.items.clone();
        let mut after = first.next;
        while let Some(cursor) = after {
            let page = mailbox.search_page(&q, Some("inbox"), Some(cursor), 5).await.unwrap();
            assert_eq!(page.total, None, "counted once, on the first page");
            seen.extend(page.items);
            after = page.next;
        }
        let mut ids: Vec<i64> = seen.iter().map(|i| i.id).collect();
        assert_eq!(ids.len(), 23, "every match");
        assert!(seen.windows(2).all(|w| (w[0].date_ms, w[0].id) > (w[1].date_ms, w[1].id)), "newest first, once each");
        let last = &crate::audit::latest(&t.db, 1).await.unwrap()[0];
        assert_eq!((last.action.as_str(), last.object.as_deref()), ("mail.search", Some("results:3")));

        let mut all = mailbox.search_ids(&q, Some("inbox")).await.unwrap();
        all.sort_unstable();
        ids.sort_unstable();
        assert_eq!(all, ids, "a mail client's SEARCH gets the same, all at once");
        assert!(mailbox.search_ids(&q, Some("archive")).await.unwrap().is_empty());
        // Fewer than a page: counted without a second query, no next page.
        let few = mailbox.search_page(&SearchQuery::parse("normal"), None, None, 5).await.unwrap();
        assert_eq!((few.items.len(), few.total, few.next), (4, Some(4), None));

        let theirs = Mailbox::new(&t.db, &clock, &b, &policy);
        assert!(theirs.search_ids(&q, None).await.unwrap().is_empty());
        assert_eq!(theirs.search_page(&q, None, None, 5).await.unwrap().total, Some(0));
    }
}
