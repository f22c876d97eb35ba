use super::*;
use crate::audit::Actor;
use crate::auth::holder::Level;
use crate::auth::testing::{holder, outbox_categories};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;
/// A verifier and its S256 challenge (computed apart, with Python's hashlib).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc";

#[test]
fn pkce_is_s256_of_the_verifier_compared_whole() {
    assert_eq!(s256(VERIFIER), CHALLENGE);
    assert!(pkce_verifies(CHALLENGE, VERIFIER));
    let mut other = VERIFIER.to_string();
    other.replace_range(42.., "l");
    assert!(!pkce_verifies(CHALLENGE, &other), "one character off");
    assert!(!pkce_verifies(VERIFIER, VERIFIER), "plain: the verifier is not its own challenge");
    assert!(!pkce_verifies(&s256("short"), "short"), "43 characters at least");
    let long = "a".repeat(129);
    assert!(!pkce_verifies(&s256(&long), &long), "128 at most");
    let odd = format!("{}é", "a".repeat(43));
    assert!(!pkce_verifies(&s256(&odd), &odd), "unreserved characters only");
    let max = "~".repeat(128);
    assert!(pkce_verifies(&s256(&max), &max));
}

#[test]
fn loopback_redirects_match_any_port_and_nothing_else() {
    let reg =
        vec!["http://127.0.0.1/callback".to_string(), "http://[::1]/cb".into(), "https://app.example.fr/oauth".into()];
    for ok in [
        "http://127.0.0.1/callback",
        "http://127.0.0.1:49152/callback",
        "http://127.0.0.1:1/callback",
        "http://[::1]:8080/cb",
        "http://[::1]/cb",
        "https://app.example.fr/oauth",
    ] {
        assert!(redirect_matches(&reg, ok), "{ok}");
    }
    for refused in [
        "http://127.0.0.1.evil.com/callback",
        "http://127.0.0.1.evil.com:8080/callback",
        "http://evil.com/callback",
        "http://127.0.0.1:8080@evil.com/callback",
        "http://user@127.0.0.1:8080/callback",
        "http://127.0.0.1:8080/callback/../other",
        "http://127.0.0.1:8080/other",
        "http://127.0.0.1:8080/callback?x=1",
        "http://127.0.0.1:8080/callback#frag",
        "https://127.0.0.1:8080/callback",
        "http://127.0.0.2:8080/callback",
        "http://localhost:8080/callback",
        "http://[::1]:8080/callback",
        "http://[::2]:8080/cb",
        "https://app.example.fr:8443/oauth",
        "https://app.example.fr/oauth/",
        "https://app.example.fr/oauth?next=evil",
        "http://app.example.fr/oauth",
        "not a uri",
        "",
    ] {
        assert!(!redirect_matches(&reg, refused), "{refused}");
    }
    // A loopback URI never registered gives no latitude.
    assert!(!redirect_matches(&["https://app.example.fr/oauth".into()], "http://127.0.0.1:8080/oauth"));
    // localhost, registered, matches only as written.
    let local = vec!["http://localhost:8080/cb".to_string()];
    assert!(redirect_matches(&local, "http://localhost:8080/cb"));
    assert!(!redirect_matches(&local, "http://localhost:8081/cb"));

    for ok in
        ["http://127.0.0.1/", "http://[::1]/cb", "https://a.example.fr/cb", "http://localhost/cb", "fr.hygie.app:/cb"]
    {
        assert!(registrable_redirect(ok), "{ok}");
    }
    for refused in [
        "http://a.example.fr/cb",
        "https://a.example.fr/cb#x",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc",
    ] {
        assert!(!registrable_redirect(refused), "{refused}");
    }
}

