use super::soft::SoftAuthenticator;
use super::*;
use crate::auth::holder::{HolderSession, Level};
use crate::auth::session::{self, NewSession, SessionPolicy};
use crate::auth::signin::{self, CodeStep, Ctx, PasskeySignIn};
use crate::auth::terminals;
use crate::auth::testing::{holder, outbox_categories};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;
const ORIGIN: &str = "https://hygie.example:8443";

fn rp() -> RelyingParty {
    RelyingParty::new(ORIGIN).unwrap()
}

fn ctx<'a>(db: &'a Db, clock: &'a ManualClock) -> Ctx<'a> {
    Ctx { db, clock, policy: SessionPolicy::default(), public_url: ORIGIN, ip: Some("192.0.2.7"), user_agent: None }
}

async fn log(db: &Db) -> Vec<String> {
    crate::audit::latest(db, 50).await.unwrap().into_iter().map(|r| format!("{} {}", r.action, r.outcome)).collect()
}

/// Adds a passkey from `key` and returns the recovery codes it brought, if any.
async fn register(db: &Db, clock: &ManualClock, h: &Holder, key: &mut SoftAuthenticator) -> Option<usize> {
    let c = start_registration(db, clock, &rp(), h, "Clé du cabinet").await.unwrap();
    let answer = key.create(&c.options).unwrap();
    finish_registration(db, clock, &rp(), h, &c.id, &answer).await.unwrap().map(|codes| codes.len())
}

#[tokio::test]
async fn a_passkey_is_added_once_and_bound_to_one_account() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let stale = Holder { session: Some(HolderSession { id: 1, authenticated_ms: T0 - 6 * 60_000 }), ..h.clone() };
        assert!(matches!(
            start_registration(&t.db, &clock, &rp(), &stale, "x").await,
            Err(TerminalError::ReauthRequired)
        ));

        let mut key = SoftAuthenticator::new(ORIGIN);
        let c = start_registration(&t.db, &clock, &rp(), &h, "Clé du cabinet").await.unwrap();
        let options: serde_json::Value = serde_json::from_str(&c.options).unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "hygie.example");
        assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(options["publicKey"]["authenticatorSelection"]["residentKey"], "preferred");
        let answer = key.create(&c.options).unwrap();
        let codes = finish_registration(&t.db, &clock, &rp(), &h, &c.id, &answer).await.unwrap();
        assert_eq!(codes.map(|c| c.len()), Some(terminals::RECOVERY_CODES), "the first terminal brings recovery codes");
        let listed = terminals::list(&t.db, h.account_id).await.unwrap();
        assert_eq!((listed.len(), listed[0].kind.as_str(), listed[0].name.as_str()), (1, "passkey", "Clé du cabinet"));
        assert!(has_passkey(&t.db, h.account_id).await.unwrap());
        assert_eq!(outbox_categories(&t.db).await, ["terminal.added"]);

        // The same answer again: the ceremony was used up.
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &h, &c.id, &answer).await,
            Err(TerminalError::NotFound)
        ));
        // A new ceremony excludes the key already added: the authenticator refuses to make another.
        let again = start_registration(&t.db, &clock, &rp(), &h, "Encore").await.unwrap();
        assert_eq!(key.create(&again.options), Err("InvalidStateError"));
        // A ceremony dies after five minutes.
        let late = start_registration(&t.db, &clock, &rp(), &h, "Tard").await.unwrap();
        let mut other = SoftAuthenticator::new(ORIGIN);
        let answer = other.create(&late.options).unwrap();
        clock.advance_ms(CEREMONY_TTL_MS + 1);
        let h = Holder { session: Some(HolderSession { id: 1, authenticated_ms: clock.now_ms() }), ..h };
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &h, &late.id, &answer).await,
            Err(TerminalError::NotFound)
        ));
        // An answer made for another site does not verify.
        let c = start_registration(&t.db, &clock, &rp(), &h, "Ailleurs").await.unwrap();
        let answer = SoftAuthenticator::new("https://phishing.example").create(&c.options).unwrap();
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &h, &c.id, &answer).await,
            Err(TerminalError::KeyRefused)
        ));

        // Another account cannot take the key: its credential id is bound to the first.
        let bob = holder(&t.db, &clock, "bob").await;
        let c = start_registration(&t.db, &clock, &rp(), &bob, "La clé d'Inès").await.unwrap();
        let stolen = key.create_reusing(&c.options, 0);
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &bob, &c.id, &stolen).await,
            Err(TerminalError::KeyTaken)
        ));
        assert!(terminals::list(&t.db, bob.account_id).await.unwrap().is_empty());
        // Nor finish the first holder's ceremony.
        let c = start_registration(&t.db, &clock, &rp(), &h, "Autre").await.unwrap();
        let answer = SoftAuthenticator::new(ORIGIN).create(&c.options).unwrap();
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &bob, &c.id, &answer).await,
            Err(TerminalError::NotFound)
        ));
        let log = log(&t.db).await;
        for expected in [
            "terminal.passkey.start success",
            "terminal.add success",
            "terminal.add failure:dead_ceremony",
            "terminal.add failure:refused",
            "terminal.add failure:credential_taken",
        ] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}

