//! The webmail's server functions on a real server, on each database engine: delivery between
//! accounts of this instance, trust-space refusals, account scoping (IDOR), the audit trail.

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{
    MailAct, MailAllowImages, MailFolderCreate, MailFolderDelete, MailFolderRename, MailFolders, MailList, MailOpen,
    MailPdfPreview, MailReschedule, MailSaveDraft, MailSchedule, MailScheduled, MailSearch, MailSend, MailSendUndoable,
    MailSetFolding, MailSetUndoDelay, MailUndoDelay, MailUnschedule, MailUploadDelete, MailUsageGet, ScheduledLine,
    SendOutcome,
};
use app::domain::compose::ComposeInput;
use serde_json::json;

on_each_engine!(
    messages_go_between_accounts_and_stay_in_their_mailboxes,
    mail_to_other_operators_is_queued_retried_and_bounced,
    attachments_upload_send_forward_within_limits,
    own_folders_are_scoped_to_their_holder,
    pdf_attachments_preview_as_images_for_their_holder_only,
    conversations_fold_into_one_line,
    a_draft_thrown_away_or_sent_stays_gone,
    undo_send_and_scheduled_send_go_through_the_queue,
);

/// A message as the composer sends it: `to`, a subject and a body, nothing else filled in.
fn compose(to: &str, subject: &str, body: &str) -> ComposeInput {
    ComposeInput { to: to.into(), subject: subject.into(), body: body.into(), ..Default::default() }
}

/// The first page of `folder`.
fn list(folder: &str) -> MailList {
    MailList { folder: folder.into(), page: 0 }
}

fn act(action: &str, ids: &[i64]) -> MailAct {
    MailAct { action: action.into(), ids: ids.to_vec() }
}

fn search(q: &str) -> MailSearch {
    MailSearch { q: q.into() }
}

/// The test holders: alice.roy, bruno.roy, carla.roy (the first `N`), each signed in in its own
/// browser, with their addresses.
async fn holders<const N: usize>(s: &TestServer) -> [(String, Browser); N] {
    let people = [("alice.roy", MOBILE), ("bruno.roy", "+33700000001"), ("carla.roy", "+33700000002")];
    let mut out = Vec::new();
    for (i, (local, mobile)) in people.into_iter().take(N).enumerate() {
        let (_, address) = account(s, local, Some(mobile)).await;
        let browser = Browser::new(s);
        sign_in(s, &browser, &address, i + 1).await;
        out.push((address, browser));
    }
    out.try_into().unwrap_or_else(|_| panic!("at most {} test holders", people.len()))
}

/// Each of `expected` ("action outcome") is in the audit trail.
async fn assert_logged(s: &TestServer, expected: &[&str]) {
    let log = actions(s).await;
    for e in expected {
        assert!(log.iter().any(|a| a == e), "{e} missing from {log:?}");
    }
}

