use super::*;
use crate::accounts::AccountRecord;
use crate::clock::ManualClock;
use crate::mail::SearchQuery;
use crate::store::testing::TestDb;

async fn mailbox(db: &Db, clock: &ManualClock, local: &str) -> i64 {
    crate::mail::tests::active_account(db, clock, local).await
}

fn policy() -> InboundPolicy {
    InboundPolicy {
        domains: vec!["hygie.example".into()],
        public_url: "https://hygie.example".into(),
        max_message_bytes: 200_000,
        quota_bytes: 1_000_000,
        peer_messages_per_hour: 1_000,
    }
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        channel: Channel::Smtp,
        peer_ip: "192.0.2.7".into(),
        helo: "mx.labo.mssante.fr".into(),
        tls: true,
        mail_from: from.into(),
        recipients: to.iter().map(|s| s.to_string()).collect(),
        checked: Default::default(),
    }
}

fn message(from: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Laboratoire <{from}>\r\nTo: elise@hygie.example\r\nSubject: Résultats de Mme Dœuf\r\n\
         Message-ID: <{id}>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn inbox_of(db: &Db, account: i64) -> Vec<(i64, String, String)> {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT m.id, m.thread_id, m.subject FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND f.role = 'inbox' ORDER BY m.id")
        .bind(account).fetch_all(p).await.unwrap())
}

async fn receive_records(db: &Db) -> Vec<crate::audit::AuditRecord> {
    let mut v: Vec<_> =
        crate::audit::latest(db, 10_000).await.unwrap().into_iter().filter(|r| r.action == "mail.receive").collect();
    v.reverse();
    v
}

