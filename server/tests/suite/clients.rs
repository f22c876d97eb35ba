//! Software that reaches a mailbox without a browser session: the OAuth device grant approved
//! on the web, then the Web Services API with the bearer token, called by `curl` as a business
//! software's script would; refusals (another holder's ids, expired and revoked tokens) and the
//! audit trail.

use tokio::process::Command;

use crate::common::browser::*;
use crate::common::{client, enc, form, on_each_engine, Engine, TestServer};
use app::api::{
    AuthorizationRequest, AuthorizeQuery, DecideDevice, DeviceRequest, MailFolderCreate, MyClients, RevokeClient,
};
use hygie_core::audit::Actor;
use hygie_core::auth::oauth;
use hygie_core::mail::{import_batch, Imported};
use serde_json::{json, Value};

on_each_engine!(a_device_grant_gives_the_api_the_holders_mailbox_and_nothing_else);
on_each_engine!(an_authorization_code_with_pkce_gives_the_api_the_mailbox_its_holder_allowed);

/// `curl` against the API, as a script would call it: the status and the JSON body. (Not
/// blocking: the server runs on this test's thread.)
async fn curl(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-sk", "-w", "\n%{http_code}", "-H", &format!("Authorization: Bearer {token}")])
        .arg(s.url(path))
        .arg("--max-time")
        .arg("60")
        .output()
        .await
        .expect("curl runs (apt-get install curl)");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(body).unwrap_or(Value::Null))
}