async fn messages_go_between_accounts_and_stay_in_their_mailboxes(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(alice, a), (bruno, b)] = holders(&s).await;

    // Not signed in: nothing.
    let anon = Browser::new(&s);
    let r = anon.run(list("inbox")).await;
    assert_eq!((r.status, r.body), (401, json!("Unauthorized")));

    // Outside the trust space: refused before anything is delivered, naming the address.
    let to = format!("{bruno}, quelqu.un@gmail.com");
    let refused = a.run(MailSend { input: compose(&to, "Patient", "Bonjour") }).await;
    assert_eq!(refused.status, 422, "{engine:?}");
    assert_eq!(refused.body, json!({"RecipientRefused": {"address": "quelqu.un@gmail.com", "reason": "outside"}}));
    let r = a.run(MailSend { input: compose("nobody@hygie.localhost", "x", "") }).await;
    assert_eq!(r.body["RecipientRefused"]["reason"], "unknown");
    let r = a.run(MailSend { input: compose("", "x", "") }).await;
    assert_eq!(r.body["Invalid"][0]["field"], "to");
    assert_eq!(b.run(list("inbox")).await.body["total"], 0);

    let sent = a.run(MailSend { input: compose(&bruno, "Résultats de Mme Dœuf", "Glycémie normale.") }).await;
    let sent_id: i64 = sent.ok();

    let inbox = b.run(list("inbox")).await.body;
    assert_eq!(inbox["total"], 1);
    let line = &inbox["items"][0];
    assert_eq!(line["subject"], "Résultats de Mme Dœuf");
    assert_eq!(line["who"], "Anne Lefèvre");
    assert_eq!(line["unread"], true);
    let id = line["id"].as_i64().unwrap();
    let opened = b.run(MailOpen { id }).await.body;
    assert_eq!(opened["body"].as_str().unwrap().trim_end(), "Glycémie normale.");
    assert_eq!(opened["from_addr"], alice.as_str());
    assert_eq!(b.run(list("inbox")).await.body["items"][0]["unread"], false);

    // Each mailbox is its own: the other account's ids are not found.
    let theirs = a.run(MailOpen { id }).await;
    assert_eq!((theirs.status, theirs.body), (404, json!("NotFound")));
    let mine = b.run(MailOpen { id: sent_id }).await;
    assert_eq!(mine.status, 404);
    assert_eq!(a.run(list("sent")).await.body["total"], 1);
    assert_eq!(a.run(list("elsewhere")).await.status, 404);
    // Acting on another account's message changes nothing; on one's own, it does.
    assert_eq!(a.run(act("trash", &[id])).await.body, json!(0));
    assert_eq!(b.run(act("trash", &[id])).await.body, json!(1));
    assert_eq!(b.run(list("trash")).await.body["total"], 1);
    assert_eq!(b.run(act("restore", &[id])).await.body, json!(1));
    assert_eq!(b.run(list("inbox")).await.body["total"], 1);
    assert_eq!(b.run(act("explode", &[id])).await.status, 422);

    // Search finds it for both, by a word of the body (prefix) or an operator; not for others.
    assert_eq!(b.run(search("glycém")).await.body.as_array().unwrap().len(), 1);
    assert_eq!(a.run(search("glycémie à:bruno")).await.body.as_array().unwrap().len(), 1);
    assert_eq!(b.run(search("de:bruno")).await.body.as_array().unwrap().len(), 0);
    let (_, carla) = account(&s, "carla.roy", Some("+33700000002")).await;
    let c = Browser::new(&s);
    sign_in(&s, &c, &carla, 3).await;
    assert_eq!(c.run(search("glycémie")).await.body.as_array().unwrap().len(), 0);

    // Attachments download only for their holder, as downloads that nothing renders.
    let raw = format!(
        "From: Labo <r@labo.mssante.fr>\r\nTo: {bruno}\r\nSubject: Bilan PDF\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCi-joint.\r\n\
         --b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"résultat <1>.html\"\r\n\r\n\
         <script>alert(1)</script>\r\n--b--\r\n"
    );
    let bruno_id = hygie_core::accounts::find_by_address(s.db(), &bruno).await.unwrap().unwrap().id;
    let imported = hygie_core::mail::Imported { raw: raw.into_bytes(), date_ms: None, unread: true };
    hygie_core::mail::import_batch(s.db(), &s.clock, bruno_id, "inbox", &[imported]).await.unwrap();
    let found = b.run(search("objet:PDF")).await.body;
    let pdf_id = found[0]["id"].as_i64().unwrap();
    let url = format!("{}/messagerie/pj/{pdf_id}/0", s.base);
    let res = b.c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream", "an HTML attachment is never served as HTML");
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"r_sultat__1_.html\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''r%C3%A9sultat%20%3C1%3E.html"), "{disposition}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(res.text().await.unwrap().trim_end(), "<script>alert(1)</script>");
    assert_eq!(a.c.get(&url).send().await.unwrap().status(), 404, "not another account's");
    assert_eq!(anon.c.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(b.c.get(format!("{}/messagerie/pj/{pdf_id}/1", s.base)).send().await.unwrap().status(), 404);

    assert_logged(
        &s,
        &[
            "mail.send success",
            "mail.send failure:outside_trust_space",
            "mail.open success",
            "mail.open denied:not_found",
            "mail.download success",
            "mail.download denied:not_found",
        ],
    )
    .await;
    let dump = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!dump.contains("Glycémie") && !dump.contains("Dœuf"), "no content in the audit trail");
    s.stop().await;
}