#[tokio::test]
async fn a_received_message_reaches_each_inbox_with_its_thread_index_notice_and_record() {
    for t in TestDb::both().await {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        crate::trust_space::replace(&t.db, clock.as_ref(), &["labo.mssante.fr".to_string()]).await.unwrap();
        let elise = mailbox(&t.db, &clock, "elise").await;
        let paul = mailbox(&t.db, &clock, "paul").await;
        crate::with_pool!(t.db, p => {
            sqlx::query("UPDATE accounts SET notify_new_mail = TRUE").execute(p).await.unwrap();
        });
        let (inbound, _writers) = Inbound::start(t.db.clone(), clock.clone(), policy());

        let env =
            envelope("dr.x@labo.mssante.fr", &["Elise@hygie.example", "paul@hygie.example", "elise@hygie.example"]);
        let raw = message("dr.x@labo.mssante.fr", "r1@labo.mssante.fr", "", "Glycémie normale.");
        let got = inbound.deliver(&env, &raw).await.unwrap();
        assert_eq!(got.stored.len(), 3, "one answer per envelope recipient");
        assert!(got.stored.iter().all(|s| s.message.is_some()));
        assert_eq!(got.stored[0], got.stored[2], "the same mailbox twice gets one copy");

        let e = inbox_of(&t.db, elise).await;
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].2, "Résultats de Mme Dœuf");
        assert_eq!(inbox_of(&t.db, paul).await.len(), 1);
        // Stored with its trace, as received after it.
        let stored: Vec<u8> = crate::with_pool!(t.db, p => sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
            .bind(e[0].0).fetch_one(p).await.unwrap());
        let text = String::from_utf8(stored).unwrap();
        assert!(
            text.starts_with(
                "Return-Path: <dr.x@labo.mssante.fr>\r\nReceived: from mx.labo.mssante.fr ([192.0.2.7])\r\n"
            ),
            "{text}"
        );
        assert!(text.ends_with(std::str::from_utf8(&raw).unwrap()));

        // Searchable by a word of its body, for its holder only.
        let q = SearchQuery::parse("glycém");
        assert_eq!(crate::mail::search(&t.db, clock.as_ref(), elise, &q, None, None, 10).await.unwrap().len(), 1);

        // A reply in the same conversation joins its thread.
        let reply = message(
            "dr.x@labo.mssante.fr",
            "r2@labo.mssante.fr",
            "In-Reply-To: <r1@labo.mssante.fr>\r\nReferences: <r1@labo.mssante.fr>\r\n",
            "Suite.",
        );
        inbound.deliver(&envelope("dr.x@labo.mssante.fr", &["elise@hygie.example"]), &reply).await.unwrap();
        let e = inbox_of(&t.db, elise).await;
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].1, e[1].1, "one conversation");

        // The same message again (a peer retrying after a lost answer): nothing twice.
        let again = inbound.deliver(&env, &raw).await.unwrap();
        assert!(again.stored.iter().all(|s| s.message.is_none()));
        assert_eq!(inbox_of(&t.db, elise).await.len(), 2);

        // One notice per holder (then none for 15 minutes), nothing of the message in it.
        let notices: Vec<(String, String)> = crate::with_pool!(t.db, p => sqlx::query_as(
            "SELECT recipient, body FROM outbox WHERE category = 'mail.notice' ORDER BY recipient")
            .fetch_all(p).await.unwrap());
        assert_eq!(notices.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(), ["elise@exemple.fr", "paul@exemple.fr"]);
        assert!(notices.iter().all(|n| !n.1.contains("Dœuf") && !n.1.contains("Glycémie")));

        // One record per delivery: the peer, the envelope, the Message-ID; never the content.
        let records = receive_records(&t.db).await;
        assert_eq!(records.len(), 3);
        let first = &records[0];
        assert_eq!((first.actor.as_str(), first.outcome.as_str()), ("peer:smtp", "success"));
        assert_eq!(first.ip.as_deref(), Some("192.0.2.7"));
        let object = first.object.clone().unwrap();
        assert!(
            object.starts_with(&format!(
                "from:dr.x@labo.mssante.fr to:account:{elise},account:{paul} message-id:r1@labo.mssante.fr size:{}",
                raw.len()
            )),
            "{object}"
        );
        assert!(records[2].object.as_deref().unwrap().ends_with("messages:present,present"));
        let dump = format!("{records:?}");
        assert!(!dump.contains("Dœuf") && !dump.contains("Glycémie"));
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn refusals_are_typed_and_recorded_and_store_nothing() {
    for t in TestDb::both().await {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        crate::trust_space::replace(&t.db, clock.as_ref(), &["labo.mssante.fr".to_string()]).await.unwrap();
        let elise = mailbox(&t.db, &clock, "elise").await;
        let pending = AccountRecord {
            address: "pending@hygie.example".into(),
            mailbox_type: "personal".into(),
            kind: "health".into(),
            last_name: "P".into(),
            notification_email: "p@exemple.fr".into(),
            ..Default::default()
        };
        accounts::create(&t.db, clock.as_ref(), &pending).await.unwrap();
        let mut small = policy();
        small.peer_messages_per_hour = 2;
        let (inbound, _w) = Inbound::start(t.db.clone(), clock.clone(), small);
        let ok = |to: &[&str]| envelope("dr.x@labo.mssante.fr", to);
        let raw = message("dr.x@labo.mssante.fr", "a@labo.mssante.fr", "", "x");

        // Each check on its own, as the SMTP adapter calls them.
        assert!(inbound.check_sender(&mut ok(&[])).await.is_ok());
        assert!(inbound.check_sender(&mut envelope("", &[])).await.is_ok(), "the null sender (reports)");
        assert!(inbound.check_sender(&mut envelope("paul@hygie.example", &[])).await.is_ok(), "one of ours");
        assert!(matches!(
            inbound.check_sender(&mut envelope("x@gmail.com", &[])).await,
            Err(DeliveryError::SenderOutsideTrustSpace)
        ));
        assert!(matches!(
            inbound.check_sender(&mut envelope("sous.labo.mssante.fr", &[])).await,
            Err(DeliveryError::BadSender)
        ));
        let mut env = ok(&[]);
        assert_eq!(inbound.check_recipient(&env, "ELISE@hygie.example", 0).await.unwrap(), elise);
        assert!(matches!(
            inbound.check_recipient(&env, "nobody@hygie.example", 0).await,
            Err(DeliveryError::UnknownMailbox)
        ));
        assert!(matches!(
            inbound.check_recipient(&env, "pending@hygie.example", 0).await,
            Err(DeliveryError::UnknownMailbox)
        ));
        assert!(matches!(inbound.check_recipient(&env, "dr.y@labo.mssante.fr", 0).await, Err(DeliveryError::NotLocal)));
        assert!(matches!(
            inbound.check_recipient(&env, "elise@hygie.example", 2_000_000).await,
            Err(DeliveryError::MailboxFull)
        ));

        // At delivery, the same rules again: any refusal refuses the whole message.
        let r = inbound.deliver(&ok(&["elise@hygie.example", "nobody@hygie.example"]), &raw).await;
        assert!(matches!(r, Err(DeliveryError::UnknownMailbox)));
        let big = message("dr.x@labo.mssante.fr", "b@labo.mssante.fr", "", &"x".repeat(300_000));
        assert!(matches!(
            inbound.deliver(&ok(&["elise@hygie.example"]), &big).await,
            Err(DeliveryError::TooLarge { max_bytes: 200_000 })
        ));
        let outsider = message("someone@gmail.com", "c@gmail.com", "", "x");
        assert!(matches!(
            inbound.deliver(&ok(&["elise@hygie.example"]), &outsider).await,
            Err(DeliveryError::AuthorOutsideTrustSpace)
        ));
        assert!(matches!(
            inbound.deliver(&envelope("", &["elise@hygie.example"]), &outsider).await,
            Err(DeliveryError::AuthorOutsideTrustSpace)
        ));
        assert!(matches!(
            inbound.deliver(&envelope("x@gmail.com", &["elise@hygie.example"]), &raw).await,
            Err(DeliveryError::SenderOutsideTrustSpace)
        ));
        assert_eq!(inbox_of(&t.db, elise).await.len(), 0, "nothing stored");

        // LMTP: each recipient answered on its own; the good one gets it.
        let each = inbound.deliver_each(&ok(&["nobody@hygie.example", "elise@hygie.example"]), &raw).await;
        assert!(matches!(each[0], Err(DeliveryError::UnknownMailbox)));
        assert!(matches!(each[1], Ok(Stored { account_id, message: Some(_) }) if account_id == elise));
        assert_eq!(inbox_of(&t.db, elise).await.len(), 1);

        // The peer's hourly count: one delivery counted so far, one more allowed.
        assert!(inbound.check_peer(&mut env).await.is_ok());
        let raw2 = message("dr.x@labo.mssante.fr", "d@labo.mssante.fr", "", "y");
        inbound.deliver(&ok(&["elise@hygie.example"]), &raw2).await.unwrap();
        assert!(matches!(inbound.check_peer(&mut env).await, Err(DeliveryError::RateLimited { .. })));
        let raw3 = message("dr.x@labo.mssante.fr", "e@labo.mssante.fr", "", "z");
        assert!(matches!(
            inbound.deliver(&ok(&["elise@hygie.example"]), &raw3).await,
            Err(DeliveryError::RateLimited { .. })
        ));

        let outcomes: Vec<String> = receive_records(&t.db).await.into_iter().map(|r| r.outcome).collect();
        for expected in [
            "denied:outside_trust_space",
            "denied:bad_sender",
            "denied:unknown_mailbox",
            "denied:not_local",
            "failure:mailbox_full",
            "denied:too_large",
            "denied:author_outside_trust_space",
            "denied:rate_limited",
            "success",
        ] {
            assert!(outcomes.iter().any(|o| o == expected), "{expected} missing from {outcomes:?}");
        }
        // A recipient outside our domains is not named in the trail; ours is.
        let objects: Vec<String> = receive_records(&t.db).await.into_iter().filter_map(|r| r.object).collect();
        assert!(!objects.iter().any(|o| o.contains("dr.y@")));
        assert!(objects.iter().any(|o| o.contains("to:nobody@hygie.example")));
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn what_the_session_checked_is_not_asked_again_but_the_real_size_is() {
    for t in TestDb::both().await {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        crate::trust_space::replace(&t.db, clock.as_ref(), &["labo.mssante.fr".to_string()]).await.unwrap();
        let elise = mailbox(&t.db, &clock, "elise").await;
        let mut small = policy();
        small.quota_bytes = 50_000;
        let (inbound, _w) = Inbound::start(t.db.clone(), clock.clone(), small);

        // MAIL and RCPT, as the SMTP session runs them; no SIZE announced.
        let mut env = envelope("dr.x@labo.mssante.fr", &[]);
        inbound.check_peer(&mut env).await.unwrap();
        inbound.check_sender(&mut env).await.unwrap();
        assert_eq!(inbound.add_recipient(&mut env, "elise@hygie.example", 0).await.unwrap(), elise);
        assert_eq!(env.recipients, ["elise@hygie.example"]);

        // The mailbox has room for a small message, not for one past its quota: the quota is
        // checked again at DATA with the size received.
        let big = message("dr.x@labo.mssante.fr", "big@labo.mssante.fr", "", &"x".repeat(60_000));
        assert!(matches!(inbound.deliver(&env, &big).await, Err(DeliveryError::MailboxFull)));
        let raw = message("dr.x@labo.mssante.fr", "a@labo.mssante.fr", "", "x");
        let d = inbound.deliver(&env, &raw).await.unwrap();
        assert!(d.stored[0].message.is_some());

        // What the checks established holds for that reverse path and those recipients only: a
        // recipient pushed without its check, or another sender, is checked at delivery.
        let mut other = env.clone();
        other.recipients.push("nobody@hygie.example".into());
        let raw2 = message("dr.x@labo.mssante.fr", "b@labo.mssante.fr", "", "y");
        assert!(matches!(inbound.deliver(&other, &raw2).await, Err(DeliveryError::UnknownMailbox)));
        let mut outsider = env.clone();
        outsider.mail_from = "x@gmail.com".into();
        assert!(matches!(inbound.deliver(&outsider, &raw2).await, Err(DeliveryError::SenderOutsideTrustSpace)));
        // A new transaction starts with nothing established.
        env.reset();
        assert!(env.recipients.is_empty() && env.mail_from.is_empty());
        assert_eq!(inbox_of(&t.db, elise).await.len(), 1);
        let outcomes: Vec<String> = receive_records(&t.db).await.into_iter().map(|r| r.outcome).collect();
        assert!(outcomes.iter().any(|o| o == "failure:mailbox_full"), "{outcomes:?}");
    }
}

#[tokio::test]
async fn concurrent_deliveries_share_commits_and_all_land() {
    for t in TestDb::both().await {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        crate::trust_space::replace(&t.db, clock.as_ref(), &["labo.mssante.fr".to_string()]).await.unwrap();
        let elise = mailbox(&t.db, &clock, "elise").await;
        let (inbound, _w) = Inbound::start(t.db.clone(), clock.clone(), policy());
        let mut tasks = Vec::new();
        for i in 0..40 {
            let inbound = inbound.clone();
            tasks.push(tokio::spawn(async move {
                let raw = message("dr.x@labo.mssante.fr", &format!("m{i}@labo.mssante.fr"), "", &format!("numéro {i}"));
                inbound.deliver(&envelope("dr.x@labo.mssante.fr", &["elise@hygie.example"]), &raw).await
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap().unwrap().stored[0].message.is_some());
        }
        assert_eq!(inbox_of(&t.db, elise).await.len(), 40);
        assert!(inbound.commits() < 40, "deliveries waiting together commit together: {} commits", inbound.commits());
        assert_eq!(receive_records(&t.db).await.len(), 40);
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
        // Every delivery counted against the peer.
        let count: i64 = crate::with_pool!(t.db, p => sqlx::query_scalar("SELECT count FROM rate_limits WHERE key = $1")
            .bind("smtp-peer:192.0.2.7").fetch_one(p).await.unwrap());
        assert_eq!(count, 40);
    }
}
