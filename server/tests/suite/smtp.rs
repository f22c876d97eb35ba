//! Mail from other operators over SMTP and LMTP, on a real Hygie, with real peers: Python's
//! smtplib and swaks play the other operator's server. On each database engine.

use std::path::Path;
use std::process::Command;

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{MailList, MailOpen, MailSearch};
use serde_json::{json, Value};

on_each_engine!(
    mail_over_starttls_reaches_the_inbox_in_its_conversation_and_is_searchable,
    each_refusal_has_its_reply_code,
    plaintext_injected_with_starttls_is_discarded,
    lmtp_answers_each_recipient_after_data,
    a_postfix_relay_hands_mail_over_starttls_and_lmtp,
    a_postfix_peer_returns_delivery_reports_to_the_timeline,
    without_a_relay_mail_goes_to_the_mx_over_verified_tls,
    connection_limits_timeouts_and_shutdown_answer_421,
);

const LAB: &str = "dr.martin@labo.mssante.fr";

/// The trust space holds the laboratory's domain.
async fn trust_lab(s: &TestServer) {
    hygie_core::trust_space::replace(s.db(), &s.clock, &["labo.mssante.fr".to_string()]).await.unwrap();
}

fn message(dir: &Path, name: &str, to: &str, subject: &str, extra: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let text = format!(
        "From: Dr Martin <{LAB}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{name}@labo.mssante.fr>\r\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0100\r\n{extra}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// One session of Python's smtplib with `spec` (see smtp_peer.py); its replies. Awaited, not
/// blocking: the server under test runs on the same thread.
pub(crate) async fn smtplib(spec: Value) -> Value {
    let python = std::env::var("HYGIE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/smtp_peer.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(spec.to_string())
        .kill_on_drop(true)
        .output()
        .await
        .expect("python3 runs");
    assert!(out.status.success(), "smtp_peer.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// swaks against Hygie's SMTP port: its exit status and transcript.
async fn swaks(s: &TestServer, args: &[&str]) -> (i32, String) {
    let port = s.running.as_ref().unwrap().smtp_addr.unwrap().port().to_string();
    let out = tokio::process::Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port, "--helo", "mx.labo.mssante.fr", "--timeout", "30"])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("swaks runs (apt-get install swaks)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

pub(crate) fn smtp_port(s: &TestServer) -> u16 {
    s.running.as_ref().unwrap().smtp_addr.unwrap().port()
}

fn code(reply: &Value) -> i64 {
    reply[0].as_i64().unwrap()
}

fn text(reply: &Value) -> &str {
    reply[1].as_str().unwrap()
}

async fn inbox(b: &Browser) -> Value {
    b.run(MailList { folder: "inbox".into(), page: 0 }).await.body
}

async fn receive_records(s: &TestServer) -> Vec<hygie_core::audit::AuditRecord> {
    hygie_core::audit::latest(s.db(), 1000).await.unwrap().into_iter().filter(|r| r.action == "mail.receive").collect()
}

async fn mail_over_starttls_reaches_the_inbox_in_its_conversation_and_is_searchable(engine: Engine) {
    let s = TestServer::start(engine).await;
    trust_lab(&s).await;
    let (_, bruno) = account(&s, "bruno.roy", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &bruno, 1).await;
    hygie_core::with_pool!(s.db(), p => {
        sqlx::query("UPDATE accounts SET notify_new_mail = TRUE").execute(p).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();

    // smtplib over STARTTLS; the peer is told 250 only once the message is committed.
    let first = message(dir.path(), "bilan-1", &bruno, "Bilan de Mme Dœuf", "", "Glycémie à jeun normale.");
    let r = smtplib(json!({"host": "127.0.0.1", "port": smtp_port(&s), "starttls": true, "size": true,
        "from": LAB, "to": [bruno], "message": first}))
    .await;
    assert_eq!(code(&r["tls"]), 220, "{r}");
    assert!(r["ehlo"][1].as_str().unwrap().contains("ENHANCEDSTATUSCODES"), "{r}");
    assert_eq!((code(&r["mail"]), code(&r["rcpt"][0])), (250, 250), "{r}");
    assert_eq!(code(&r["data"][0]), 250, "{r}");
    assert!(text(&r["data"][0]).starts_with("2.0.0 "), "{r}");
    // Committed: it is in the database already, before anything else happens.
    let list = inbox(&b).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["subject"], "Bilan de Mme Dœuf");
    assert_eq!(list["items"][0]["unread"], true);

    // A reply of the laboratory, by swaks, joins the conversation.
    let (status, transcript) = swaks(
        &s,
        &[
            "--tls",
            "--from",
            LAB,
            "--to",
            &bruno,
            "--header",
            "Subject: Re: Bilan de Mme Dœuf",
            "--header",
            "In-Reply-To: <bilan-1@labo.mssante.fr>",
            "--header",
            "References: <bilan-1@labo.mssante.fr>",
            "--header",
            &format!("From: Dr Martin <{LAB}>"),
            "--header",
            "MIME-Version: 1.0",
            "--header",
            "Content-Type: text/plain; charset=utf-8",
            "--body",
            "Contrôle dans trois mois.",
        ],
    )
    .await;
    assert_eq!(status, 0, "{transcript}");
    assert!(transcript.contains("250 2.0.0 Message accepted and committed"), "{transcript}");
    // One line for the conversation (folded), holding both messages.
    let list = inbox(&b).await;
    assert_eq!((list["total"].as_i64(), list["items"][0]["thread_count"].as_i64()), (Some(1), Some(2)), "{list}");
    assert_eq!(list["items"][0]["ids"].as_array().map(Vec::len), Some(2), "{list}");
    let newest = list["items"][0]["id"].as_i64().unwrap();
    let opened = b.run(MailOpen { id: newest }).await.body;
    assert_eq!(opened["from_addr"], LAB);
    assert_eq!(opened["conversation"].as_array().map(Vec::len), Some(2), "one conversation: {opened}");
    assert!(opened["body"].as_str().unwrap().contains("Contrôle dans trois mois."));

    // Searchable by a word of its body (prefix, accents ignored on SQLite) and by its sender.
    let found = b.run(MailSearch { q: "glycémie".into() }).await.body;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let found = b.run(MailSearch { q: "de:martin".into() }).await.body;
    assert_eq!(found.as_array().map(Vec::len), Some(2), "{found}");

    // Stored with its trace.
    let raw: Vec<u8> = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
        .bind(newest).fetch_one(p).await.unwrap());
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.starts_with(&format!("Return-Path: <{LAB}>\r\nReceived: from mx.labo.mssante.fr ([127.0.0.1])")),
        "{raw}"
    );
    assert!(raw.contains("with ESMTPS"), "{raw}");

    // Each delivery is in the audit trail: the peer, the envelope, the Message-ID, never content.
    let records = receive_records(&s).await;
    assert_eq!(records.len(), 2);
    let r = &records[1];
    assert_eq!((r.actor.as_str(), r.outcome.as_str(), r.ip.as_deref()), ("peer:smtp", "success", Some("127.0.0.1")));
    let object = r.object.as_deref().unwrap();
    assert!(object.starts_with(&format!("from:{LAB} to:account:")), "{object}");
    assert!(object.contains("message-id:bilan-1@labo.mssante.fr") && object.contains("tls:yes"), "{object}");
    let dump = format!("{records:?}");
    assert!(!dump.contains("Glycémie") && !dump.contains("Dœuf"), "no content in the trail");
    // The holder is told at their notification address (nothing of the message said).
    let notices: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE category = 'mail.notice' AND recipient = 'bruno.roy@exemple.fr'")
        .fetch_one(p).await.unwrap());
    assert_eq!(notices, 1, "one notice for two messages (at most one in 15 minutes)");
    s.stop().await;
}

async fn each_refusal_has_its_reply_code(engine: Engine) {
    let s = TestServer::start_with(engine, |c| {
        c.mailbox.max_message_mb = 1;
        c.mailbox.quota_mb = 10;
        c.smtp.max_message_mb = Some(1);
        c.smtp.max_recipients = 3;
    })
    .await;
    trust_lab(&s).await;
    let mut people = Vec::new();
    for local in ["alice.roy", "bruno.roy", "carla.roy", "denis.roy"] {
        people.push(account(&s, local, None).await.1);
    }
    let bruno = people[1].clone();
    let dir = tempfile::tempdir().unwrap();
    let port = smtp_port(&s);

    // Unknown recipient: 550 5.1.1 (swaks exits 24: every recipient refused).
    let (status, t) = swaks(&s, &["--tls", "--from", LAB, "--to", "personne@hygie.localhost"]).await;
    assert_eq!(status, 24, "{t}");
    assert!(t.contains("550 5.1.1 No such mailbox here"), "{t}");
    // Hygie relays for nobody.
    let (status, t) = swaks(&s, &["--tls", "--from", LAB, "--to", "quelqu.un@gmail.com"]).await;
    assert_eq!(status, 24, "{t}");
    assert!(t.contains("550 5.7.1 Relaying denied"), "{t}");

    // A sender outside the trust space: 550 5.7.1 at MAIL (swaks exits 23).
    let (status, t) = swaks(&s, &["--tls", "--from", "quelqu.un@gmail.com", "--to", &bruno]).await;
    assert_eq!(status, 23, "{t}");
    assert!(t.contains("550 5.7.1 Sender domain is outside the MSSante trust space"), "{t}");

    // MAIL before STARTTLS: 530 5.7.0.
    let (status, t) = swaks(&s, &["--from", LAB, "--to", &bruno]).await;
    assert_eq!(status, 23, "{t}");
    assert!(t.contains("530 5.7.0 Must issue a STARTTLS command first"), "{t}");

    // Too large, announced by SIZE: 552 5.3.4 at MAIL, before any byte of it is sent.
    let big_body = "Compte rendu détaillé. ".repeat(60_000);
    let big = message(dir.path(), "gros", &bruno, "Gros", "", &big_body);
    let r = smtplib(json!({"host": "127.0.0.1", "port": port, "starttls": true, "size": true,
        "from": LAB, "to": [bruno], "message": big}))
    .await;
    assert_eq!(code(&r["mail"]), 552, "{r}");
    assert!(text(&r["mail"]).starts_with("5.3.4 "), "{r}");
    // Too large by its actual bytes (no SIZE given): read to its end, then 552 5.3.4.
    let r = smtplib(json!({"host": "127.0.0.1", "port": port, "starttls": true, "size": false,
        "from": LAB, "to": [bruno], "message": big}))
    .await;
    assert_eq!((code(&r["mail"]), code(&r["rcpt"][0])), (250, 250), "{r}");
    assert_eq!(code(&r["data"][0]), 552, "{r}");
    assert!(text(&r["data"][0]).starts_with("5.3.4 "), "{r}");

    // Too many recipients: the fourth gets 452 4.5.3; the first three get the message.
    let note = message(dir.path(), "note", &people.join(", "), "Note de service", "", "Réunion jeudi.");
    let r = smtplib(json!({"host": "127.0.0.1", "port": port, "starttls": true, "size": true,
        "from": LAB, "to": people, "message": note}))
    .await;
    let codes: Vec<i64> = r["rcpt"].as_array().unwrap().iter().map(code).collect();
    assert_eq!(codes, [250, 250, 250, 452], "{r}");
    assert!(text(&r["rcpt"][3]).starts_with("4.5.3 "), "{r}");
    assert_eq!(code(&r["data"][0]), 250, "{r}");

    // An author outside the trust space behind a trusted envelope: 550 5.7.1 after the message.
    let (status, t) =
        swaks(&s, &["--tls", "--from", LAB, "--to", &bruno, "--header", "From: <quelqu.un@gmail.com>", "--body", "x"])
            .await;
    assert_eq!(status, 26, "swaks: refused after the message's end: {t}");
    assert!(t.contains("550 5.7.1 Message author (From) is outside the MSSante trust space"), "{t}");

    // Only the three accepted copies of the note were delivered.
    let stored: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(p).await.unwrap());
    assert_eq!(stored, 3);
    // Each refusal is in the audit trail, with its reason.
    let outcomes: Vec<String> = receive_records(&s).await.into_iter().map(|r| r.outcome).collect();
    for expected in [
        "denied:unknown_mailbox",
        "denied:not_local",
        "denied:outside_trust_space",
        "denied:author_outside_trust_space",
        "success",
    ] {
        assert!(outcomes.iter().any(|o| o == expected), "{expected} missing from {outcomes:?}");
    }
    assert!(hygie_core::audit::verify(s.db()).await.unwrap().is_intact());
    s.stop().await;
}

async fn plaintext_injected_with_starttls_is_discarded(engine: Engine) {
    let s = TestServer::start(engine).await;
    trust_lab(&s).await;
    let (_, bruno) = account(&s, "bruno.roy", None).await;
    let r = smtplib(json!({"host": "127.0.0.1", "port": smtp_port(&s), "to": [bruno],
        "inject": format!("MAIL FROM:<{LAB}>")}))
    .await;
    assert_eq!(code(&r["starttls"]), 220, "{r}");
    // After the handshake the first answer is the EHLO's, not one to the injected MAIL...
    assert_eq!(code(&r["ehlo_tls"]), 250, "{r}");
    assert_eq!(text(&r["ehlo_tls"]), "ENHANCEDSTATUSCODES", "the last EHLO line, no STARTTLS any more: {r}");
    // ...and the server knows of no MAIL: RCPT is out of sequence.
    assert_eq!(code(&r["rcpt"]), 503, "{r}");
    assert!(text(&r["rcpt"]).starts_with("5.5.1 "), "{r}");
    assert_eq!(code(&r["quit"]), 221, "{r}");
    s.stop().await;
}

async fn lmtp_answers_each_recipient_after_data(engine: Engine) {
    let sock_dir = tempfile::tempdir().unwrap();
    let socket = sock_dir.path().join("lmtp.sock");
    let socket_cfg = socket.clone();
    let s = TestServer::start_with(engine, move |c| {
        c.mailbox.max_message_mb = 1;
        c.mailbox.quota_mb = 1;
        c.smtp.lmtp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.smtp.lmtp_socket = Some(socket_cfg);
    })
    .await;
    trust_lab(&s).await;
    let (_, bruno) = account(&s, "bruno.roy", None).await;
    let (carla_id, carla) = account(&s, "carla.roy", None).await;
    // Carla's mailbox is almost full.
    let filler = format!(
        "From: <{LAB}>\r\nTo: {carla}\r\nSubject: Archive\r\nMessage-ID: <archive@labo.mssante.fr>\r\n\r\n{}\r\n",
        "x".repeat(900_000)
    );
    let imported = hygie_core::mail::Imported { raw: filler.into_bytes(), date_ms: None, unread: false };
    hygie_core::mail::import_batch(s.db(), &s.clock, carla_id, "inbox", &[imported]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = "Résultats joints. ".repeat(12_000);
    let m = message(dir.path(), "lmtp-1", &format!("{bruno}, {carla}"), "Résultats", "", &body);
    let port = s.running.as_ref().unwrap().lmtp_addr.unwrap().port();

    // Over TCP: both recipients accepted at RCPT (no size announced), then after DATA one
    // answer each: Bruno has it, Carla's mailbox is full (temporary: her MTA will retry).
    let r = smtplib(json!({"lmtp": true, "host": "127.0.0.1", "port": port, "size": false,
        "from": LAB, "to": [bruno, carla, "personne@hygie.localhost"], "message": m}))
    .await;
    assert!(r["ehlo"][1].as_str().unwrap().contains("PIPELINING"), "{r}");
    assert!(!r["ehlo"][1].as_str().unwrap().contains("STARTTLS"), "{r}");
    let rcpt: Vec<i64> = r["rcpt"].as_array().unwrap().iter().map(code).collect();
    assert_eq!(rcpt, [250, 250, 550], "{r}");
    let data: Vec<i64> = r["data"].as_array().unwrap().iter().map(code).collect();
    assert_eq!(data, [250, 452], "{r}");
    assert!(text(&r["data"][1]).starts_with("4.2.2 "), "{r}");

    // On the Unix socket, the same service.
    let m2 = message(dir.path(), "lmtp-2", &bruno, "Second", "", "Court.");
    let r = smtplib(json!({"lmtp": true, "socket": socket, "from": LAB, "to": [bruno], "message": m2})).await;
    assert_eq!(code(&r["data"][0]), 250, "{r}");
    let stored: Vec<(String, String)> = hygie_core::with_pool!(s.db(), p => sqlx::query_as(
        "SELECT a.address, m.subject FROM messages m JOIN accounts a ON a.id = m.account_id \
         WHERE m.subject <> 'Archive' ORDER BY m.id").fetch_all(p).await.unwrap());
    assert_eq!(stored, [(bruno.clone(), "Résultats".to_string()), (bruno, "Second".to_string())]);
    let records = receive_records(&s).await;
    assert!(records
        .iter()
        .any(|r| r.actor == "peer:lmtp" && r.outcome == "success" && r.ip.as_deref() == Some("unix")));
    assert!(records.iter().any(|r| r.outcome == "failure:mailbox_full"));
    s.stop().await;
}

/// A real Postfix (Debian's), started in a temporary directory as its own instance: it plays the
/// other operator's MTA. Needs root (Postfix's master does) and the `postfix` package.
struct Postfix {
    dir: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

impl Postfix {
    /// Listens for submissions on a free port of 127.0.0.1 and hands every message on as
    /// `next_hop` (main.cf lines) says.
    fn start(next_hop: &str) -> Postfix {
        Postfix::start_on(crate::common::free_port(), next_hop)
    }

    /// The same, on `port`.
    fn start_on(port: u16, next_hop: &str) -> Postfix {
        use std::os::unix::fs::PermissionsExt;
        assert!(
            rustix_is_root(),
            "the Postfix test needs root: Postfix's master process runs as root and drops to the postfix user"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(d.join("queue")).unwrap();
        std::fs::create_dir(d.join("data")).unwrap();
        let status = Command::new("chown").arg("postfix").arg(d.join("data")).status().expect("chown");
        assert!(status.success());
        std::fs::write(
            d.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {data}\nmail_owner = postfix\n\
                 setgid_group = postdrop\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
                 myhostname = mx.labo.mssante.fr\nmydomain = labo.mssante.fr\nmyorigin = labo.mssante.fr\n\
                 mydestination =\nmynetworks = 127.0.0.0/8\nalias_maps =\nalias_database =\n\
                 maillog_file = /dev/stdout\n{next_hop}\n",
                q = d.join("queue").display(),
                data = d.join("data").display(),
            ),
        )
        .unwrap();
        let master =
            std::fs::read_to_string("/etc/postfix/master.cf").expect("postfix is installed (apt-get install postfix)");
        let master: Vec<String> = master
            .lines()
            .map(|l| {
                if l.starts_with("smtp ") && l.contains(" inet ") {
                    format!("127.0.0.1:{port} inet n - n - - smtpd")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(d.join("master.cf"), master.join("\n") + "\n").unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = Command::new("postfix")
            .args(["-c", &d.display().to_string(), "start-fg"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postfix starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "Postfix did not start: {}", Postfix::log_of(d));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Postfix { dir, child, port }
    }

    fn log_of(d: &Path) -> String {
        std::fs::read_to_string(d.join("log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("not owned by") && !l.contains("writable"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn log(&self) -> String {
        Postfix::log_of(self.dir.path())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix").args(["-c", &self.dir.path().display().to_string(), "stop"]).output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rustix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Waits (up to 60 s) until `account` holds `n` messages.
async fn wait_for_messages(s: &TestServer, account: i64, n: i64, postfix: &Postfix) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let have: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE account_id = $1").bind(account).fetch_one(p).await.unwrap());
        if have >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "Postfix did not deliver to Hygie:\n{}", postfix.log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The issue's real peer: Debian's Postfix relays a message to Hygie's SMTP listener, TLS
/// required on its side (`smtp_tls_security_level = encrypt`); then, as an operator's own MTA in
/// front of Hygie, hands one over LMTP.
async fn a_postfix_relay_hands_mail_over_starttls_and_lmtp(engine: Engine) {
    let s = TestServer::start_with(engine, |c| c.smtp.lmtp_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    trust_lab(&s).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", None).await;
    let dir = tempfile::tempdir().unwrap();

    let relay = Postfix::start(&format!(
        "relayhost = [127.0.0.1]:{}\nsmtp_tls_security_level = encrypt\nsmtp_tls_loglevel = 1",
        smtp_port(&s)
    ));
    let m = message(dir.path(), "postfix-1", &bruno, "Compte rendu opératoire", "", "Suites simples.");
    let r = smtplib(json!({"host": "127.0.0.1", "port": relay.port, "from": LAB, "to": [bruno], "message": m})).await;
    assert_eq!(code(&r["data"][0]), 250, "Postfix queued it: {r}");
    wait_for_messages(&s, bruno_id, 1, &relay).await;
    let log = relay.log();
    assert!(log.contains("status=sent (250 2.0.0 Message accepted and committed)"), "{log}");
    assert!(log.contains("TLS connection established to 127.0.0.1"), "{log}");
    let raw: Vec<u8> = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
        "SELECT raw FROM messages WHERE account_id = $1").bind(bruno_id).fetch_one(p).await.unwrap());
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains("Received: from mx.labo.mssante.fr ([127.0.0.1])\r\n\tby hygie.localhost (Hygie) with ESMTPS"),
        "{raw}"
    );
    assert!(raw.contains("by mx.labo.mssante.fr (Postfix)"), "Postfix's own trace is kept: {raw}");
    drop(relay);

    let lmtp_port = s.running.as_ref().unwrap().lmtp_addr.unwrap().port();
    let front = Postfix::start(&format!("relayhost =\ndefault_transport = lmtp:inet:[127.0.0.1]:{lmtp_port}"));
    let m = message(dir.path(), "postfix-2", &bruno, "Par LMTP", "", "Deuxième message.");
    let r = smtplib(json!({"host": "127.0.0.1", "port": front.port, "from": LAB, "to": [bruno], "message": m})).await;
    assert_eq!(code(&r["data"][0]), 250, "{r}");
    wait_for_messages(&s, bruno_id, 2, &front).await;
    // Hygie commits before it answers: Postfix logs the delivery a moment after the row is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !front.log().contains("delivered") {
        assert!(std::time::Instant::now() < deadline, "{}", front.log());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let records = receive_records(&s).await;
    assert!(records.iter().any(|r| r.actor == "peer:smtp" && r.outcome == "success"));
    assert!(records.iter().any(|r| r.actor == "peer:lmtp" && r.outcome == "success"));
    drop(front);
    s.stop().await;
}

/// Hygie's outbound mail to a real Postfix playing the other operator: Hygie asks for delivery
/// status notifications (Postfix advertises DSN); Postfix takes both recipients, delivers one
/// (discarded on arrival) and bounces the other (no such user: 5.1.1), and its two reports come back to Hygie's listener over
/// STARTTLS from the null sender, filed under the message and shown on its timeline.
async fn a_postfix_peer_returns_delivery_reports_to_the_timeline(engine: Engine) {
    let postfix_port = crate::common::free_port();
    let s = TestServer::start_with(engine, |c| {
        c.mss.smtp_port = postfix_port;
    })
    .await;
    hygie_core::trust_space::replace(s.db(), &s.clock, &["labo.mssante.fr".to_string(), "mx.labo.mssante.fr".into()])
        .await
        .unwrap();
    let (_, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let a = Browser::new(&s);
    sign_in(&s, &a, &alice, 1).await;
    let peer = Postfix::start_on(
        postfix_port,
        &format!(
            "relayhost = [127.0.0.1]:{}\nsmtp_tls_security_level = encrypt\nmydestination = labo.mssante.fr\n\
             local_recipient_maps =\ntransport_maps = inline:{{ ok@labo.mssante.fr=discard: }}",
            smtp_port(&s)
        ),
    );
    let input = app::domain::compose::ComposeInput {
        to: "ok@labo.mssante.fr, absent@labo.mssante.fr".into(),
        subject: "Résultats".into(),
        body: "Normaux.".into(),
        ..Default::default()
    };
    let sent: i64 = a.run(app::api::MailSend { input }).await.ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let v = loop {
        let v = a.run(MailOpen { id: sent }).await.body;
        let state = |who: &str| {
            v["timeline"].as_array().unwrap().iter().find(|r| r["recipient"] == who).map(|r| r["state"].clone())
        };
        if state("ok@labo.mssante.fr") == Some(json!("delivered"))
            && state("absent@labo.mssante.fr") == Some(json!("failed"))
        {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "no reports came back: {v}\n{}", peer.log());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let log = peer.log();
    assert!(log.contains("dsn=5.1.1"), "{log}");
    assert!(log.contains("sender delivery status notification"), "{log}");
    let absent = v["timeline"].as_array().unwrap().iter().find(|r| r["recipient"] == "absent@labo.mssante.fr").unwrap();
    let last = absent["steps"].as_array().unwrap().last().unwrap();
    assert_eq!((last["status"].clone(), last["reason"].clone()), (json!("5.1.1"), json!("unknown_mailbox")), "{v}");
    assert!(last["report"].as_i64().is_some());
    assert_eq!(a.run(MailList { folder: "inbox".into(), page: 0 }).await.body["total"], 0, "reports are filed");
    drop(peer);
    s.stop().await;
}

/// Debian's dnsmasq as the trust space's DNS: answers on a free port of 127.0.0.1 with the
/// records given as its options (`--mx-host=…`, `--host-record=…`, `--address=/…/`), and only
/// those.
struct Dnsmasq {
    child: std::process::Child,
    port: u16,
}

impl Dnsmasq {
    fn start(records: &[String]) -> Dnsmasq {
        let port = crate::common::free_port();
        let child = Command::new("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"])
            .args(["--listen-address=127.0.0.1", &format!("--port={port}"), "--user=root", "--pid-file="])
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dnsmasq starts (apt-get install dnsmasq-base)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut child = child;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("dnsmasq stopped ({status}): {err}");
            }
            assert!(std::time::Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Dnsmasq { child, port }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority of a test PKI (standing for the IGC-Santé), which writes its
/// certificate and the certificates it issues as PEM files in `dir`.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    dir: std::path::PathBuf,
}

impl TestCa {
    fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let issuer = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), issuer.pem()).unwrap();
        TestCa { issuer, dir: dir.to_path_buf() }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }

    /// A certificate for `dns_name`, for a server or a client: (certificate, key) files.
    fn issue(&self, file: &str, dns_name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![dns_name.to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, dns_name);
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (c, k) = (self.dir.join(format!("{file}.crt")), self.dir.join(format!("{file}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// Waits (up to 60 s) until the outbox row of message `sent` to `recipient` has been tried once
/// and failed; its recorded error.
async fn outbox_error(s: &TestServer, sent: i64, recipient: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let row: Option<(i64, Option<String>)> = hygie_core::with_pool!(s.db(), p => sqlx::query_as(
            "SELECT attempts, last_error FROM outbox WHERE message_ref = $1 AND recipient = $2")
            .bind(sent).bind(recipient).fetch_optional(p).await.unwrap());
        if let Some((n, Some(e))) = &row {
            if *n > 0 {
                return e.clone();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no attempt was recorded for {recipient}: {row:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Waits (up to 60 s) for `n` delivery failure notices in the holder's Inbox; their texts.
async fn failure_notices(b: &Browser, n: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let list = b.run(MailList { folder: "inbox".into(), page: 0 }).await.body;
        let notices: Vec<i64> = list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.starts_with("Non remis")))
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        if notices.len() >= n {
            let mut texts = String::new();
            for id in notices {
                texts.push_str(b.run(MailOpen { id }).await.body["body"].as_str().unwrap_or_default());
            }
            return texts;
        }
        assert!(std::time::Instant::now() < deadline, "no failure notice: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Without a relay, Hygie finds the recipient domain's MX in the DNS (dnsmasq) and delivers
/// there over STARTTLS, verifying the certificate against the configured trust anchors and
/// showing its own client certificate. A Postfix whose certificate comes from another
/// authority gets nothing: the attempt fails on TLS (never in clear) and, after the delivery
/// period, the sender is told why. The real MX (Postfix requiring a client certificate from the
/// test authority) takes the next message. A domain that does not exist fails at once.
async fn without_a_relay_mail_goes_to_the_mx_over_verified_tls(engine: Engine) {
    let pki = tempfile::tempdir().unwrap();
    std::fs::set_permissions(pki.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let igc = TestCa::new(pki.path(), "igc-sante-test");
    let rogue = TestCa::new(pki.path(), "autre-autorite");
    let (mx_cert, mx_key) = igc.issue("mx", "mx.autre-operateur.test");
    let (fake_cert, fake_key) = rogue.issue("faux-mx", "mx.autre-operateur.test");
    let (client_cert, client_key) = igc.issue("hygie-client", "hygie.localhost");
    let dns = Dnsmasq::start(&[
        "--mx-host=autre-operateur.test,mx.autre-operateur.test,10".into(),
        "--host-record=mx.autre-operateur.test,127.0.0.1".into(),
        "--address=/inexistant.test/".into(),
    ]);
    let mx_port = crate::common::free_port();
    let s = TestServer::start_with(engine, |c| {
        c.mss.smtp_host = String::new();
        c.mss.mx_port = mx_port;
        c.mss.dns_servers = vec![format!("127.0.0.1:{}", dns.port).parse().unwrap()];
        c.mss.trust_anchors = Some(igc.path("igc-sante-test.pem"));
        c.mss.client_cert = Some(client_cert.clone());
        c.mss.client_key = Some(client_key.clone());
    })
    .await;
    hygie_core::trust_space::replace(s.db(), &s.clock, &["autre-operateur.test".to_string(), "inexistant.test".into()])
        .await
        .unwrap();
    let (_, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let a = Browser::new(&s);
    sign_in(&s, &a, &alice, 1).await;
    let send = |to: &str, subject: &str| app::api::MailSend {
        input: app::domain::compose::ComposeInput {
            to: to.into(),
            subject: subject.into(),
            body: "Compte rendu joint.".into(),
            ..Default::default()
        },
    };
    let tls_server = |cert: &Path, key: &Path, extra: &str| {
        format!(
            "myhostname = mx.autre-operateur.test\nmydestination = autre-operateur.test\nlocal_recipient_maps =\n\
             transport_maps = inline:{{ autre-operateur.test=discard: }}\nsmtpd_tls_security_level = encrypt\n\
             smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_loglevel = 1\n{extra}",
            cert.display(),
            key.display()
        )
    };

    // An impostor's certificate: refused, nothing sent in clear, retried.
    let impostor = Postfix::start_on(mx_port, &tls_server(&fake_cert, &fake_key, ""));
    let first: i64 = a.run(send("dr.durand@autre-operateur.test", "Bilan sanguin")).await.ok();
    let error = outbox_error(&s, first, "dr.durand@autre-operateur.test").await;
    assert!(error.starts_with("TLS: mx.autre-operateur.test: "), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    let log = impostor.log();
    assert!(!log.contains("from=<"), "nothing was handed to the impostor: {log}");
    // The delivery period ends: the sender is told, with the reason.
    s.clock.advance_ms(49 * 3_600_000);
    // Two days later the holder signs in again.
    let a = Browser::new(&s);
    sign_in(&s, &a, &alice, 2).await;
    let notice = failure_notices(&a, 1).await;
    assert!(notice.contains("Aucune connexion chiffrée de confiance"), "{notice}");
    assert!(notice.contains("dr.durand@autre-operateur.test"), "{notice}");
    drop(impostor);

    // The operator's real MX, which asks for a client certificate of the same authority.
    let ca = igc.path("igc-sante-test.pem");
    let mx = Postfix::start_on(
        mx_port,
        &tls_server(
            &mx_cert,
            &mx_key,
            &format!("smtpd_tls_CAfile = {}\nsmtpd_tls_ask_ccert = yes\nsmtpd_tls_req_ccert = yes\n", ca.display()),
        ),
    );
    let second: i64 = a.run(send("dr.durand@autre-operateur.test", "Bilan sanguin (suite)")).await.ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !mx.log().contains("status=sent") {
        assert!(std::time::Instant::now() < deadline, "the MX got nothing:\n{}", mx.log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let log = mx.log();
    assert!(log.contains("Trusted TLS connection established from"), "Hygie showed its client certificate: {log}");
    assert!(log.contains(&format!("from=<{alice}>")), "{log}");
    assert!(log.contains("to=<dr.durand@autre-operateur.test>"), "{log}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = a.run(MailOpen { id: second }).await.body;
        if v["timeline"][0]["state"] != json!("queued") {
            assert_eq!(v["timeline"][0]["state"], json!("handed_over"), "{v}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(mx);

    // A domain that does not exist: given up at once, and said so.
    let third: i64 = a.run(send("qui@inexistant.test", "Adresse erronée")).await.ok();
    let error = outbox_error(&s, third, "qui@inexistant.test").await;
    assert_eq!(error, "DNS: inexistant.test does not exist");
    let notices = failure_notices(&a, 2).await;
    assert!(notices.contains("Le domaine du destinataire n'existe pas ou ne reçoit pas de courrier (DNS: inexistant.test does not exist)"), "{notices}");
    let records = hygie_core::audit::latest(s.db(), 1000).await.unwrap();
    let seen = |action: &str, outcome: &str| records.iter().any(|r| r.action == action && r.outcome == outcome);
    assert!(seen("outbox.failed.mail.remote", "failure:dns"), "{records:?}");
    assert!(seen("outbox.failed.mail.remote", "failure:tls"));
    assert!(seen("outbox.sent.mail.remote", "success"));
    drop(dns);
    s.stop().await;
}

/// Reads one reply line from a raw connection.
async fn line(r: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut l = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), r.read_line(&mut l)).await.expect("a reply").unwrap();
    l
}

async fn connect(port: u16) -> tokio::io::BufReader<tokio::net::TcpStream> {
    tokio::io::BufReader::new(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap())
}

async fn connection_limits_timeouts_and_shutdown_answer_421(engine: Engine) {
    let s = TestServer::start_with(engine, |c| {
        c.smtp.connections_per_ip = 2;
        c.smtp.command_timeout_seconds = 2;
    })
    .await;
    let port = smtp_port(&s);
    let mut a = connect(port).await;
    let mut b = connect(port).await;
    assert!(line(&mut a).await.starts_with("220 "));
    assert!(line(&mut b).await.starts_with("220 "));
    // A third connection from the same address is turned away.
    let mut c = connect(port).await;
    assert_eq!(line(&mut c).await, "421 4.7.0 Too many connections from your address, try again later\r\n");
    // A silent peer is let go after the command timeout.
    assert_eq!(line(&mut a).await, "421 4.4.2 Timeout, closing connection\r\n");
    drop(a);
    // Its slot is free again; then Hygie stops: the idle session is told so.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut d = connect(port).await;
    assert!(line(&mut d).await.starts_with("220 "));
    {
        use tokio::io::AsyncWriteExt;
        d.get_mut().write_all(b"EHLO mx.labo.mssante.fr\r\n").await.unwrap();
    }
    let mut ehlo = Vec::new();
    loop {
        let l = line(&mut d).await;
        let last = l.starts_with("250 ");
        ehlo.push(l);
        if last {
            break;
        }
    }
    assert!(ehlo.iter().any(|l| l == "250-PIPELINING\r\n") && ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    let stopping = tokio::spawn(async move { line(&mut d).await });
    s.stop().await;
    assert_eq!(stopping.await.unwrap(), "421 4.3.2 Service shutting down, try again later\r\n");
    drop(b);
}