/// Secure mail to another operator of the trust space leaves through the real SMTP sink: the
/// sender sees "sent" at once; a recipient the other server refuses comes back as a delivery
/// failure notice in the sender's Inbox; a greylisting server is retried after the backoff.
async fn mail_to_other_operators_is_queued_retried_and_bounced(engine: Engine) {
    let s = TestServer::start(engine).await;
    hygie_core::trust_space::replace(s.db(), &s.clock, &["labo.mssante.fr".to_string()]).await.unwrap();
    let (_, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let a = Browser::new(&s);
    sign_in(&s, &a, &alice, 1).await;
    let before = s.smtp.messages().len();

    let to = "dr.martin@labo.mssante.fr, inconnu@labo.mssante.fr";
    let mut input = compose(to, "Compte rendu opératoire", "Intervention sans complication.");
    input.bcc = "greylist@labo.mssante.fr".into();
    let sent = a.run(MailSend { input }).await;
    assert_eq!(sent.status, 200, "{engine:?}: {:?}", sent.body);
    let sent_id = sent.body.as_i64().unwrap();

    // Dr Martin's server got the message, as one SMTP transaction for him alone.
    let got = s.smtp.wait_for(before + 1).await;
    let text = String::from_utf8_lossy(&got[before]).to_string();
    assert!(text.contains("X-Envelope-To: dr.martin@labo.mssante.fr\r\n"), "{text}");
    assert!(text.contains(&format!("X-Envelope-From: {alice}")), "envelope from the sender");
    let parsed = hygie_core::mail::summarise(&got[before]).unwrap();
    assert_eq!(parsed.subject, "Compte rendu opératoire");
    assert_eq!(parsed.body_text.trim_end(), "Intervention sans complication.");
    assert!(!text.contains("greylist@"), "Bcc is not in the message");

    // The unknown mailbox comes back to Alice, in her Inbox.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let report = loop {
        let inbox = a.run(list("inbox")).await.body;
        if inbox["total"] == 1 {
            break inbox["items"][0].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no delivery failure notice: {inbox}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(report["subject"], "Non remis / Undelivered: Compte rendu opératoire");
    let opened = a.run(MailOpen { id: report["id"].as_i64().unwrap() }).await.body;
    let body = opened["body"].as_str().unwrap();
    assert!(body.contains("inconnu@labo.mssante.fr") && body.contains("550"), "{body}");
    assert!(!body.contains("Intervention"), "the notice does not repeat the message");

    // The greylisted recipient is retried once the backoff has passed, then delivered.
    let mine = a.run(MailOpen { id: sent_id }).await.body;
    let status = |v: &serde_json::Value, who: &str| {
        v["deliveries"].as_array().unwrap().iter().find(|d| d["recipient"] == who).unwrap()["status"].clone()
    };
    assert_eq!(status(&mine, "dr.martin@labo.mssante.fr"), "sent");
    assert_eq!(status(&mine, "inconnu@labo.mssante.fr"), "failed");
    assert_eq!(status(&mine, "greylist@labo.mssante.fr"), "pending");
    s.clock.advance_ms(10_000);
    let got = s.smtp.wait_for(before + 2).await;
    assert!(String::from_utf8_lossy(&got[before + 1]).contains("X-Envelope-To: greylist@labo.mssante.fr\r\n"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(&a.run(MailOpen { id: sent_id }).await.body, "greylist@labo.mssante.fr") != "sent" {
        assert!(std::time::Instant::now() < deadline, "greylisted delivery not recorded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    assert_logged(
        &s,
        &["mail.send success", "outbox.sent.mail.remote success", "outbox.failed.mail.remote failure:smtp"],
    )
    .await;
    let dump = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!dump.contains("Intervention") && !dump.contains("opératoire"), "no content in the audit trail");
    // Bodies leave the queue once delivered or given up on: the message stays as Alice's Sent copy.
    let bodies: i64 = match s.db().pool() {
        hygie_core::store::Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'pending' AND body IS NOT NULL")
                .fetch_one(p)
                .await
                .unwrap()
        }
        hygie_core::store::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'pending' AND body IS NOT NULL")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(bodies, 0);
    s.stop().await;
}

/// Files go up from the composer, leave with the message, are forwarded along; the per-message
/// limit and the quota are explained, and nobody can use or remove another account's files.
async fn attachments_upload_send_forward_within_limits(engine: Engine) {
    let s = TestServer::start_with(engine, |c| {
        c.mailbox.max_message_mb = 1;
        c.mailbox.quota_mb = 2;
    })
    .await;
    let [(_, a), (bruno, b), (carla, c)] = holders(&s).await;

    let anon = Browser::new(&s);
    assert_eq!(anon.upload("x.pdf", "application/pdf", b"x".to_vec()).await.status, 401);

    let pdf: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let up = a.upload("Échographie rénale.pdf", "application/pdf", pdf.clone()).await;
    assert_eq!(up.status, 200, "{engine:?}: {:?}", up.body);
    assert_eq!(up.body["name"], "Échographie rénale.pdf");
    assert_eq!(up.body["size"], 300_000);
    let up_id = up.body["id"].as_i64().unwrap();
    let usage = a.run(MailUsageGet {}).await.body;
    assert_eq!((usage["used_bytes"].as_i64(), usage["quota_bytes"].as_i64()), (Some(300_000), Some(2 << 20)));
    assert_eq!(usage["max_message_bytes"], 1 << 20);

    // Over the per-message limit: refused before it is stored, with the limit.
    let big = a.upload("scanner.dcm", "application/dicom", vec![0; (1 << 20) + 1]).await;
    assert_eq!((big.status, big.body.clone()), (413, json!({"TooLarge": {"max_mb": 1}})));

    // Another account can neither send nor remove Alice's upload.
    let theft = ComposeInput { attachments: vec![up_id], ..compose(&carla, "x", "") };
    let r = b.run(MailSend { input: theft }).await;
    assert_eq!((r.status, r.body["Invalid"][0]["field"].clone()), (422, json!("attachments")));
    assert_eq!(b.run(MailUploadDelete { id: up_id }).await.status, 404);

    // Sent with the message: Bruno downloads the same bytes.
    let input = ComposeInput { attachments: vec![up_id], ..compose(&bruno, "Écho", "Ci-joint l'échographie.") };
    let sent = a.run(MailSend { input: input.clone() }).await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let line = b.run(list("inbox")).await.body["items"][0].clone();
    assert_eq!(line["has_attachments"], true);
    let bruno_copy = line["id"].as_i64().unwrap();
    let opened = b.run(MailOpen { id: bruno_copy }).await.body;
    assert_eq!(opened["attachments"], json!(["Échographie rénale.pdf"]));
    let file = b.c.get(format!("{}/messagerie/pj/{bruno_copy}/0", s.base)).send().await.unwrap();
    assert_eq!(file.bytes().await.unwrap().to_vec(), pdf);
    // The upload left with the message: it cannot be sent twice.
    let again = a.run(MailSend { input }).await;
    assert_eq!(again.body["Invalid"][0]["field"], "attachments");

    // Bruno forwards it to Carla with its attachment; he cannot forward Alice's copy.
    let fwd =
        ComposeInput { forward_from: bruno_copy, forward_parts: vec![0], ..compose(&carla, "TR: Écho", "Pour avis.") };
    let r = b.run(MailSend { input: fwd }).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let carla_line = c.run(list("inbox")).await.body["items"][0].clone();
    let carla_id = carla_line["id"].as_i64().unwrap();
    let file = c.c.get(format!("{}/messagerie/pj/{carla_id}/0", s.base)).send().await.unwrap();
    assert_eq!(file.bytes().await.unwrap().to_vec(), pdf, "forwarded byte for byte");
    let alice_sent = sent.body.as_i64().unwrap();
    let stolen = ComposeInput { forward_from: alice_sent, forward_parts: vec![0], ..compose(&carla, "x", "") };
    let stolen = b.run(MailSend { input: stolen }).await;
    assert_eq!(stolen.status, 404);

    // Alice's quota (2 MB): her Sent copy counts; uploads stop at the quota.
    let mut last = 200;
    for n in 0..8 {
        let r = a.upload(&format!("part{n}.bin"), "application/octet-stream", vec![1; 400_000]).await;
        last = r.status;
        if r.status != 200 {
            assert_eq!(r.body, json!({"QuotaExceeded": {"quota_mb": 2}}));
            break;
        }
    }
    assert_eq!(last, 507, "the quota stops uploads");

    assert_logged(
        &s,
        &[
            "mail.upload success",
            "mail.upload denied:too_large",
            "mail.upload denied:quota",
            "mail.send failure:unknown_upload",
            "mail.upload_delete denied:not_found",
            "mail.send denied:not_found",
        ],
    )
    .await;
    let dump = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!dump.contains("chographie"), "no file name in the audit trail");
    s.stop().await;
}

/// One's own folders belong to oneself: another account's folder is not found by any endpoint.
async fn own_folders_are_scoped_to_their_holder(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(_, a), (bruno, b)] = holders(&s).await;
    let created = b.run(MailFolderCreate { name: "Patients".into(), parent: 0 }).await;
    assert_eq!(created.status, 200, "{engine:?}: {:?}", created.body);
    let id = created.body.as_i64().unwrap();
    let key = format!("d{id}");
    let dup = b.run(MailFolderCreate { name: "PATIENTS".into(), parent: 0 }).await;
    assert_eq!((dup.status, dup.body["Invalid"][0]["problem"].clone()), (422, json!("FolderExists")));
    let sent: i64 = a.run(MailSend { input: compose(&bruno, "Dossier", "x") }).await.ok();
    let line = b.run(list("inbox")).await.body["items"][0]["id"].clone();
    let mine = line.as_i64().unwrap();
    let action = format!("move:{key}");

    // Alice cannot see, list, rename, delete or fill Bruno's folder.
    assert_eq!(a.run(list(&key)).await.status, 404);
    assert_eq!(a.run(MailFolderRename { id, name: "x".into() }).await.status, 404);
    assert_eq!(a.run(MailFolderDelete { id }).await.status, 404);
    assert_eq!(a.run(act(&action, &[sent])).await.body, json!(0));
    assert!(a.run(MailFolders {}).await.body.as_array().unwrap().iter().all(|f| f["key"] != key.as_str()));
    // Nor choose to see images on the strength of Bruno's message.
    assert_eq!(a.run(MailAllowImages { id: mine }).await.status, 404);
    assert_eq!(b.run(MailAllowImages { id: mine }).await.status, 200);
    // Bruno can.
    assert_eq!(b.run(act(&action, &[mine])).await.body, json!(1));
    let page = b.run(list(&key)).await.body;
    assert_eq!((page["total"].clone(), page["name"].clone()), (json!(1), json!("Patients")));
    assert_eq!(b.run(MailFolderRename { id, name: "Suivis".into() }).await.status, 200);
    assert_eq!(b.run(MailFolderDelete { id }).await.body, json!(1));
    assert_eq!(b.run(list("trash")).await.body["total"], 1);

    assert_logged(
        &s,
        &[
            "mail.folder_create success",
            "mail.folder_create failure:invalid",
            "mail.folder_rename denied:not_found",
            "mail.folder_delete denied:not_found",
            "mail.folder_rename success",
            "mail.folder_delete success",
            "mail.images_allow denied:not_found",
            "mail.images_allow success",
        ],
    )
    .await;
    s.stop().await;
}

/// PNG width and height from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG image");
    (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()))
}

