//! Sign-in, sessions, account settings and terms acceptance, through the real server functions
//! of a real server (HTTPS on port 0, each database engine, real SMTP for emails, the
//! development outbox for SMS), with a clock the tests move.

use crate::common::browser::*;
use crate::common::{args, client, on_each_engine, Engine, TestServer};
use app::api::{
    AcceptTerms, ActivateAccount, ChangePassword, ConfirmChangeDestination, EndSessions, ForgotPassword, MailList,
    MailNewest, MyAccount, MySessions, PreferencesView, Reauthenticate, ResendSignInCode, ResetLinkInfo, ResetPassword,
    SavePreferences, SignInCode, SignInPassword, SignOut, StartChangeDestination, UnlockAccount,
};
use hygie_core::accounts::{self, AccountRecord};
use hygie_core::audit;
use leptos::server_fn::ServerFn;
use reqwest::header;
use serde_json::{json, Value};

on_each_engine!(
    password_then_sms_code_opens_a_host_only_session_and_terms_come_first,
    unknown_address_and_wrong_password_get_the_same_answer,
    codes_expire_after_ten_minutes_and_resending_keeps_the_failure_count,
    the_hundredth_failure_locks_the_account_until_its_unlock_link,
    sessions_end_when_idle_at_their_absolute_limit_and_on_sign_out,
    the_idle_timeout_ends_a_session_whose_mailbox_keeps_polling,
    password_reset_needs_the_link_and_the_sms_code_and_ends_every_session,
    an_activation_link_sets_the_first_password_once,
    settings_changes_need_a_fresh_proof_and_codes_sent_to_the_new_destination,
    publishing_new_terms_tells_every_holder_and_asks_again,
    signed_in_answers_are_never_cached_and_signing_out_clears_the_site,
);

async fn password_then_sms_code_opens_a_host_only_session_and_terms_come_first(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "anne.lefevre", Some(MOBILE)).await;
    let b = Browser::new(&s);

    let step = b.password(&address.to_uppercase(), PASSWORD).await;
    assert_eq!(step.status, 200, "{engine:?} {:?}", step.body);
    assert_eq!(step.body["channel"], "sms");
    assert_eq!(step.body["hint"], "•• •• •• •• 78");
    assert_eq!(step.body["email_possible"], true);
    let pending_cookie = step.cookies.iter().find(|c| c.starts_with("__Host-hygie_session=")).unwrap().clone();
    for attr in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(pending_cookie.contains(attr), "{pending_cookie} lacks {attr}");
    }
    assert!(!pending_cookie.to_lowercase().contains("domain="), "host-only");
    // Half signed in is not signed in.
    assert_eq!(b.my_account().await.body, json!("Unauthorized"));

    let message = wait_sms(&s, 1).await;
    assert_eq!(message.to, MOBILE);
    let code = six_digits(&message.body);
    assert_eq!(b.code("12345").await.body["Invalid"][0]["problem"], "InvalidCode", "shape checked first");
    assert_eq!(b.code(&wrong(&code)).await.body, json!({"WrongCode": {"attempts_left": 4}}));
    let done = b.code(&code).await;
    assert_eq!(done.body, json!("/compte/cgu"));
    let full_cookie = done.cookies.iter().find(|c| c.starts_with("__Host-hygie_session=")).unwrap();
    assert_ne!(full_cookie.split(';').next(), pending_cookie.split(';').next(), "a new token at sign-in");
    assert_eq!(b.code(&code).await.body, json!("CodeExpired"), "a code works once");

    // Terms before anything else.
    assert_eq!(b.my_account().await.body, json!("TermsPending"));
    assert_eq!(b.run(MySessions {}).await.body, json!("TermsPending"));
    assert_eq!(b.run(AcceptTerms { version: "1.0".into() }).await.body, json!("TermsPending"), "not the old one");
    assert_eq!(b.run(AcceptTerms { version: "1.1".into() }).await.status, 200);
    let me = b.my_account().await;
    assert_eq!(me.body["address"], address.as_str());
    assert_eq!(me.body["mobile"], "••••••5678");

    // No token, code or password in the audit trail; every step in it.
    let log = actions(&s).await;
    for expected in [
        "signin.password success",
        "signin.code.sent success",
        "signin.code failure:wrong_code",
        "signin.code success",
        "terms.accept success",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    let dump = format!("{:?}", audit::latest(s.db(), 1000).await.unwrap());
    assert!(!dump.contains(&code) && !dump.contains(PASSWORD));
    assert!(audit::verify(s.db()).await.unwrap().is_intact());
    s.stop().await;
}

