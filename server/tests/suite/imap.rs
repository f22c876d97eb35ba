//! IMAP with a real client: Python's `imaplib` over TLS (implicit and STARTTLS), with an access
//! token from the OAuth device grant (never a password); the same mailbox as the webmail, the
//! same audit records, UIDs that never go back, IDLE within a second, and nothing of another
//! holder's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::browser::*;
use crate::common::{client, form, on_each_engine, Engine, TestServer};
use app::api::{DecideDevice, DeviceRequest, MailFolderCreate};
use hygie_core::audit::Actor;
use hygie_core::auth::oauth;
use hygie_core::mail::{import_batch, Imported};
use serde_json::{json, Value};

on_each_engine!(a_mail_client_reads_and_changes_the_mailbox_over_imap_with_an_oauth_token);
on_each_engine!(a_fetch_of_every_body_is_answered_part_by_part_and_in_order);

pub(crate) async fn post(s: &TestServer, path: &str, pairs: &[(&str, &str)]) -> Value {
    let res = client()
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap_or(Value::Null)
}

/// The device grant, approved on the web by the holder signed in in `b`: (access, refresh).
pub(crate) async fn device_tokens(s: &TestServer, client_id: &str, b: &Browser) -> (String, String) {
    let d = post(s, "/oauth/device_authorization", &[("client_id", client_id), ("scope", "mail")]).await;
    let user_code = d["user_code"].as_str().unwrap().to_string();
    assert_eq!(b.run(DeviceRequest { code: user_code.clone() }).await.status, 200);
    assert_eq!(b.run(DecideDevice { code: user_code, approve: true }).await.status, 200);
    s.clock.advance_ms(5_000);
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let t = post(
        s,
        "/oauth/token",
        &[("grant_type", grant), ("client_id", client_id), ("device_code", d["device_code"].as_str().unwrap())],
    )
    .await;
    (t["access_token"].as_str().unwrap().to_string(), t["refresh_token"].as_str().unwrap().to_string())
}

