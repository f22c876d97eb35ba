use super::*;
use crate::audit::Actor;
use crate::auth::holder::Level;
use crate::auth::testing::{holder, outbox_categories};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;

async fn actions(db: &Db) -> Vec<(String, String)> {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT action, outcome FROM audit_log WHERE action LIKE 'oauth.%' ORDER BY seq").fetch_all(p).await.unwrap())
}

#[tokio::test]
async fn a_device_gets_tokens_only_after_its_holder_approves_on_the_web() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let client =
            register_public_client(&t.db, &clock, "Logiciel de cabinet", Actor::Operator("root".into())).await.unwrap();
        assert!(matches!(device_start(&t.db, &clock, "nobody", None).await, Err(OAuthError::InvalidClient)));
        assert!(matches!(
            device_start(&t.db, &clock, &client.client_id, Some("mail admin")).await,
            Err(OAuthError::InvalidScope)
        ));

        let d = device_start(&t.db, &clock, &client.client_id, Some("mail")).await.unwrap();
        assert_eq!((d.expires_in_s, d.interval_s), (600, 5));
        assert!(d.user_code.len() == 9 && d.user_code.as_bytes()[4] == b'-');
        assert!(d.user_code.chars().filter(|c| *c != '-').all(|c| USER_CODE_ALPHABET.contains(&(c as u8))));
        // Not yet decided; asking again within the interval is "slow down".
        let poll = |code: String| {
            let (db, clock, id) = (t.db.clone(), clock.clone(), client.client_id.clone());
            async move { device_poll(&db, &clock, &id, &code, Some("192.0.2.9".into())).await }
        };
        assert!(matches!(poll(d.device_code.clone()).await, Err(OAuthError::AuthorizationPending)));
        assert!(matches!(poll(d.device_code.clone()).await, Err(OAuthError::SlowDown)));
        assert!(matches!(poll("0".repeat(64)).await, Err(OAuthError::InvalidGrant)));

        // The holder types the code as they read it (lower case, a space instead of the dash).
        let typed = d.user_code.to_lowercase().replace('-', " ");
        let p = device_pending(&t.db, &clock, &h, &typed).await.unwrap();
        assert_eq!(
            (p.client_name.as_str(), p.scope.as_str(), p.user_code.as_str()),
            ("Logiciel de cabinet", "mail", d.user_code.as_str())
        );
        // Only after a full sign-in.
        let half = Holder { level: Level::Password, ..h.clone() };
        assert!(matches!(device_decide(&t.db, &clock, &half, &typed, true).await, Err(OAuthError::Denied(_))));
        device_decide(&t.db, &clock, &h, &typed, true).await.unwrap();
        assert!(matches!(device_decide(&t.db, &clock, &h, &typed, true).await, Err(OAuthError::UnknownCode)), "once");
        assert_eq!(outbox_categories(&t.db).await, ["oauth.granted"], "the holder is told");

        clock.advance_ms(5_000);
        let tokens = poll(d.device_code.clone()).await.unwrap();
        assert!(
            tokens.access_token.starts_with("hyat_") && tokens.refresh_token.as_deref().unwrap().starts_with("hyrt_")
        );
        assert_eq!((tokens.expires_in_s, tokens.scope.as_str()), (900, "mail"));
        assert!(
            matches!(poll(d.device_code.clone()).await, Err(OAuthError::InvalidGrant)),
            "the device code is used up"
        );

        // The access token is the holder, as the webmail knows them.
        let b = authenticate(&t.db, &clock, &tokens.access_token, None).await.unwrap().unwrap();
        assert_eq!(
            (b.holder.account_id, b.holder.level, b.client_name.as_str()),
            (h.account_id, Level::Full, "Logiciel de cabinet")
        );
        assert!(authenticate(&t.db, &clock, "hyat_nope", None).await.unwrap().is_none());
        let listed = grants(&t.db, &h).await.unwrap();
        assert_eq!((listed.len(), listed[0].client_name.as_str()), (1, "Logiciel de cabinet"));
        // Tokens are kept as hashes only.
        let stored: Vec<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT token_hash FROM oauth_tokens UNION ALL SELECT refresh_hash FROM oauth_grants").fetch_all(p).await.unwrap());
        assert!(!stored
            .iter()
            .any(|s| s.contains(&tokens.access_token) || s.contains(tokens.refresh_token.as_deref().unwrap())));

        // It expires after fifteen minutes.
        clock.advance_ms(ACCESS_TTL_MS);
        assert!(authenticate(&t.db, &clock, &tokens.access_token, None).await.unwrap().is_none());
        assert_eq!(
            actions(&t.db).await,
            [
                ("oauth.client.register".to_string(), "success".to_string()),
                ("oauth.device.approve".into(), "success".into()),
                ("oauth.grant.create".into(), "success".into()),
            ]
        );
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn a_refused_or_expired_request_gives_nothing_and_codes_cannot_be_guessed() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let c = register_public_client(&t.db, &clock, "Client", Actor::Operator("root".into())).await.unwrap();

        let refused = device_start(&t.db, &clock, &c.client_id, None).await.unwrap();
        device_decide(&t.db, &clock, &h, &refused.user_code, false).await.unwrap();
        assert!(matches!(
            device_poll(&t.db, &clock, &c.client_id, &refused.device_code, None).await,
            Err(OAuthError::AccessDenied)
        ));
        assert!(outbox_categories(&t.db).await.is_empty(), "nothing to tell");

        let late = device_start(&t.db, &clock, &c.client_id, None).await.unwrap();
        clock.advance_ms(DEVICE_TTL_MS);
        assert!(matches!(device_pending(&t.db, &clock, &h, &late.user_code).await, Err(OAuthError::UnknownCode)));
        assert!(matches!(device_decide(&t.db, &clock, &h, &late.user_code, true).await, Err(OAuthError::UnknownCode)));
        assert!(matches!(
            device_poll(&t.db, &clock, &c.client_id, &late.device_code, None).await,
            Err(OAuthError::ExpiredToken)
        ));

        // Another client cannot collect a device code's tokens.
        let other = register_public_client(&t.db, &clock, "Autre", Actor::Operator("root".into())).await.unwrap();
        let d = device_start(&t.db, &clock, &c.client_id, None).await.unwrap();
        device_decide(&t.db, &clock, &h, &d.user_code, true).await.unwrap();
        assert!(matches!(
            device_poll(&t.db, &clock, &other.client_id, &d.device_code, None).await,
            Err(OAuthError::InvalidGrant)
        ));

        // Typing codes is limited per holder.
        for _ in 0..(USER_CODE_TRIES.max - 1) {
            let _ = device_pending(&t.db, &clock, &h, "BBBB-BBBB").await;
        }
        assert!(matches!(
            device_pending(&t.db, &clock, &h, "BBBB-BBBB").await,
            Err(OAuthError::TooManyAttempts { .. })
        ));
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_a_replay_revokes_and_the_holder_revokes_from_the_account() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let intruder = holder(&t.db, &clock, "paul").await;
        let c = register_public_client(&t.db, &clock, "Thunderbird", Actor::Operator("root".into())).await.unwrap();
        let grant = |clock: ManualClock| {
            let (db, c, h) = (t.db.clone(), c.clone(), h.clone());
            async move {
                let d = device_start(&db, &clock, &c.client_id, None).await.unwrap();
                device_decide(&db, &clock, &h, &d.user_code, true).await.unwrap();
                device_poll(&db, &clock, &c.client_id, &d.device_code, None).await.unwrap()
            }
        };
        let first = grant(clock.clone()).await;
        let r1 = first.refresh_token.clone().unwrap();
        assert!(matches!(refresh(&t.db, &clock, "other", &r1, None).await, Err(OAuthError::InvalidClient)));
        let second = refresh(&t.db, &clock, &c.client_id, &r1, None).await.unwrap();
        let r2 = second.refresh_token.clone().unwrap();
        assert_ne!(r1, r2);
        assert!(authenticate(&t.db, &clock, &second.access_token, None).await.unwrap().is_some());
        // The old refresh token comes back (it was stolen): the whole grant ends.
        assert!(matches!(refresh(&t.db, &clock, &c.client_id, &r1, None).await, Err(OAuthError::InvalidGrant)));
        assert!(matches!(refresh(&t.db, &clock, &c.client_id, &r2, None).await, Err(OAuthError::InvalidGrant)));
        assert!(authenticate(&t.db, &clock, &second.access_token, None).await.unwrap().is_none());
        assert!(grants(&t.db, &h).await.unwrap().is_empty());

        // Revoked from the account: at once, and only by its holder.
        let third = grant(clock.clone()).await;
        let id = grants(&t.db, &h).await.unwrap()[0].id;
        assert!(
            matches!(revoke(&t.db, &clock, &intruder, id).await, Err(OAuthError::InvalidGrant)),
            "another holder's grant"
        );
        assert!(authenticate(&t.db, &clock, &third.access_token, None).await.unwrap().is_some());
        revoke(&t.db, &clock, &h, id).await.unwrap();
        assert!(authenticate(&t.db, &clock, &third.access_token, None).await.unwrap().is_none());
        assert!(matches!(
            refresh(&t.db, &clock, &c.client_id, third.refresh_token.as_deref().unwrap(), None).await,
            Err(OAuthError::InvalidGrant)
        ));

        // The client revokes its own refresh token (RFC 7009); an unknown token is no error.
        let fourth = grant(clock.clone()).await;
        revoke_token(&t.db, &clock, &c.client_id, "nothing", None).await.unwrap();
        revoke_token(&t.db, &clock, &c.client_id, fourth.refresh_token.as_deref().unwrap(), None).await.unwrap();
        assert!(authenticate(&t.db, &clock, &fourth.access_token, None).await.unwrap().is_none());

        // A grant unused for 90 days ends; a suspended account's tokens stop at once.
        let fifth = grant(clock.clone()).await;
        clock.advance_ms(GRANT_IDLE_MS + 1);
        assert!(matches!(
            refresh(&t.db, &clock, &c.client_id, fifth.refresh_token.as_deref().unwrap(), None).await,
            Err(OAuthError::InvalidGrant)
        ));
        let sixth = grant(clock.clone()).await;
        crate::with_pool!(&t.db, p => sqlx::query("UPDATE accounts SET status = 'suspended' WHERE id = $1")
            .bind(h.account_id).execute(p).await.unwrap().rows_affected());
        assert!(authenticate(&t.db, &clock, &sixth.access_token, None).await.unwrap().is_none());
        assert!(matches!(
            refresh(&t.db, &clock, &c.client_id, sixth.refresh_token.as_deref().unwrap(), None).await,
            Err(OAuthError::InvalidGrant)
        ));

        let recorded = actions(&t.db).await;
        assert!(recorded.contains(&("oauth.grant.revoke".into(), "denied:refresh_replayed".into())), "{recorded:?}");
        assert!(recorded.contains(&("oauth.refresh".into(), "success".into())));
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