async fn unknown_address_and_wrong_password_get_the_same_answer(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "paul.roux", None).await;
    let b = Browser::new(&s);
    let unknown = b.password("personne@hygie.localhost", PASSWORD).await;
    let wrong = b.password(&address, "pas le bon mot de passe").await;
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));
    assert_eq!(wrong.body, json!("BadCredentials"));
    assert_eq!(wrong.status, 401);
    assert!(unknown.cookies.is_empty() && wrong.cookies.is_empty());
    // No mobile: the code goes by email to the notification address.
    let ok = b.password(&address, PASSWORD).await;
    assert_eq!(ok.body["channel"], "email");
    assert_eq!(ok.body["hint"], "p•••@exemple.fr");
    assert_eq!(ok.body["email_possible"], false);
    let (to, body) = mail(&s, 1).await;
    assert_eq!(to, "paul.roux@exemple.fr");
    assert_eq!(b.code(&six_digits(&body)).await.body, json!("/compte/cgu"));
    s.stop().await;
}

async fn codes_expire_after_ten_minutes_and_resending_keeps_the_failure_count(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "lea.morel", Some(MOBILE)).await;
    let b = Browser::new(&s);
    b.password(&address, PASSWORD).await;
    let first = six_digits(&wait_sms(&s, 1).await.body);
    assert_eq!(b.code(&wrong(&first)).await.body["WrongCode"]["attempts_left"], 4);
    assert_eq!(b.code(&wrong(&first)).await.body["WrongCode"]["attempts_left"], 3);
    // Too soon to resend.
    assert!(b.run(ResendSignInCode { to_email: false }).await.body["RateLimited"].is_object());
    s.clock.advance_ms(31_000);
    // The weaker channel, on request: by email.
    let resent = b.run(ResendSignInCode { to_email: true }).await;
    assert_eq!(resent.body["channel"], "email", "{:?}", resent.body);
    let second = six_digits(&mail(&s, 1).await.1);
    assert_eq!(b.code(&first).await.body["WrongCode"]["attempts_left"], 2, "the old code died; count kept");
    // Ten minutes later the new code is dead too.
    s.clock.advance_ms(10 * 60_000);
    assert_eq!(b.code(&second).await.body, json!("CodeExpired"));
    s.stop().await;
}

async fn the_hundredth_failure_locks_the_account_until_its_unlock_link(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (id, address) = account(&s, "marc.petit", None).await;
    let b = Browser::new(&s);
    for i in 1..100 {
        assert_eq!(b.password(&address, "mauvais mot de passe").await.body, json!("BadCredentials"), "attempt {i}");
    }
    assert_eq!(b.password(&address, "mauvais mot de passe").await.body, json!("Locked"), "the 100th locks");
    // The 101st, with the right password, meets a locked account; a wrong one gets the same
    // answer (no password oracle on a locked account).
    assert_eq!(b.password(&address, PASSWORD).await.body, json!("Locked"));
    assert_eq!(b.password(&address, "encore faux").await.body, json!("Locked"));
    let (to, body) = mail(&s, 1).await;
    assert_eq!(to, "marc.petit@exemple.fr");
    let token = link_token(&body, "/deverrouillage/");
    assert_eq!(b.run(UnlockAccount { token: token.clone() }).await.status, 200);
    assert_eq!(b.run(UnlockAccount { token: token.clone() }).await.body, json!("LinkExpired"), "single use");
    assert_eq!(b.password(&address, PASSWORD).await.status, 200);
    let account = accounts::get(s.db(), id).await.unwrap().unwrap();
    assert_eq!((account.failed_logins, account.locked_ms), (0, None));
    let log = actions(&s).await;
    for expected in ["account.lock success", "account.unlock.sent success", "account.unlock success"] {
        assert!(log.iter().any(|a| a == expected), "{expected}");
    }
    s.stop().await;
}

