//! API tests against the real server: HTTPS on port 0, a temporary database on each engine, a
//! real SMTP server.

use crate::common::browser::Browser;
use crate::common::{self, client, form, on_each_engine, Engine, TestServer};
use app::api::{ContactReceipt, SubmitContact};
use app::domain::contact::ContactInput;
use hygie_core::audit;
use leptos::server_fn::ServerFn;
use reqwest::header;

on_each_engine!(
    every_portal_page_renders_in_french_and_english,
    contact_form_without_javascript_reaches_support_by_smtp,
    contact_server_function_answers_the_hydrated_form,
    audience_consent_is_given_remembered_and_withdrawn,
);

const PAGES: &[(&str, &str, &str)] = &[
    (
        "/",
        "Hygie, la messagerie sécurisée des professionnels de santé",
        "Hygie, secure messaging for health professionals",
    ),
    ("/faq", "Questions fréquentes", "Frequently asked questions"),
    ("/configurations", "Configurations supportées", "Supported configurations"),
    ("/cgu", "Version 1.1, en vigueur depuis le 5 octobre 2026.", "Version 1.1, in force since 5 October 2026."),
    ("/cookies", "Cookies déposés par Hygie", "Cookies set by Hygie"),
    ("/mentions-legales", "Hébergeur de données de santé", "Health data host"),
    ("/assistance", "Écrire à l", "Write to support"),
];

