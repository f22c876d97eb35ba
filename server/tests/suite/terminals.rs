//! "Mes terminaux" through the real server functions: an authenticator app added with a fresh
//! sign-in and a first code, then asked for first at sign-in (each code once, five tries), a
//! code by SMS on request, and its removal ending the sessions it opened. Codes are computed
//! by the test from the key shown, as the holder's app would.

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{
    ApprovalAsked, ApprovalRequest, AskPhone, ConfirmTotp, FinishPasskey, FinishPasskeySignIn, FinishPasskeyStep,
    FinishPhone, ForgotPassword, KeyCeremony, MySessions, MyTerminals, PhoneAddedView, PhoneAnswered, PhoneChoose,
    PhoneConfirm, PhoneLinkLive, PhoneLinkView, PhoneSetup, PhoneWaiting, Reauthenticate, RemoveTerminal,
    ResendSignInCode, ResetLinkInfo, ResetPassword, SessionView, SignOut, StartPasskey, StartPasskeySignIn,
    StartPasskeyStep, StartPhone, StartPhoneLink, StartTotp, TerminalView, TotpSetup,
};
use hygie_core::auth::passkeys::soft::SoftAuthenticator;
use hygie_core::auth::terminals::code_for;
use hygie_core::clock::Clock;
use serde_json::json;

on_each_engine!(
    an_authenticator_app_is_asked_for_first_once_added_and_its_removal_ends_its_sessions,
    a_recovery_code_signs_in_once_and_a_reset_needs_the_terminal_not_only_the_mailbox,
    a_passkey_signs_in_alone_or_after_the_password_and_is_bound_to_one_account,
    a_phone_approves_with_the_right_number_only_and_within_two_minutes,
);