#[tokio::test]
async fn a_passkey_alone_signs_in_once_per_ceremony_and_its_removal_ends_the_session() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let mut key = SoftAuthenticator::new(ORIGIN);
        register(&t.db, &clock, &h, &mut key).await;
        let ctx = ctx(&t.db, &clock);

        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let options: serde_json::Value = serde_json::from_str(&c.options).unwrap();
        assert!(options.get("mediation").is_none(), "a button, not autofill");
        let answer = key.get(&c.options).unwrap();
        let PasskeySignIn::SignedIn { token, session_id, account_id } =
            signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap()
        else {
            panic!("a passkey alone signs in")
        };
        assert_eq!(account_id, h.account_id);
        let s = session::lookup(&t.db, &clock, &SessionPolicy::default(), token.expose(), session::Activity::Person)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((s.id, s.level), (session_id, Level::Full));
        let rows = session::list(&t.db, &clock, &SessionPolicy::default(), h.account_id).await.unwrap();
        assert!(rows.iter().any(|r| r.id == session_id && r.factor.as_deref() == Some("passkey")));

        // The same answer again is refused: the ceremony is gone.
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));
        // A key of no account is refused.
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let mut stranger = SoftAuthenticator::new(ORIGIN);
        let c2 = start_registration(&t.db, &clock, &rp(), &holder(&t.db, &clock, "zoe").await, "z").await.unwrap();
        stranger.create(&c2.options).unwrap();
        let answer = stranger.get(&c.options).unwrap();
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));
        // A tampered signature is refused.
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let mut answer: serde_json::Value = serde_json::from_str(&key.get(&c.options).unwrap()).unwrap();
        answer["response"]["clientDataJSON"] = serde_json::Value::String(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(br#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://hygie.example:8443"}"#),
        );
        assert!(matches!(
            signin::passkey_signin(&ctx, &rp(), &c.id, &answer.to_string()).await.unwrap(),
            PasskeySignIn::Refused
        ));

        // Removing the key ends the session it opened.
        let terminal = terminals::list(&t.db, h.account_id).await.unwrap()[0].id;
        assert_eq!(terminals::remove(&t.db, &clock, &h, terminal).await.unwrap(), 1);
        assert!(session::lookup(&t.db, &clock, &SessionPolicy::default(), token.expose(), session::Activity::Person)
            .await
            .unwrap()
            .is_none());
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let answer = key.get(&c.options).unwrap();
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));
        let log = log(&t.db).await;
        for expected in [
            "signin.passkey success",
            "signin.passkey failure:dead_ceremony",
            "signin.passkey failure:unknown_key",
            "signin.passkey failure:bad_signature",
        ] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}

#[tokio::test]
async fn a_counter_that_goes_backwards_flags_the_key_for_good() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let mut key = SoftAuthenticator::new(ORIGIN);
        register(&t.db, &clock, &h, &mut key).await;
        let ctx = ctx(&t.db, &clock);
        for _ in 0..3 {
            let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
            let answer = key.get(&c.options).unwrap();
            assert!(matches!(
                signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(),
                PasskeySignIn::SignedIn { .. }
            ));
        }
        // A copy of the key made before those three sign-ins.
        key.keys[0].counter = 1;
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let answer = key.get(&c.options).unwrap();
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));
        let listed = terminals::list(&t.db, h.account_id).await.unwrap();
        assert!(listed[0].flagged_ms.is_some(), "flagged");
        assert!(!has_passkey(&t.db, h.account_id).await.unwrap());
        assert!(outbox_categories(&t.db).await.contains(&"terminal.flagged".to_string()));
        // Even the genuine key, ahead again, proves nothing until it is removed and added anew.
        key.keys[0].counter = 100;
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let answer = key.get(&c.options).unwrap();
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));
        let log = log(&t.db).await;
        for expected in ["terminal.passkey.flag denied:counter_regressed", "signin.passkey failure:flagged"] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}