pub(crate) async fn post(s: &TestServer, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let res = client()
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The device asks for its tokens.
pub(crate) async fn poll(s: &TestServer, client_id: &str, device_code: &str) -> (u16, Value) {
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    post(s, "/oauth/token", &[("grant_type", grant), ("client_id", client_id), ("device_code", device_code)]).await
}

async fn a_device_grant_gives_the_api_the_holders_mailbox_and_nothing_else(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (bruno_id, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    let raw = |id: &str, subject: &str| {
        Imported {
        raw: format!(
            "From: Labo <resultats@labo.mssante.fr>\r\nTo: x@hygie.localhost\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
             Date: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nBilan normal.\r\n"
        )
        .into_bytes(),
        date_ms: None,
        unread: true,
    }
    };
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[raw("a1@labo", "Résultats Alice")]).await.unwrap();
    import_batch(s.db(), &s.clock, bruno_id, "inbox", &[raw("b1@labo", "Résultats Bruno")]).await.unwrap();
    let bruno_message: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar(
        "SELECT id FROM messages WHERE account_id = $1").bind(bruno_id).fetch_one(p).await.unwrap());

    // The operator registered the software (`hygie oauth add-client`).
    let c = oauth::register_public_client(s.db(), &s.clock, "Logiciel du cabinet", Actor::Operator("root".into()))
        .await
        .unwrap();

    // The software asks; an unknown client gets nothing.
    let (status, body) = post(&s, "/oauth/device_authorization", &[("client_id", "inconnu")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, d) = post(&s, "/oauth/device_authorization", &[("client_id", &c.client_id), ("scope", "mail")]).await;
    assert_eq!(status, 200, "{d}");
    let user_code = d["user_code"].as_str().unwrap().to_string();
    let device_code = d["device_code"].as_str().unwrap().to_string();
    assert_eq!(d["verification_uri"], json!(format!("{}/appareil", s.config.public_url())));
    assert_eq!((d["interval"].as_i64(), d["expires_in"].as_i64()), (Some(5), Some(600)));
    let (status, body) = poll(&s, &c.client_id, &device_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")));

    // The holder approves on the web, signed in fully; not before.
    let anon = Browser::new(&s);
    assert_eq!(anon.run(DeviceRequest { code: user_code.clone() }).await.status, 401);
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let wrong = b.run(DeviceRequest { code: "BBBB-BBBB".into() }).await;
    assert_eq!(wrong.status, 422, "{:?}", wrong.body);
    let asked = b.run(DeviceRequest { code: user_code.to_lowercase() }).await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    assert_eq!(asked.body["client_name"], json!("Logiciel du cabinet"));
    assert_eq!(b.run(DecideDevice { code: user_code.clone(), approve: true }).await.status, 200);

    s.clock.advance_ms(5_000);
    let (status, tokens) = poll(&s, &c.client_id, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], json!("Bearer"));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, body) = poll(&s, &c.client_id, &device_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a device code works once");

    // curl, with the token: the holder's folders and messages, as the webmail shows them.
    let (status, folders) = curl(&s, "/api/v1/folders", &access).await;
    assert_eq!(status, 200, "{folders}");
    let inbox = folders["folders"].as_array().unwrap().iter().find(|f| f["role"] == "inbox").unwrap().clone();
    assert_eq!((inbox["total"].as_i64(), inbox["unread"].as_i64()), (Some(1), Some(1)));
    let (status, list) = curl(&s, "/api/v1/folders/inbox/messages?per_page=10", &access).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], json!(1));
    assert_eq!(list["messages"][0]["subject"], json!("Résultats Alice"));
    let id = list["messages"][0]["id"].as_i64().unwrap();
    let (status, message) = curl(&s, &format!("/api/v1/messages/{id}"), &access).await;
    assert_eq!(status, 200, "{message}");
    assert!(message["body_text"].as_str().unwrap().contains("Bilan normal."));

    // Another holder's message, or a folder that is not hers: not found, as if it did not exist.
    let (status, problem) = curl(&s, &format!("/api/v1/messages/{bruno_message}"), &access).await;
    assert_eq!((status, problem["status"].as_i64()), (404, Some(404)), "{problem}");
    assert_eq!(problem["title"], json!("Introuvable dans cette messagerie"));
    assert_eq!(curl(&s, "/api/v1/folders/999999/messages", &access).await.0, 404);
    let b2 = Browser::new(&s);
    sign_in(&s, &b2, &bruno, 2).await;
    let bruno_folder: i64 = b2.run(MailFolderCreate { name: "Bruno".into(), parent: 0 }).await.ok();
    assert_eq!(curl(&s, &format!("/api/v1/folders/d{bruno_folder}/messages"), &access).await.0, 404);
    // Her own folders, by the key the folder list gives.
    let alice_folder: i64 = b.run(MailFolderCreate { name: "Laboratoire".into(), parent: 0 }).await.ok();
    let (status, folders) = curl(&s, "/api/v1/folders", &access).await;
    assert_eq!(status, 200);
    let key = format!("d{alice_folder}");
    assert!(folders["folders"].as_array().unwrap().iter().any(|f| f["key"] == json!(key)), "{folders}");
    let (status, list) = curl(&s, &format!("/api/v1/folders/{key}/messages"), &access).await;
    assert_eq!((status, list["total"].as_i64()), (200, Some(0)), "{list}");
    // Another holder cannot withdraw her software's access.
    let grant = oauth::grants(
        s.db(),
        &hygie_core::auth::holder::Holder::resolve(
            s.db(),
            alice_id,
            hygie_core::auth::session::Level::Full,
            None,
            None,
        )
        .await
        .unwrap()
        .unwrap(),
    )
    .await
    .unwrap()[0]
        .id;
    assert_eq!(b2.run(RevokeClient { id: grant }).await.status, 404);
    assert_eq!(curl(&s, "/api/v1/folders", &access).await.0, 200);

    // No token, a wrong one, an expired one: 401 with a problem the software can read.
    let (status, problem) = curl(&s, "/api/v1/folders", "hyat_faux").await;
    assert_eq!((status, problem["type"].as_str()), (401, Some("https://hygie.fr/problemes/unauthorized")));
    let res = client().get(s.url("/api/v1/folders")).header("accept-language", "en").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["title"], json!("Access token missing, expired or revoked"));
    s.clock.advance_ms(oauth::ACCESS_TTL_MS);
    assert_eq!(curl(&s, "/api/v1/folders", &access).await.0, 401, "expired");

    // The refresh token gives a new access token; revoked by the client, nothing works.
    let (status, renewed) = post(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &c.client_id), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let access2 = renewed["access_token"].as_str().unwrap().to_string();
    let refresh2 = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(curl(&s, "/api/v1/folders", &access2).await.0, 200);
    let (status, _) = post(&s, "/oauth/revoke", &[("client_id", &c.client_id), ("token", &refresh2)]).await;
    assert_eq!(status, 200);
    assert_eq!(curl(&s, "/api/v1/folders", &access2).await.0, 401, "revoked");
    let (status, body) = post(&s, "/oauth/token", &[("grant_type", "password"), ("client_id", &c.client_id)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")), "never the password");

    // The same audit records as the webmail, under the holder, with the software's address.
    let log = actions(&s).await;
    for expected in [
        "oauth.device.approve success",
        "oauth.grant.create success",
        "mail.list success",
        "mail.open success",
        "oauth.refresh success",
        "oauth.grant.revoke success",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    s.stop().await;
}

/// A native client's loopback redirect URI, on the port it listens to this time.
const REDIRECT: &str = "http://127.0.0.1:45678/cb";
const VERIFIER: &str = "Zm9vYmFyLXZlcmlmaWVyLW9mLXRoZS1tYWlsLWNsaWVudC0xMjM0NTY3ODkw";

fn authorize_pairs<'a>(client_id: &'a str, challenge: &'a str, method: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "mail"),
        ("state", "st-42"),
        ("code_challenge", challenge),
        ("code_challenge_method", method),
    ]
}