/// Runs the imaplib script's `phase` (not blocking: the server runs on this test's thread);
/// `on_idle` runs when the client says it is IDLE. Returns the client's JSON report.
async fn imaplib<F: std::future::Future<Output = ()>>(
    s: &TestServer,
    phase: &str,
    address: &str,
    token: &str,
    on_idle: impl FnOnce() -> F,
) -> Value {
    let python = std::env::var("HYGIE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/imap_client.py");
    let r = s.running.as_ref().unwrap();
    let mut child = Command::new(python)
        .arg(script)
        .arg(phase)
        .arg(r.imap_addr.unwrap().port().to_string())
        .arg(r.imap_starttls_addr.unwrap().port().to_string())
        .arg(address)
        .arg(token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut on_idle = Some(on_idle);
    let mut last = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "IDLING" {
                if let Some(f) = on_idle.take() {
                    f().await;
                }
            } else {
                last = line;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("the IMAP client finishes");
    let out = child.wait_with_output().await.unwrap();
    serde_json::from_str(&last).unwrap_or_else(|_| panic!("{phase}: {last}\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn message(id: &str, subject: &str, body: &str) -> Imported {
    Imported {
        raw: format!(
            "From: Labo Durand <resultats@labo.mssante.fr>\r\nTo: alice.roy@hygie.localhost\r\nSubject: {subject}\r\n\
             Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {body}\r\n--b1\r\nContent-Type: application/pdf; name=\"cr.pdf\"\r\nContent-Disposition: attachment; filename=\"cr.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
        )
        .into_bytes(),
        date_ms: None,
        unread: true,
    }
}

fn has(v: &Value, needle: &str) -> bool {
    v.to_string().contains(needle)
}

async fn a_mail_client_reads_and_changes_the_mailbox_over_imap_with_an_oauth_token(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    import_batch(
        s.db(),
        &s.clock,
        alice_id,
        "inbox",
        &[
            message("a1@labo", "Bilan sanguin", "Potassium 4,1 mmol/L."),
            message("a2@labo", "Compte rendu", "Rien a signaler."),
        ],
    )
    .await
    .unwrap();
    import_batch(s.db(), &s.clock, bruno_id, "inbox", &[message("b1@labo", "Pour Bruno", "Confidentiel.")])
        .await
        .unwrap();
    let c =
        oauth::register_public_client(s.db(), &s.clock, "Thunderbird", Actor::Operator("root".into())).await.unwrap();
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let _: i64 = b.run(MailFolderCreate { name: "Laboratoire".into(), parent: 0 }).await.ok();
    let (access, refresh) = device_tokens(&s, &c.client_id, &b).await;

    // STARTTLS: before it, no mechanism and no authentication; after it, OAUTHBEARER.
    let st = imaplib(&s, "starttls", &alice, &access, || async {}).await;
    assert!(has(&st["caps_plain"], "STARTTLS") && has(&st["caps_plain"], "LOGINDISABLED"), "{st}");
    assert!(!has(&st["caps_plain"], "AUTH="), "{st}");
    assert!(has(&st["before_tls"], "NO"), "{st}");
    assert!(has(&st["caps_tls"], "AUTH=OAUTHBEARER") && has(&st["caps_tls"], "AUTH=XOAUTH2"), "{st}");
    assert_eq!(st["oauthbearer"], json!("OK"), "{st}");
    assert!(has(&st["list"], "INBOX"), "{st}");

    // The main session, with a delivery while the client is IDLE.
    let db = s.db().clone();
    let clock = s.clock.clone();
    let delivered = std::sync::Arc::new(std::sync::Mutex::new(None));
    let at = delivered.clone();
    let m = imaplib(&s, "main", &alice, &access, move || async move {
        import_batch(&db, &clock, alice_id, "inbox", &[message("a3@labo", "Nouveau", "Arrive pendant IDLE.")])
            .await
            .unwrap();
        *at.lock().unwrap() = Some(Instant::now());
    })
    .await;
    assert!(has(&m["caps"], "AUTH=XOAUTH2") && has(&m["caps"], "SASL-IR") && has(&m["caps"], "LOGINDISABLED"));
    assert!(has(&m["login"], "LOGIN is disabled"), "{m}");
    assert_eq!(m["auth"], json!("OK"), "{m}");
    assert!(has(&m["caps_after"], "UIDPLUS") && has(&m["caps_after"], "MOVE") && has(&m["caps_after"], "IDLE"));
    for special in [r#"(\\Sent \\HasNoChildren) \"/\" Sent"#, r#"(\\Trash \\HasNoChildren) \"/\" Trash"#] {
        assert!(has(&m["list"], special), "{special} in {}", m["list"]);
    }
    assert!(has(&m["list"], "Drafts") && has(&m["list"], "Laboratoire"), "{m}");
    assert!(has(&m["status"], "MESSAGES 2") && has(&m["status"], "UNSEEN 2") && has(&m["status"], "UIDNEXT 3"), "{m}");
    assert_eq!(m["exists"], json!(2));
    assert_eq!(m["uidnext"], json!(["3"]), "{m}");
    let fetch = m["fetch"].to_string();
    assert!(fetch.contains("UID 1") && fetch.contains("UID 2"), "{fetch}");
    assert!(fetch.contains("Bilan sanguin") && fetch.contains("resultats"), "envelope: {fetch}");
    assert!(
        fetch.contains("\\\"MIXED\\\"") || fetch.to_lowercase().contains("\\\"mixed\\\""),
        "bodystructure: {fetch}"
    );
    assert!(fetch.to_lowercase().contains("\\\"application\\\" \\\"pdf\\\""), "{fetch}");
    assert!(has(&m["peek"], "Potassium 4,1") && has(&m["peek"], "Subject: Bilan sanguin"), "{m}");
    assert!(!has(&m["flags_after_peek"], "\\\\Seen"), "PEEK leaves it unread: {m}");
    assert_eq!(m["search_text"], json!(["1"]), "{m}");
    assert_eq!(m["search_unseen"], json!(["1 2"]), "{m}");
    assert!(has(&m["store"], "\\\\Seen") && has(&m["store"], "\\\\Flagged"), "{m}");
    assert_eq!(m["search_seen"], json!(["1"]), "{m}");
    assert!(has(&m["open"], "Rien a signaler") && has(&m["flags_after_open"], "\\\\Seen"), "{m}");
    assert_eq!(m["move"], json!("OK"), "{m}");
    let trash_uid = m["copyuid"][0].as_str().unwrap().split(' ').nth(2).unwrap().parse::<u32>().unwrap();
    assert!(has(&m["exists_after_move"], "") && has(&m["append"], "APPENDUID"), "{m}");
    assert_eq!(m["trash_uids"], json!([trash_uid.to_string()]), "{m}");
    assert!(has(&m["idle_cont"], "+"), "{m}");
    assert!(has(&m["idle_line"], "2 EXISTS"), "{m}");
    let idle = m["idle_seconds"].as_f64().expect("EXISTS during IDLE");
    assert!(idle < 1.0, "EXISTS {idle} s after IDLE began (the delivery included)");
    assert!(delivered.lock().unwrap().is_some());
    assert!(has(&m["idle_done"], "OK"), "{m}");
    assert!(has(&m["copy"], "NO"), "{m}");

    // The webmail's view: read and flagged, moved to the Trash, the draft appended.
    let rows: Vec<(String, String, bool, bool)> = hygie_core::with_pool!(s.db(), p => sqlx::query_as(
        "SELECT m.subject, f.role, m.unread, m.flagged FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 ORDER BY m.id").bind(alice_id).fetch_all(p).await.unwrap());
    assert_eq!(
        rows,
        vec![
            ("Bilan sanguin".into(), "inbox".into(), false, true),
            ("Compte rendu".into(), "trash".into(), false, false),
            ("Brouillon IMAP".into(), "drafts".into(), false, false),
            ("Nouveau".into(), "inbox".into(), true, false),
        ]
    );
    let log = actions(&s).await;
    // Opening without PEEK writes the webmail's one record (`mail.open`, marked read with it);
    // the only `mail.read` is the STORE's.
    assert_eq!(log.iter().filter(|a| *a == "mail.read success").count(), 1, "{log:?}");
    let compte_rendu: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
        "SELECT id FROM messages WHERE subject = 'Compte rendu'").fetch_one(p).await.unwrap());
    let records = hygie_core::audit::latest(s.db(), 1000).await.unwrap();
    assert!(records
        .iter()
        .any(|r| r.action == "mail.open" && r.object.as_deref() == Some(&format!("messages:{compte_rendu} count:1"))));
    for expected in [
        "mail.list success",
        "mail.open success",
        "mail.read success",
        "mail.flag success",
        "mail.trash success",
        "mail.search success",
        "mail.append success",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }

    // Another holder: her own mailbox, nothing of Alice's.
    let b2 = Browser::new(&s);
    sign_in(&s, &b2, &bruno, 2).await;
    let (bruno_access, _) = device_tokens(&s, &c.client_id, &b2).await;
    let i = imaplib(&s, "idor", &bruno, &bruno_access, || async {}).await;
    assert_eq!(i["auth"], json!("OK"), "{i}");
    assert!(!has(&i["list"], "Laboratoire"), "{i}");
    assert!(has(&i["select_other"], "NO"), "{i}");
    assert!(has(&i["fetch"], "Pour Bruno") && !has(&i["fetch"], "Bilan"), "{i}");
    // Alice's token with Bruno's address: refused.
    let wrong = imaplib(&s, "auth", &bruno, &access, || async {}).await;
    assert!(has(&wrong["xoauth2"], "NO"), "{wrong}");

    // Expired, then revoked: refused.
    s.clock.advance_ms(oauth::ACCESS_TTL_MS);
    let expired = imaplib(&s, "auth", &alice, &access, || async {}).await;
    assert!(has(&expired["xoauth2"], "AUTHENTICATIONFAILED"), "{expired}");
    let renewed = post(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &c.client_id), ("refresh_token", &refresh)],
    )
    .await;
    let access2 = renewed["access_token"].as_str().unwrap().to_string();
    let refresh2 = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(imaplib(&s, "auth", &alice, &access2, || async {}).await["xoauth2"], json!("OK"));
    post(&s, "/oauth/revoke", &[("client_id", &c.client_id), ("token", &refresh2)]).await;
    let revoked = imaplib(&s, "auth", &alice, &access2, || async {}).await;
    assert!(has(&revoked["xoauth2"], "AUTHENTICATIONFAILED"), "{revoked}");
    s.stop().await;
}