async fn an_authenticator_app_is_asked_for_first_once_added_and_its_removal_ends_its_sessions(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "mona.petit", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;

    // Adding one needs a sign-in less than five minutes old.
    s.clock.advance_ms(6 * 60_000);
    let stale = b.run(StartTotp { name: "Téléphone du cabinet".into() }).await;
    assert_eq!((stale.status, stale.body.clone()), (403, json!("ReauthRequired")));
    assert_eq!(b.run(Reauthenticate { password: PASSWORD.into() }).await.status, 200);
    let setup: TotpSetup = b.run(StartTotp { name: "Téléphone du cabinet".into() }).await.ok();
    assert!(setup.qr_svg.contains("<svg") && setup.otpauth_url.starts_with("otpauth://totp/"));
    let key = setup.manual_key.clone();
    let now = || s.clock.now_ms();
    let wrong = format!("{:06}", (code_for(&key, now()).unwrap().parse::<u32>().unwrap() + 7) % 1_000_000);
    let refused = b.run(ConfirmTotp { id: setup.id, code: wrong.clone() }).await;
    assert_eq!(refused.body["Invalid"][0]["problem"], "WrongCode", "{:?}", refused.body);
    let first = code_for(&key, now()).unwrap();
    let recovery: Vec<String> = b.run(ConfirmTotp { id: setup.id, code: first.clone() }).await.ok();
    assert_eq!(recovery.len(), 10, "recovery codes with the first terminal");
    let (to, text) = mail(&s, 1).await;
    assert_eq!(to, "mona.petit@exemple.fr");
    assert!(text.contains("Téléphone du cabinet") && text.contains("vient d'être ajouté"));
    let terminals: Vec<TerminalView> = b.run(MyTerminals {}).await.ok();
    assert_eq!((terminals.len(), terminals[0].kind.as_str()), (1, "totp"));
    assert_eq!(b.run(SignOut {}).await.status, 200);

    // Signing in now asks for the app's code, and sends nothing.
    let phone = Browser::new(&s);
    let step = phone.password(&address, PASSWORD).await;
    assert_eq!((step.body["channel"].clone(), step.body["sms_possible"].clone()), (json!("totp"), json!(true)));
    assert_eq!(sms(&s).len(), 1, "no SMS");
    // The code that confirmed the app does not sign in: refused, and the holder told.
    assert_eq!(phone.code(&first).await.body, json!("CodeReplayed"));
    let (_, told) = mail(&s, 2).await;
    assert!(told.contains("déjà utilisé"));
    assert_eq!(phone.code(&wrong).await.body, json!({"WrongCode": {"attempts_left": 3}}));
    s.clock.advance_ms(30_000);
    assert_eq!(phone.code(&code_for(&key, now()).unwrap()).await.body, json!("/messagerie"));
    let sessions: Vec<SessionView> = phone.run(MySessions {}).await.ok();
    assert_eq!(sessions.iter().find(|x| x.current).map(|x| x.factor.as_str()), Some("totp"));

    // Five tries per pending sign-in, then start again from the password.
    let guesser = Browser::new(&s);
    assert_eq!(guesser.password(&address, PASSWORD).await.body["channel"], "totp");
    for left in (1..=4).rev() {
        assert_eq!(guesser.code(&wrong).await.body, json!({"WrongCode": {"attempts_left": left}}));
    }
    assert_eq!(guesser.code(&wrong).await.body, json!("CodeExpired"));
    assert_eq!(guesser.code(&code_for(&key, now()).unwrap()).await.body, json!("CodeExpired"), "the session ended");

    // A code by SMS instead, on request.
    let desk = Browser::new(&s);
    assert_eq!(desk.password(&address, PASSWORD).await.body["channel"], "totp");
    let sent = desk.run(ResendSignInCode { to_email: false }).await;
    assert_eq!(sent.body["channel"], "sms", "{:?}", sent.body);
    let by_sms = six_digits(&wait_sms(&s, 2).await.body);
    assert_eq!(desk.code(&by_sms).await.body, json!("/messagerie"));

    // Removing the app ends the sessions it opened (the phone's), not this one.
    let removed = desk.run(RemoveTerminal { id: setup.id }).await;
    assert_eq!(removed.body, json!(1), "{:?}", removed.body);
    assert_eq!(phone.my_account().await.body, json!("Unauthorized"));
    assert_eq!(desk.my_account().await.status, 200);
    let (_, notice) = mail(&s, 3).await;
    assert!(notice.contains("vient d'être retiré"));
    assert_eq!(desk.run(MyTerminals {}).await.body, json!([]));
    let again = Browser::new(&s);
    assert_eq!(again.password(&address, PASSWORD).await.body["channel"], "sms", "back to the SMS code");

    let log = actions(&s).await;
    for expected in [
        "terminal.totp.start success",
        "terminal.add failure:wrong_code",
        "terminal.add success",
        "signin.code failure:replayed",
        "terminal.remove success",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    let trail = format!("{:?}", hygie_core::audit::latest(s.db(), 1000).await.unwrap());
    assert!(!trail.contains(&first) && !trail.contains(&key.replace(' ', "")));
    assert!(hygie_core::audit::verify(s.db()).await.unwrap().is_intact());
    s.stop().await;
}

async fn a_recovery_code_signs_in_once_and_a_reset_needs_the_terminal_not_only_the_mailbox(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, address) = account(&s, "remi.garnier", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;
    let setup: TotpSetup = b.run(StartTotp { name: "Téléphone".into() }).await.ok();
    let code = code_for(&setup.manual_key, s.clock.now_ms()).unwrap();
    let recovery: Vec<String> = b.run(ConfirmTotp { id: setup.id, code }).await.ok();
    assert_eq!(recovery.len(), 10);

    // The phone is lost: a recovery code signs in, once, and the holder is told how many are left.
    let lost = Browser::new(&s);
    assert_eq!(lost.password(&address, PASSWORD).await.body["channel"], "totp");
    assert_eq!(lost.code(&recovery[0].to_uppercase()).await.body, json!("/messagerie"));
    let sessions: Vec<SessionView> = lost.run(MySessions {}).await.ok();
    assert_eq!(sessions.iter().find(|x| x.current).map(|x| x.factor.as_str()), Some("recovery"));
    let (_, told) = mail(&s, 2).await;
    assert!(told.contains("Il vous en reste 9"), "{told}");
    let again = Browser::new(&s);
    assert_eq!(again.password(&address, PASSWORD).await.body["channel"], "totp");
    assert_eq!(again.code(&recovery[0]).await.body, json!({"WrongCode": {"attempts_left": 4}}), "once");

    // A reset link alone (the notification mailbox) is not enough: a terminal's code is needed.
    let anon = Browser::new(&s);
    assert_eq!(anon.run(ForgotPassword { address: address.clone() }).await.status, 200);
    let (_, body) = mail(&s, 3).await;
    assert!(body.contains("application d'authentification"), "{body}");
    assert_eq!(sms(&s).len(), 1, "no SMS code: the terminal is asked for");
    let token = link_token(&body, "/reinitialisation/");
    let info = anon.run(ResetLinkInfo { token: token.clone() }).await;
    assert_eq!(info.body, json!({"needs_code": true, "terminal": true}));
    let new_password = "registre des entrées 2027";
    let wrong = anon.run(ResetPassword { token: token.clone(), code: "000000".into(), password: new_password.into() });
    assert_eq!(wrong.await.body, json!({"WrongCode": {"attempts_left": 4}}));
    let reset =
        anon.run(ResetPassword { token: token.clone(), code: recovery[1].clone(), password: new_password.into() });
    assert_eq!(reset.await.status, 200);
    assert_eq!(b.my_account().await.body, json!("Unauthorized"), "every session ended");
    let log = actions(&s).await;
    for expected in
        ["terminal.recovery.used success", "password.reset failure:wrong_terminal_code", "password.reset success"]
    {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    // Another holder cannot remove it through its id.
    let (_, other) = account(&s, "ines.autre", Some("+33700000009")).await;
    let intruder = Browser::new(&s);
    sign_in(&s, &intruder, &other, 2).await;
    assert_eq!(intruder.run(RemoveTerminal { id: setup.id }).await.body, json!("NotFound"));
    let after = Browser::new(&s);
    assert_eq!(after.password(&address, new_password).await.body["channel"], "totp", "still there");
    s.stop().await;
}

async fn a_passkey_signs_in_alone_or_after_the_password_and_is_bound_to_one_account(engine: Engine) {
    const ORIGIN: &str = "https://messagerie.hygie.test";
    let s = TestServer::start_with(engine, |c| c.public_url = Some(ORIGIN.into())).await;
    let (_, address) = account(&s, "lea.martin", Some(MOBILE)).await;
    let b = Browser::new(&s);
    sign_in(&s, &b, &address, 1).await;
    let mut key = SoftAuthenticator::new(ORIGIN);

    // Added from "Mes terminaux": the options come from the server, the key's answer goes back.
    let c: KeyCeremony = b.run(StartPasskey { name: "Ordinateur du cabinet".into() }).await.ok();
    let answer = key.create(&c.options).unwrap();
    let recovery: Vec<String> = b.run(FinishPasskey { ceremony: c.id.clone(), response: answer.clone() }).await.ok();
    assert_eq!(recovery.len(), 10, "recovery codes with the first terminal");
    let again = b.run(FinishPasskey { ceremony: c.id, response: answer }).await;
    assert_eq!((again.status, again.body), (404, json!("NotFound")), "a ceremony is used once");
    let terminals: Vec<TerminalView> = b.run(MyTerminals {}).await.ok();
    assert_eq!((terminals.len(), terminals[0].kind.as_str(), terminals[0].flagged), (1, "passkey", false));
    let (_, text) = mail(&s, 1).await;
    assert!(text.contains("Ordinateur du cabinet"), "{text}");
    assert_eq!(b.run(SignOut {}).await.status, 200);

    // "Se connecter avec une clé d'accès": no address, no password, no code.
    let alone = Browser::new(&s);
    let c: KeyCeremony = alone.run(StartPasskeySignIn {}).await.ok();
    let answer = key.get(&c.options).unwrap();
    let next = alone.run(FinishPasskeySignIn { ceremony: c.id.clone(), response: answer.clone() }).await;
    assert_eq!(next.body, json!("/messagerie"), "{:?}", next.body);
    let sessions: Vec<SessionView> = alone.run(MySessions {}).await.ok();
    assert_eq!(sessions.iter().find(|x| x.current).map(|x| x.factor.as_str()), Some("passkey"));
    let replay = Browser::new(&s).run(FinishPasskeySignIn { ceremony: c.id, response: answer }).await;
    assert_eq!(replay.body, json!({"KeyRefused": {"reason": "refused"}}), "the answer cannot be replayed");
    assert_eq!(sms(&s).len(), 1, "no code was sent");

    // With the password, the passkey is asked for first; someone at that step shows in the
    // holder's sessions as "password only".
    let desk = Browser::new(&s);
    let step = desk.password(&address, PASSWORD).await;
    assert_eq!((step.body["channel"].clone(), step.body["totp"].clone()), (json!("passkey"), json!(false)));
    let sessions: Vec<SessionView> = alone.run(MySessions {}).await.ok();
    assert_eq!(sessions.iter().filter(|x| x.factor == "password").count(), 1, "{sessions:?}");
    let c: KeyCeremony = desk.run(StartPasskeyStep {}).await.ok();
    let answer = key.get(&c.options).unwrap();
    assert_eq!(desk.run(FinishPasskeyStep { ceremony: c.id, response: answer }).await.body, json!("/messagerie"));
    assert_eq!(sms(&s).len(), 1, "still no code sent");

    // Another account cannot take the key.
    let (_, other) = account(&s, "hugo.roux", Some("+33700000008")).await;
    let thief = Browser::new(&s);
    sign_in(&s, &thief, &other, 2).await;
    let c: KeyCeremony = thief.run(StartPasskey { name: "Clé de Léa".into() }).await.ok();
    let stolen = key.create_reusing(&c.options, 0);
    let refused = thief.run(FinishPasskey { ceremony: c.id, response: stolen }).await;
    assert_eq!((refused.status, refused.body), (422, json!({"KeyRefused": {"reason": "taken"}})));
    assert_eq!(thief.run(MyTerminals {}).await.body, json!([]));

    // A copy of the key (its counter behind) is refused and the key flagged for good.
    key.keys[0].counter = 1;
    let copy = Browser::new(&s);
    let c: KeyCeremony = copy.run(StartPasskeySignIn {}).await.ok();
    let answer = key.get(&c.options).unwrap();
    let refused = copy.run(FinishPasskeySignIn { ceremony: c.id, response: answer }).await;
    assert_eq!(refused.body, json!({"KeyRefused": {"reason": "refused"}}));
    let terminals: Vec<TerminalView> = desk.run(MyTerminals {}).await.ok();
    assert!(terminals[0].flagged);
    let back = Browser::new(&s);
    assert_eq!(back.password(&address, PASSWORD).await.body["channel"], "sms", "a flagged key is not offered");
    // A holder with a passkey: the reset link alone is not enough, a recovery code is asked for.
    assert_eq!(back.run(ForgotPassword { address: address.clone() }).await.status, 200);
    let (_, body) = mail(&s, 3).await;
    assert!(body.contains("/reinitialisation/") && body.contains("codes de secours"), "{body}");
    let info = back.run(ResetLinkInfo { token: link_token(&body, "/reinitialisation/") }).await;
    assert_eq!(info.body, json!({"needs_code": true, "terminal": true}));

    // Removing it ends the sessions it opened.
    let removed = desk.run(RemoveTerminal { id: terminals[0].id }).await;
    assert_eq!(removed.body, json!(1), "{:?}", removed.body);
    assert_eq!(alone.my_account().await.body, json!("Unauthorized"));
    let log = actions(&s).await;
    for expected in [
        "terminal.passkey.start success",
        "terminal.add success",
        "terminal.add failure:credential_taken",
        "signin.passkey success",
        "signin.passkey failure:dead_ceremony",
        "terminal.passkey.flag denied:counter_regressed",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    assert!(hygie_core::audit::verify(s.db()).await.unwrap().is_intact());
    s.stop().await;
}

async fn a_phone_approves_with_the_right_number_only_and_within_two_minutes(engine: Engine) {
    const ORIGIN: &str = "https://messagerie.hygie.test";
    let s = TestServer::start_with(engine, |c| c.public_url = Some(ORIGIN.into())).await;
    let (_, address) = account(&s, "paul.girard", Some(MOBILE)).await;
    let desk = Browser::new(&s);
    sign_in(&s, &desk, &address, 1).await;
    let link: PhoneLinkView = desk.run(StartPhoneLink {}).await.ok();
    let token = link.url.rsplit('/').next().unwrap().to_string();

    // The phone signs in, then adds itself from the link (no push service reachable here).
    let phone = Browser::new(&s);
    assert_eq!(phone.run(PhoneLinkLive { token: token.clone() }).await.body, json!("Unauthorized"));
    sign_in(&s, &phone, &address, 2).await;
    assert_eq!(phone.run(PhoneLinkLive { token: token.clone() }).await.body, json!(true));
    let setup: PhoneSetup = phone.run(StartPhone { token: token.clone(), name: "Téléphone de Paul".into() }).await.ok();
    let mut device = SoftAuthenticator::new(ORIGIN);
    let answer = device.create(&setup.ceremony.options).unwrap();
    let finish = |ceremony: String, response: String| FinishPhone {
        token: token.clone(),
        ceremony,
        response,
        endpoint: String::new(),
        p256dh: String::new(),
        auth: String::new(),
    };
    let added: PhoneAddedView = phone.run(finish(setup.ceremony.id.clone(), answer.clone())).await.ok();
    assert_eq!(added.recovery_codes.len(), 10);
    let device_token = added.device_token.clone();
    assert_eq!(phone.run(PhoneLinkLive { token: token.clone() }).await.body, json!(false), "the link works once");

    // At sign-in the phone is offered first; the open app finds the request by its device token.
    let laptop = Browser::new(&s);
    let step = laptop.password(&address, PASSWORD).await;
    assert_eq!((step.body["channel"].clone(), step.body["phone"].clone()), (json!("phone"), json!(true)));
    let asked: ApprovalAsked = laptop.run(AskPhone {}).await.ok();
    let waiting: Vec<ApprovalRequest> = phone.run(PhoneWaiting { device: device_token.clone() }).await.ok();
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].choices.contains(&asked.number));
    let stranger: Vec<ApprovalRequest> = Browser::new(&s).run(PhoneWaiting { device: "ab".repeat(32) }).await.ok();
    assert!(stranger.is_empty());
    assert_eq!(laptop.run(PhoneAnswered { id: asked.id.clone() }).await.body, json!(null), "not yet answered");

    // A wrong number refuses the sign-in.
    let wrong = *waiting[0].choices.iter().find(|n| **n != asked.number).unwrap();
    let refused = phone.run(PhoneChoose { device: device_token.clone(), id: asked.id.clone(), number: wrong }).await;
    assert_eq!(refused.body, json!({"KeyRefused": {"reason": "wrong_number"}}));
    let over = laptop.run(PhoneAnswered { id: asked.id.clone() }).await;
    assert_eq!(over.body, json!({"KeyRefused": {"reason": "phone_refused"}}));

    // A request dies after two minutes.
    let asked: ApprovalAsked = laptop.run(AskPhone {}).await.ok();
    s.clock.advance_ms(2 * 60_000 + 1);
    let late =
        phone.run(PhoneChoose { device: device_token.clone(), id: asked.id.clone(), number: asked.number }).await;
    assert_eq!(late.body, json!({"KeyRefused": {"reason": "request_gone"}}));

    // The right number, confirmed by the phone's passkey, signs the laptop in, once.
    let laptop = Browser::new(&s);
    assert_eq!(laptop.password(&address, PASSWORD).await.status, 200);
    let asked: ApprovalAsked = laptop.run(AskPhone {}).await.ok();
    let c: KeyCeremony =
        phone.run(PhoneChoose { device: device_token.clone(), id: asked.id.clone(), number: asked.number }).await.ok();
    let answer = device.get(&c.options).unwrap();
    assert_eq!(
        phone.run(PhoneConfirm { device: device_token.clone(), ceremony: c.id, response: answer }).await.status,
        200
    );
    assert_eq!(laptop.run(PhoneAnswered { id: asked.id.clone() }).await.body, json!("/messagerie"));
    let sessions: Vec<SessionView> = laptop.run(MySessions {}).await.ok();
    assert_eq!(sessions.iter().find(|x| x.current).map(|x| x.factor.as_str()), Some("phone"));
    let log = actions(&s).await;
    for expected in [
        "terminal.phone.link success",
        "signin.phone.ask success",
        "signin.phone.answer failure:wrong_number",
        "signin.phone.answer success",
    ] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }
    s.stop().await;
}
