//! Receipts on a real server, on each database engine: a read receipt between two mailboxes
//! here, a delivery-status report handed to the SMTP listener from the null sender, each
//! recipient's timeline and the list mark, and another holder kept out of them.

use std::path::Path;

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{MailList, MailOpen, MailReadReceipt, MailReceiptSetting, MailSend, MailSetReceiptSetting};
use app::domain::compose::ComposeInput;
use serde_json::{json, Value};

on_each_engine!(two_mailboxes_exchange_a_read_receipt, a_delivery_report_over_smtp_updates_the_senders_timeline,);

async fn holders(s: &TestServer) -> [(String, Browser); 3] {
    let people = [("alice.roy", MOBILE), ("bruno.roy", "+33700000001"), ("carla.roy", "+33700000002")];
    let mut out = Vec::new();
    for (i, (local, mobile)) in people.into_iter().enumerate() {
        let (_, address) = account(s, local, Some(mobile)).await;
        let browser = Browser::new(s);
        sign_in(s, &browser, &address, i + 1).await;
        out.push((address, browser));
    }
    out.try_into().unwrap_or_else(|_| panic!("three holders"))
}

fn compose(to: &str, subject: &str, read_receipt: bool) -> ComposeInput {
    ComposeInput {
        to: to.into(),
        subject: subject.into(),
        body: "Suites simples.".into(),
        read_receipt,
        ..Default::default()
    }
}

fn steps(v: &Value, who: &str) -> Vec<String> {
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recipient"] == who)
        .unwrap_or_else(|| panic!("{who} not in {v}"))["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn two_mailboxes_exchange_a_read_receipt(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(alice, a), (bruno, b), (_, c)] = holders(&s).await;
    let sent: i64 = a.run(MailSend { input: compose(&bruno, "Compte rendu", true) }).await.ok();
    let inbox = b.run(MailList { folder: "inbox".into(), page: 0 }).await.body;
    let id = inbox["items"][0]["id"].as_i64().unwrap();

    // Bruno opens it: asked (the default setting), nothing sent yet.
    assert_eq!(b.run(MailReceiptSetting {}).await.body, json!("ask"));
    let opened = b.run(MailOpen { id }).await.body;
    assert_eq!(opened["read_receipt"], "ask");
    assert_eq!(opened["timeline"], json!([]), "a received message has no timeline");
    let mine = a.run(MailOpen { id: sent }).await.body;
    assert_eq!(mine["read_receipt"], "", "one's own message asks nothing");
    assert_eq!(steps(&mine, &bruno), ["queued", "delivered"]);
    let sent_list = a.run(MailList { folder: "sent".into(), page: 0 }).await.body;
    assert_eq!(sent_list["items"][0]["receipt"], "delivered");

    // Another holder can neither answer Bruno's message nor see Alice's timeline.
    let other = c.run(MailReadReceipt { id, send: true }).await;
    assert_eq!((other.status, other.body), (404, json!("NotFound")));
    assert_eq!(c.run(MailOpen { id: sent }).await.status, 404);

    s.clock.advance_ms(90_000);
    assert_eq!(b.run(MailReadReceipt { id, send: true }).await.body, json!("sent"));
    let again = b.run(MailReadReceipt { id, send: true }).await;
    assert_eq!((again.status, again.body), (403, json!("Forbidden")), "at most one receipt");
    assert_eq!(b.run(MailOpen { id }).await.body["read_receipt"], "sent");

    // Alice's timeline shows "read", with its time in Paris and the report filed.
    let mine = a.run(MailOpen { id: sent }).await.body;
    assert_eq!(steps(&mine, &bruno), ["queued", "delivered", "read"]);
    let read = mine["timeline"][0]["steps"][2].clone();
    assert!(read["at"].as_str().unwrap().ends_with(":00") && read["at"].as_str().unwrap().contains('+'), "{read}");
    assert_eq!(mine["timeline"][0]["state"], "read");
    let report = read["report"].as_i64().unwrap();
    assert_eq!(a.run(MailList { folder: "inbox".into(), page: 0 }).await.body["total"], 0, "not ordinary mail");
    let filed = a.run(MailOpen { id: report }).await.body;
    assert_eq!(filed["folder"], "archive");
    assert_eq!(filed["read_receipt"], "", "a report is never answered");
    assert_eq!(a.run(MailList { folder: "sent".into(), page: 0 }).await.body["items"][0]["receipt"], "read");
    let refused = a.run(MailReadReceipt { id: report, send: true }).await;
    assert_eq!(refused.status, 403);

    // Never: no prompt on the next one.
    assert_eq!(b.run(MailSetReceiptSetting { value: "never".into() }).await.status, 200);
    assert_eq!(b.run(MailSetReceiptSetting { value: "sometimes".into() }).await.status, 422);
    a.run(MailSend { input: compose(&bruno, "Second", true) }).await.ok::<i64>();
    let inbox = b.run(MailList { folder: "inbox".into(), page: 0 }).await.body;
    let second = inbox["items"].as_array().unwrap().iter().find(|m| m["subject"] == "Second").unwrap()["id"].as_i64();
    assert_eq!(b.run(MailOpen { id: second.unwrap() }).await.body["read_receipt"], "");

    let log = actions(&s).await;
    for e in [
        "mail.receipt.send success",
        "mail.receipt.record success",
        "mail.receipt.send denied:already_answered",
        "mail.receipt.send denied:not_found",
        "mail.receipt_setting success",
    ] {
        assert!(log.iter().any(|a| a == e), "{e} missing from {log:?}");
    }
    let dump = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!dump.contains("Compte rendu") && !dump.contains("Suites simples"), "no content in the audit trail");
    let _ = alice;
    s.stop().await;
}