/// A PDF attachment is previewed as images drawn by the confined `hygie pdf-page`: only for the
/// message's holder, only for files that are PDFs by their content, with every page request in
/// the trail.
async fn pdf_attachments_preview_as_images_for_their_holder_only(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(_, a), (bruno, b), (_, c)] = holders(&s).await;

    let long_page = String::from_utf8(hygie_server::pdf::sample(1))
        .unwrap()
        .replace("/MediaBox [0 0 595 842]", "/MediaBox [0 0 595 84200]");
    let files: Vec<(&str, &str, Vec<u8>)> = vec![
        ("compte-rendu.pdf", "application/pdf", hygie_server::pdf::sample(3)),
        ("faux.pdf", "application/pdf", b"<html><script>alert(1)</script></html>".to_vec()),
        ("abime.pdf", "application/pdf", b"%PDF-1.4\nplus rien de lisible".to_vec()),
        // The content decides, not the declared type or the name.
        ("lettre.txt", "text/plain", hygie_server::pdf::sample(1)),
        ("rouleau.pdf", "application/pdf", long_page.into_bytes()),
    ];
    let mut input = compose(&bruno, "Résultats", "Ci-joint.");
    for (name, kind, bytes) in &files {
        let up = a.upload(name, kind, bytes.clone()).await;
        assert_eq!(up.status, 200, "{engine:?}: {:?}", up.body);
        input.attachments.push(up.body["id"].as_i64().unwrap());
    }
    assert_eq!(a.run(MailSend { input }).await.status, 200);
    let line = b.run(list("inbox")).await.body["items"][0].clone();
    let id = line["id"].as_i64().unwrap();
    let opened = b.run(MailOpen { id }).await.body;
    assert_eq!(opened["attachment_pdf"], json!([true, false, true, true, true]));

    async fn preview_of(who: &Browser, id: i64, index: u32) -> Answer {
        who.run(MailPdfPreview { id, index, doc: None }).await
    }
    let preview = |who, index| preview_of(who, id, index);
    let r = preview(&b, 0).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"pages": 3, "shown": 3})), "{engine:?}");
    assert_eq!(preview(&b, 1).await.status, 404, "not a PDF by its content");
    assert_eq!(preview(&b, 2).await.body, json!({"pages": 0, "shown": 0}), "unreadable: nothing to show");
    assert_eq!(preview(&b, 3).await.body, json!({"pages": 1, "shown": 1}));
    assert_eq!(preview(&c, 0).await.status, 404, "another account's message");
    assert_eq!(preview(&Browser::new(&s), 0).await.status, 401);

    let page = |who: &Browser, path: String| {
        let url = format!("{}/messagerie/pj/{id}/{path}", s.base);
        let client = who.c.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let res = page(&b, "0/apercu/2?largeur=600".into()).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(h["cache-control"], "private, no-store");
    let (w, height) = png_size(&res.bytes().await.unwrap());
    assert_eq!(w, 600);
    assert!((848..=850).contains(&height), "A4 proportions: {height}");
    let sharp = page(&b, "0/apercu/1?largeur=1200".into()).await.bytes().await.unwrap();
    assert_eq!(png_size(&sharp).0, 1200);
    // Widths are the two the previewer draws at.
    let odd = page(&b, "0/apercu/1?largeur=100000".into()).await.bytes().await.unwrap();
    assert_eq!(png_size(&odd).0, 1200);
    // A page that claims to be 30 metres long is drawn at most 6,000 pixels tall.
    let tall = page(&b, "4/apercu/1".into()).await;
    assert_eq!(tall.status(), 200);
    let (tw, th) = png_size(&tall.bytes().await.unwrap());
    assert_eq!((tw, th), (42, 6000));

    assert_eq!(page(&b, "0/apercu/4".into()).await.status(), 404, "past the last page");
    assert_eq!(page(&b, "0/apercu/0".into()).await.status(), 404);
    assert_eq!(page(&b, "1/apercu/1".into()).await.status(), 404, "not a PDF");
    let broken = page(&b, "2/apercu/1".into()).await;
    assert_eq!(broken.status(), 422);
    assert!(broken.text().await.unwrap().contains("téléchargez-le"));
    assert_eq!(page(&c, "0/apercu/1".into()).await.status(), 404, "another account's message");
    assert_eq!(page(&Browser::new(&s), "0/apercu/1".into()).await.status(), 401);
    // The server is still whole after the broken file.
    assert_eq!(page(&b, "3/apercu/1".into()).await.status(), 200);

    assert_logged(
        &s,
        &[
            "mail.preview success",
            "mail.preview denied:not_found",
            "mail.preview failure:unreadable",
            "mail.preview_page success",
            "mail.preview_page denied:no_page",
            "mail.preview_page denied:not_found",
            "mail.preview_page failure:unreadable",
        ],
    )
    .await;
    s.stop().await;
}