/// A GET as the browser sends it (no redirect followed): status, `Location`, CSP, body.
async fn get(b: &Browser, path: &str) -> (u16, String, String, String) {
    let res = b.c.get(format!("{}{path}", b.base)).send().await.unwrap();
    let h = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (location, csp) = (h("location"), h("content-security-policy"));
    (res.status().as_u16(), location, csp, res.text().await.unwrap())
}

/// The consent page's form, as the browser posts it: status and `Location`.
async fn decide(b: &Browser, pairs: &[(&str, &str)], decision: &str, origin: &str) -> (u16, String) {
    let mut all = pairs.to_vec();
    all.push(("decision", decision));
    let res =
        b.c.post(format!("{}/oauth/authorize", b.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(form(&all))
            .send()
            .await
            .unwrap();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (res.status().as_u16(), location)
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let (_, q) = location.split_once('?').unwrap_or_default();
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

async fn exchange(s: &TestServer, client_id: &str, code: &str, uri: &str, verifier: &str) -> (u16, Value) {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", uri),
        ("code_verifier", verifier),
    ];
    post(s, "/oauth/token", &pairs).await
}

async fn an_authorization_code_with_pkce_gives_the_api_the_mailbox_its_holder_allowed(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (_, bruno) = account(&s, "bruno.roy", Some("+33700000001")).await;
    let raw = Imported {
        raw: b"From: Labo <resultats@labo.mssante.fr>\r\nTo: x@hygie.localhost\r\nSubject: Bilan\r\n\
               Message-ID: <c1@labo>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nBilan normal.\r\n"
            .to_vec(),
        date_ms: None,
        unread: true,
    };
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[raw]).await.unwrap();
    // The operator registered the mail client with its loopback redirect URI, any port.
    let c = oauth::register_native_client(
        s.db(),
        &s.clock,
        "Thunderbird",
        &["http://127.0.0.1/cb".into()],
        Actor::Operator("root".into()),
    )
    .await
    .unwrap();
    let challenge = oauth::s256(VERIFIER);
    let pairs = authorize_pairs(&c.client_id, &challenge, "S256");
    let query = form(&pairs);

    // The server says what it supports (RFC 8414).
    let res = client().get(s.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let meta: Value = res.json().await.unwrap();
    assert_eq!(meta["authorization_endpoint"], json!(format!("{}/oauth/authorize", s.config.public_url())));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&json!("authorization_code")));

    // Signed out: the request goes to the consent page, which sends to the sign-in and back.
    let anon = Browser::new(&s);
    let (status, consent, _, _) = get(&anon, &format!("/oauth/authorize?{query}")).await;
    assert_eq!(status, 303);
    assert!(consent.starts_with("/autoriser?response_type=code&client_id="), "{consent}");
    // (Leptos' redirect: a `Location` the hydrated page follows, whatever the status.)
    let (_, to_sign_in, _, _) = get(&anon, &consent).await;
    assert!(to_sign_in.starts_with("/connexion?suite=/autoriser%3Fresponse_type%3Dcode%26"), "{to_sign_in}");
    assert_eq!(anon.run(AuthorizationRequest { query: app_query(&pairs) }).await.status, 401);
    let unknown = AuthorizeQuery { client_id: Some("hygie-inconnu".into()), ..app_query(&pairs) };
    assert_eq!(anon.run(AuthorizationRequest { query: unknown }).await.status, 404);
    let (status, back) = decide(&anon, &pairs, "approve", &anon.base).await;
    assert_eq!((status, back.starts_with("/autoriser?")), (303, true), "no code without a holder: {back}");

    // Signed in fully: the client's name, the mailbox, and a form that may lead to the client.
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let (status, page, csp, html) = get(&b, &consent).await;
    assert_eq!((status, page.as_str()), (200, ""));
    assert!(
        html.contains("« Thunderbird » demande l&#x27;accès à votre messagerie")
            || html.contains("« Thunderbird » demande l'accès"),
        "{html}"
    );
    assert!(html.contains(&alice), "the mailbox concerned");
    assert!(csp.contains("form-action 'self' http://127.0.0.1:45678;"), "{csp}");
    let res = b.c.get(format!("{}{consent}", b.base)).header("accept-language", "en").send().await.unwrap();
    let english = res.text().await.unwrap();
    assert!(english.contains("Allow a software") && english.contains("Mailbox concerned"), "English second");
    let asked = b.run(AuthorizationRequest { query: app_query(&pairs) }).await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    assert_eq!(
        (asked.body["client_name"].as_str(), asked.body["account"].as_str()),
        (Some("Thunderbird"), Some(alice.as_str()))
    );

    // The decision is the site's own form: another site cannot post it.
    let (status, _) = decide(&b, &pairs, "approve", "https://evil.example").await;
    assert_eq!(status, 403);
    let (status, location) = decide(&b, &pairs, "approve", &b.base).await;
    assert_eq!(status, 303);
    let back = query_of(&location);
    assert!(location.starts_with("http://127.0.0.1:45678/cb?code=hyac_"), "{location}");
    assert_eq!(back["state"], "st-42");
    let code = back["code"].clone();

    // The token endpoint: the verifier and the same redirect URI, or nothing.
    let wrong = VERIFIER.replace('Z', "Y");
    assert_eq!(exchange(&s, &c.client_id, &code, REDIRECT, &wrong).await.1["error"], json!("invalid_grant"));
    let other_port = "http://127.0.0.1:45679/cb";
    assert_eq!(exchange(&s, &c.client_id, &code, other_port, VERIFIER).await.1["error"], json!("invalid_grant"));
    assert_eq!(exchange(&s, "hygie-other", &code, REDIRECT, VERIFIER).await.0, 401);
    let (status, tokens) = exchange(&s, &c.client_id, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!((tokens["token_type"].as_str(), tokens["scope"].as_str()), (Some("Bearer"), Some("mail")));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, folders) = curl(&s, "/api/v1/folders", &access).await;
    assert_eq!(status, 200, "{folders}");
    let inbox = folders["folders"].as_array().unwrap().iter().find(|f| f["role"] == "inbox").unwrap().clone();
    assert_eq!(inbox["total"], json!(1), "Alice's mailbox");
    // And sends over SMTP submission (curl, OAUTHBEARER) as its holder (here, to herself).
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("m.eml");
    std::fs::write(&eml, format!("From: <{alice}>\r\nTo: {alice}\r\nSubject: Ordonnance\r\n\r\nCi-jointe.\r\n"))
        .unwrap();
    let (exit, log) = crate::submission::curl_smtps(&s, &alice, &alice, &eml, &access).await;
    assert_eq!(exit, Some(0), "{log}");
    assert!(log.contains("250 2.0.0 Message accepted and committed"), "{log}");
    assert_eq!(crate::submission::messages_in(&s, alice_id, "inbox").await.len(), 2);
    let listed: Vec<Value> = b.run(MyClients {}).await.ok();
    assert_eq!((listed.len(), listed[0]["name"].as_str()), (1, Some("Thunderbird")), "listed in the account");

    // Another holder's consent is not hers: Bruno, posting Alice's request, gets a code for
    // his own mailbox, and cannot withdraw her access.
    let b2 = Browser::new(&s);
    sign_in(&s, &b2, &bruno, 2).await;
    let (_, location) = decide(&b2, &pairs, "approve", &b2.base).await;
    let bruno_code = query_of(&location)["code"].clone();
    let (status, bruno_tokens) = exchange(&s, &c.client_id, &bruno_code, REDIRECT, VERIFIER).await;
    assert_eq!(status, 200);
    let (_, folders) = curl(&s, "/api/v1/folders", bruno_tokens["access_token"].as_str().unwrap()).await;
    let inbox = folders["folders"].as_array().unwrap().iter().find(|f| f["role"] == "inbox").unwrap().clone();
    assert_eq!(inbox["total"], json!(0), "Bruno's mailbox, not Alice's");
    assert_eq!(b2.run(RevokeClient { id: listed[0]["id"].as_i64().unwrap() }).await.status, 404);
    assert_eq!(curl(&s, "/api/v1/folders", &access).await.0, 200);

    // The code again: refused, and what its first use gave ends (RFC 6749 §4.1.2).
    assert_eq!(exchange(&s, &c.client_id, &code, REDIRECT, VERIFIER).await.1["error"], json!("invalid_grant"));
    assert_eq!(curl(&s, "/api/v1/folders", &access).await.0, 401);
    let (_, body) = post(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &c.client_id), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(body["error"], json!("invalid_grant"));

    // Refused: the client hears access_denied, with its state.
    let (_, location) = decide(&b, &pairs, "refuse", &b.base).await;
    let back = query_of(&location);
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!((back["error"].as_str(), back["state"].as_str()), ("access_denied", "st-42"));
    assert!(!back.contains_key("code"));

    // PKCE "plain" and no PKCE: refused to the client, with its state.
    for (challenge, method) in [(VERIFIER, "plain"), ("", "")] {
        let mut p = authorize_pairs(&c.client_id, challenge, method);
        p.retain(|(_, v)| !v.is_empty());
        let (status, location, _, _) = get(&b, &format!("/oauth/authorize?{}", form(&p))).await;
        assert_eq!(status, 303);
        let back = query_of(&location);
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!((back["error"].as_str(), back["state"].as_str()), ("invalid_request", "st-42"), "{location}");
    }
    // A redirect URI not the client's: said on the page, never sent there.
    let evil = "http://127.0.0.1.evil.com:45678/cb";
    let query = form(&authorize_pairs(&c.client_id, &challenge, "S256")).replace(&enc(REDIRECT), &enc(evil));
    let (status, location, _, _) = get(&b, &format!("/oauth/authorize?{query}")).await;
    assert!(status == 303 && location.starts_with("/autoriser?"), "{location}");
    let (status, _, csp, html) = get(&b, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("n&#x27;est pas valable") || html.contains("n'est pas valable"), "{html}");
    assert!(!csp.contains("evil"), "{csp}");
    let mut evil_pairs = pairs.clone();
    evil_pairs[2] = ("redirect_uri", evil);
    let (status, location) = decide(&b, &evil_pairs, "approve", &b.base).await;
    assert!(status == 303 && location.starts_with("/autoriser?"), "{location}");

    let log = actions(&s).await;
    for expected in [
        "oauth.code.approve success",
        "oauth.code.refuse success",
        "oauth.grant.create success",
        "oauth.code.replay denied",
    ] {
        assert!(log.iter().any(|a| a.starts_with(expected)), "{expected} missing from {log:?}");
    }
    s.stop().await;
}

fn app_query(pairs: &[(&str, &str)]) -> AuthorizeQuery {
    let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    AuthorizeQuery {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    }
}
