use super::*;
use crate::auth::holder::{HolderSession, Level};
use crate::auth::session::{self, NewSession, SessionPolicy};
use crate::auth::testing::{holder, outbox_categories};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;

/// Enrols an authenticator app and returns its terminal id and key.
async fn enrolled(db: &Db, clock: &ManualClock, h: &Holder) -> (i64, String) {
    let e = start_totp(db, clock, h, "Téléphone du cabinet").await.unwrap();
    let key = e.manual_key.to_string();
    confirm_totp(db, clock, h, e.terminal_id, &code_for(&key, clock.now_ms()).unwrap()).await.unwrap();
    (e.terminal_id, key)
}

#[tokio::test]
async fn an_authenticator_app_is_added_with_a_first_code_and_each_code_works_once() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let stale = Holder { session: Some(HolderSession { id: 1, authenticated_ms: T0 - 6 * 60_000 }), ..h.clone() };
        assert!(matches!(start_totp(&t.db, &clock, &stale, "x").await, Err(TerminalError::ReauthRequired)));
        assert!(matches!(start_totp(&t.db, &clock, &h, "  ").await, Err(TerminalError::NameRequired)));

        let e = start_totp(&t.db, &clock, &h, "Téléphone du cabinet").await.unwrap();
        assert!(e.qr_svg.starts_with("<?xml") && e.qr_svg.contains("<svg"), "inline SVG");
        assert!(e.otpauth_url.starts_with("otpauth://totp/Hygie:ines%40hygie.example?"));
        let key = e.manual_key.to_string();
        assert_eq!(key.chars().filter(|c| !c.is_whitespace()).count(), 32, "160 bits in base32");
        assert!(list(&t.db, h.account_id).await.unwrap().is_empty(), "not in use before its first code");
        assert!(!has_totp(&t.db, h.account_id).await.unwrap());
        // The secret is sealed: neither its bytes nor its base32 are in the row.
        let sealed: Vec<u8> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT sealed_secret FROM terminals")
            .fetch_one(p).await.unwrap());
        let raw = totp_rs::Secret::try_from_base32(key.replace(' ', "")).unwrap();
        assert!(!sealed.windows(20).any(|w| w == raw.as_bytes()));
        assert!(!String::from_utf8_lossy(&sealed).contains(&key.replace(' ', "")));

        let wrong = format!("{:06}", (code_for(&key, T0).unwrap().parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(matches!(confirm_totp(&t.db, &clock, &h, e.terminal_id, &wrong).await, Err(TerminalError::WrongCode)));
        let first = code_for(&key, T0).unwrap();
        confirm_totp(&t.db, &clock, &h, e.terminal_id, &first).await.unwrap();
        let terms = list(&t.db, h.account_id).await.unwrap();
        assert_eq!((terms.len(), terms[0].kind.as_str(), terms[0].name.as_str()), (1, "totp", "Téléphone du cabinet"));
        assert!(has_totp(&t.db, h.account_id).await.unwrap());
        assert_eq!(outbox_categories(&t.db).await, ["terminal.added"]);

        // The code used to confirm does not sign in; neither does any code of an earlier step.
        let id = e.terminal_id;
        assert_eq!(
            verify_totp(&t.db, &clock, h.account_id, &first).await.unwrap(),
            TotpCheck::Replayed { terminal_id: id }
        );
        clock.advance_ms(30_000);
        let next = code_for(&key, clock.now_ms()).unwrap();
        assert_eq!(
            verify_totp(&t.db, &clock, h.account_id, &next).await.unwrap(),
            TotpCheck::Accepted { terminal_id: id }
        );
        assert_eq!(
            verify_totp(&t.db, &clock, h.account_id, &next).await.unwrap(),
            TotpCheck::Replayed { terminal_id: id }
        );
        assert_eq!(verify_totp(&t.db, &clock, h.account_id, &wrong).await.unwrap(), TotpCheck::Wrong);

        // One step of skew either way; two is too far.
        clock.advance_ms(90_000);
        let now = clock.now_ms();
        let behind = code_for(&key, now - 30_000).unwrap();
        assert_eq!(
            verify_totp(&t.db, &clock, h.account_id, &behind).await.unwrap(),
            TotpCheck::Accepted { terminal_id: id }
        );
        let ahead = code_for(&key, now + 30_000).unwrap();
        assert_eq!(
            verify_totp(&t.db, &clock, h.account_id, &ahead).await.unwrap(),
            TotpCheck::Accepted { terminal_id: id }
        );
        let too_far = code_for(&key, now + 60_000).unwrap();
        assert_eq!(verify_totp(&t.db, &clock, h.account_id, &too_far).await.unwrap(), TotpCheck::Wrong);
        let log: Vec<String> = crate::audit::latest(&t.db, 20)
            .await
            .unwrap()
            .into_iter()
            .map(|r| format!("{} {}", r.action, r.outcome))
            .collect();
        for expected in ["terminal.totp.start success", "terminal.add failure:wrong_code", "terminal.add success"] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
        let trail = format!("{:?}", crate::audit::latest(&t.db, 100).await.unwrap());
        assert!(!trail.contains(&first) && !trail.contains(&key.replace(' ', "")));
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn an_enrolment_expires_and_a_secret_opens_only_for_its_account_and_key() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let (a, b) = (holder(&t.db, &clock, "ana").await, holder(&t.db, &clock, "bob").await);
        let late = start_totp(&t.db, &clock, &a, "Ancien").await.unwrap();
        clock.advance_ms(ENROL_TTL_MS + 1);
        let a = Holder { session: Some(HolderSession { authenticated_ms: clock.now_ms(), ..a.session.unwrap() }), ..a };
        let b = Holder { session: Some(HolderSession { authenticated_ms: clock.now_ms(), ..b.session.unwrap() }), ..b };
        let code = code_for(&late.manual_key, clock.now_ms()).unwrap();
        assert!(matches!(confirm_totp(&t.db, &clock, &a, late.terminal_id, &code).await, Err(TerminalError::NotFound)));

        let (_, key) = enrolled(&t.db, &clock, &a).await;
        // Bruno's row given Ana's sealed secret: it does not open under his account.
        let (_, _bkey) = enrolled(&t.db, &clock, &b).await;
        crate::with_pool!(&t.db, p => sqlx::query(
            "UPDATE terminals SET sealed_secret = (SELECT sealed_secret FROM terminals WHERE account_id = $1 \
             AND confirmed_ms IS NOT NULL) WHERE account_id = $2")
            .bind(a.account_id).bind(b.account_id).execute(p).await.unwrap().rows_affected());
        clock.advance_ms(30_000);
        let code = code_for(&key, clock.now_ms()).unwrap();
        assert_eq!(verify_totp(&t.db, &clock, b.account_id, &code).await.unwrap(), TotpCheck::Wrong);
        // Under another key file, nothing opens either.
        let other = t.db.clone().with_audit_key(crate::audit::AuditKey::generate(1));
        assert_eq!(verify_totp(&other, &clock, a.account_id, &code).await.unwrap(), TotpCheck::Wrong);
        assert!(matches!(verify_totp(&t.db, &clock, a.account_id, &code).await.unwrap(), TotpCheck::Accepted { .. }));
    }
}