/// Lists fold each conversation into one line (the holder can turn it off); acting on the
/// line's messages moves the whole conversation.
async fn conversations_fold_into_one_line(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(alice, a), (bruno, b)] = holders(&s).await;

    assert_eq!(a.run(MailSend { input: compose(&bruno, "Suivi", "Premier.") }).await.status, 200);
    async fn inbox(who: &Browser) -> serde_json::Value {
        who.run(list("inbox")).await.body
    }
    let first = inbox(&b).await["items"][0].clone();
    let opened = b.run(MailOpen { id: first["id"].as_i64().unwrap() }).await.body;
    let msg_id = opened["message_id"].as_str().unwrap().to_string();
    // Bruno answers; Alice writes again in the same conversation.
    let in_thread = |to: &str, body: &str| ComposeInput {
        in_reply_to: msg_id.clone(),
        references: msg_id.clone(),
        ..compose(to, "RE: Suivi", body)
    };
    assert_eq!(b.run(MailSend { input: in_thread(&alice, "Réponse.") }).await.status, 200);
    assert_eq!(a.run(MailSend { input: in_thread(&bruno, "Encore.") }).await.status, 200);
    assert_eq!(a.run(MailSend { input: compose(&bruno, "Autre", "Seul.") }).await.status, 200);

    let page = inbox(&b).await;
    assert_eq!((page["folded"].clone(), page["total"].clone()), (json!(true), json!(2)), "{engine:?}: {page}");
    let line = page["items"][1].clone();
    assert_eq!(line["subject"], "RE: Suivi");
    assert_eq!(line["ids"].as_array().unwrap().len(), 2, "both of Alice's messages in Bruno's inbox");
    assert_eq!(line["thread_count"], 3, "with Bruno's reply in Sent");
    assert_eq!(line["unread"], true);
    assert_eq!(line["open"], line["ids"][0], "the unread one");

    // Archiving the line's messages takes the whole conversation out of the inbox.
    let ids: Vec<i64> = line["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(b.run(act("archive", &ids)).await.body, json!(2));
    assert_eq!(inbox(&b).await["total"], 1);

    // Turned off, every message has its line again.
    assert_eq!(b.run(MailSetFolding { fold: false }).await.status, 200);
    let page = b.run(list("archive")).await.body;
    assert_eq!((page["folded"].clone(), page["total"].clone()), (json!(false), json!(2)));
    // Alice's lists keep her own choice.
    assert_eq!(a.run(list("sent")).await.body["folded"], true);
    assert!(actions(&s).await.iter().any(|x| x == "mail.folding success"));
    s.stop().await;
}