async fn sessions_end_when_idle_at_their_absolute_limit_and_on_sign_out(engine: Engine) {
    let s = TestServer::start_with(engine, |c| c.session.idle_minutes = 30).await;
    let (_, address) = account(&s, "ines.garnier", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;
    s.clock.advance_ms(29 * 60_000);
    assert_eq!(b.my_account().await.status, 200, "29 minutes idle");
    s.clock.advance_ms(30 * 60_000);
    assert_eq!(b.my_account().await.body, json!("Unauthorized"), "30 minutes idle");

    // Active every 25 minutes: still ended at 12 hours.
    sign_in(&s, &b, &address, 2).await;
    let mut alive = 0;
    for _ in 0..30 {
        s.clock.advance_ms(25 * 60_000);
        if b.my_account().await.status == 200 {
            alive += 1;
        } else {
            break;
        }
    }
    assert_eq!(alive, 28, "12 h = 28 × 25 min + 20 min");

    // Signing out ends it on the server: the old cookie is worth nothing.
    sign_in(&s, &b, &address, 3).await;
    let token_cookie = {
        let res = b.run(MyAccount {}).await;
        assert_eq!(res.status, 200);
        // The jar holds the cookie; read it back through a session listing.
        let rows = hygie_core::auth::session::list(
            s.db(),
            &s.clock,
            &hygie_core::auth::session::SessionPolicy::default(),
            accounts::find_by_address(s.db(), &address).await.unwrap().unwrap().id,
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 1);
        rows[0].id
    };
    let out = b.run(SignOut {}).await;
    assert_eq!(out.status, 200);
    assert!(out.cookies.iter().any(|c| c.starts_with("__Host-hygie_session=;") && c.contains("Max-Age=0")));
    assert_eq!(b.my_account().await.body, json!("Unauthorized"));
    let ended: Option<i64> = hygie_core::with_pool!(s.db(), p => sqlx::query_scalar("SELECT ended_ms FROM sessions WHERE id = $1")
        .bind(token_cookie).fetch_one(p).await.unwrap());
    assert!(ended.is_some());
    assert!(actions(&s).await.iter().any(|a| a == "signout success"));
    s.stop().await;
}

/// A mailbox left open on a shared practice PC: the page polls for new mail every 10 seconds,
/// and that alone does not keep the session alive. Anything the person does, does.
async fn the_idle_timeout_ends_a_session_whose_mailbox_keeps_polling(engine: Engine) {
    let s = TestServer::start_with(engine, |c| c.session.idle_minutes = 30).await;
    let (_, address) = account(&s, "lea.moreau", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;
    assert_eq!(b.run(MailList { folder: "inbox".into(), page: 0 }).await.status, 200);
    // 29 minutes 50 of polling: the session is still there, the poll answers.
    for _ in 0..179 {
        s.clock.advance_ms(10_000);
        let poll = b.run(MailNewest {}).await;
        assert_eq!(poll.status, 200, "{engine:?} {:?}", poll.body);
    }
    // The person clicks: that is activity, and the clock starts again from here.
    assert_eq!(b.run(MailList { folder: "inbox".into(), page: 0 }).await.status, 200);
    for _ in 0..179 {
        s.clock.advance_ms(10_000);
        assert_eq!(b.run(MailNewest {}).await.status, 200);
    }
    s.clock.advance_ms(10_000);
    assert_eq!(b.run(MailNewest {}).await.body, json!("Unauthorized"), "30 minutes of polling alone");
    assert_eq!(b.my_account().await.body, json!("Unauthorized"), "the session is over, not just the poll");
    s.stop().await;
}

#[tokio::test]
async fn a_stolen_cookie_stops_working_after_sign_out() {
    let s = TestServer::start(Engine::Sqlite).await;
    let (_, address) = account(&s, "yves.blanc", Some(MOBILE)).await;
    // Sign in without a jar, keeping the cookie by hand.
    let c = client();
    let post = |path: &str, body: String, cookie: Option<String>| {
        let mut r = c
            .post(s.url(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, s.origin())
            .body(body);
        if let Some(k) = cookie {
            r = r.header(header::COOKIE, k);
        }
        r.send()
    };
    let cookie_of = |res: &reqwest::Response| {
        res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("__Host-hygie_session="))
            .unwrap()
    };
    let credentials = SignInPassword { address: address.clone(), password: PASSWORD.into(), prefer_email: false };
    let res = post(SignInPassword::PATH, args(&credentials), None).await.unwrap();
    let pending = cookie_of(&res);
    let code = six_digits(&wait_sms(&s, 1).await.body);
    let res = post(SignInCode::PATH, args(&SignInCode { code }), Some(pending.clone())).await.unwrap();
    let full = cookie_of(&res);
    let stale = post(MyAccount::PATH, String::new(), Some(pending)).await.unwrap();
    assert_eq!(stale.json::<Value>().await.unwrap(), json!("Unauthorized"), "the pending token ended");
    let me = post(MyAccount::PATH, String::new(), Some(full.clone())).await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap(), json!("TermsPending"));
    post(SignOut::PATH, String::new(), Some(full.clone())).await.unwrap();
    let me = post(MyAccount::PATH, String::new(), Some(full)).await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap(), json!("Unauthorized"));
    s.stop().await;
}

