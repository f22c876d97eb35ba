//! The Hygie server: configuration, start-up, TLS, the HTTP router and the background workers.
//! `main.rs` is only the command line on top of this.

pub mod accounts;
pub mod config;
pub mod directory_bench;
pub mod imap;
pub mod listen;
pub mod mail_import;
pub mod pdf;
pub mod proxies;
pub mod smtp;
pub mod tls;
pub mod web;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::{Organisation, SiteInfo};
use app::server::{AuthSettings, Services};
use hygie_core::auth::session::SessionPolicy;
use hygie_core::clock::Clock;
use hygie_core::contact::ContactSettings;
use hygie_core::outbox::{
    DevOutbox, EmailTransport, MssSmtp, MssTls, MssTransport, RetryPolicy, SmsGateway, SmsTransport, SmtpSettings,
    Transport,
};
use hygie_core::ratelimit::Limit;
use hygie_core::{audit, terms, Db};
use leptos::config::LeptosOptions;
use tokio::task::JoinHandle;

use crate::config::{Config, MailTransportKind, SmsTransportKind};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Store(#[from] hygie_core::StoreError),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("outgoing mail: {0}")]
    Transport(#[from] hygie_core::outbox::TransportError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("audit key: {0}")]
    AuditKey(#[from] hygie_core::audit::KeyError),
    /// A mail protocol's listener (SMTP, LMTP, submission, IMAP).
    #[error("mail listener: {0}")]
    Listen(#[from] listen::ListenError),
    #[error("cannot find the hygie binary for PDF previews (set mailbox.preview_program): {0}")]
    PreviewProgram(std::io::Error),
}

/// A running Hygie: its addresses and what it takes to stop it.
pub struct Running {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// The inbound SMTP listener's address (when `smtp.enabled`).
    pub smtp_addr: Option<SocketAddr>,
    /// The LMTP listener's address (when `smtp.lmtp_listen` is set).
    pub lmtp_addr: Option<SocketAddr>,
    /// SMTP submission with STARTTLS (587), and over implicit TLS (465).
    pub submission_addr: Option<SocketAddr>,
    pub submissions_addr: Option<SocketAddr>,
    /// The IMAP listeners' addresses: implicit TLS, and STARTTLS (when configured).
    pub imap_addr: Option<SocketAddr>,
    pub imap_starttls_addr: Option<SocketAddr>,
    pub db: Db,
    /// The inbound delivery verb (mail from other operators).
    pub inbound: hygie_core::mail::delivery::Inbound,
    handle: axum_server::Handle<SocketAddr>,
    smtp: Option<smtp::Listeners>,
    imap: Option<imap::Listeners>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections, lets requests in flight finish (up to 10 s) and messages
    /// being committed be answered, stops workers.
    pub async fn shutdown(mut self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        if let Some(smtp) = self.smtp.take() {
            smtp.shutdown(Duration::from_secs(10)).await;
        }
        if let Some(imap) = self.imap.take() {
            imap.shutdown(Duration::from_secs(10)).await;
        }
        for t in self.tasks {
            t.abort();
        }
        self.db.close().await;
    }

    /// Serves until `signal` completes, then stops gracefully: no new connection; requests in
    /// flight finish and SMTP sessions answer the message being committed (up to 10 s each),
    /// idle SMTP sessions are told 421; then the workers stop.
    pub async fn serve_until(mut self, signal: impl std::future::Future<Output = ()>) {
        let Some(mut server) = self.tasks.pop() else { return };
        tokio::select! {
            _ = &mut server => {}
            _ = signal => {
                tracing::info!("stopping");
                self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
                if let Some(smtp) = self.smtp.take() {
                    smtp.shutdown(Duration::from_secs(10)).await;
                }
                if let Some(imap) = self.imap.take() {
                    imap.shutdown(Duration::from_secs(10)).await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(11), server).await;
            }
        }
        for t in self.tasks {
            t.abort();
        }
        self.db.close().await;
    }

    pub fn handle(&self) -> axum_server::Handle<SocketAddr> {
        self.handle.clone()
    }
}

/// Opens the database and brings its schema up to date; a failed migration is an error that
/// must stop start-up.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    prepare_data_dir(&config.data_dir)
        .map_err(|source| StartError::DataDir { path: config.data_dir.display().to_string(), source })?;
    let key_path = config.audit_key_path();
    let known_key = hygie_core::audit::AuditKey::load(&key_path)?;
    // Until the key is known, nothing is appended: a new key seals from the next record on.
    let provisional = known_key.clone().unwrap_or_else(|| hygie_core::audit::AuditKey::generate(i64::MAX));
    let db = Db::connect(&config.database_url(), provisional).await?;
    db.migrate().await?;
    if known_key.is_some() {
        return Ok(db);
    }
    let next = hygie_core::audit::head(&db).await?.0 + 1;
    let key = hygie_core::audit::AuditKey::generate(next);
    key.save_new(&key_path)?;
    tracing::info!(path = %key_path.display(), from = next, "audit key created: keep it secret and back it up");
    Ok(db.with_audit_key(key))
}

/// Creates the data directory for Hygie's user alone (0700): it holds the database, the
/// development outbox (codes, mails) and the TLS key. An existing directory that Hygie's user
/// owns and others may enter is made 0700; one owned by someone else is left as it is, with a
/// warning, since its owner chose.
pub fn prepare_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::metadata(dir)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    if meta.uid() == rustix::process::geteuid().as_raw() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        tracing::warn!(path = %dir.display(), was = format!("{mode:o}"), "data directory made private (0700)");
    } else {
        tracing::warn!(
            path = %dir.display(),
            mode = format!("{mode:o}"),
            "the data directory belongs to another user and others may enter it: make it 0700"
        );
    }
    Ok(())
}

