//! A browser for API tests (its own cookie jar, same-origin calls to server functions, typed by
//! the `app` crate's server function structs), test accounts, and reading codes and links from
//! the outboxes.

use std::time::{Duration, Instant};

use app::api::{AcceptTerms, MyAccount, SignInCode, SignInPassword};
use hygie_core::accounts::{self, AccountRecord, Created};
use hygie_core::outbox::DevOutbox;
use hygie_core::{audit, auth};
use leptos::server_fn::ServerFn;
use reqwest::header;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::{args, TestServer};

pub const PASSWORD: &str = "cheval agrafe correct";
pub const MOBILE: &str = "+33612345678";

/// A browser: its own cookie jar, same-origin requests.
pub struct Browser {
    pub c: reqwest::Client,
    pub base: String,
}

/// A server function's answer as the browser gets it: the JSON of its value or of its error.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub cookies: Vec<String>,
}

impl Answer {
    /// The success value, typed; panics (with the body) on an error or another shape.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert_eq!(self.status, 200, "{:?}", self.body);
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

impl Browser {
    pub fn new(s: &TestServer) -> Browser {
        Browser::at(&s.base)
    }

    /// A browser for a Hygie at `base` (`https://127.0.0.1:PORT`).
    pub fn at(base: &str) -> Browser {
        let c = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { c, base: base.to_string() }
    }

    /// Calls the server function `f` as the hydrated page does: a same-origin POST to its path
    /// with its arguments URL-encoded the way Leptos encodes them.
    pub async fn run<F: ServerFn + Serialize>(&self, f: F) -> Answer {
        self.post(F::PATH, args(&f)).await
    }

    /// Posts a URL-encoded `body` to a server function's `path`.
    async fn post(&self, path: &str, body: String) -> Answer {
        let res = self
            .c
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, &self.base)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let cookies =
            res.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body, cookies }
    }

    /// Adds a file to the message being written, as the composer does.
    pub async fn upload(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> Answer {
        let url = format!("{}/messagerie/pj?nom={}", self.base, super::enc(name));
        let res = self
            .c
            .post(url)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ORIGIN, &self.base)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body, cookies: Vec::new() }
    }

    pub async fn password(&self, address: &str, password: &str) -> Answer {
        self.run(SignInPassword { address: address.into(), password: password.into(), prefer_email: false }).await
    }

    pub async fn code(&self, code: &str) -> Answer {
        self.run(SignInCode { code: code.into() }).await
    }

    pub async fn my_account(&self) -> Answer {
        self.run(MyAccount {}).await
    }
}

/// An active account with `PASSWORD`.
pub async fn account(s: &TestServer, local: &str, mobile: Option<&str>) -> (i64, String) {
    let address = format!("{local}@hygie.localhost");
    let rec = AccountRecord {
        address: address.clone(),
        mailbox_type: "personal".into(),
        kind: "other".into(),
        last_name: "Lefèvre".into(),
        first_name: "Anne".into(),
        authority: Some("Conseil départemental".into()),
        role: Some("Assistante sociale".into()),
        notification_email: format!("{local}@exemple.fr"),
        mobile: mobile.map(str::to_owned),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(s.db(), &s.clock, &rec).await.unwrap() else { panic!("exists") };
    let hash = auth::password::hash(auth::policy::normalise(PASSWORD).into()).await.unwrap();
    accounts::set_password_hash(s.db(), &s.clock, id, hash.as_stored()).await.unwrap();
    accounts::activate(s.db(), id).await.unwrap();
    (id, address)
}

pub fn sms(s: &TestServer) -> Vec<hygie_core::outbox::DevOutboxEntry> {
    DevOutbox::new(s.config.outbox_dir())
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.channel == "sms")
        .collect()
}

/// Waits for SMS number `n` (1-based) and returns it.
pub async fn wait_sms(s: &TestServer, n: usize) -> hygie_core::outbox::DevOutboxEntry {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = sms(s);
        if all.len() >= n {
            return all[n - 1].clone();
        }
        assert!(Instant::now() < deadline, "expected {n} SMS, got {}", all.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn six_digits(text: &str) -> String {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(5))
        .find(|&i| {
            b[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_digit())
                && b.get(i + 6).is_none_or(|c| !c.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_string())
        .expect("a 6-digit code")
}

/// Email number `n` (1-based) at the SMTP sink: recipient and text body.
pub async fn mail(s: &TestServer, n: usize) -> (String, String) {
    let raw = s.smtp.wait_for(n).await.swap_remove(n - 1);
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let to = m.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_string();
    (to, m.body_text(0).unwrap_or_default().to_string())
}

pub fn link_token(body: &str, path: &str) -> String {
    let start = body.find(path).unwrap_or_else(|| panic!("no {path} link in {body}")) + path.len();
    body[start..start + 64].to_string()
}

pub fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// Signs `b` in fully (password, SMS code) and accepts the terms.
pub async fn sign_in(s: &TestServer, b: &Browser, address: &str, sms_n: usize) {
    assert_eq!(b.password(address, PASSWORD).await.status, 200);
    let code = six_digits(&wait_sms(s, sms_n).await.body);
    let next = b.code(&code).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    if next.body == json!("/compte/cgu") {
        assert_eq!(b.run(AcceptTerms { version: "1.1".into() }).await.status, 200);
    }
}

pub async fn actions(s: &TestServer) -> Vec<String> {
    audit::latest(s.db(), 1000).await.unwrap().into_iter().map(|r| format!("{} {}", r.action, r.outcome)).collect()
}
