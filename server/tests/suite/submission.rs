//! SMTP submission with real clients: Python's `smtplib` on 587 (STARTTLS, XOAUTH2), `curl` on
//! 465 (implicit TLS, OAUTHBEARER), `swaks` for what an unauthenticated client gets; an access
//! token from the OAuth device grant, never a password. The message reaches the recipients as
//! written (its Bcc hidden), the Sent copy is kept, and the audit records are the webmail's.

use std::time::Duration;

use tokio::process::Command;

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use crate::imap::{device_tokens, post};
use hygie_core::audit::Actor;
use hygie_core::auth::oauth;
use serde_json::{json, Value};

on_each_engine!(
    a_mail_client_sends_as_its_holder_over_submission_with_an_oauth_token,
    an_applicative_mailboxs_server_uses_its_client_credentials_on_every_channel,
);

/// Runs the smtplib client's `steps` (not blocking: the server runs on this test's thread).
async fn smtplib(s: &TestServer, address: &str, token: &str, steps: Value) -> Vec<Value> {
    let python = std::env::var("HYGIE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/submission_client.py");
    let r = s.running.as_ref().unwrap();
    let cfg = json!({
        "starttls_port": r.submission_addr.unwrap().port(),
        "tls_port": r.submissions_addr.unwrap().port(),
        "address": address,
        "token": token,
        "steps": steps,
    });
    let run = Command::new(python).arg(script).arg(cfg.to_string()).kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(120), run).await.expect("smtplib finishes").unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str::<Vec<Value>>(text.trim())
        .unwrap_or_else(|_| panic!("{text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// `curl` sending `eml` over implicit TLS with OAUTHBEARER: its exit code and its trace.
pub(crate) async fn curl_smtps(
    s: &TestServer,
    from: &str,
    to: &str,
    eml: &std::path::Path,
    token: &str,
) -> (Option<i32>, String) {
    let port = s.running.as_ref().unwrap().submissions_addr.unwrap().port();
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "60", "--url", &format!("smtps://127.0.0.1:{port}")])
        .args(["--mail-from", from, "--mail-rcpt", to, "--upload-file"])
        .arg(eml)
        .args(["--user", from, "--oauth2-bearer", token, "--login-options", "AUTH=OAUTHBEARER", "-v"])
        .output()
        .await
        .expect("curl runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Messages of `account_id` in the folder with `role`: (subject, raw).
pub(crate) async fn messages_in(s: &TestServer, account_id: i64, role: &str) -> Vec<(String, String)> {
    let rows: Vec<(String, Vec<u8>)> = hygie_core::with_pool!(s.db(), p => sqlx::query_as(
        "SELECT m.subject, m.raw FROM messages m JOIN mail_folders f ON f.id = m.folder_id \
         WHERE m.account_id = $1 AND f.role = $2 ORDER BY m.id")
        .bind(account_id).bind(role).fetch_all(p).await.unwrap());
    rows.into_iter().map(|(subject, raw)| (subject, String::from_utf8_lossy(&raw).into_owned())).collect()
}

async fn a_mail_client_sends_as_its_holder_over_submission_with_an_oauth_token(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    let (carla_id, carla) = account(&s, "carla.roy", Some("+33700000002")).await;
    let c = oauth::register_public_client(s.db(), &s.clock, "Thunderbird du cabinet", Actor::Operator("root".into()))
        .await
        .unwrap();
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let (access, refresh) = device_tokens(&s, &c.client_id, &b).await;

    let steps = json!([
        {"step": "ehlo_before_tls"},
        {"step": "ehlo_after_tls"},
        {"step": "auth_plain"},
        {"step": "bad_token"},
        {"step": "send", "to": bruno, "bcc": carla, "rcpt": [bruno, carla], "subject": "Compte rendu opératoire"},
        {"step": "mail_from", "mail_from": bruno},
        {"step": "rcpt", "rcpt": "quelqu.un@gmail.com"},
        {"step": "rcpt", "rcpt": "personne@hygie.localhost"},
        {"step": "send", "author": bruno, "to": carla, "rcpt": [carla], "subject": "Au nom d'un autre"},
    ]);
    let r = smtplib(&s, &alice, &access, steps).await;
    // Before TLS: STARTTLS offered, no AUTH, and AUTH refused.
    assert!(r[0]["features"].as_array().unwrap().contains(&json!("starttls")), "{}", r[0]);
    assert!(!r[0]["features"].as_array().unwrap().contains(&json!("auth")), "{}", r[0]);
    assert_eq!(r[0]["code"], json!(530), "{}", r[0]);
    // After TLS: bearer tokens only.
    assert_eq!(r[1]["auth"], json!("OAUTHBEARER XOAUTH2"), "{}", r[1]);
    assert_eq!(r[2]["code"], json!(504), "never a password: {}", r[2]);
    assert_eq!(r[3]["code"], json!(535), "{}", r[3]);
    // Sent, as written, with the Bcc hidden from the recipients.
    assert_eq!(r[4]["refused"], json!({}), "{}", r[4]);
    for (id, who) in [(bruno_id, "bruno"), (carla_id, "carla")] {
        let inbox = messages_in(&s, id, "inbox").await;
        assert_eq!(inbox.len(), 1, "{who}");
        assert_eq!(inbox[0].0, "Compte rendu opératoire");
        assert!(inbox[0].1.contains("Suites opératoires simples."));
        assert!(!inbox[0].1.to_lowercase().contains("bcc:"), "{who} does not see the Bcc");
    }
    let sent = messages_in(&s, alice_id, "sent").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains(&format!("Bcc: {carla}")), "the author keeps the Bcc");
    // Refusals, each with its code.
    assert_eq!((r[5]["code"].as_i64(), r[5]["text"].as_str().map(|t| t.contains("5.7.1"))), (Some(553), Some(true)));
    assert_eq!(r[6]["code"], json!(550), "outside the trust space: {}", r[6]);
    assert!(r[6]["text"].as_str().unwrap().contains("trust space"));
    assert_eq!(r[7]["code"], json!(550), "{}", r[7]);
    assert!(r[7]["text"].as_str().unwrap().starts_with("5.1.1"));
    assert_eq!(r[8]["code"], json!(550), "From another's address: {}", r[8]);
    assert!(r[8]["text"].as_str().unwrap().contains("From header"));
    assert_eq!(messages_in(&s, carla_id, "inbox").await.len(), 1, "nothing more delivered");

    // curl over implicit TLS with OAUTHBEARER.
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("m.eml");
    std::fs::write(
        &eml,
        format!("From: Alice Roy <{alice}>\r\nTo: {bruno}\r\nSubject: Ordonnance\r\n\r\nVoir la pièce jointe.\r\n"),
    )
    .unwrap();
    let (code, log) = curl_smtps(&s, &alice, &bruno, &eml, &access).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("AUTH OAUTHBEARER") && log.contains("250 2.0.0 Message accepted and committed"), "{log}");
    assert_eq!(messages_in(&s, bruno_id, "inbox").await.len(), 2);

    // swaks without a token: encrypted, but not authenticated.
    let out = Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &s.running.as_ref().unwrap().submission_addr.unwrap().port().to_string(),
        ])
        .args(["--tls", "--from", &alice, "--to", &bruno, "--timeout", "30"])
        .output()
        .await
        .expect("swaks runs (apt-get install swaks)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("530 5.7.0 Authentication required"), "{said}");

    // Withdrawn: the token stops working.
    post(&s, "/oauth/revoke", &[("client_id", &c.client_id), ("token", &refresh)]).await;
    let (code, log) = curl_smtps(&s, &alice, &bruno, &eml, &access).await;
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains("535 5.7.8"), "{log}");
    let r = smtplib(&s, &alice, &access, json!([{"step": "bad_token"}])).await;
    assert_eq!(r[0]["code"], json!(535));

    // The webmail's audit records, under the holder.
    let log = actions(&s).await;
    assert!(log.contains(&"mail.send success".to_string()), "{log:?}");
    assert!(log.contains(&"mail.send denied:not_the_author".to_string()), "{log:?}");
    let trail = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!trail.contains("Compte rendu") && !trail.contains(&access), "no subject, no token in the trail");
    s.stop().await;
}

