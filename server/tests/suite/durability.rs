//! A message reported sent is on disk: Hygie is killed with SIGKILL right after answering, and
//! after a restart on the same database both mailboxes hold every message (and the sessions
//! are still valid: they live in the database too). Mail from other operators too: every
//! message Hygie answered 250 to over SMTP is in its mailbox after a SIGKILL in the middle of
//! four sessions, and none is there twice once the peers retry. On each database engine.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::browser::{six_digits, Browser, PASSWORD};
use crate::common::{free_port, on_each_engine, test_db, Engine};
use app::api::{AcceptTerms, MailList, MailOpen, MailSend};
use app::domain::compose::ComposeInput;
use hygie_core::accounts::{self, AccountRecord, Created};
use hygie_core::clock::SystemClock;
use hygie_core::outbox::DevOutbox;
use serde_json::json;

on_each_engine!(messages_reported_sent_survive_sigkill, mail_answered_250_survives_sigkill_and_is_never_twice);

struct Process {
    child: tokio::process::Child,
    base: String,
}

/// `hygie serve` as its own process, on `url`, with its data (outbox) in `data`.
async fn serve(url: &str, data: &Path) -> Process {
    serve_smtp(url, data, 0).await
}

/// [`serve`] with the inbound SMTP listener on `smtp_port` (0: any).
async fn serve_smtp(url: &str, data: &Path, smtp_port: u16) -> Process {
    let (port, http) = (free_port(), free_port());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hygie"))
        .arg("serve")
        .env("HYGIE_DATA_DIR", data)
        .env("HYGIE_DATABASE_URL", url)
        .env("HYGIE_LISTEN", format!("127.0.0.1:{port}"))
        .env("HYGIE_HTTP_LISTEN", format!("127.0.0.1:{http}"))
        .env("HYGIE_SMTP__LISTEN", format!("127.0.0.1:{smtp_port}"))
        .env("HYGIE_SMTP__SUBMISSION_LISTEN", "127.0.0.1:0")
        .env("HYGIE_SMTP__SUBMISSIONS_LISTEN", "127.0.0.1:0")
        .env("HYGIE_IMAP__ENABLED", "false")
        .env("HYGIE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("hygie serve starts");
    let base = format!("https://127.0.0.1:{port}");
    let probe = Browser::at(&base);
    let deadline = Instant::now() + Duration::from_secs(60);
    while probe.c.get(format!("{base}/healthz")).send().await.is_err()
        || (smtp_port != 0 && tokio::net::TcpStream::connect(("127.0.0.1", smtp_port)).await.is_err())
    {
        assert!(Instant::now() < deadline, "hygie serve did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Process { child, base }
}

async fn holder(db: &hygie_core::Db, local: &str, mobile: &str) -> String {
    let address = format!("{local}@hygie.localhost");
    let rec = AccountRecord {
        address: address.clone(),
        mailbox_type: "personal".into(),
        kind: "other".into(),
        last_name: "Roy".into(),
        first_name: local.into(),
        notification_email: format!("{local}@exemple.fr"),
        mobile: Some(mobile.into()),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(db, &SystemClock, &rec).await.unwrap() else { panic!("exists") };
    let hash = hygie_core::auth::password::hash(hygie_core::auth::policy::normalise(PASSWORD).into()).await.unwrap();
    accounts::set_password_hash(db, &SystemClock, id, hash.as_stored()).await.unwrap();
    accounts::activate(db, id).await.unwrap();
    address
}

/// Signs in with the password and the SMS code from the development outbox.
async fn sign_in(b: &Browser, address: &str, mobile: &str, outbox: &Path) {
    let before = DevOutbox::new(outbox).list().unwrap_or_default().len();
    assert_eq!(b.password(address, PASSWORD).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        let sms: Vec<_> = DevOutbox::new(outbox).list().unwrap_or_default().into_iter().skip(before).collect();
        if let Some(m) = sms.iter().find(|m| m.channel == "sms" && m.to == mobile) {
            break six_digits(&m.body);
        }
        assert!(Instant::now() < deadline, "no SMS code for {address}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let next = b.code(&code).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    if next.body == json!("/compte/cgu") {
        assert_eq!(b.run(AcceptTerms { version: "1.1".into() }).await.status, 200);
    }
}

async fn messages_reported_sent_survive_sigkill(engine: Engine) {
    let t = test_db(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let alice = holder(&t.db, "alice", "+33612345678").await;
    let bruno = holder(&t.db, "bruno", "+33612345679").await;

    let mut first = serve(&t.url, &data).await;
    let a = Browser::at(&first.base);
    sign_in(&a, &alice, "+33612345678", &data.join("outbox")).await;
    let mut sent = Vec::new();
    for n in 0..10 {
        let input = ComposeInput {
            to: bruno.clone(),
            subject: format!("Transmission {n}"),
            body: "Constantes stables.".into(),
            ..Default::default()
        };
        let r = a.run(MailSend { input }).await;
        assert_eq!(r.status, 200, "{engine:?}: {:?}", r.body);
        sent.push(r.body.as_i64().unwrap());
    }
    // The tenth "sent" has just been answered: kill at once, no shutdown of any kind.
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();

    let second = serve(&t.url, &data).await;
    let a = Browser { c: a.c, base: second.base.clone() };
    let mine = a.run(MailList { folder: "sent".into(), page: 0 }).await;
    assert_eq!(mine.status, 200, "{engine:?}: the session survived the restart: {:?}", mine.body);
    assert_eq!(mine.body["total"], 10);
    let b = Browser::at(&second.base);
    sign_in(&b, &bruno, "+33612345679", &data.join("outbox")).await;
    let inbox = b.run(MailList { folder: "inbox".into(), page: 0 }).await.body;
    assert_eq!(inbox["total"], 10, "{engine:?}");
    let subjects: Vec<&str> =
        inbox["items"].as_array().unwrap().iter().map(|i| i["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"Transmission 9"), "the last one too: {subjects:?}");
    for id in sent {
        assert_eq!(a.run(MailOpen { id }).await.status, 200);
    }
    drop(second);
}

/// Runs smtp_burst.py with `sessions`; calls `on_ok` with each message acknowledged (250) as the
/// answer comes, stopping early when it returns false. Returns the acknowledged messages.
async fn burst(port: u16, sessions: &[Vec<(u32, String)>], mut on_ok: impl FnMut(usize) -> bool) -> Vec<u32> {
    use tokio::io::AsyncBufReadExt;
    let python = std::env::var("HYGIE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/smtp_burst.py");
    let spec = json!({ "port": port, "sessions": sessions, "from": "resultats@labo.mssante.fr", "size": 8000 });
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg(spec.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await.expect("an answer")
    {
        if let Some(n) = line.strip_prefix("ok ") {
            acked.push(n.parse().unwrap());
            if !on_ok(acked.len()) {
                break;
            }
        }
    }
    acked
}

/// (message id, count) of every burst message in the Inbox of `account`.
async fn burst_copies(db: &hygie_core::Db, address: &str) -> Vec<(String, i64)> {
    hygie_core::with_pool!(db, p => sqlx::query_as(
        "SELECT m.message_id, COUNT(*) FROM messages m JOIN accounts a ON a.id = m.account_id \
         JOIN mail_folders f ON f.id = m.folder_id AND f.role = 'inbox' \
         WHERE a.address = $1 AND m.message_id LIKE 'burst-%' GROUP BY m.message_id")
        .bind(address).fetch_all(p).await.unwrap())
}

async fn mail_answered_250_survives_sigkill_and_is_never_twice(engine: Engine) {
    use rand::Rng;
    let t = test_db(engine).await;
    hygie_core::trust_space::replace(&t.db, &SystemClock, &["labo.mssante.fr".to_string()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let holders = [holder(&t.db, "camille", "+33612345670").await, holder(&t.db, "louis", "+33612345671").await];
    // 200 messages over 4 sessions, each session writing to both holders in turn.
    let sessions: Vec<Vec<(u32, String)>> =
        (0..4u32).map(|s| (0..50u32).map(|i| (s * 50 + i, holders[(i % 2) as usize].clone())).collect()).collect();
    let smtp = free_port();

    let mut first = serve_smtp(&t.url, &data, smtp).await;
    let kill_after = rand::thread_rng().gen_range(10..190);
    let acked = burst(smtp, &sessions, |n| n < kill_after).await;
    // The answer that made the count has just been read: kill at once, mid-session.
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();
    assert_eq!(acked.len(), kill_after, "{engine:?}");

    let _second = serve_smtp(&t.url, &data, smtp).await;
    let mut held: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for address in &holders {
        for (id, copies) in burst_copies(&t.db, address).await {
            assert_eq!(copies, 1, "{engine:?}: {id} stored twice");
            assert!(held.insert(id, copies).is_none());
        }
    }
    for n in &acked {
        assert!(
            held.contains_key(&format!("burst-{n}@labo.mssante.fr")),
            "{engine:?}: message {n} got 250 and was lost"
        );
    }

    // The peers retry what they had no 250 for, as a mail server does: nothing lands twice,
    // whether or not the first attempt was committed before the kill.
    let retry: Vec<Vec<(u32, String)>> =
        sessions.iter().map(|s| s.iter().filter(|(n, _)| !acked.contains(n)).cloned().collect()).collect();
    let again = burst(smtp, &retry, |_| true).await;
    assert_eq!(again.len() + acked.len(), 200, "{engine:?}: every retry answered 250");
    let mut total = 0;
    for address in &holders {
        let copies = burst_copies(&t.db, address).await;
        assert!(copies.iter().all(|(_, c)| *c == 1), "{engine:?}: none twice");
        total += copies.len();
    }
    assert_eq!(total, 200, "{engine:?}");
}