#[tokio::test]
async fn cross_origin_sign_in_is_refused() {
    let s = TestServer::start(Engine::Sqlite).await;
    let (_, address) = account(&s, "eve.faure", Some(MOBILE)).await;
    let body = args(&SignInPassword { address, password: PASSWORD.into(), prefer_email: false });
    for (k, v) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let res = client()
            .post(s.url(SignInPassword::PATH))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(k, v)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{k}: {v}");
    }
    assert!(!actions(&s).await.iter().any(|a| a.starts_with("signin.")), "refused before any work");
    s.stop().await;
}

async fn password_reset_needs_the_link_and_the_sms_code_and_ends_every_session(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "zoe.lambert", Some(MOBILE)).await;
    let (phone, laptop) = (Browser::new(&s), Browser::new(&s));
    sign_in(&s, &phone, &address, 1).await;
    sign_in(&s, &laptop, &address, 2).await;

    let anon = Browser::new(&s);
    assert_eq!(anon.run(ForgotPassword { address: "inconnu@hygie.localhost".into() }).await.status, 200);
    assert_eq!(anon.run(ForgotPassword { address: address.clone() }).await.status, 200);
    let (to, body) = mail(&s, 1).await;
    assert_eq!(to, "zoe.lambert@exemple.fr", "only the real account gets mail");
    let token = link_token(&body, "/reinitialisation/");
    let code = six_digits(&wait_sms(&s, 3).await.body);
    let info = anon.run(ResetLinkInfo { token: token.clone() }).await.body;
    assert_eq!(info, json!({"needs_code": true, "terminal": false}), "the SMS code, no terminal");

    let reset = |code: String, password: &str| {
        anon.run(ResetPassword { token: token.clone(), code, password: password.into() })
    };
    assert_eq!(
        reset(code.clone(), "motdepasse2024!").await.body["Invalid"][0]["problem"],
        "CommonPassword",
        "a weak password spends no code attempt"
    );
    assert_eq!(reset(wrong(&code), "une toute nouvelle phrase").await.body["WrongCode"]["attempts_left"], 4);
    assert_eq!(reset(code.clone(), "une toute nouvelle phrase").await.status, 200);
    assert_eq!(reset(code, "une toute nouvelle phrase").await.body, json!("LinkExpired"));

    assert_eq!(phone.my_account().await.body, json!("Unauthorized"));
    assert_eq!(laptop.my_account().await.body, json!("Unauthorized"));
    assert_eq!(anon.password(&address, PASSWORD).await.body, json!("BadCredentials"));
    assert_eq!(anon.password(&address, "une toute nouvelle phrase").await.status, 200);
    let (_, notice) = mail(&s, 2).await;
    assert!(notice.contains("vient d'être modifié"));
    assert!(actions(&s).await.iter().any(|a| a == "password.reset success"));
    s.stop().await;
}