/// The server of an applicative mailbox gets tokens with its client credentials, for that
/// mailbox alone; never for a person's mailbox; a wrong secret is an unknown client; the
/// mailbox's holder withdraws it from the account, and then it gets nothing.
#[tokio::test]
async fn a_service_client_gets_tokens_for_its_applicative_mailbox_alone() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let person = holder(&t.db, &clock, "ines").await;
        let r = crate::accounts::AccountRecord {
            address: "laboratoire@hygie.example".into(),
            mailbox_type: "applicative".into(),
            kind: "health".into(),
            first_name: "Serveur".into(),
            last_name: "Laboratoire".into(),
            notification_email: "informatique@labo.fr".into(),
            ..Default::default()
        };
        let crate::accounts::Created::New(app) = crate::accounts::create(&t.db, &clock, &r).await.unwrap() else {
            panic!()
        };
        let root = || Actor::Operator("root".into());
        let refused = register_service_client(&t.db, &clock, "Serveur", &person.address, root()).await;
        assert!(matches!(refused, Err(OAuthError::InvalidRequest("account"))), "never a person's mailbox");
        let sc = register_service_client(&t.db, &clock, "Serveur du laboratoire", &r.address, root()).await.unwrap();
        assert!(format!("{sc:?}").contains("Serveur") && !format!("{sc:?}").contains(&sc.client_secret));
        let id = sc.client.client_id.clone();

        // Not yet activated: nothing.
        let inactive = client_credentials(&t.db, &clock, &id, &sc.client_secret, None, None).await;
        assert!(matches!(inactive, Err(OAuthError::InvalidGrant)), "{inactive:?}");
        crate::accounts::activate(&t.db, app).await.unwrap();
        let wrong = client_credentials(&t.db, &clock, &id, "hycs_faux", None, None).await;
        assert!(matches!(wrong, Err(OAuthError::InvalidClient)), "{wrong:?}");
        assert!(matches!(device_start(&t.db, &clock, &id, None).await, Err(OAuthError::UnauthorizedClient)));

        let tokens = client_credentials(&t.db, &clock, &id, &sc.client_secret, Some("mail"), None).await.unwrap();
        assert!(tokens.refresh_token.is_none());
        let bearer = authenticate(&t.db, &clock, &tokens.access_token, None).await.unwrap().unwrap();
        assert_eq!((bearer.holder.account_id, bearer.client_name.as_str()), (app, "Serveur du laboratoire"));
        // Asked again: the same grant, a new token.
        let again = client_credentials(&t.db, &clock, &id, &sc.client_secret, None, None).await.unwrap();
        assert_ne!(again.access_token, tokens.access_token);
        let app_holder = bearer.holder.clone();
        let listed = grants(&t.db, &app_holder).await.unwrap();
        assert_eq!(listed.len(), 1);

        // Withdrawn by the mailbox's holder: its tokens stop, and it gets no new one.
        revoke(&t.db, &clock, &app_holder, listed[0].id).await.unwrap();
        assert!(authenticate(&t.db, &clock, &again.access_token, None).await.unwrap().is_none());
        let after = client_credentials(&t.db, &clock, &id, &sc.client_secret, None, None).await;
        assert!(matches!(after, Err(OAuthError::InvalidGrant)), "{after:?}");
        let log = actions(&t.db).await;
        assert!(log.contains(&("oauth.client.register".into(), "success".into())));
        assert!(log.contains(&("oauth.grant.create".into(), "success".into())));
        assert!(log.contains(&("oauth.token".into(), "success".into())));
    }
}