async fn drafts_total(who: &Browser) -> serde_json::Value {
    who.run(list("drafts")).await.body["total"].clone()
}

/// Saves a draft to `to` with `body`, over the draft `draft_id` (0: a new one).
async fn save(who: &Browser, to: &str, body: &str, draft_id: i64) -> Answer {
    who.run(MailSaveDraft { input: ComposeInput { draft_id, ..compose(to, "Compte rendu", body) } }).await
}

async fn a_draft_thrown_away_or_sent_stays_gone(engine: Engine) {
    let s = TestServer::start(engine).await;
    let [(_, a), (bruno, b)] = holders(&s).await;
    // Created once, then saved in place.
    let first = save(&a, &bruno, "Patient vu ce matin", 0).await;
    assert_eq!(first.status, 200, "{engine:?} {:?}", first.body);
    let id = first.body["id"].as_i64().unwrap();
    assert_eq!(save(&a, &bruno, "Patient vu ce matin, revoir", id).await.body["id"], id);
    assert_eq!(drafts_total(&a).await, 1);

    // Thrown away (to the Trash); a save that arrives late does not bring it back.
    assert_eq!(a.run(act("trash", &[id])).await.body, json!(1));
    let late = save(&a, &bruno, "Patient vu ce matin, revoir jeudi", id).await;
    assert_eq!((late.status, late.body), (409, json!("DraftGone")));
    assert_eq!(drafts_total(&a).await, 0);
    assert_eq!(a.run(list("trash")).await.body["total"], 1);

    // Another holder's save on that id learns nothing and writes nothing.
    let theirs = save(&b, &bruno, "volé", id).await;
    assert_eq!((theirs.status, theirs.body), (409, json!("DraftGone")));
    assert_eq!(drafts_total(&b).await, 0);

    // The composer then saves the text as a new draft, which sending takes away for good.
    let again = save(&a, &bruno, "Patient vu ce matin, revoir jeudi", 0).await.body["id"].as_i64().unwrap();
    assert_ne!(again, id);
    let input =
        ComposeInput { draft_id: again, ..compose(&bruno, "Compte rendu", "Patient vu ce matin, revoir jeudi") };
    assert_eq!(a.run(MailSend { input }).await.status, 200);
    assert_eq!(save(&a, &bruno, "trop tard", again).await.status, 409);
    assert_eq!(drafts_total(&a).await, 0);
    assert_eq!(b.run(list("inbox")).await.body["total"], 1);

    assert_logged(
        &s,
        &[
            "mail.draft_create success",
            "mail.draft_save success",
            "mail.draft_save failure:draft_gone",
            "mail.send success",
        ],
    )
    .await;
}