async fn an_activation_link_sets_the_first_password_once(engine: Engine) {
    let s = TestServer::start(engine).await;
    let rec = AccountRecord {
        address: "hugo.simon@hygie.localhost".into(),
        mailbox_type: "personal".into(),
        kind: "other".into(),
        last_name: "Simon".into(),
        first_name: "Hugo".into(),
        notification_email: "hugo.simon@exemple.fr".into(),
        ..Default::default()
    };
    accounts::create_and_invite(s.db(), &s.clock, &audit::Actor::Operator("test".into()), &rec, "https://h.example")
        .await
        .unwrap();
    let (_, body) = mail(&s, 1).await;
    let token = link_token(&body, "/activation/");
    let b = Browser::new(&s);
    // Not active yet: the same answer as a wrong password.
    assert_eq!(b.password(&rec.address, PASSWORD).await.body, json!("BadCredentials"));
    let activate = |password: &str| b.run(ActivateAccount { token: token.clone(), password: password.into() });
    assert_eq!(activate("court").await.body["Invalid"][0]["problem"], json!({"TooShort": {"min": 12}}));
    assert_eq!(activate("hugo.simon2026").await.body["Invalid"][0]["problem"], "PersonalPassword");
    assert_eq!(activate("azertyuiop123").await.body["Invalid"][0]["problem"], "CommonPassword");
    assert_eq!(activate(PASSWORD).await.status, 200);
    assert_eq!(activate(PASSWORD).await.body, json!("LinkExpired"));
    assert_eq!(b.password(&rec.address, PASSWORD).await.status, 200);
    s.stop().await;
}

async fn settings_changes_need_a_fresh_proof_and_codes_sent_to_the_new_destination(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "theo.girard", Some(MOBILE)).await;
    let (b, other) = (Browser::new(&s), Browser::new(&s));
    sign_in(&s, &other, &address, 1).await;
    sign_in(&s, &b, &address, 2).await;

    // New mobile: the code goes to the new number.
    let change = |kind: &str, value: &str| b.run(StartChangeDestination { kind: kind.into(), value: value.into() });
    let started = change("mobile", "07 11 22 33 44").await;
    assert_eq!(started.body["channel"], "sms", "{:?}", started.body);
    let challenge = started.body["challenge"].as_i64().unwrap();
    let message = wait_sms(&s, 3).await;
    assert_eq!(message.to, "+33711223344");
    let confirm = |code: String| b.run(ConfirmChangeDestination { challenge, code });
    let code = six_digits(&message.body);
    assert_eq!(confirm(wrong(&code)).await.body["WrongCode"]["attempts_left"], 4);
    assert_eq!(confirm(code).await.status, 200);
    assert_eq!(b.my_account().await.body["mobile"], "••••••3344");
    let (to, notice) = mail(&s, 1).await;
    assert_eq!(to, "theo.girard@exemple.fr");
    assert!(notice.contains("numéro de mobile"));

    // A notification address on the instance's own domain is refused.
    let refused = change("email", "x@hygie.localhost").await;
    assert_eq!(refused.body["Invalid"][0]["problem"], "OnSecureDomain");
    // So is one inside the trust space.
    hygie_core::trust_space::replace(s.db(), &s.clock, &["hopital.mssante.fr".to_string()]).await.unwrap();
    let refused = change("email", "theo@Hopital.mssante.fr").await;
    assert_eq!(refused.body["Invalid"][0]["problem"], "OnSecureDomain");

    // Five minutes after the last proof: password again.
    s.clock.advance_ms(5 * 60_000 + 1);
    let stale = change("email", "theo@autre.fr").await;
    assert_eq!(stale.body, json!("ReauthRequired"));
    assert_eq!(b.run(Reauthenticate { password: "pas le bon".into() }).await.body, json!("BadCredentials"));
    assert_eq!(b.run(Reauthenticate { password: PASSWORD.into() }).await.status, 200);
    let started = change("email", "theo@autre.fr").await;
    assert_eq!(started.body["channel"], "email");

    // Preferences.
    let prefs = PreferencesView { notify_new_mail: false, liste_rouge: true, publish_phone: false, no_paper: true };
    assert_eq!(b.run(SavePreferences { prefs }).await.status, 200);
    let me = b.my_account().await;
    assert_eq!(
        me.body["prefs"],
        json!({"notify_new_mail": false, "liste_rouge": true, "publish_phone": false, "no_paper": true})
    );

    // Sessions: two, this one marked; end the other.
    let list = b.run(MySessions {}).await.body;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["device"], "Firefox, Linux");
    let other_id = list.as_array().unwrap().iter().find(|s| s["current"] == false).unwrap()["id"].as_i64().unwrap();
    assert_eq!(b.run(EndSessions { id: other_id }).await.body, json!(1));
    assert_eq!(other.my_account().await.body, json!("Unauthorized"));

    // Password change: current one required, then other sessions end.
    sign_in(&s, &other, &address, 4).await;
    let wrong_current =
        b.run(ChangePassword { current: "non".into(), new_password: "une autre phrase longue".into() }).await;
    assert_eq!(wrong_current.body["Invalid"][0]["problem"], "WrongPassword");
    let ok = b.run(ChangePassword { current: PASSWORD.into(), new_password: "une autre phrase longue".into() }).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(other.my_account().await.body, json!("Unauthorized"));
    assert_eq!(b.my_account().await.status, 200, "this session stays");

    let log = actions(&s).await;
    for expected in [
        "settings.change_mobile success",
        "settings.preferences success",
        "session.end success",
        "password.change success",
        "reauthenticate failure:wrong_password",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing");
    }
    s.stop().await;
}