fn params(client_id: &str, redirect_uri: &str) -> AuthorizeParams {
    AuthorizeParams {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(redirect_uri.into()),
        scope: Some("mail".into()),
        state: Some("xyz".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
    }
}

fn code_of(location: &str) -> String {
    let u = url::Url::parse(location).unwrap();
    let code = u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    assert_eq!(u.query_pairs().find(|(k, _)| k == "state").unwrap().1, "xyz");
    code
}

async fn actions(db: &Db) -> Vec<(String, String)> {
    crate::with_pool!(db, p => sqlx::query_as(
        "SELECT action, outcome FROM audit_log WHERE action LIKE 'oauth.%' ORDER BY seq").fetch_all(p).await.unwrap())
}

#[tokio::test]
async fn a_request_is_checked_before_the_holder_sees_it() {
    for t in TestDb::both().await {
        let op = || Actor::Operator("root".into());
        let c =
            register_native_client(&t.db, &ManualClock::new(T0), "Thunderbird", &["http://127.0.0.1/".into()], op())
                .await
                .unwrap();
        let device_only = register_public_client(&t.db, &ManualClock::new(T0), "Logiciel", op()).await.unwrap();
        assert!(matches!(
            register_native_client(&t.db, &ManualClock::new(T0), "X", &["http://evil.com/".into()], op()).await,
            Err(OAuthError::InvalidRequest("redirect_uri"))
        ));
        let ok = check_authorize(&t.db, &params(&c.client_id, "http://127.0.0.1:5000/")).await.unwrap();
        assert_eq!(
            (ok.scope.as_str(), ok.state.as_deref(), ok.client.name.as_str()),
            ("mail", Some("xyz"), "Thunderbird")
        );

        // Unknown client, a redirect URI not registered, none at all: a page, never a redirect.
        for p in [
            params("hygie-nobody", "http://127.0.0.1:5000/"),
            params(&c.client_id, "http://127.0.0.1.evil.com:5000/"),
            params(&device_only.client_id, "http://127.0.0.1:5000/"),
            AuthorizeParams { redirect_uri: None, ..params(&c.client_id, "") },
        ] {
            let e = check_authorize(&t.db, &p).await.unwrap_err();
            assert!(matches!(e, AuthorizeError::Unsafe) && e.location().is_none(), "{p:?}");
        }
        // The rest goes back to the client, with its state.
        let back = |p: AuthorizeParams| {
            let db = t.db.clone();
            async move { check_authorize(&db, &p).await.unwrap_err().location().unwrap() }
        };
        let base = params(&c.client_id, "http://127.0.0.1:5000/");
        let plain = back(AuthorizeParams {
            code_challenge: Some(VERIFIER.into()),
            code_challenge_method: Some("plain".into()),
            ..base.clone()
        })
        .await;
        assert!(plain.starts_with("http://127.0.0.1:5000/?error=invalid_request&error_description="), "{plain}");
        assert!(plain.ends_with("&state=xyz"), "{plain}");
        let none = back(AuthorizeParams { code_challenge: None, code_challenge_method: None, ..base.clone() }).await;
        assert!(none.contains("error=invalid_request"), "PKCE is required: {none}");
        let token = back(AuthorizeParams { response_type: Some("token".into()), ..base.clone() }).await;
        assert!(token.contains("error=unsupported_response_type"), "{token}");
        let scope = back(AuthorizeParams { scope: Some("admin".into()), ..base.clone() }).await;
        assert!(scope.contains("error=invalid_scope"), "{scope}");
    }
}

#[tokio::test]
async fn a_code_is_exchanged_once_with_its_verifier_and_a_replay_revokes_its_grant() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let c = register_native_client(
            &t.db,
            &clock,
            "Thunderbird",
            &["http://127.0.0.1/cb".into()],
            Actor::Operator("root".into()),
        )
        .await
        .unwrap();
        let other = register_native_client(
            &t.db,
            &clock,
            "Autre",
            &["http://127.0.0.1/cb".into()],
            Actor::Operator("root".into()),
        )
        .await
        .unwrap();
        let uri = "http://127.0.0.1:5000/cb";
        let req = check_authorize(&t.db, &params(&c.client_id, uri)).await.unwrap();
        // A full sign-in only.
        let half = Holder { level: Level::Password, ..h.clone() };
        assert!(matches!(authorize_decide(&t.db, &clock, &half, &req, true).await, Err(OAuthError::Denied(_))));

        let refused = authorize_decide(&t.db, &clock, &h, &req, false).await.unwrap();
        assert_eq!(
            refused,
            "http://127.0.0.1:5000/cb?error=access_denied&error_description=the+holder+refused&state=xyz"
        );
        let code = code_of(&authorize_decide(&t.db, &clock, &h, &req, true).await.unwrap());
        assert!(code.starts_with("hyac_") && code.len() > 60);
        assert_eq!(outbox_categories(&t.db).await, ["oauth.granted"], "the holder is told");

        let x = |client: String, code: String, uri: Option<&'static str>, verifier: Option<&'static str>| {
            let (db, clock) = (t.db.clone(), clock.clone());
            async move { exchange_code(&db, &clock, &client, &code, uri, verifier, Some("192.0.2.7".into())).await }
        };
        let id = c.client_id.clone();
        // Refusals that leave the code usable: another client, another redirect URI (even
        // another loopback port), no or a wrong verifier, the challenge as verifier (plain).
        assert!(matches!(
            x(other.client_id.clone(), code.clone(), Some(uri), Some(VERIFIER)).await,
            Err(OAuthError::InvalidGrant)
        ));
        assert!(matches!(
            x(id.clone(), code.clone(), Some("http://127.0.0.1:5001/cb"), Some(VERIFIER)).await,
            Err(OAuthError::InvalidGrant)
        ));
        assert!(matches!(x(id.clone(), code.clone(), None, Some(VERIFIER)).await, Err(OAuthError::InvalidGrant)));
        assert!(matches!(
            x(id.clone(), code.clone(), Some(uri), None).await,
            Err(OAuthError::InvalidRequest("code_verifier"))
        ));
        assert!(matches!(x(id.clone(), code.clone(), Some(uri), Some(CHALLENGE)).await, Err(OAuthError::InvalidGrant)));
        assert!(matches!(
            x(id.clone(), "hyac_guess".into(), Some(uri), Some(VERIFIER)).await,
            Err(OAuthError::InvalidGrant)
        ));

        let tokens = x(id.clone(), code.clone(), Some(uri), Some(VERIFIER)).await.unwrap();
        assert!(tokens.access_token.starts_with("hyat_") && tokens.refresh_token.is_some());
        let b = authenticate(&t.db, &clock, &tokens.access_token, None).await.unwrap().unwrap();
        assert_eq!((b.holder.account_id, b.client_name.as_str()), (h.account_id, "Thunderbird"));
        assert_eq!(grants(&t.db, &h).await.unwrap().len(), 1, "listed with the device grants");
        let stored: Vec<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT code_hash FROM oauth_codes")
            .fetch_all(p).await.unwrap());
        assert!(stored.len() == 1 && !stored[0].contains(&code[5..]), "kept as a hash");

        // Used again: refused, and the grant of its first use ends.
        assert!(matches!(x(id.clone(), code.clone(), Some(uri), Some(VERIFIER)).await, Err(OAuthError::InvalidGrant)));
        assert!(authenticate(&t.db, &clock, &tokens.access_token, None).await.unwrap().is_none());
        assert!(grants(&t.db, &h).await.unwrap().is_empty());
        let refreshed = refresh(&t.db, &clock, &id, tokens.refresh_token.as_deref().unwrap(), None).await;
        assert!(matches!(refreshed, Err(OAuthError::InvalidGrant)), "the refresh token too");

        let log = actions(&t.db).await;
        for expected in [
            ("oauth.code.refuse", "success"),
            ("oauth.code.approve", "success"),
            ("oauth.grant.create", "success"),
            ("oauth.code.replay", "denied"),
        ] {
            assert!(log.iter().any(|(a, o)| a == expected.0 && o.starts_with(expected.1)), "{expected:?} in {log:?}");
        }
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let h = holder(&t.db, &clock, "ines").await;
        let c = register_native_client(
            &t.db,
            &clock,
            "Thunderbird",
            &["http://[::1]/cb".into()],
            Actor::Operator("root".into()),
        )
        .await
        .unwrap();
        let uri = "http://[::1]:6000/cb";
        let req = check_authorize(&t.db, &params(&c.client_id, uri)).await.unwrap();
        let code = code_of(&authorize_decide(&t.db, &clock, &h, &req, true).await.unwrap());
        clock.advance_ms(CODE_TTL_MS);
        let late = exchange_code(&t.db, &clock, &c.client_id, &code, Some(uri), Some(VERIFIER), None).await;
        assert!(matches!(late, Err(OAuthError::InvalidGrant)));
        // Just in time works.
        let code = code_of(&authorize_decide(&t.db, &clock, &h, &req, true).await.unwrap());
        clock.advance_ms(CODE_TTL_MS - 1);
        exchange_code(&t.db, &clock, &c.client_id, &code, Some(uri), Some(VERIFIER), None).await.unwrap();
        assert!((60_000..=600_000).contains(&CODE_TTL_MS));
    }
}