async fn get(s: &TestServer, path: &str, lang: Option<&str>, cookie: Option<&str>) -> reqwest::Response {
    let mut req = client().get(s.url(path));
    if let Some(l) = lang {
        req = req.header(header::ACCEPT_LANGUAGE, l);
    }
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.send().await.unwrap()
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

async fn every_portal_page_renders_in_french_and_english(engine: Engine) {
    let s = TestServer::start(engine).await;
    for (path, fr, en) in PAGES {
        let res = get(&s, path, Some("fr-FR,fr;q=0.9"), None).await;
        assert_eq!(res.status(), 200, "{path} {engine:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains(r#"<html lang="fr""#), "{path}");
        assert!(body.contains(fr), "{path}: French text missing");

        let res = get(&s, path, Some("en-GB,en;q=0.9"), None).await;
        let body = res.text().await.unwrap();
        assert!(body.contains(r#"<html lang="en""#), "{path}");
        assert!(body.contains(en), "{path}: English text missing");

        // The language cookie beats the browser's preference.
        let body = get(&s, path, Some("en"), Some("hygie_lang=fr")).await.text().await.unwrap();
        assert!(body.contains(fr), "{path}: cookie ignored");
    }
    let res = get(&s, "/nulle-part", None, None).await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page introuvable"));
    s.stop().await;
}

#[tokio::test]
async fn security_headers_on_every_response_with_a_fresh_nonce() {
    let s = TestServer::start(Engine::Sqlite).await;
    let mut nonces = Vec::new();
    for path in ["/", "/assistance", "/nulle-part", "/favicon.ico", "/healthz"] {
        let res = get(&s, path, None, None).await;
        let h = res.headers().clone();
        assert_eq!(h["strict-transport-security"], "max-age=63072000; includeSubDomains", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["permissions-policy"].to_str().unwrap().contains("camera=()"));
        let csp = h["content-security-policy"].to_str().unwrap().to_string();
        for part in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "'wasm-unsafe-eval'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing from {csp}");
        }
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
        let body = res.text().await.unwrap();
        if path == "/" {
            // Every script on the page carries this response's nonce, and no other.
            let scripts = body.matches("<script").count();
            assert!(scripts > 0);
            assert_eq!(body.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{body}");
        }
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 5, "a nonce must never be reused");
    s.stop().await;
}

#[tokio::test]
async fn plain_http_only_redirects_to_https() {
    let s = TestServer::start(Engine::Sqlite).await;
    let res = client().get(format!("{}/faq?x=1", s.http_base)).send().await.unwrap();
    assert_eq!(res.status(), 308);
    let https_port = s.running.as_ref().unwrap().https_addr.port();
    assert_eq!(res.headers()[header::LOCATION], format!("https://127.0.0.1:{https_port}/faq?x=1"));
    let res = client().post(format!("{}/assistance", s.http_base)).body("x").send().await.unwrap();
    assert_eq!(res.status(), 308);
    s.stop().await;
}

fn contact_fields<'a>(name: &'a str, email: &'a str, subject: &'a str, message: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("name", name), ("email", email), ("subject", subject), ("message", message)]
}

async fn post_form(s: &TestServer, path: &str, body: String) -> reqwest::Response {
    client()
        .post(s.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, s.origin())
        .header(header::ACCEPT_LANGUAGE, "fr")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn contact_form_without_javascript_reaches_support_by_smtp(engine: Engine) {
    let s = TestServer::start(engine).await;

    // Refused: every problem named inline, nothing typed is lost, nothing is sent.
    let res =
        post_form(&s, "/assistance", form(&contact_fields("Élise Martin", "elise@", "Code non reçu", "court"))).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Adresse électronique invalide"), "{engine:?}");
    assert!(body.contains("Au moins 10 caractères."));
    assert!(body.contains(r#"value="Élise Martin""#), "name not kept");
    assert!(body.contains(r#"value="elise@""#), "email not kept");
    assert!(body.contains(">court</textarea>"), "message not kept");
    assert!(body.contains(r#"aria-invalid="true""#));

    // Accepted: redirected (a reload cannot send it twice), stored, forwarded over SMTP.
    let message = "Bonjour,\nje ne reçois plus le code par SMS depuis ce matin.\nMerci.";
    let res = post_form(
        &s,
        "/assistance",
        form(&contact_fields("Élise Martin", "elise.martin@exemple.fr", "Code non recu", message)),
    )
    .await;
    assert_eq!(res.status(), 303, "{engine:?}");
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with("/assistance?envoye="), "{location}");
    let id = location.rsplit('=').next().unwrap().to_string();
    let body = get(&s, &location, Some("fr"), None).await.text().await.unwrap();
    assert!(body.contains("Votre demande a bien été envoyée."));
    assert!(body.contains(&format!("Référence de votre demande : {id}")));

    let mails = s.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "the refused request must not be sent");
    let mail = mail_parser::MessageParser::default().parse(&mails[0]).unwrap();
    assert_eq!(mail.to().unwrap().first().unwrap().address().unwrap(), "assistance@hygie.test");
    assert_eq!(mail.reply_to().unwrap().first().unwrap().address().unwrap(), "elise.martin@exemple.fr");
    assert_eq!(mail.from().unwrap().first().unwrap().address().unwrap(), "ne-pas-repondre@hygie.test");
    assert_eq!(mail.subject().unwrap(), format!("[Hygie assistance #{id}] Code non recu"));
    let text = mail.body_text(0).unwrap();
    assert!(text.contains("je ne reçois plus le code par SMS"), "{text}");
    assert!(text.contains("Élise Martin"));

    // The trail has both attempts, names no content, and is intact. The worker records the
    // copy as sent once the SMTP server has answered, which is just after the sink has it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let trail = loop {
        let trail = audit::latest(s.db(), 50).await.unwrap();
        if trail.iter().any(|r| r.action == "outbox.sent.contact.copy") {
            break trail;
        }
        assert!(std::time::Instant::now() < deadline, "the copy's delivery is not in the trail: {trail:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let contact: Vec<_> =
        trail.iter().filter(|r| r.action == "portal.contact.submit").map(|r| r.outcome.as_str()).collect();
    assert_eq!(contact, vec!["success", "failure:invalid"]);
    assert!(trail.iter().all(|r| r.ip.as_deref() != Some("") && !format!("{r:?}").contains("SMS")));
    assert!(audit::verify(s.db()).await.unwrap().is_intact());
    s.stop().await;
}

#[tokio::test]
async fn contact_form_is_rate_limited_per_ip_and_keeps_the_input() {
    let s = TestServer::start(Engine::Postgres).await;
    let ok = form(&contact_fields("Paul Durand", "paul@exemple.fr", "Question", "Une question sur mon compte."));
    for _ in 0..3 {
        assert_eq!(post_form(&s, "/assistance", ok.clone()).await.status(), 303);
    }
    let res = post_form(&s, "/assistance", ok.clone()).await;
    assert_eq!(res.status(), 429);
    let body = res.text().await.unwrap();
    assert!(body.contains("Trop de demandes ont été envoyées depuis votre connexion."));
    assert!(body.contains(r#"value="Paul Durand""#));
    let trail = audit::latest(s.db(), 20).await.unwrap();
    assert!(trail.iter().any(|r| r.action == "portal.contact.submit"
        && r.outcome == "denied:rate_limited"
        && r.ip.as_deref() == Some("127.0.0.1")));
    s.stop().await;
}

async fn contact_server_function_answers_the_hydrated_form(engine: Engine) {
    let s = TestServer::start(engine).await;
    let visitor = Browser::new(&s);
    let ok = ContactInput {
        name: "Jean Dupont".into(),
        email: "jean.dupont@exemple.fr".into(),
        subject: "Annuaire".into(),
        message: "Mon adresse n'apparaît pas dans l'annuaire.".into(),
    };
    let res = visitor.run(SubmitContact { input: ok }).await;
    assert_eq!(res.status, 200, "{engine:?}");
    let receipt: ContactReceipt = res.ok();
    assert!(receipt.id > 0);

    let bad = ContactInput { name: "".into(), email: "x".into(), subject: "s".into(), message: "0123456789".into() };
    let res = visitor.run(SubmitContact { input: bad }).await;
    assert!(!(200..300).contains(&res.status));
    let err = res.body;
    let fields: Vec<_> =
        err["Invalid"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect();
    assert_eq!(fields, vec!["name", "email"]);
    s.smtp.wait_for(1).await;
    s.stop().await;
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let s = TestServer::start(Engine::Sqlite).await;
    let body = form(&contact_fields("Eve", "eve@exemple.fr", "x", "0123456789 abc"));
    let attempts = [
        vec![(header::ORIGIN.as_str(), "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![(header::ORIGIN.as_str(), "null")],
    ];
    for headers in attempts {
        let mut req = client()
            .post(s.url("/assistance"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        assert_eq!(req.send().await.unwrap().status(), 403, "{headers:?}");
    }
    let res = client()
        .post(s.url(SubmitContact::PATH))
        .header(header::ORIGIN, "https://evil.example")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Nothing was stored or sent.
    let n: i64 = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT COUNT(*) FROM contact_requests").fetch_one(p).await.unwrap());
    assert_eq!(n, 0);
    s.stop().await;
}

async fn audience_consent_is_given_remembered_and_withdrawn(engine: Engine) {
    let s = TestServer::start(engine).await;
    // No choice yet: the banner is shown and no audience cookie is set.
    let res = get(&s, "/faq", Some("fr"), None).await;
    assert!(set_cookies(&res).is_empty(), "no cookie before consent");
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"data-consent="unknown""#));
    assert!(body.contains("cookie-banner"));

    let res = post_form(&s, "/cookies/consentement", form(&[("choix", "accepter"), ("retour", "/faq")])).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/faq");
    let cookies = set_cookies(&res);
    assert!(cookies.iter().any(|c| c.starts_with("hygie_consent=accepted;") && c.contains("Max-Age=15724800")));
    let audience = cookies.iter().find(|c| c.starts_with("hygie_audience=")).expect("audience cookie");
    assert!(audience.contains("Secure") && audience.contains("HttpOnly") && audience.contains("Max-Age=34128000"));
    let visitor = audience.split(';').next().unwrap().to_string();
    assert_eq!(visitor.len(), "hygie_audience=".len() + 32);

    let jar = format!("hygie_consent=accepted; {visitor}");
    let body = get(&s, "/faq", Some("fr"), Some(&jar)).await.text().await.unwrap();
    assert!(body.contains(r#"data-consent="accepted""#));
    assert!(!body.contains("cookie-banner"), "the banner is gone once the choice is made");
    let body = get(&s, "/cookies", Some("fr"), Some(&jar)).await.text().await.unwrap();
    assert!(body.contains("Vous avez accepté la mesure d"));
    assert!(body.contains("Retirer mon consentement"));

    // The page view was counted (after the response, so give it a moment).
    let mut counted = false;
    for _ in 0..50 {
        let sum = hygie_core::audience::summary(s.db(), 1).await.unwrap();
        if sum.first().is_some_and(|d| d.views >= 2 && d.visitors == 1) {
            counted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(counted, "audience not recorded");

    // Only the portal is measured: the mailbox, the directory and the account never are,
    // and they show no banner.
    let before = hygie_core::audience::summary(s.db(), 1).await.unwrap()[0].views;
    for path in ["/messagerie", "/messagerie/reception", "/annuaire", "/compte"] {
        get(&s, path, Some("fr"), Some(&jar)).await;
        let body = get(&s, path, Some("fr"), None).await.text().await.unwrap();
        assert!(!body.contains("cookie-banner"), "no banner on {path}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hygie_core::audience::summary(s.db(), 1).await.unwrap()[0].views, before);

    // Withdrawal clears the audience cookie.
    let res = post_form(&s, "/cookies/consentement", form(&[("choix", "refuser"), ("retour", "/cookies")])).await;
    let cookies = set_cookies(&res);
    assert!(cookies.iter().any(|c| c.starts_with("hygie_consent=refused;")));
    assert!(cookies.iter().any(|c| c.starts_with("hygie_audience=;") && c.contains("Max-Age=0")));
    let body = get(&s, "/cookies", Some("fr"), Some("hygie_consent=refused")).await.text().await.unwrap();
    assert!(body.contains("Vous avez refusé la mesure d"));

    // Refused visitors are not counted even if a stale cookie is still sent.
    let before = hygie_core::audience::summary(s.db(), 1).await.unwrap()[0].views;
    get(&s, "/", None, Some(&format!("hygie_consent=refused; {visitor}"))).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hygie_core::audience::summary(s.db(), 1).await.unwrap()[0].views, before);

    let trail = audit::latest(s.db(), 20).await.unwrap();
    let consents: Vec<_> =
        trail.iter().filter(|r| r.action == "portal.cookies.consent").filter_map(|r| r.object.clone()).collect();
    assert_eq!(consents, vec!["refused", "accepted"]);
    s.stop().await;
}

#[tokio::test]
async fn language_switch_sets_a_cookie_and_never_leaves_the_site() {
    let s = TestServer::start(Engine::Sqlite).await;
    let res = get(&s, "/langue/en?retour=/cgu/1.0", None, None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/cgu/1.0");
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("hygie_lang=en;") && c.contains("Secure")));
    for evil in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let res =
            get(&s, &format!("/langue/fr?retour={}", evil.replace('/', "%2F").replace('\\', "%5C")), None, None).await;
        assert_eq!(res.headers()[header::LOCATION], "/", "{evil}");
    }
    // Disguised: a tab or an encoded tab (browsers drop them and see `//evil.example`), encoded
    // slashes and backslashes, all sent fully encoded as a browser's query would be.
    for evil in ["/%09/evil.example", "/\t/evil.example", "/%2f/evil.example", "/%5c/evil.example", "/\u{3000}/x"] {
        let res = get(&s, &format!("/langue/fr?retour={}", common::enc(evil)), None, None).await;
        assert_eq!(res.status(), 303, "{evil:?}");
        assert_eq!(res.headers()[header::LOCATION], "/", "{evil:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn terms_versions_are_listed_and_readable() {
    let s = TestServer::start(Engine::Postgres).await;
    let current = get(&s, "/cgu", Some("fr"), None).await.text().await.unwrap();
    assert!(current.contains("<h2>1. Informations générales</h2>"));
    assert!(current.contains(r#"href="/cgu/1.0""#));
    assert!(!current.contains("Vous consultez une version antérieure"));
    let old = get(&s, "/cgu/1.0", Some("fr"), None).await.text().await.unwrap();
    assert!(old.contains("Version 1.0, en vigueur depuis le 2 mars 2026."));
    assert!(old.contains("Vous consultez une version antérieure. La version en vigueur est la version 1.1."));
    let missing = get(&s, "/cgu/9.9", Some("fr"), None).await.text().await.unwrap();
    assert!(missing.contains("Cette version des conditions d"));
    s.stop().await;
}

#[tokio::test]
async fn legal_notice_comes_from_configuration() {
    let s = TestServer::start_with(Engine::Sqlite, |c| {
        c.operator.director = "Claire Lefèvre".into();
        c.host.name = "Hébergeur Santé Test".into();
    })
    .await;
    let body = get(&s, "/mentions-legales", Some("fr"), None).await.text().await.unwrap();
    for expected in ["Opérateur Test SAS", "Claire Lefèvre", "Hébergeur Santé Test", "HDS 2.0"] {
        assert!(body.contains(expected), "{expected}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = hygie_server::config::Config::default();
    config.data_dir = dir.path().to_path_buf();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.http_listen = None;
    let db = hygie_server::open_database(&config).await.unwrap();
    hygie_core::with_pool!(&db, p => { sqlx::query("UPDATE _sqlx_migrations SET checksum = X'00'").execute(p).await.unwrap(); });
    db.close().await;
    let err = match hygie_server::start(config, std::sync::Arc::new(hygie_core::SystemClock)).await {
        Ok(_) => panic!("start-up must stop on a failed migration"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("migration"), "{err}");
}

/// The client IP recorded for a language switch sent with this `X-Forwarded-For`.
async fn recorded_ip(s: &TestServer, forwarded_for: &str) -> Option<String> {
    let res = client().get(s.url("/langue/en")).header("x-forwarded-for", forwarded_for).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let trail = audit::latest(s.db(), 50).await.unwrap();
    trail.into_iter().find(|r| r.action == "portal.language").and_then(|r| r.ip)
}

#[tokio::test]
async fn x_forwarded_for_is_read_only_from_configured_proxies() {
    // By default nobody is trusted: a client cannot choose the address it is audited and
    // rate-limited under.
    let s = TestServer::start(Engine::Sqlite).await;
    assert_eq!(recorded_ip(&s, "198.51.100.7").await.as_deref(), Some("127.0.0.1"));
    s.stop().await;
    // Behind a load balancer on loopback: the last address it appended is the client's.
    let s = TestServer::start_with(Engine::Sqlite, |c| c.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    assert_eq!(recorded_ip(&s, "198.51.100.7").await.as_deref(), Some("198.51.100.7"));
    assert_eq!(recorded_ip(&s, "6.6.6.6, 198.51.100.8").await.as_deref(), Some("198.51.100.8"), "forged entry left");
    assert_eq!(recorded_ip(&s, "198.51.100.9, 127.0.0.2").await.as_deref(), Some("198.51.100.9"), "two proxies");
    s.stop().await;
}