async fn publishing_new_terms_tells_every_holder_and_asks_again(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "rose.michel", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;
    assert_eq!(b.my_account().await.status, 200);
    let doc = hygie_core::terms::TermsDocument::parse(
        "---\nversion: 1.2\ndate: 2026-12-01\ntitle: Conditions générales d'utilisation\n---\n## 1. Objet\nTexte.\n",
    )
    .unwrap();
    let told = hygie_core::terms::publish(s.db(), &s.clock, &doc, "https://h.example").await.unwrap();
    assert_eq!(told, Some(1));
    assert_eq!(hygie_core::terms::publish(s.db(), &s.clock, &doc, "https://h.example").await.unwrap(), None);
    let (to, body) = mail(&s, 1).await;
    assert_eq!(to, "rose.michel@exemple.fr");
    assert!(body.contains("https://h.example/cgu/1.2"));
    assert_eq!(b.my_account().await.body, json!("TermsPending"));
    assert_eq!(b.run(AcceptTerms { version: "1.2".into() }).await.status, 200);
    assert_eq!(b.my_account().await.status, 200);
    s.stop().await;
}

/// The `Cache-Control` and `Clear-Site-Data` of an answer.
fn cache_headers(res: &reqwest::Response) -> (Option<String>, Option<String>) {
    let h = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    (h("cache-control"), h("clear-site-data"))
}

async fn signed_in_answers_are_never_cached_and_signing_out_clears_the_site(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "lucie.petit", Some(MOBILE)).await;
    let b = Browser::new(&s);

    // Anonymous: portal pages may be cached; server functions never.
    let page = b.c.get(s.url("/faq")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(!cache_headers(&page).0.unwrap_or_default().contains("no-store"), "{engine:?}");
    let api = b.c.post(s.url(MyAccount::PATH)).header(header::ORIGIN, s.origin()).send().await.unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(cache_headers(&api).0.as_deref(), Some("no-store"));

    sign_in(&s, &b, &address, 1).await;
    for path in ["/faq", "/messagerie", "/compte"] {
        let res = b.c.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(cache_headers(&res), (Some("no-store".into()), None), "{engine:?} {path}");
    }
    let me = b.c.post(s.url(MyAccount::PATH)).header(header::ORIGIN, s.origin()).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(cache_headers(&me).0.as_deref(), Some("no-store"));
    // What the session layer skips (static files, health checks) is left alone.
    let health = b.c.get(s.url("/healthz")).send().await.unwrap();
    assert!(!cache_headers(&health).0.unwrap_or_default().contains("no-store"));

    let out = b.c.post(s.url(SignOut::PATH)).header(header::ORIGIN, s.origin()).send().await.unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(cache_headers(&out), (Some("no-store".into()), Some(r#""cache", "cookies""#.into())), "{engine:?}");
    assert_eq!(b.my_account().await.body, json!("Unauthorized"));
    s.stop().await;
}
