//! A real Hygie for API tests: HTTPS on port 0, a temporary database (SQLite file or a fresh
//! PostgreSQL database), and a real SMTP server (Python's aiosmtpd) receiving what the outbox
//! sends.

#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hygie_core::clock::{Clock, ManualClock, SystemClock};
use hygie_core::outbox::SmtpSecurity;
use hygie_core::store::testing::TestDb;
use hygie_server::config::{Config, MailTransportKind, SmsTransportKind};
use hygie_server::Running;

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// For each `async fn name(engine: Engine)` named, a module `name` with one `#[tokio::test]` per
/// engine (`name::sqlite`, `name::postgres`): each engine passes or fails on its own.
macro_rules! on_each_engine {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::common::Engine::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                super::$name($crate::common::Engine::Postgres).await
            }
        }
    )+};
}
pub(crate) use on_each_engine;

/// A fresh, migrated database on `engine`.
pub async fn test_db(engine: Engine) -> TestDb {
    match engine {
        Engine::Sqlite => TestDb::sqlite().await,
        Engine::Postgres => TestDb::postgres().await,
    }
}

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpSink {
    pub fn start(dir: PathBuf) -> SmtpSink {
        let python = std::env::var("HYGIE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/smtp_sink.py");
        let child = Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the SMTP sink with {python} (needs aiosmtpd: apt-get install python3-aiosmtpd): {e}"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the SMTP sink did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { child, port, dir }
    }

    /// The messages received so far, parsed, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.into_iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// Waits (up to 20 s) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(Instant::now() < deadline, "expected {n} messages at the SMTP sink, got {}", m.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's log goes to the output of the test that runs it (its tasks run on the test's
/// thread), which the test harness shows only when that test fails: a hang or an error then
/// comes with what the server said.
fn capture_server_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn,rustls=warn,lettre=warn");
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_test_writer().try_init();
    });
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub http_base: String,
    pub config: Config,
    pub smtp: SmtpSink,
    pub engine: Engine,
    /// Hygie's clock: starts at the current time and moves only when a test moves it.
    pub clock: ManualClock,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(engine: Engine) -> TestServer {
        Self::start_with(engine, |_| {}).await
    }

    pub async fn start_with(engine: Engine, adjust: impl FnOnce(&mut Config)) -> TestServer {
        capture_server_logs();
        let dir = tempfile::tempdir().unwrap();
        let db = test_db(engine).await;
        let smtp = SmtpSink::start(dir.path().join("smtp"));
        let mut config = Config::default();
        config.data_dir = dir.path().join("data");
        config.database_url = Some(db.url.clone());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.http_listen = Some("127.0.0.1:0".parse().unwrap());
        // Inbound SMTP on a free port too (the bound address is `Running::smtp_addr`).
        config.smtp.listen = "127.0.0.1:0".parse().unwrap();
        config.smtp.submission_listen = Some("127.0.0.1:0".parse().unwrap());
        config.smtp.submissions_listen = Some("127.0.0.1:0".parse().unwrap());
        // IMAP too (`Running::imap_addr`, `imap_starttls_addr`).
        config.imap.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        config.imap.starttls_listen = Some("127.0.0.1:0".parse().unwrap());
        config.site_root = dir.path().join("site");
        config.mail.transport = MailTransportKind::Smtp;
        config.mail.smtp_host = "127.0.0.1".into();
        config.mail.smtp_port = smtp.port;
        config.mail.smtp_security = SmtpSecurity::None;
        config.mail.from = "Hygie <ne-pas-repondre@hygie.test>".into();
        // Other operators of the trust space are reached through the same sink.
        config.mss.transport = MailTransportKind::Smtp;
        config.mss.smtp_host = "127.0.0.1".into();
        config.mss.smtp_port = smtp.port;
        config.mss.smtp_security = SmtpSecurity::None;
        config.sms.transport = SmsTransportKind::Dev;
        // The server runs inside the test binary: PDF pages are drawn by the real hygie binary.
        config.mailbox.preview_program = Some(env!("CARGO_BIN_EXE_hygie").into());
        config.support.address = "assistance@hygie.test".into();
        config.support.contact_per_hour = 3;
        config.operator.name = "Opérateur Test SAS".into();
        config.host.certification = "HDS 2.0, hébergeur d'infrastructure".into();
        adjust(&mut config);
        let clock = ManualClock::new(SystemClock.now_ms());
        let running = hygie_server::start(config.clone(), Arc::new(clock.clone())).await.expect("Hygie starts");
        let base = format!("https://127.0.0.1:{}", running.https_addr.port());
        let http_base = format!("http://127.0.0.1:{}", running.http_addr.unwrap().port());
        TestServer { running: Some(running), base, http_base, config, smtp, engine, clock, _db: db, _dir: dir }
    }

    pub fn db(&self) -> &hygie_core::Db {
        &self.running.as_ref().unwrap().db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The same-origin `Origin` header value a browser would send.
    pub fn origin(&self) -> String {
        self.base.clone()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A client that trusts the self-signed certificate and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A server function's arguments as its URL-encoded body (Leptos' `PostUrl` encoding:
/// `serde_qs`, nested fields as `input[to]`).
pub fn args<F: serde::Serialize>(f: &F) -> String {
    serde_qs::to_string(f).expect("server function arguments encode")
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
