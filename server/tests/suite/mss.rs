//! MSSanté message rules on a real server, on each database engine: a health-document message
//! from another operator (subject `XDM/1.0/DDM+…`, `X-MSS-*` headers, `IHE_XDM.zip`) delivered
//! by the inbound verb, then read through the webmail's server functions: the subject without
//! its prefix and marked, the patient, the package's documents (downloadable, previewed as
//! images); a hostile package refused with its reason; the headers a message sent from here
//! carries.

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{MailList, MailOpen, MailPdfPreview, MailSend, MessageLine, MessageView};
use app::domain::compose::ComposeInput;
use hygie_core::mail::delivery::{Channel, Envelope};
use hygie_core::mail::mss::testing;
use serde_json::json;

on_each_engine!(an_xdm_message_shows_its_patient_and_documents);

const RADIO: &str = "dr.martin@radio.mssante.fr";

/// Delivers `raw` from the radiology practice to `to`, as its operator's server would.
async fn deliver(s: &TestServer, to: &str, raw: &[u8]) {
    let env = Envelope {
        channel: Channel::Smtp,
        peer_ip: "127.0.0.1".into(),
        helo: "mx.radio.mssante.fr".into(),
        tls: true,
        mail_from: RADIO.into(),
        recipients: vec![to.to_string()],
        checked: Default::default(),
    };
    let inbound = &s.running.as_ref().unwrap().inbound;
    inbound.deliver(&env, raw).await.expect("delivered");
}