/// The server of an applicative mailbox (a laboratory's system) gets its tokens with the client
/// credentials the operator created, with nobody to approve, and uses them on the API and on
/// submission, for that mailbox alone.
async fn an_applicative_mailboxs_server_uses_its_client_credentials_on_every_channel(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    let app = "serveur.labo@hygie.localhost";
    let rec = hygie_core::accounts::AccountRecord {
        address: app.into(),
        mailbox_type: "applicative".into(),
        kind: "health".into(),
        last_name: "Laboratoire Durand".into(),
        first_name: "Serveur".into(),
        notification_email: "informatique@labo-durand.fr".into(),
        ..Default::default()
    };
    let hygie_core::accounts::Created::New(app_id) =
        hygie_core::accounts::create(s.db(), &s.clock, &rec).await.unwrap()
    else {
        panic!()
    };
    hygie_core::accounts::activate(s.db(), app_id).await.unwrap();
    // Its responsible person accepted the terms in force when activating it.
    let version = hygie_core::terms::list(s.db()).await.unwrap()[0].doc.version.clone();
    hygie_core::terms::accept(s.db(), &s.clock, app_id, &version).await.unwrap();
    let root = || Actor::Operator("root".into());
    assert!(oauth::register_service_client(s.db(), &s.clock, "x", &bruno, root()).await.is_err(), "not a person's");
    let sc = oauth::register_service_client(s.db(), &s.clock, "Serveur du laboratoire", app, root()).await.unwrap();

    let token = |user: String| {
        let url = s.url("/oauth/token");
        async move {
            let out = Command::new("curl")
                .args([
                    "-sk",
                    "--max-time",
                    "60",
                    "-w",
                    "\n%{http_code}",
                    "-u",
                    &user,
                    "-d",
                    "grant_type=client_credentials",
                ])
                .arg(url)
                .output()
                .await
                .expect("curl runs");
            let text = String::from_utf8(out.stdout).unwrap();
            let (body, status) = text.rsplit_once('\n').unwrap();
            (status.parse::<u16>().unwrap(), serde_json::from_str::<Value>(body).unwrap_or(Value::Null))
        }
    };
    let (status, body) = token(format!("{}:hycs_faux", sc.client.client_id)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let (status, body) = token(format!("{}:{}", sc.client.client_id, sc.client_secret)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();

    // The API: its own mailbox.
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "60", "-H", &format!("Authorization: Bearer {access}")])
        .arg(s.url("/api/v1/folders"))
        .output()
        .await
        .unwrap();
    let folders: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(folders["folders"].as_array().is_some_and(|f| f.iter().any(|f| f["role"] == "inbox")), "{folders}");

    // Submission: results sent from the laboratory's mailbox, and only from it.
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("r.eml");
    std::fs::write(
        &eml,
        format!("From: Laboratoire Durand <{app}>\r\nTo: {bruno}\r\nSubject: Résultats\r\n\r\nNormal.\r\n"),
    )
    .unwrap();
    let (code, log) = curl_smtps(&s, app, &bruno, &eml, &access).await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(messages_in(&s, bruno_id, "inbox").await.len(), 1);
    assert_eq!(messages_in(&s, app_id, "sent").await.len(), 1);
    // Its token, presented under a person's address: refused at AUTH.
    let (code, log) = curl_smtps(&s, &bruno, &bruno, &eml, &access).await;
    assert_ne!(code, Some(0));
    assert!(log.contains("535 5.7.8"), "{log}");
    let log = actions(&s).await;
    for expected in ["oauth.client.register success", "oauth.grant.create success", "mail.send success"] {
        assert!(log.contains(&expected.to_string()), "{expected}: {log:?}");
    }
    s.stop().await;
}