pub fn build_transport(config: &Config) -> Result<Transport, StartError> {
    let dev = DevOutbox::new(config.outbox_dir());
    let email = match config.mail.transport {
        MailTransportKind::Dev => EmailTransport::Dev(dev.clone()),
        MailTransportKind::Smtp => EmailTransport::smtp(SmtpSettings {
            host: config.mail.smtp_host.clone(),
            port: config.mail.smtp_port,
            security: config.mail.smtp_security,
            username: config.mail.smtp_username.clone(),
            password: config.mail.smtp_password.clone(),
            from: config.mail.from.clone(),
            timeout: Duration::from_secs(30),
        })?,
    };
    let mss = match config.mss.transport {
        MailTransportKind::Dev => MssTransport::Dev(dev.clone()),
        MailTransportKind::Smtp => {
            let m = &config.mss;
            let timeout = Duration::from_secs(60);
            let smtp = if m.smtp_host.trim().is_empty() {
                MssSmtp::direct(&m.dns_servers, m.mx_port, timeout)?
            } else {
                MssSmtp::relay(
                    &m.smtp_host,
                    m.smtp_port,
                    m.smtp_security,
                    m.smtp_username.clone(),
                    m.smtp_password.clone(),
                    timeout,
                )
            };
            let read = |p: &std::path::PathBuf| {
                std::fs::read(p).map_err(|e| config::ConfigError::Invalid(format!("cannot read {}: {e}", p.display())))
            };
            let anchors = m.trust_anchors.as_ref().map(read).transpose()?;
            let client = match (&m.client_cert, &m.client_key) {
                (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
                _ => None,
            };
            let tls = MssTls::from_pem(anchors.as_deref(), client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())))?;
            MssTransport::Smtp(smtp.with_tls(tls).with_hello(&config.smtp_hostname()))
        }
    };
    let sms = match config.sms.transport {
        SmsTransportKind::Dev => SmsTransport::Dev(dev),
        SmsTransportKind::None => SmsTransport::Disabled,
        SmsTransportKind::Gateway => match (&config.sms.gateway_url, &config.sms.gateway_token) {
            (Some(url), Some(token)) => SmsTransport::Gateway(SmsGateway::new(url.clone(), token.clone())?),
            _ => SmsTransport::Disabled,
        },
    };
    Ok(Transport { email, sms, mss })
}