#[tokio::test]
async fn two_sign_ins_with_one_code_at_once_let_one_in() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "zoe").await;
        let (_, key) = enrolled(&t.db, &clock, &h).await;
        clock.advance_ms(30_000);
        let code = code_for(&key, clock.now_ms()).unwrap();
        let (x, y) = tokio::join!(
            verify_totp(&t.db, &clock, h.account_id, &code),
            verify_totp(&t.db, &clock, h.account_id, &code)
        );
        let accepted = [x.unwrap(), y.unwrap()].iter().filter(|c| matches!(c, TotpCheck::Accepted { .. })).count();
        assert_eq!(accepted, 1);
    }
}

#[tokio::test]
async fn removing_a_terminal_ends_the_sessions_it_opened() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "leo").await;
        let (id, key) = enrolled(&t.db, &clock, &h).await;
        let (opened, _) = session::create(
            &t.db,
            &clock,
            &SessionPolicy::default(),
            NewSession {
                account_id: h.account_id,
                level: Level::Full,
                challenge_id: None,
                ip: None,
                user_agent: None,
                factor: Some((crate::auth::session::Factor::Totp, Some(id))),
            },
        )
        .await
        .unwrap();
        let stale = Holder { session: Some(HolderSession { id: 0, authenticated_ms: T0 - 6 * 60_000 }), ..h.clone() };
        assert!(matches!(remove(&t.db, &clock, &stale, id).await, Err(TerminalError::ReauthRequired)));
        assert_eq!(remove(&t.db, &clock, &h, id).await.unwrap(), 1, "the session it opened");
        assert!(matches!(remove(&t.db, &clock, &h, id).await, Err(TerminalError::NotFound)));
        let ended: Option<i64> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT ended_ms FROM sessions WHERE id = $1")
            .bind(opened).fetch_one(p).await.unwrap());
        assert_eq!(ended, Some(T0));
        assert!(list(&t.db, h.account_id).await.unwrap().is_empty());
        clock.advance_ms(30_000);
        let code = code_for(&key, clock.now_ms()).unwrap();
        assert_eq!(verify_totp(&t.db, &clock, h.account_id, &code).await.unwrap(), TotpCheck::Wrong);
        assert_eq!(outbox_categories(&t.db).await, ["terminal.added", "terminal.removed"]);
    }
}

