use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::*;
use crate::accounts::{self, AccountRecord, Created};
use crate::auth::holder::{HolderSession, Level};
use crate::auth::passkeys::soft::SoftAuthenticator;
use crate::auth::session::{self, NewSession, SessionPolicy};
use crate::auth::signin::{self, CodeStep, Ctx};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const T0: Millis = 1_800_000_000_000;
const ORIGIN: &str = "https://hygie.example";

/// A push service on this machine: it answers 201 and hands over each request's body, still
/// encrypted, as a real one would receive it.
async fn push_service() -> (String, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push/phone-1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        assert!(head.contains("authorization: vapid t="), "signed with VAPID: {head}");
                        assert!(head.contains("content-encoding: aes128gcm"));
                        let _ = tx.send(buf[end + 4..end + 4 + len].to_vec());
                        let _ = sock.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n").await;
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

async fn holder(db: &Db, clock: &ManualClock) -> Holder {
    let r = AccountRecord {
        address: "ines@hygie.example".into(),
        mailbox_type: "personal".into(),
        kind: "health".into(),
        first_name: "Inès".into(),
        last_name: "Petit".into(),
        notification_email: "ines@exemple.fr".into(),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(db, clock, &r).await.unwrap() else { panic!() };
    accounts::activate(db, id).await.unwrap();
    let mut h = Holder::resolve(db, id, Level::Full, None, None).await.unwrap().unwrap();
    h.session = Some(HolderSession { id: 1, authenticated_ms: clock.now_ms() });
    h
}

async fn pending(db: &Db, clock: &ManualClock, account_id: i64) -> session::Session {
    let (_, token) = session::create(
        db,
        clock,
        &SessionPolicy::default(),
        NewSession { account_id, level: Level::Password, challenge_id: None, ip: None, user_agent: None, factor: None },
    )
    .await
    .unwrap();
    session::lookup(db, clock, &SessionPolicy::default(), token.expose(), session::Activity::Person)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_phone_added_by_its_link_approves_a_sign_in_with_the_right_number_only() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(T0);
        let rp = RelyingParty::new(ORIGIN).unwrap();
        let policy = PushPolicy { allow_loopback: true };
        let http = reqwest::Client::new();
        let h = holder(&t.db, &clock).await;
        let ctx = Ctx {
            db: &t.db,
            clock: &clock,
            policy: SessionPolicy::default(),
            public_url: ORIGIN,
            ip: Some("192.0.2.9"),
            user_agent: None,
        };

        // The link, shown as a QR code; opened on the phone, it adds the phone once.
        let link = start_link(&t.db, &clock, &h, ORIGIN).await.unwrap();
        assert!(link.qr_svg.contains("<svg"));
        let token = link.url.rsplit('/').next().unwrap().to_string();
        assert!(link.url.starts_with("https://hygie.example/telephone/"));
        assert!(link_is_live(&t.db, &clock, &h, &token).await.unwrap());
        let (ceremony, vapid) = start_phone(&t.db, &clock, &rp, &h, &token, "Mon téléphone").await.unwrap();
        assert_eq!(B64URL.decode(&vapid).unwrap().len(), 65, "an uncompressed P-256 point");
        let options: serde_json::Value = serde_json::from_str(&ceremony.options).unwrap();
        assert_eq!(options["publicKey"]["authenticatorSelection"]["authenticatorAttachment"], "platform");
        let mut device = SoftAuthenticator::new(ORIGIN);
        let answer = device.create(&ceremony.options).unwrap();
        let (endpoint, mut pushes) = push_service().await;
        let ua_secret = web_push_native::p256::SecretKey::random(&mut rand::rngs::OsRng);
        let ua_auth: [u8; 16] = rand::random();
        let sub = Subscription {
            endpoint: endpoint.clone(),
            p256dh: B64URL.encode(ua_secret.public_key().to_sec1_bytes()),
            auth: B64URL.encode(ua_auth),
        };
        let strict = PushPolicy::default();
        assert!(
            matches!(
                finish_phone(&t.db, &clock, &rp, &strict, &h, &token, &ceremony.id, &answer, Some(&sub)).await,
                Err(TerminalError::KeyRefused)
            ),
            "plain HTTP to this machine only when allowed"
        );
        let ceremony = start_phone(&t.db, &clock, &rp, &h, &token, "Mon téléphone").await.unwrap().0;
        let mut device = SoftAuthenticator::new(ORIGIN);
        let answer = device.create(&ceremony.options).unwrap();
        let added =
            finish_phone(&t.db, &clock, &rp, &policy, &h, &token, &ceremony.id, &answer, Some(&sub)).await.unwrap();
        assert_eq!(added.recovery_codes.map(|c| c.len()), Some(10));
        assert!(!link_is_live(&t.db, &clock, &h, &token).await.unwrap(), "the link works once");
        assert!(has_phone(&t.db, h.account_id).await.unwrap());
        let listed = crate::auth::terminals::list(&t.db, h.account_id).await.unwrap();
        assert_eq!((listed[0].kind.as_str(), listed[0].name.as_str()), ("phone", "Mon téléphone"));

        // A sign-in asks; the push carries only an opaque id, which the phone decrypts.
        let p = pending(&t.db, &clock, h.account_id).await;
        let asked = signin::ask_phone(&ctx, &http, &p).await.unwrap().unwrap();
        assert!((10..100).contains(&asked.number));
        let body = tokio::time::timeout(std::time::Duration::from_secs(10), pushes.recv()).await.unwrap().unwrap();
        let clear = web_push_native::decrypt(body, &ua_secret, web_push_native::Auth::from_slice(&ua_auth)).unwrap();
        assert_eq!(String::from_utf8(clear).unwrap(), format!(r#"{{"approval":"{}"}}"#, asked.id));
        let waiting_now = waiting(&t.db, &clock, &added.device_token).await.unwrap();
        assert_eq!(waiting_now.len(), 1);
        assert!(waiting_now[0].choices.contains(&asked.number) && waiting_now[0].choices.len() == 3);
        assert!(waiting(&t.db, &clock, &"0".repeat(64)).await.unwrap().is_empty(), "another device sees nothing");
        assert!(signin::phone_step(&ctx, &p, &asked.id).await.unwrap().is_none(), "still waiting");

        // A wrong number refuses the sign-in and counts as a failure.
        let wrong = *waiting_now[0].choices.iter().find(|n| **n != asked.number).unwrap();
        assert!(matches!(choose(&ctx, &rp, &added.device_token, &asked.id, wrong).await.unwrap(), Choice::Wrong));
        assert!(matches!(signin::phone_step(&ctx, &p, &asked.id).await.unwrap(), Some(CodeStep::KeyRefused)));
        assert_eq!(accounts::get(&t.db, h.account_id).await.unwrap().unwrap().failed_logins, 1);

        // The right number, confirmed with the device's passkey, signs in, once.
        let asked = signin::ask_phone(&ctx, &http, &p).await.unwrap().unwrap();
        let Choice::Confirm(c) = choose(&ctx, &rp, &added.device_token, &asked.id, asked.number).await.unwrap() else {
            panic!("the right number asks for the device's passkey")
        };
        let answer = device.get(&c.options).unwrap();
        assert!(!confirm(&t.db, &clock, &rp, &"1".repeat(64), &c.id, &answer).await.unwrap(), "another device");
        let Choice::Confirm(c) = choose(&ctx, &rp, &added.device_token, &asked.id, asked.number).await.unwrap() else {
            panic!()
        };
        let answer = device.get(&c.options).unwrap();
        assert!(confirm(&t.db, &clock, &rp, &added.device_token, &c.id, &answer).await.unwrap());
        let Some(CodeStep::SignedIn { account_id, .. }) = signin::phone_step(&ctx, &p, &asked.id).await.unwrap() else {
            panic!("approved")
        };
        assert_eq!(account_id, h.account_id);
        let p2 = pending(&t.db, &clock, h.account_id).await;
        assert!(matches!(signin::phone_step(&ctx, &p2, &asked.id).await.unwrap(), Some(CodeStep::KeyRefused)));

        // A request lives two minutes.
        let asked = signin::ask_phone(&ctx, &http, &p2).await.unwrap().unwrap();
        clock.advance_ms(APPROVAL_TTL_MS + 1);
        assert!(waiting(&t.db, &clock, &added.device_token).await.unwrap().is_empty());
        assert!(matches!(choose(&ctx, &rp, &added.device_token, &asked.id, asked.number).await.unwrap(), Choice::Gone));
        assert!(matches!(signin::phone_step(&ctx, &p2, &asked.id).await.unwrap(), Some(CodeStep::KeyRefused)));

        // Five requests per ten minutes (three made so far).
        assert!(signin::ask_phone(&ctx, &http, &p2).await.unwrap().is_ok());
        assert!(signin::ask_phone(&ctx, &http, &p2).await.unwrap().is_ok());
        assert!(matches!(signin::ask_phone(&ctx, &http, &p2).await.unwrap(), Err(AskRefused::TooMany { .. })));

        let log: Vec<String> = crate::audit::latest(&t.db, 80)
            .await
            .unwrap()
            .into_iter()
            .map(|r| format!("{} {}", r.action, r.outcome))
            .collect();
        for expected in [
            "terminal.phone.link success",
            "terminal.add success",
            "signin.phone.ask success",
            "signin.phone.answer failure:wrong_number",
            "signin.phone.answer success",
            "signin.phone.ask denied:rate_limited",
        ] {
            assert!(log.contains(&expected.to_string()), "{expected} in {log:?}");
        }
    }
}
