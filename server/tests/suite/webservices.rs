//! The Web Services API beyond reading (`/api/v1`): a message raw and its attachments, receipts,
//! changes, search, cursors for synchronisation, and sending with an idempotency key; every
//! endpoint refuses another holder's ids; called with `curl` and a device-grant token, as a
//! business software's script would.

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::clients::{poll, post};
use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{DecideDevice, DeviceRequest, MailFolderCreate};
use hygie_core::audit::Actor;
use hygie_core::auth::oauth;
use hygie_core::mail::{import_batch, Imported};
use serde_json::{json, Value};

on_each_engine!(the_api_reads_changes_searches_and_sends_once_for_its_holder_only);

/// What `curl` got: the status, the response headers (lower case) and the body.
pub(crate) struct Got {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `curl -X METHOD` with the token, extra headers and a body (not blocking: the server runs on
/// this test's thread).
pub(crate) async fn call(
    s: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    headers: &[&str],
    body: Option<&[u8]>,
) -> Got {
    let dir = tempfile::tempdir().unwrap();
    let head_file = dir.path().join("headers");
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "-X", method, "-D"]).arg(&head_file).args(["-o", "-"]);
    cmd.args(["-w", "\n%{http_code}", "--max-time", "60"]);
    cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if body.is_some() {
        cmd.args(["--data-binary", "@-"]);
    }
    cmd.arg(s.url(path)).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("curl runs (apt-get install curl)");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(b) = body {
        stdin.write_all(b).await.unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let at = out.stdout.iter().rposition(|b| *b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&out.stdout[at + 1..]).parse().unwrap();
    let head = tokio::fs::read_to_string(&head_file).await.unwrap();
    let headers = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Got { status, headers, body: out.stdout[..at].to_vec() }
}

/// A device-grant token for the holder signed in in `b`: (client id, access, refresh).
pub(crate) async fn device_token(s: &TestServer, b: &Browser) -> (String, String, String) {
    let c = oauth::register_public_client(s.db(), &s.clock, "Logiciel du laboratoire", Actor::Operator("root".into()))
        .await
        .unwrap();
    let (status, d) = post(s, "/oauth/device_authorization", &[("client_id", &c.client_id), ("scope", "mail")]).await;
    assert_eq!(status, 200, "{d}");
    let code = d["user_code"].as_str().unwrap().to_string();
    assert_eq!(b.run(DeviceRequest { code: code.clone() }).await.status, 200);
    assert_eq!(b.run(DecideDevice { code, approve: true }).await.status, 200);
    s.clock.advance_ms(5_000);
    let (status, t) = poll(s, &c.client_id, d["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap().to_string();
    (c.client_id, access, t["refresh_token"].as_str().unwrap().to_string())
}

const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

fn with_attachment(id: &str, subject: &str) -> Imported {
    use base64::Engine as _;
    let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
    Imported {
        raw: format!(
            "From: Labo <resultats@labo.mssante.fr>\r\nTo: x@hygie.localhost\r\nSubject: {subject}\r\n\
             Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Bilan normal.\r\n--b\r\nContent-Type: application/pdf\r\n\
             Content-Disposition: attachment; filename*=UTF-8''compte%20rendu%20%C3%A9t%C3%A9.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
        )
        .into_bytes(),
        date_ms: None,
        unread: true,
    }
}

async fn count_in(s: &TestServer, account_id: i64) -> i64 {
    hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE account_id = $1")
        .bind(account_id).fetch_one(p).await.unwrap())
}

async fn the_api_reads_changes_searches_and_sends_once_for_its_holder_only(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[with_attachment("a1@labo", "Résultats Alice")]).await.unwrap();
    import_batch(s.db(), &s.clock, bruno_id, "inbox", &[with_attachment("b1@labo", "Résultats Bruno")]).await.unwrap();
    let theirs: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
        "SELECT id FROM messages WHERE account_id = $1").bind(bruno_id).fetch_one(p).await.unwrap());
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let (client_id, token, refresh) = device_token(&s, &b).await;
    let b2 = Browser::new(&s);
    sign_in(&s, &b2, &bruno, 2).await;
    let bruno_folder: i64 = b2.run(MailFolderCreate { name: "Bruno".into(), parent: 0 }).await.ok();
    let alice_folder: i64 = b.run(MailFolderCreate { name: "Laboratoire".into(), parent: 0 }).await.ok();
    let get = |path: String| {
        let (s, token) = (&s, token.clone());
        async move { call(s, "GET", &path, &token, &[], None).await }
    };

    // The description, without a token.
    let res = crate::common::client().get(s.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], json!("bearer"));
    assert!(doc["paths"]["/api/v1/messages/{id}/raw"]["get"].is_object());

    // Cursor pagination (and pages still), then the synchronisation cursor.
    let list = get("/api/v1/folders/inbox/messages".into()).await.json();
    let mine = list["messages"][0]["id"].as_i64().unwrap();
    assert_eq!(list["next"], Value::Null, "{list}");
    let page = get("/api/v1/folders/inbox/messages?page=1&per_page=1".into()).await.json();
    assert_eq!((page["total"].as_i64(), page["messages"][0]["id"].as_i64()), (Some(1), Some(mine)));
    let changes = get("/api/v1/folders/inbox/changes".into()).await.json();
    assert_eq!(changes["created"][0]["id"].as_i64(), Some(mine), "{changes}");
    let last = hygie_core::audit::latest(s.db(), 1).await.unwrap().remove(0);
    assert_eq!(
        (last.action.as_str(), last.object.as_deref(), last.actor),
        ("mail.list", Some("folder:inbox changes created:1"), format!("account:{alice_id}")),
        "the changes feed is recorded as a list"
    );
    let since = changes["since"].as_str().unwrap().to_string();
    let quiet = get(format!("/api/v1/folders/inbox/changes?since={since}")).await.json();
    assert_eq!((quiet["created"].as_array().map(Vec::len), quiet["changed"].as_bool()), (Some(0), Some(false)));
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[with_attachment("a2@labo", "Second bilan")]).await.unwrap();
    let list = get("/api/v1/folders/inbox/messages?per_page=1".into()).await.json();
    let (newer, next) = (list["messages"][0]["id"].as_i64().unwrap(), list["next"].as_str().unwrap().to_string());
    let rest = get(format!("/api/v1/folders/inbox/messages?per_page=1&cursor={next}")).await.json();
    assert_eq!(rest["messages"][0]["id"].as_i64(), Some(mine), "{rest}");
    let news = get(format!("/api/v1/folders/inbox/changes?since={since}")).await.json();
    assert_eq!(news["created"].as_array().unwrap().len(), 1, "{news}");
    assert_eq!(news["created"][0]["id"].as_i64(), Some(newer));
    assert_eq!(get("/api/v1/folders/inbox/messages?cursor=xyz".into()).await.status, 422);
    let since = news["since"].as_str().unwrap().to_string();

    // Raw and attachment.
    let raw = get(format!("/api/v1/messages/{mine}/raw")).await;
    assert_eq!((raw.status, raw.header("content-type")), (200, Some("message/rfc822")));
    assert!(String::from_utf8_lossy(&raw.body).contains("Subject: Résultats Alice"));
    let file = get(format!("/api/v1/messages/{mine}/attachments/0")).await;
    assert_eq!((file.status, file.header("content-type")), (200, Some("application/pdf")));
    assert_eq!(file.body, PDF);
    let disposition = file.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment; filename=\"compte_rendu_"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''compte%20rendu%20%C3%A9t%C3%A9.pdf"), "{disposition}");
    assert_eq!(get(format!("/api/v1/messages/{mine}/attachments/7")).await.status, 404);

    // Changes: flags, a move, the Trash and deletion; the folder's cursor sees them.
    let patch = |id: i64, body: Value| {
        let (s, token) = (&s, token.clone());
        async move {
            let h = ["Content-Type: application/json"];
            call(s, "PATCH", &format!("/api/v1/messages/{id}"), &token, &h, Some(body.to_string().as_bytes())).await
        }
    };
    let r = patch(mine, json!({"unread": true, "flagged": true})).await;
    assert_eq!((r.status, r.json()["folder"].as_str()), (200, Some("inbox")), "{:?}", r.json());
    let two = actions(&s).await;
    assert_eq!(two[..2], ["mail.flag success", "mail.unread success"], "one record per field, newest first");
    let flagged = get(format!("/api/v1/folders/inbox/changes?since={since}")).await.json();
    assert_eq!(flagged["changed"], json!(true), "{flagged}");
    let state = flagged["states"].as_array().unwrap().iter().find(|m| m["id"] == json!(mine)).unwrap().clone();
    assert_eq!((state["unread"].as_bool(), state["flagged"].as_bool()), (Some(true), Some(true)));
    assert_eq!(patch(mine, json!({"folder": "archive"})).await.json()["folder"], json!("archive"));
    assert_eq!(
        patch(mine, json!({"folder": format!("d{alice_folder}")})).await.json()["folder"],
        json!(format!("d{alice_folder}"))
    );
    assert_eq!(patch(mine, json!({"folder": format!("d{bruno_folder}")})).await.status, 404);
    assert_eq!(patch(mine, json!({"colour": "red"})).await.status, 422);
    let r = call(&s, "DELETE", &format!("/api/v1/messages/{newer}"), &token, &[], None).await;
    assert_eq!((r.status, r.json()["folder"].as_str()), (200, Some("trash")));
    let r = call(&s, "DELETE", &format!("/api/v1/messages/{newer}"), &token, &[], None).await;
    assert_eq!((r.status, r.json()["folder"].clone()), (200, Value::Null), "from the Trash, for good");
    assert_eq!(get(format!("/api/v1/messages/{newer}")).await.status, 404);

    // Search: hers, never his.
    let found = get("/api/v1/search?q=R%C3%A9sultats".into()).await.json();
    let ids: Vec<i64> = found["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![mine], "{found}");
    assert_eq!(get(format!("/api/v1/search?q=bilan&folder=d{bruno_folder}")).await.status, 404);
    // Every match, page by page: the first page counts them.
    let more: Vec<_> = (1..=3).map(|n| with_attachment(&format!("g{n}@labo"), &format!("Glycémie {n}"))).collect();
    import_batch(s.db(), &s.clock, alice_id, "inbox", &more).await.unwrap();
    let first = get("/api/v1/search?q=glyc%C3%A9mie&per_page=2".into()).await.json();
    assert_eq!((first["messages"].as_array().map(Vec::len), first["total"].as_i64()), (Some(2), Some(3)), "{first}");
    let next = first["next"].as_str().unwrap();
    let rest = get(format!("/api/v1/search?q=glyc%C3%A9mie&per_page=2&cursor={next}")).await.json();
    assert_eq!((rest["messages"].as_array().map(Vec::len), &rest["next"]), (Some(1), &Value::Null), "{rest}");
    assert_eq!(rest["messages"][0]["subject"], json!("Glycémie 1"), "oldest last");
    assert_eq!(get("/api/v1/search?q=glyc%C3%A9mie&cursor=nope".into()).await.status, 422);

    // Sending, once per key: the recipient gets one message.
    let json_h = ["Content-Type: application/json", "Idempotency-Key: envoi-0001"];
    let message = json!({
        "to": [bruno], "subject": "Compte rendu", "body": "Voir le compte rendu joint.", "urgent": true,
        "attachments": [{"name": "cr.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0xLjQKJSVFT0YK"}]
    });
    let before = count_in(&s, bruno_id).await;
    let first = call(&s, "POST", "/api/v1/messages", &token, &json_h, Some(message.to_string().as_bytes())).await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    let sent = first.json()["id"].as_i64().unwrap();
    let again = call(&s, "POST", "/api/v1/messages", &token, &json_h, Some(message.to_string().as_bytes())).await;
    assert_eq!((again.status, again.json()), (201, first.json()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(count_in(&s, bruno_id).await, before + 1, "sent once");
    let other = json!({"to": [bruno], "subject": "Autre"});
    let reused = call(&s, "POST", "/api/v1/messages", &token, &json_h, Some(other.to_string().as_bytes())).await;
    assert_eq!(
        (reused.status, reused.json()["type"].as_str()),
        (422, Some("https://hygie.fr/problemes/idempotency-key-reused"))
    );
    let outside = json!({"to": ["quelqu.un@gmail.com"], "subject": "Non"});
    let r = call(
        &s,
        "POST",
        "/api/v1/messages",
        &token,
        &["Content-Type: application/json", "Accept-Language: en"],
        Some(outside.to_string().as_bytes()),
    )
    .await;
    assert_eq!((r.status, r.json()["type"].as_str()), (422, Some("https://hygie.fr/problemes/outside-trust-space")));
    assert_eq!(r.json()["title"], json!("Address outside the MSSanté trust space"));

    // A message the software wrote itself.
    let written =
        format!("From: {alice}\r\nTo: {bruno}\r\nSubject: Ordonnance\r\nMessage-ID: <rx-1@labo>\r\n\r\nCi-joint.\r\n");
    let raw_path = format!("/api/v1/messages/raw?recipients={bruno}");
    let raw_h = ["Content-Type: message/rfc822", "Idempotency-Key: brut-0001"];
    let first = call(&s, "POST", &raw_path, &token, &raw_h, Some(written.as_bytes())).await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    let again = call(&s, "POST", &raw_path, &token, &raw_h, Some(written.as_bytes())).await;
    assert_eq!((again.status, again.json()), (201, first.json()));
    assert_eq!(count_in(&s, bruno_id).await, before + 2, "sent once");
    let forged = written.replace(&format!("From: {alice}"), &format!("From: {bruno}"));
    let r = call(&s, "POST", &raw_path, &token, &["Content-Type: message/rfc822"], Some(forged.as_bytes())).await;
    assert_eq!((r.status, r.json()["type"].as_str()), (403, Some("https://hygie.fr/problemes/not-the-author")));

    // Receipts of what she sent.
    let receipts = get(format!("/api/v1/messages/{sent}/receipts")).await;
    assert_eq!(receipts.status, 200, "{:?}", receipts.json());
    assert_eq!(receipts.json()["recipients"][0]["recipient"], json!(bruno));
    let last = hygie_core::audit::latest(s.db(), 1).await.unwrap().remove(0);
    assert_eq!((last.action.as_str(), last.object), ("mail.receipts", Some(format!("message:{sent} recipients:1"))));

    // Another holder's ids: not found, on every endpoint.
    let h = ["Content-Type: application/json"];
    for (method, path, body) in [
        ("GET", format!("/api/v1/messages/{theirs}/raw"), None),
        ("GET", format!("/api/v1/messages/{theirs}/attachments/0"), None),
        ("GET", format!("/api/v1/messages/{theirs}/receipts"), None),
        ("GET", format!("/api/v1/folders/d{bruno_folder}/changes"), None),
        ("PATCH", format!("/api/v1/messages/{theirs}"), Some(json!({"flagged": true}))),
        ("PATCH", format!("/api/v1/messages/{theirs}"), Some(json!({"folder": "trash"}))),
        ("DELETE", format!("/api/v1/messages/{theirs}"), None),
    ] {
        let body = body.map(|b| b.to_string());
        let r = call(&s, method, &path, &token, &h, body.as_deref().map(str::as_bytes)).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json()["type"], json!("https://hygie.fr/problemes/not-found"));
    }
    let bruno_token = device_token(&s, &b2).await.1;
    let r = call(&s, "GET", &format!("/api/v1/messages/{sent}/receipts"), &bruno_token, &[], None).await;
    assert_eq!(r.status, 404, "her receipts are not his");
    let his = get_with(&s, &bruno_token, "/api/v1/folders/inbox/messages").await;
    assert_eq!(his["messages"][0]["subject"], json!("Ordonnance"));
    assert_eq!(count_in(&s, bruno_id).await, before + 2, "his message untouched");

    // Expired, then revoked: refused.
    s.clock.advance_ms(oauth::ACCESS_TTL_MS);
    let r = call(&s, "POST", "/api/v1/messages", &token, &json_h, Some(message.to_string().as_bytes())).await;
    assert_eq!(r.status, 401, "expired");
    let (status, renewed) = post(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client_id), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let access = renewed["access_token"].as_str().unwrap().to_string();
    assert_eq!(call(&s, "GET", &format!("/api/v1/messages/{mine}/raw"), &access, &[], None).await.status, 200);
    let (status, _) =
        post(&s, "/oauth/revoke", &[("client_id", &client_id), ("token", renewed["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        call(&s, "DELETE", &format!("/api/v1/messages/{mine}"), &access, &[], None).await.status,
        401,
        "revoked"
    );

    // The webmail's records.
    let log = actions(&s).await;
    for expected in [
        "mail.list success",
        "mail.open success",
        "mail.download success",
        "mail.unread success",
        "mail.flag success",
        "mail.archive success",
        &format!("mail.move:d{alice_folder} success"),
        "mail.trash success",
        "mail.delete success",
        "mail.search success",
        "mail.send success",
        "mail.send denied:not_the_author",
        "mail.receipts success",
        "mail.receipts denied:not_found",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    let sends = log.iter().filter(|a| *a == "mail.send success").count();
    assert_eq!(sends, 2, "one record per message sent, none for a retry");
    s.stop().await;
}

async fn get_with(s: &TestServer, token: &str, path: &str) -> Value {
    call(s, "GET", path, token, &[], None).await.json()
}

/// The OpenAPI document checked against the running server by a property-based tester
/// (`schemathesis`, installed by `ensure_schemathesis` in scripts/lib.sh), with a real token:
/// no server error, and every documented answer in its documented shape. Bounded in examples
/// and time.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_answers_as_documented() {
    let s = TestServer::start(Engine::Sqlite).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (_, _bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[with_attachment("a1@labo", "Résultats Alice")]).await.unwrap();
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let token = device_token(&s, &b).await.1;
    let tester = std::env::var("HYGIE_TEST_SCHEMATHESIS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/venv/bin/schemathesis").into());
    let base = s.url("");
    let run = Command::new(&tester)
        .args(["run", &s.url("/api/v1/openapi.json"), "--url", base.trim_end_matches('/')])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "20", "--max-time", "90", "--workers", "1", "--seed", "15"])
        // Fuzzing alone keeps the calls under the grant's limit (the test clock stands still).
        .args(["--phases", "fuzzing", "--tls-verify", "false", "--no-color"])
        // A message/rfc822 body is not something it can generate.
        .args(["--exclude-path", "/api/v1/messages/raw"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(240), run)
        .await
        .expect("schemathesis within its time limit")
        .unwrap_or_else(|e| panic!("{tester} runs (scripts/lib.sh: ensure_schemathesis): {e}"));
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis failed:\n{text}");
    s.stop().await;
}