async fn an_xdm_message_shows_its_patient_and_documents(engine: Engine) {
    let s = TestServer::start(engine).await;
    hygie_core::trust_space::replace(s.db(), &s.clock, &["radio.mssante.fr".to_string()]).await.unwrap();
    let (_, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (_, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    let (a, b) = (Browser::new(&s), Browser::new(&s));
    sign_in(&s, &a, &alice, 1).await;
    sign_in(&s, &b, &bruno, 2).await;

    deliver(&s, &alice, &testing::message(RADIO, &alice, "xdm-1@radio.mssante.fr")).await;

    // The list: the subject without its prefix, marked as a health document.
    let page = a.run(MailList { folder: "inbox".into(), page: 0 }).await;
    let items: Vec<MessageLine> = serde_json::from_value(page.body["items"].clone()).unwrap();
    assert_eq!(items.len(), 1, "{engine:?}");
    assert_eq!(items[0].subject, "CR d'imagerie DUPONT Jeanne 12/03/1961");
    assert!(items[0].health_document);
    let id = items[0].id;

    // The message: its patient and its documents, typed as the page gets them.
    let m: MessageView = a.run(MailOpen { id }).await.ok();
    assert_eq!(m.subject, "CR d'imagerie DUPONT Jeanne 12/03/1961");
    assert!(m.health_document);
    assert_eq!(m.ins_qualified, Some(true));
    let p = m.patient.as_ref().expect("a patient");
    assert_eq!((p.id.as_str(), p.id_kind.as_str()), (testing::INS, "ins"));
    assert_eq!((p.family.as_str(), p.given.as_str()), ("DUPONT", "Jeanne"));
    assert_eq!((p.birth_date.as_str(), p.gender.as_str()), ("1961-03-12", "F"));
    let x = m.xdm.as_ref().expect("an XDM package");
    assert_eq!(m.attachments[x.attachment], "IHE_XDM.zip");
    assert_eq!((x.error.as_deref(), x.several_patients), (None, false));
    assert_eq!(x.documents.len(), 1);
    let d = &x.documents[0];
    assert_eq!(d.title, "Compte rendu d'imagerie");
    assert_eq!(d.kind, "CR d'imagerie médicale");
    assert_eq!((d.author.as_str(), d.institution.as_str()), ("Dr Paul MARTIN", "Centre d'imagerie du Parc"));
    assert_eq!(d.patient, "DUPONT Jeanne");
    assert_eq!(d.date, "2026-10-05T10:15:00Z");
    assert_eq!((d.file_name.as_str(), d.check.as_str(), d.has_pdf), ("DOC0001.XML", "verified", true));

    // The document downloads like an attachment; its embedded PDF is previewed as images.
    let index = x.attachment;
    let get = |who: &Browser, path: String| {
        let url = format!("{}/messagerie/pj/{id}/{index}/xdm/{path}", s.base);
        let client = who.c.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let res = get(&a, "0".into()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.headers()["content-security-policy"], "default-src 'none'; sandbox");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"DOC0001.XML\""));
    assert_eq!(res.bytes().await.unwrap().to_vec(), testing::cda(&testing::pdf()));
    let pdf = get(&a, "0/pdf".into()).await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.bytes().await.unwrap().to_vec(), testing::pdf());
    let preview = a.run(MailPdfPreview { id, index: index as u32, doc: Some(0) }).await;
    assert_eq!((preview.status, preview.body), (200, json!({"pages": 1, "shown": 1})), "{engine:?}");
    let png = get(&a, "0/apercu/1?largeur=600".into()).await;
    assert_eq!((png.status().as_u16(), png.headers()["content-type"].to_str().unwrap()), (200, "image/png"));
    assert_eq!(get(&a, "1".into()).await.status(), 404, "no second document");
    assert_eq!(a.run(MailPdfPreview { id, index: 0, doc: Some(0) }).await.status, 404, "the PDF is not a package");
    // Another holder gets nothing of it.
    assert_eq!(b.run(MailOpen { id }).await.status, 404);
    assert_eq!(get(&b, "0".into()).await.status(), 404);
    assert_eq!(get(&b, "0/apercu/1".into()).await.status(), 404);
    assert_eq!(b.run(MailPdfPreview { id, index: index as u32, doc: Some(0) }).await.status, 404);
    let log = actions(&s).await;
    for e in
        ["mail.download success", "mail.download denied:not_found", "mail.preview success", "mail.preview_page success"]
    {
        assert!(log.iter().any(|a| a == e), "{e} missing from {log:?}");
    }
    // The trail keeps ids, never the patient.
    let trail = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!trail.contains(testing::INS) && !trail.contains("DUPONT"), "no patient in the trail");

    // A hostile package (a zip bomb) is refused with its reason; the message still reads.
    let zeros = vec![0u8; 20 * 1024 * 1024];
    let bomb = testing::zip(&[
        ("IHE_XDM/SUBSET01/METADATA.XML", b"<SubmitObjectsRequest/>"),
        ("IHE_XDM/SUBSET01/X.BIN", &zeros),
    ]);
    deliver(&s, &alice, &testing::message_with(RADIO, &alice, "xdm-2@radio.mssante.fr", &bomb)).await;
    let page = a.run(MailList { folder: "inbox".into(), page: 0 }).await;
    let newest = page.body["items"][0]["id"].as_i64().unwrap();
    assert_ne!(newest, id);
    let m: MessageView = a.run(MailOpen { id: newest }).await.ok();
    let x = m.xdm.expect("the package is named");
    assert_eq!((x.error.as_deref(), x.documents.len()), (Some("ratio"), 0));
    assert!(m.patient.is_none());
    assert_eq!(get(&a, "0".into()).await.status(), 200, "the first message's document still downloads");

    // Forwarded from here with its package: the copy carries the headers an MSSanté client sets.
    let input = ComposeInput {
        to: bruno.clone(),
        subject: format!("TR: {}", items[0].subject),
        body: "Pour avis.".into(),
        forward_from: id,
        forward_parts: vec![0, 1],
        ..Default::default()
    };
    assert_eq!(a.run(MailSend { input }).await.status, 200);
    let got = b.run(MailList { folder: "inbox".into(), page: 0 }).await.body["items"][0]["id"].as_i64().unwrap();
    let m: MessageView = b.run(MailOpen { id: got }).await.ok();
    assert_eq!(m.ins_qualified, Some(true), "X-MSS-INS: O");
    assert_eq!(m.patient.map(|p| p.id).as_deref(), Some(testing::INS));
    let raw: Vec<u8> = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
        .bind(got).fetch_one(p).await.unwrap());
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("X-MSS-NIL: "), "{engine:?}");
    assert!(text.contains("X-MSS-CODECDA: 18748-4"));
    assert!(text.contains("X-MSS-INS: O"));
    s.stop().await;
}