#[test]
fn oauthbearer_and_xoauth2_carry_a_bearer_token_and_never_a_password() {
    let said = |user: Option<&str>, token: &str| Some((user.map(String::from), token.to_string()));
    assert_eq!(
        sasl_bearer(b"n,a=eve@hygie.example,\x01host=h\x01port=465\x01auth=Bearer abc.def\x01\x01"),
        said(Some("eve@hygie.example"), "abc.def")
    );
    assert_eq!(sasl_bearer(b"n,,\x01auth=Bearer t1\x01\x01"), said(None, "t1"));
    assert_eq!(sasl_bearer(b"n,a=a=2Cb@x.fr,\x01auth=Bearer t1\x01\x01"), said(Some("a,b@x.fr"), "t1"));
    assert_eq!(sasl_bearer(b"user=eve@hygie.example\x01auth=Bearer t2\x01\x01"), said(Some("eve@hygie.example"), "t2"));
    assert_eq!(sasl_bearer(b"n,,\x01auth=Basic dXNlcjpwYXNz\x01\x01"), None, "never a password");
    assert_eq!(sasl_bearer(b"\x00eve\x00secret"), None, "PLAIN's shape is no bearer");
    assert_eq!(sasl_bearer(b"n,,\x01auth=Bearer \x01\x01"), None);
}