#[tokio::test]
async fn the_first_terminal_brings_ten_recovery_codes_each_good_once() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "eva").await;
        assert!(matches!(new_recovery_codes(&t.db, &clock, &h).await, Err(TerminalError::NotFound)), "no terminal yet");
        let e = start_totp(&t.db, &clock, &h, "Téléphone").await.unwrap();
        let codes = confirm_totp(&t.db, &clock, &h, e.terminal_id, &code_for(&e.manual_key, T0).unwrap())
            .await
            .unwrap()
            .expect("codes with the first terminal");
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let mut distinct: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        distinct.dedup();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let second = start_totp(&t.db, &clock, &h, "Tablette").await.unwrap();
        let code = code_for(&second.manual_key, T0).unwrap();
        let more = confirm_totp(&t.db, &clock, &h, second.terminal_id, &code).await.unwrap();
        assert!(more.is_none(), "not again with the second");
        // Stored as keyed hashes only.
        let stored: Vec<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
            .fetch_all(p).await.unwrap());
        assert!(stored.iter().all(|s| !codes.iter().any(|c| s.contains(&c[..5]))));

        let typed = codes[3].to_uppercase().replace('-', " ");
        assert!(
            use_recovery_code(&t.db, &clock, h.account_id, &typed).await.unwrap(),
            "case and spacing do not matter"
        );
        assert!(!use_recovery_code(&t.db, &clock, h.account_id, &codes[3]).await.unwrap(), "once");
        assert!(!use_recovery_code(&t.db, &clock, h.account_id, "abcde-fghjk").await.unwrap());
        assert_eq!(recovery_codes_left(&t.db, h.account_id).await.unwrap(), 9);
        let other = holder(&t.db, &clock, "max").await;
        assert!(!use_recovery_code(&t.db, &clock, other.account_id, &codes[4]).await.unwrap(), "another account's");

        let renewed = new_recovery_codes(&t.db, &clock, &h).await.unwrap();
        assert!(!use_recovery_code(&t.db, &clock, h.account_id, &codes[5]).await.unwrap(), "old codes end");
        assert!(use_recovery_code(&t.db, &clock, h.account_id, &renewed[0]).await.unwrap());
        assert_eq!(recovery_codes_left(&t.db, h.account_id).await.unwrap(), 9);
    }
}

#[tokio::test]
async fn the_operator_resets_a_holders_terminals_codes_and_sessions_in_one_recorded_step() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let (id, key) = enrolled(&t.db, &clock, &h).await;
        let codes = new_recovery_codes(&t.db, &clock, &h).await.unwrap();
        let other = holder(&t.db, &clock, "bob").await;
        enrolled(&t.db, &clock, &other).await;

        let operator = crate::audit::Actor::Operator("support".into());
        assert_eq!(reset_by_operator(&t.db, &clock, h.account_id, operator).await.unwrap(), 1);
        assert!(list(&t.db, h.account_id).await.unwrap().is_empty());
        assert!(!has_totp(&t.db, h.account_id).await.unwrap());
        assert_eq!(recovery_codes_left(&t.db, h.account_id).await.unwrap(), 0);
        assert!(!use_recovery_code(&t.db, &clock, h.account_id, &codes[0]).await.unwrap());
        clock.advance_ms(30_000);
        let code = code_for(&key, clock.now_ms()).unwrap();
        assert_eq!(verify_totp(&t.db, &clock, h.account_id, &code).await.unwrap(), TotpCheck::Wrong);
        let live: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ended_ms IS NULL")
            .bind(h.account_id).fetch_one(p).await.unwrap());
        assert_eq!(live, 0, "every session ended");
        // The other holder keeps theirs.
        assert_eq!(list(&t.db, other.account_id).await.unwrap().len(), 1);
        assert!(outbox_categories(&t.db).await.contains(&"terminal.reset".to_string()));
        let record = crate::audit::latest(&t.db, 50)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.action == "terminal.reset")
            .expect("recorded");
        assert_eq!(record.actor, "operator:support");
        assert!(record.object.unwrap().contains(&format!("account:{} terminals:1", h.account_id)), "{id}");
    }
}