fn site_info(config: &Config) -> SiteInfo {
    let o = &config.operator;
    let h = &config.host;
    SiteInfo {
        operator: Organisation {
            name: o.name.clone(),
            address: o.address.clone(),
            phone: o.phone.clone(),
            email: o.email.clone(),
            registration: o.registration.clone(),
        },
        director: o.director.clone(),
        host: Organisation {
            name: h.name.clone(),
            address: h.address.clone(),
            phone: h.phone.clone(),
            email: h.email.clone(),
            registration: h.registration.clone(),
        },
        host_certification: h.certification.clone(),
        support_hours_fr: config.support.hours_fr.clone(),
        support_hours_en: config.support.hours_en.clone(),
        support_phone: config.support.phone.clone(),
    }
}

/// The binary that draws PDF pages: as configured, or this one.
fn preview_program(config: &Config) -> Result<std::path::PathBuf, StartError> {
    match &config.mailbox.preview_program {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().map_err(StartError::PreviewProgram),
    }
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("hygie")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .site_addr(config.listen)
        .build()
}

/// Starts Hygie: database, terms, workers, HTTPS and the HTTP redirect. Returns once both
/// listeners are bound (port 0 picks a free port: see [`Running::https_addr`]).
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let db = open_database(&config).await?;
    let added = terms::sync_bundled(&db, clock.as_ref()).await?;
    if added > 0 {
        tracing::info!(added, "terms of use versions loaded");
    }
    let transport = build_transport(&config)?;
    let services = Services {
        db: db.clone(),
        clock: clock.clone(),
        site: Arc::new(site_info(&config)),
        contact: ContactSettings {
            support_address: config.support.address.clone(),
            limit: Limit { max: config.support.contact_per_hour, window_ms: 3_600_000 },
        },
        auth: AuthSettings {
            sessions: SessionPolicy {
                idle_ms: config.session.idle_minutes * 60_000,
                absolute_ms: config.session.absolute_hours * 3_600_000,
            },
            public_url: config.public_url(),
            per_ip: Limit { max: config.session.signin_per_ip_per_hour, window_ms: 3_600_000 },
            domains: config.domains.clone(),
            push: hygie_core::auth::phone::PushPolicy { allow_loopback: config.session.push_to_loopback },
            http: hygie_core::reqwest::Client::builder()
                .redirect(hygie_core::reqwest::redirect::Policy::none())
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| config::ConfigError::Invalid(format!("HTTP client: {e}")))?,
        },
        mail: Arc::new(hygie_core::mail::MailPolicy {
            domains: config.domains.clone(),
            public_url: config.public_url(),
            limits: hygie_core::mail::attach::Limits {
                max_message_bytes: config.mailbox.max_message_mb * 1024 * 1024,
                quota_bytes: config.mailbox.quota_mb * 1024 * 1024,
            },
        }),
        previewer: hygie_core::mail::preview::Previewer::new(
            preview_program(&config)?,
            config.mailbox.preview_concurrent,
        ),
        passkeys: match hygie_core::auth::passkeys::RelyingParty::new(&config.public_url()) {
            Ok(rp) => Some(Arc::new(rp)),
            Err(why) => {
                tracing::warn!(%why, "passkeys disabled");
                None
            }
        },
    };
    let probe = tokio::spawn(pdf::report_confinement(preview_program(&config)?, config.data_dir.clone()));
    let local = config.public_url().contains("://localhost") || config.public_url().contains("://127.0.0.1");
    if config.demo_accounts && !local {
        tracing::warn!("demo_accounts ignored: demonstration accounts are only for a Hygie served on localhost");
    } else if config.demo_accounts {
        match accounts::seed_demo(&db, clock.as_ref(), &config.domains[0]).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(accounts = n, "demo accounts created (see README)"),
            Err(e) => tracing::warn!(error = %e, "demo accounts not created"),
        }
    }
    let trusted_proxies = proxies::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|e| config::ConfigError::Invalid(e.to_string()))?;
    let mail_policy = services.mail.clone();
    let imap_policy = services.mail.clone();
    let state = web::AppState { leptos: leptos_options(&config), services, trusted_proxies };

    let rustls = tls::rustls_config(&config).await?;
    // Inbound mail: the delivery verb's writers, and the SMTP (STARTTLS on the same certificate)
    // and LMTP listeners.
    let (inbound, writers) = hygie_core::mail::delivery::Inbound::start(
        db.clone(),
        clock.clone(),
        hygie_core::mail::delivery::InboundPolicy {
            domains: config.domains.clone(),
            public_url: config.public_url(),
            max_message_bytes: config.smtp_max_message_bytes(),
            quota_bytes: config.mailbox.quota_mb * 1024 * 1024,
            peer_messages_per_hour: config.smtp.messages_per_peer_per_hour,
        },
    );
    let mut smtp_tls = (*rustls.get_inner()).clone();
    smtp_tls.alpn_protocols.clear();
    let smtp_tls = Arc::new(smtp_tls);
    let submission = smtp::Submission { db: db.clone(), clock: clock.clone(), mail: mail_policy.clone() };
    let smtp =
        smtp::start(&config, inbound.clone(), tokio_rustls::TlsAcceptor::from(smtp_tls.clone()), submission).await?;
    // IMAP for mail clients, on the same certificate.
    let imap =
        imap::start(&config, db.clone(), clock.clone(), imap_policy, tokio_rustls::TlsAcceptor::from(smtp_tls)).await?;
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|source| StartError::Bind { addr: config.listen, source })?;
    listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let https_addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;

    let mut tasks = Vec::new();
    let policy = RetryPolicy {
        base_ms: config.outbox.retry_base_seconds * 1000,
        max_attempts: config.outbox.max_attempts,
        mss_expiry_ms: config.mss.expiry_hours * 3_600_000,
        ..RetryPolicy::default()
    };
    // Supervised: a panic in one pass (a bug met by one message) must not stop the outbox.
    let transport = Arc::new(transport);
    let poll = Duration::from_secs(config.outbox.poll_seconds.max(1));
    let (outbox_db, outbox_clock) = (db.clone(), clock.clone());
    tasks.push(tokio::spawn(worker::supervised("outbox", Duration::from_secs(5), move || {
        worker::outbox_loop(
            outbox_db.clone(),
            outbox_clock.clone(),
            transport.clone(),
            policy.clone(),
            mail_policy.clone(),
            poll,
        )
    })));
    tasks.push(tokio::spawn(worker::housekeeping_loop(db.clone(), clock.clone())));
    tasks.push(tokio::spawn(worker::search_index_loop(db.clone(), inbound.clone())));
    tasks.extend(writers);
    tasks.push(probe);

    let mut http_addr = None;
    if let Some(addr) = config.http_listen {
        let l = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        http_addr = Some(l.local_addr().map_err(|source| StartError::Bind { addr, source })?);
        let redirect = web::redirect_router(https_addr.port(), config.public_url.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, redirect).await {
                tracing::error!(error = %e, "HTTP redirect listener stopped");
            }
        }));
    }

    let handle = axum_server::Handle::new();
    let app = web::router(state);
    let server = axum_server::from_tcp_rustls(listener, rustls)
        .map_err(|source| StartError::Bind { addr: https_addr, source })?
        .handle(handle.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.serve(app.into_make_service_with_connect_info::<SocketAddr>()).await {
            tracing::error!(error = %e, "HTTPS listener stopped");
        }
    }));

    audit::record(
        &db,
        clock.as_ref(),
        audit::AuditEvent::new(audit::Actor::System, "server.start", audit::Outcome::Success),
    )
    .await;
    tracing::info!(%https_addr, ?http_addr, backend = ?db.backend(), "Hygie is serving");
    Ok(Running {
        https_addr,
        http_addr,
        smtp_addr: smtp.smtp_addr,
        lmtp_addr: smtp.lmtp_addr,
        submission_addr: smtp.submission_addr,
        submissions_addr: smtp.submissions_addr,
        imap_addr: imap.tls_addr,
        imap_starttls_addr: imap.starttls_addr,
        imap: Some(imap),
        db,
        inbound,
        handle,
        smtp: Some(smtp),
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::prepare_data_dir;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_directory_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        // Created, with missing parents.
        let fresh = tmp.path().join("var/lib/hygie");
        prepare_data_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        // An existing one that everyone could read, as `mkdir` under the usual umask leaves it.
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(open.join("hygie.db"), b"").unwrap();
        prepare_data_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
        assert!(open.join("hygie.db").exists(), "nothing inside is touched");
        // Already private: left alone.
        prepare_data_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
        // A file where the directory should be is an error, not a silent success.
        let file = tmp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(prepare_data_dir(&file).is_err());
    }
}