fn smtp_port(s: &TestServer) -> u16 {
    s.running.as_ref().unwrap().smtp_addr.unwrap().port()
}

/// One session of Python's smtplib (see smtp_peer.py).
async fn smtplib(spec: Value) -> Value {
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
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn a_delivery_report_over_smtp_updates_the_senders_timeline(engine: Engine) {
    let s = TestServer::start(engine).await;
    hygie_core::trust_space::replace(s.db(), &s.clock, &["labo.mssante.fr".to_string()]).await.unwrap();
    let [(alice, a), (_, b), _] = holders(&s).await;
    let to = "dr.martin@labo.mssante.fr, absent@labo.mssante.fr";
    let sent: i64 = a.run(MailSend { input: compose(to, "Résultats", false) }).await.ok();
    // The relay (the test's SMTP server) takes both.
    s.smtp.wait_for(2).await;
    let message_id = a.run(MailOpen { id: sent }).await.body["message_id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let v = a.run(MailOpen { id: sent }).await.body;
        if steps(&v, "dr.martin@labo.mssante.fr") == ["queued", "handed_over"]
            && steps(&v, "absent@labo.mssante.fr") == ["queued", "handed_over"]
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not handed over: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The other operator's server reports: one delivered, one unknown (5.1.1), from <>.
    let dir = tempfile::tempdir().unwrap();
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@labo.mssante.fr>\r\nTo: {alice}\r\n\
         Subject: Delivery Status Notification\r\nMessage-ID: <dsn-1@labo.mssante.fr>\r\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0100\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nReport.\r\n\
         --R\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.labo.mssante.fr\r\nOriginal-Envelope-Id: {message_id}\r\n\r\n\
         Final-Recipient: rfc822; dr.martin@labo.mssante.fr\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
         Final-Recipient: rfc822; absent@labo.mssante.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 Mailbox unknown\r\n\r\n\
         --R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\nSubject: x\r\n\r\n--R--\r\n"
    );
    let path = dir.path().join("dsn.eml");
    std::fs::write(&path, dsn).unwrap();
    let r = smtplib(json!({"host": "127.0.0.1", "port": smtp_port(&s), "starttls": true,
        "from": "", "to": [alice], "message": path}))
    .await;
    assert_eq!(r["data"][0][0], 250, "{r}");

    let v = a.run(MailOpen { id: sent }).await.body;
    assert_eq!(steps(&v, "dr.martin@labo.mssante.fr"), ["queued", "handed_over", "delivered"]);
    assert_eq!(steps(&v, "absent@labo.mssante.fr"), ["queued", "handed_over", "failed"]);
    let failed = v["timeline"].as_array().unwrap().iter().find(|r| r["recipient"] == "absent@labo.mssante.fr").unwrap();
    assert_eq!(failed["state"], "failed");
    assert_eq!(
        (failed["steps"][2]["status"].clone(), failed["steps"][2]["reason"].clone()),
        (json!("5.1.1"), json!("unknown_mailbox"))
    );
    assert_eq!(a.run(MailList { folder: "sent".into(), page: 0 }).await.body["items"][0]["receipt"], "failed");
    assert_eq!(a.run(MailList { folder: "inbox".into(), page: 0 }).await.body["total"], 0, "the report is filed");
    // Bruno cannot read Alice's timeline.
    assert_eq!(b.run(MailOpen { id: sent }).await.status, 404);
    let log = actions(&s).await;
    assert!(log.iter().any(|a| a == "mail.receipt.record success"), "{log:?}");
    s.stop().await;
}