/// Mail clients' failed authentications are counted per address, IMAP and submission together:
/// past ten in ten minutes, even a good token waits.
#[tokio::test]
async fn failed_sasl_authentications_are_limited_per_address() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let client =
            register_public_client(&t.db, &clock, "Thunderbird", Actor::Operator("root".into())).await.unwrap();
        let d = device_start(&t.db, &clock, &client.client_id, None).await.unwrap();
        device_decide(&t.db, &clock, &h, &d.user_code, true).await.unwrap();
        let tokens = device_poll(&t.db, &clock, &client.client_id, &d.device_code, None).await.unwrap();
        let good = format!("n,a={},\x01auth=Bearer {}\x01\x01", h.address, tokens.access_token);
        let b = authenticate_sasl(&t.db, &clock, good.as_bytes(), "192.0.2.7").await.unwrap().unwrap();
        assert_eq!(b.holder.account_id, h.account_id);
        let other = format!("n,a=autre@hygie.example,\x01auth=Bearer {}\x01\x01", tokens.access_token);
        let refused = authenticate_sasl(&t.db, &clock, other.as_bytes(), "192.0.2.7").await.unwrap();
        assert_eq!(refused.unwrap_err(), SaslRefusal::Invalid, "a token under another's address");
        for _ in 1..SASL_FAILURES.max {
            let r = authenticate_sasl(&t.db, &clock, b"n,,\x01auth=Bearer hyat_faux\x01\x01", "192.0.2.7").await;
            assert_eq!(r.unwrap().unwrap_err(), SaslRefusal::Invalid);
        }
        let r = authenticate_sasl(&t.db, &clock, good.as_bytes(), "192.0.2.7").await.unwrap();
        assert_eq!(r.unwrap_err(), SaslRefusal::TooManyFailures);
        assert!(
            authenticate_sasl(&t.db, &clock, good.as_bytes(), "192.0.2.8").await.unwrap().is_ok(),
            "another address"
        );
    }
}