#[tokio::test]
async fn after_the_password_a_passkey_proves_the_pending_sign_in() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let mut key = SoftAuthenticator::new(ORIGIN);
        register(&t.db, &clock, &h, &mut key).await;
        let ctx = ctx(&t.db, &clock);
        let pending = |db: &Db| {
            let db = db.clone();
            let clock = &clock;
            async move {
                let (id, token) = session::create(
                    &db,
                    clock,
                    &SessionPolicy::default(),
                    NewSession {
                        account_id: h.account_id,
                        level: Level::Password,
                        challenge_id: None,
                        ip: None,
                        user_agent: None,
                        factor: None,
                    },
                )
                .await
                .unwrap();
                let s =
                    session::lookup(&db, clock, &SessionPolicy::default(), token.expose(), session::Activity::Person)
                        .await
                        .unwrap()
                        .unwrap();
                assert_eq!(s.id, id);
                s
            }
        };
        let p1 = pending(&t.db).await;
        let c = signin::start_passkey_step(&ctx, &rp(), &p1).await.unwrap().expect("the account has a passkey");
        let options: serde_json::Value = serde_json::from_str(&c.options).unwrap();
        assert_eq!(options["publicKey"]["allowCredentials"].as_array().map(Vec::len), Some(1));
        let answer = key.get(&c.options).unwrap();
        // Another pending sign-in cannot use this ceremony.
        let p2 = pending(&t.db).await;
        assert!(matches!(signin::passkey_step(&ctx, &rp(), &p2, &c.id, &answer).await.unwrap(), CodeStep::KeyRefused));
        let c = signin::start_passkey_step(&ctx, &rp(), &p1).await.unwrap().unwrap();
        let answer = key.get(&c.options).unwrap();
        let CodeStep::SignedIn { account_id, .. } =
            signin::passkey_step(&ctx, &rp(), &p1, &c.id, &answer).await.unwrap()
        else {
            panic!("the passkey proves the sign-in")
        };
        assert_eq!(account_id, h.account_id);
        let log = log(&t.db).await;
        for expected in ["signin.code success", "signin.code failure:dead_ceremony"] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}

#[tokio::test]
async fn a_security_key_that_does_not_verify_its_holder_proves_a_sign_in_after_the_password_only() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let mut key = SoftAuthenticator::new(ORIGIN);
        key.user_verified = false;
        // Not as a passkey: a passkey must verify its holder.
        let c = start_registration(&t.db, &clock, &rp(), &h, "Clé USB").await.unwrap();
        let answer = key.create(&c.options).unwrap();
        assert!(matches!(
            finish_registration(&t.db, &clock, &rp(), &h, &c.id, &answer).await,
            Err(TerminalError::KeyRefused)
        ));
        key.keys.clear();
        // As a security key, for after the password.
        let c = start_security_key_registration(&t.db, &clock, &rp(), &h, "Clé USB").await.unwrap();
        let options: serde_json::Value = serde_json::from_str(&c.options).unwrap();
        assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "preferred");
        let answer = key.create(&c.options).unwrap();
        assert!(finish_registration(&t.db, &clock, &rp(), &h, &c.id, &answer).await.unwrap().is_some());
        let listed = terminals::list(&t.db, h.account_id).await.unwrap();
        assert_eq!((listed[0].kind.as_str(), listed[0].second_factor_only), ("passkey", true));

        // Alone, it signs nobody in.
        let ctx = ctx(&t.db, &clock);
        let c = signin::start_passkey_signin(&ctx, &rp()).await.unwrap();
        let answer = key.get(&c.options).unwrap();
        assert!(matches!(signin::passkey_signin(&ctx, &rp(), &c.id, &answer).await.unwrap(), PasskeySignIn::Refused));

        // After the password, holding it is the second factor.
        let (_, token) = session::create(
            &t.db,
            &clock,
            &SessionPolicy::default(),
            NewSession {
                account_id: h.account_id,
                level: Level::Password,
                challenge_id: None,
                ip: None,
                user_agent: None,
                factor: None,
            },
        )
        .await
        .unwrap();
        let pending =
            session::lookup(&t.db, &clock, &SessionPolicy::default(), token.expose(), session::Activity::Person)
                .await
                .unwrap()
                .unwrap();
        let c = signin::start_passkey_step(&ctx, &rp(), &pending).await.unwrap().unwrap();
        let options: serde_json::Value = serde_json::from_str(&c.options).unwrap();
        assert_eq!(options["publicKey"]["userVerification"], "preferred");
        let answer = key.get(&c.options).unwrap();
        assert!(matches!(
            signin::passkey_step(&ctx, &rp(), &pending, &c.id, &answer).await.unwrap(),
            CodeStep::SignedIn { .. }
        ));
        let log = log(&t.db).await;
        for expected in ["terminal.securitykey.start success", "signin.passkey failure:second_factor_only"] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}
