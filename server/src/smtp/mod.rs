//! SMTP: the listener where other operators' servers hand Hygie their mail (ESMTP with STARTTLS
//! on the HTTPS certificate), the LMTP listener for an operator's own MTA in front, and SMTP
//! submission (587 with STARTTLS, 465 over TLS) where the holders' mail clients and business
//! software send, authenticated by an OAuth access token (SASL OAUTHBEARER or XOAUTH2), never
//! a password. The protocol is parsed by `smtp-proto`; every rule (who may send, to whom, how
//! big, how often) is a core verb's: the delivery verb ([`hygie_core::mail::delivery::Inbound`])
//! for mail from elsewhere, the holder's mailbox ([`hygie_core::mail::Mailbox::submit`]) for
//! submission. This module only speaks the protocol, applies the connection limits, and maps
//! typed refusals to reply codes.

mod reply;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hygie_core::clock::Clock;
use hygie_core::mail::delivery::{Channel, Inbound};
use hygie_core::mail::MailPolicy;
use hygie_core::store::Db;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::listen::{self, Counter, ListenError, Over, Slot, Stopper};

/// What every session of a listener shares.
#[derive(Clone)]
pub struct Settings {
    pub hostname: String,
    pub require_tls: bool,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub connections_per_ip: usize,
    pub max_connections: usize,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let s = &config.smtp;
        Settings {
            hostname: config.smtp_hostname(),
            require_tls: s.require_tls,
            max_message_bytes: config.smtp_max_message_bytes() as usize,
            max_recipients: s.max_recipients,
            command_timeout: Duration::from_secs(s.command_timeout_seconds),
            data_timeout: Duration::from_secs(s.data_timeout_seconds),
            connections_per_ip: s.connections_per_ip,
            max_connections: s.max_connections,
        }
    }
}

/// What submission sessions need to act for a holder: the webmail's own services.
#[derive(Clone)]
pub struct Submission {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub mail: Arc<MailPolicy>,
}

struct Shared {
    inbound: Inbound,
    settings: Settings,
    /// `None` for LMTP, which is not encrypted (it serves an MTA on this machine or network).
    tls: Option<TlsAcceptor>,
    channel: Channel,
    /// For a submission listener: the holders' mail clients send here, once authenticated.
    submission: Option<Submission>,
    /// TLS from the first byte (465), rather than after STARTTLS.
    implicit_tls: bool,
    /// Open connections, per peer address and in all.
    open: Arc<Counter<IpAddr>>,
}

impl Shared {
    fn new(settings: Settings, inbound: Inbound, tls: Option<TlsAcceptor>, channel: Channel) -> Shared {
        let open = Counter::new(settings.connections_per_ip, settings.max_connections);
        Shared { inbound, settings, tls, channel, submission: None, implicit_tls: false, open }
    }

    /// Takes a slot for a connection from `ip`, or gives the reply that says which limit it
    /// is over.
    fn admit(&self, ip: IpAddr) -> Result<Slot<IpAddr>, &'static str> {
        self.open.admit(ip.to_canonical()).map_err(|over| match over {
            Over::Total => "421 4.3.2 Too many connections, try again later\r\n",
            Over::Key => "421 4.7.0 Too many connections from your address, try again later\r\n",
        })
    }
}

/// The running listeners: their addresses, and how to stop them.
pub struct Listeners {
    pub smtp_addr: Option<SocketAddr>,
    pub lmtp_addr: Option<SocketAddr>,
    /// SMTP submission with STARTTLS, and over implicit TLS.
    pub submission_addr: Option<SocketAddr>,
    pub submissions_addr: Option<SocketAddr>,
    pub lmtp_socket: Option<PathBuf>,
    stopper: Stopper,
}