/// The PDF renderer's confinement, tried by its probe mode: the test process itself reads the
/// file and reaches the listener; the confined child does neither, and still draws pages.
#[tokio::test]
async fn the_pdf_renderer_reaches_neither_the_network_nor_the_data_directory() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hygie"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hygie.db");
    std::fs::write(&db, b"donnees de sante").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    // Unconfined, both are within reach.
    assert_eq!(std::fs::read(&db).unwrap(), b"donnees de sante");
    drop(std::net::TcpStream::connect(addr).unwrap());
    assert!(listener.accept().is_ok());

    let out = std::process::Command::new(bin)
        .arg("pdf-probe")
        .arg("--file")
        .arg(&db)
        .arg("--connect")
        .arg(addr.to_string())
        .env_clear()
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "network: blocked\nfiles: blocked\n");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached the listener"
    );
    // What the server checks and logs at start-up says the same.
    let report = hygie_server::pdf::probe(bin, dir.path()).await.unwrap();
    assert_eq!(report, hygie_server::pdf::ProbeReport { network_blocked: true, files_blocked: true });
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the probe's file is removed");
    // Confined, the renderer still draws.
    let previewer = hygie_core::mail::preview::Previewer::new(bin.to_path_buf(), 1);
    let drawn = previewer.page(&hygie_server::pdf::sample(2), 2, 600).await.unwrap();
    assert_eq!(drawn.count, 2);
    assert_eq!(&drawn.png[..8], b"\x89PNG\r\n\x1a\n");
}