/// Housekeeping removes what can no longer be used: access tokens past their time, device
/// requests a day past theirs; the grant (what the holder sees and revokes) and its refresh
/// token stay and still work.
#[tokio::test]
async fn expired_tokens_and_device_requests_are_purged_and_grants_stay() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let client = register_public_client(&t.db, &clock, "Logiciel", Actor::Operator("root".into())).await.unwrap();
        let d = device_start(&t.db, &clock, &client.client_id, Some("mail")).await.unwrap();
        let unused = device_start(&t.db, &clock, &client.client_id, Some("mail")).await.unwrap();
        device_decide(&t.db, &clock, &h, &d.user_code, true).await.unwrap();
        let tokens = device_poll(&t.db, &clock, &client.client_id, &d.device_code, None).await.unwrap();
        let count = |table: &'static str| {
            let db = t.db.clone();
            async move {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                crate::with_pool!(&db, p => sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await.unwrap())
            }
        };
        assert_eq!(purge_expired(&t.db, &clock).await.unwrap(), 0, "nothing expired yet");
        assert_eq!((count("oauth_tokens").await, count("oauth_device_codes").await), (1, 2));

        clock.advance_ms(tokens.expires_in_s as i64 * 1000);
        assert_eq!(purge_expired(&t.db, &clock).await.unwrap(), 1, "the access token");
        assert_eq!(count("oauth_device_codes").await, 2, "kept a day past their time");
        assert!(matches!(
            device_poll(&t.db, &clock, &client.client_id, &unused.device_code, None).await,
            Err(OAuthError::ExpiredToken)
        ));
        clock.advance_ms(86_400_000);
        assert_eq!(purge_expired(&t.db, &clock).await.unwrap(), 2);
        assert_eq!((count("oauth_tokens").await, count("oauth_device_codes").await), (0, 0));

        assert_eq!(grants(&t.db, &h).await.unwrap().len(), 1, "the grant stays");
        let again = refresh(&t.db, &clock, &client.client_id, tokens.refresh_token.as_deref().unwrap(), None).await;
        assert!(again.is_ok(), "its refresh token still works: {again:?}");
    }
}