impl Listeners {
    /// Stops accepting, tells idle sessions 421 and lets a message being committed finish
    /// (its 250 is sent), up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.stopper.shutdown(grace).await;
        if let Some(path) = self.lmtp_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds the configured listeners (SMTP with STARTTLS on `tls`; LMTP on a port and/or a Unix
/// socket; submission) and starts accepting. Port 0 picks a free port: see the returned
/// addresses.
pub async fn start(
    config: &Config,
    inbound: Inbound,
    tls: TlsAcceptor,
    submission: Submission,
) -> Result<Listeners, ListenError> {
    let (mut stopper, stopped) = Stopper::new();
    let mut smtp_addr = None;
    if config.smtp.enabled {
        let (l, bound) = listen::bind(config.smtp.listen).await?;
        smtp_addr = Some(bound);
        let shared = Shared::new(Settings::from_config(config), inbound.clone(), Some(tls.clone()), Channel::Smtp);
        stopper.spawn(accept_tcp(l, Arc::new(shared), stopped.clone()));
    }
    let lmtp_shared = || {
        let settings = Settings { require_tls: false, ..Settings::from_config(config) };
        Arc::new(Shared::new(settings, inbound.clone(), None, Channel::Lmtp))
    };
    let mut lmtp_addr = None;
    if let Some(addr) = config.smtp.lmtp_listen {
        let (l, bound) = listen::bind(addr).await?;
        lmtp_addr = Some(bound);
        stopper.spawn(accept_tcp(l, lmtp_shared(), stopped.clone()));
    }
    if let Some(path) = &config.smtp.lmtp_socket {
        let shown = path.display().to_string();
        let bind_err = |source| ListenError::Bind { addr: shown.clone(), source };
        // A socket left by a previous run that did not stop cleanly.
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            let _ = std::fs::remove_file(path);
        }
        let l = UnixListener::bind(path).map_err(bind_err)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err)?;
        stopper.spawn(accept_unix(l, lmtp_shared(), stopped.clone()));
    }
    // Submission: TLS before AUTH always; a message as large as the webmail lets one write.
    let submission_settings = Settings {
        require_tls: true,
        max_message_bytes: submission.mail.limits.max_encoded_bytes() as usize,
        ..Settings::from_config(config)
    };
    let mut submission_addrs = [None, None];
    for (i, (listen, implicit_tls)) in
        [(config.smtp.submission_listen, false), (config.smtp.submissions_listen, true)].into_iter().enumerate()
    {
        let Some(addr) = listen else { continue };
        let (l, bound) = listen::bind(addr).await?;
        submission_addrs[i] = Some(bound);
        let shared = Shared {
            submission: Some(submission.clone()),
            implicit_tls,
            ..Shared::new(submission_settings.clone(), inbound.clone(), Some(tls.clone()), Channel::Smtp)
        };
        stopper.spawn(accept_tcp(l, Arc::new(shared), stopped.clone()));
        tracing::info!(addr = %bound, implicit_tls, "SMTP submission listening");
    }
    if let Some(a) = smtp_addr {
        tracing::info!(addr = %a, require_tls = config.smtp.require_tls, "inbound SMTP listening");
    }
    Ok(Listeners {
        smtp_addr,
        lmtp_addr,
        submission_addr: submission_addrs[0],
        submissions_addr: submission_addrs[1],
        lmtp_socket: config.smtp.lmtp_socket.clone(),
        stopper,
    })
}

async fn accept_tcp(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    listen::accept_loop(listener, stop, "smtp", move |stream, peer, stop| {
        let shared = shared.clone();
        async move {
            let _slot = match shared.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(reply) => {
                    use tokio::io::AsyncWriteExt;
                    let mut stream = stream;
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                    return;
                }
            };
            session::run_tcp(stream, peer.ip().to_canonical().to_string(), &shared, stop).await;
        }
    })
    .await
}

async fn accept_unix(listener: UnixListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    listen::accept_loop(listener, stop, "lmtp", move |stream, _, stop| {
        let shared = shared.clone();
        async move { session::run_plain(stream, "unix".into(), &shared, stop).await }
    })
    .await
}