/// Waits (the server's worker polls every second) until `b`'s Inbox holds `n` messages.
async fn inbox_reaches(b: &Browser, n: i64) {
    for _ in 0..100 {
        if b.run(list("inbox")).await.body["total"] == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the inbox never held {n} messages");
}

/// "Envoyer" with the undo delay (10 s by default) waits; "Annuler" brings the draft back and
/// nothing leaves; left alone, it leaves once at the end of the delay through the server's worker.
/// A message scheduled in Paris time is listed with that time, can move, be taken back; a past
/// time is refused with a clear error. Another holder sees and touches none of it.
async fn undo_send_and_scheduled_send_go_through_the_queue(engine: Engine) {
    use hygie_core::clock::Clock;
    use hygie_core::mail::schedule::paris;
    let s = TestServer::start(engine).await;
    let [(_, a), (bruno, b)] = holders(&s).await;
    assert_eq!(a.run(MailUndoDelay {}).await.ok::<i64>(), 10);
    // A refused recipient is said at once, not at the end of the delay.
    let r = a.run(MailSendUndoable { input: compose("quelqu.un@gmail.com", "Bilan", "x") }).await;
    assert_eq!(
        (r.status, r.body),
        (422, json!({"RecipientRefused": {"address": "quelqu.un@gmail.com", "reason": "outside"}}))
    );
    assert_eq!(a.run(list("drafts")).await.body["total"], 0, "nothing kept");

    // Sent with the delay, then taken back: a draft again, nothing in Bruno's Inbox.
    let out: SendOutcome =
        a.run(MailSendUndoable { input: compose(&bruno, "Bilan sanguin", "Ferritine basse.") }).await.ok();
    assert_eq!((out.sent_id, out.delay_secs), (None, 10));
    let id = out.scheduled_id.unwrap();
    let theirs = b.run(MailUnschedule { id }).await;
    assert_eq!((theirs.status, theirs.body), (404, json!("NotFound")), "not another holder's to take back");
    assert!(b.run(MailScheduled {}).await.ok::<Vec<ScheduledLine>>().is_empty());
    assert_eq!(a.run(MailScheduled {}).await.ok::<Vec<ScheduledLine>>().len(), 1);
    assert_eq!(a.run(list("drafts")).await.body["total"], 0, "waiting to leave: not in Drafts");
    a.run(MailUnschedule { id }).await.ok::<()>();
    let drafts = a.run(list("drafts")).await.body;
    assert_eq!((drafts["total"].clone(), drafts["items"][0]["id"].clone()), (json!(1), json!(id)));
    s.clock.advance_ms(15_000);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(b.run(list("inbox")).await.body["total"], 0, "taken back: nothing left");

    // Sent again from that draft and left alone: it leaves at the end of the delay, once.
    let mut again = compose(&bruno, "Bilan sanguin", "Ferritine basse.");
    again.draft_id = id;
    again.forward_from = id;
    let out: SendOutcome = a.run(MailSendUndoable { input: again }).await.ok();
    assert_eq!(out.scheduled_id, Some(id));
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(b.run(list("inbox")).await.body["total"], 0, "not before its time");
    s.clock.advance_ms(10_000);
    inbox_reaches(&b, 1).await;
    assert_eq!(a.run(list("sent")).await.body["total"], 1);
    assert_eq!(a.run(list("drafts")).await.body["total"], 0);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(b.run(list("inbox")).await.body["total"], 1, "once");

    // Delay 0: at once. 31 s: refused.
    assert_eq!(a.run(MailSetUndoDelay { secs: 31 }).await.status, 422);
    a.run(MailSetUndoDelay { secs: 0 }).await.ok::<()>();
    let out: SendOutcome = a.run(MailSendUndoable { input: compose(&bruno, "Vu", "Merci.") }).await.ok();
    assert!(out.sent_id.is_some() && out.scheduled_id.is_none());
    assert_eq!(b.run(list("inbox")).await.body["total"], 2);

    // Scheduled in Paris time, two days from now.
    let at = s.clock.now_ms() + 2 * 86_400_000;
    let (date, time) = paris::parts(at);
    let past = paris::parts(s.clock.now_ms() - 3_600_000);
    let refused = a
        .run(MailSchedule { input: compose(&bruno, "Rappel", "Vaccin."), date: past.0.clone(), time: past.1.clone() })
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body, json!({"Invalid": [{"field": "send_at", "problem": "PastTime"}]}));
    let bad = a
        .run(MailSchedule {
            input: compose(&bruno, "Rappel", "Vaccin."),
            date: "2026-02-30".into(),
            time: "10:00".into(),
        })
        .await;
    assert_eq!(bad.body, json!({"Invalid": [{"field": "send_at", "problem": "DateTime"}]}));
    let id: i64 = a
        .run(MailSchedule { input: compose(&bruno, "Rappel", "Vaccin."), date: date.clone(), time: time.clone() })
        .await
        .ok();
    let lines: Vec<ScheduledLine> = a.run(MailScheduled {}).await.ok();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].id, lines[0].subject.as_str(), lines[0].to.as_str()), (id, "Rappel", bruno.as_str()));
    assert_eq!((lines[0].date.as_str(), lines[0].time.as_str()), (date.as_str(), time.as_str()));
    assert_eq!(lines[0].when, paris::format(paris::to_ms(&date, &time).unwrap()));
    // Not Bruno's to see, move or take back.
    assert!(b.run(MailScheduled {}).await.ok::<Vec<ScheduledLine>>().is_empty());
    let r = b.run(MailReschedule { id, date: date.clone(), time: "23:59".into() }).await;
    assert_eq!((r.status, r.body), (404, json!("NotFound")));
    assert_eq!(b.run(MailUnschedule { id }).await.status, 404);
    // Moved a day later; then taken back into Drafts.
    let later = paris::parts(at + 86_400_000);
    a.run(MailReschedule { id, date: later.0.clone(), time: later.1.clone() }).await.ok::<()>();
    assert_eq!(a.run(MailScheduled {}).await.ok::<Vec<ScheduledLine>>()[0].date, later.0);
    let r = a.run(MailReschedule { id, date: past.0.clone(), time: past.1.clone() }).await;
    assert_eq!(r.body, json!({"Invalid": [{"field": "send_at", "problem": "PastTime"}]}));
    a.run(MailUnschedule { id }).await.ok::<()>();
    assert!(a.run(MailScheduled {}).await.ok::<Vec<ScheduledLine>>().is_empty());
    assert_eq!(a.run(list("drafts")).await.body["total"], 1);
    // The hidden folder is not one of the list's.
    let folders = a.run(MailFolders {}).await.body;
    assert!(folders.as_array().unwrap().iter().all(|f| f["role"] != "scheduled"));
    assert_eq!(b.run(list("inbox")).await.body["total"], 2);

    assert_logged(
        &s,
        &[
            "mail.schedule success",
            "mail.schedule_cancel success",
            "mail.schedule_cancel denied:not_found",
            "mail.reschedule success",
            "mail.reschedule denied:not_found",
            "mail.reschedule failure:past",
            "mail.undo_delay success",
            "mail.send success",
        ],
    )
    .await;
    s.stop().await;
}