/// A FETCH of a whole mailbox's bodies is answered part by part (the server holds one part,
/// not the mailbox): every message arrives whole, each part is recorded as read, and a command
/// the client sent behind it is answered after it.
async fn a_fetch_of_every_body_is_answered_part_by_part_and_in_order(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    // 12 letters of about 500 KB: 6 MB, more than one part's 4 MiB.
    let line = "Potassium 4,1 mmol/L ; sodium 140 mmol/L ; creatinine 80 umol/L.\r\n";
    let letters: Vec<Imported> =
        (0..12).map(|n| message(&format!("big{n}@labo"), &format!("Bilan {n}"), &line.repeat(7_500))).collect();
    let expected: Vec<usize> = letters.iter().map(|l| l.raw.len()).collect();
    import_batch(s.db(), &s.clock, alice_id, "inbox", &letters).await.unwrap();
    let c =
        oauth::register_public_client(s.db(), &s.clock, "Thunderbird", Actor::Operator("root".into())).await.unwrap();
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let (access, _) = device_tokens(&s, &c.client_id, &b).await;

    let r = imaplib(&s, "large", &alice, &access, || async {}).await;
    assert_eq!(r["auth"], json!("OK"), "{r}");
    assert_eq!(r["order"], json!(["p1 OK", "p2 OK"]), "{r}");
    let sizes: Vec<usize> = serde_json::from_value(r["sizes"].clone()).unwrap();
    assert_eq!(sizes, expected, "every message whole, in order");
    // One record per part: 8 letters fit in 4 MiB, then the other 4.
    let records = hygie_core::audit::latest(s.db(), 100).await.unwrap();
    let mut parts: Vec<String> = records
        .iter()
        .filter(|r| r.action == "mail.open")
        .filter_map(|r| r.object.as_deref()?.split(' ').nth(1).map(str::to_string))
        .collect();
    parts.sort();
    assert_eq!(parts, ["count:4", "count:8"], "{records:?}");
    s.stop().await;
}
