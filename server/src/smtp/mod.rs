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

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hygie_core::clock::Clock;
use hygie_core::mail::delivery::{Channel, Inbound};
use hygie_core::mail::MailPolicy;
use hygie_core::store::Db;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

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
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection, counted until it is dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

impl Shared {
    /// Takes a slot for a connection from `ip`, or says which limit it is over.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        if total >= self.settings.max_connections {
            return Err("421 4.3.2 Too many connections, try again later\r\n");
        }
        let mine = open.entry(ip.to_canonical()).or_insert(0);
        if *mine >= self.settings.connections_per_ip {
            return Err("421 4.7.0 Too many connections from your address, try again later\r\n");
        }
        *mine += 1;
        Ok(Slot { shared: self.clone(), ip: Some(ip.to_canonical()) })
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
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Stops accepting, tells idle sessions 421 and lets a message being committed finish
    /// (its 250 is sent), up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(grace, t).await.is_err() {
                abort.abort();
            }
        }
        if let Some(path) = self.lmtp_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
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
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let bind_err = |addr: String| move |source: std::io::Error| ListenError::Bind { addr, source };
    let mut smtp_addr = None;
    if config.smtp.enabled {
        let addr = config.smtp.listen;
        let l = TcpListener::bind(addr).await.map_err(bind_err(addr.to_string()))?;
        smtp_addr = Some(l.local_addr().map_err(bind_err(addr.to_string()))?);
        let shared = Arc::new(Shared {
            inbound: inbound.clone(),
            settings: Settings::from_config(config),
            tls: Some(tls.clone()),
            channel: Channel::Smtp,
            submission: None,
            implicit_tls: false,
            open: Mutex::new(HashMap::new()),
        });
        tasks.push(tokio::spawn(accept_tcp(l, shared, stopped.clone())));
    }
    let lmtp_shared = || {
        Arc::new(Shared {
            inbound: inbound.clone(),
            settings: Settings { require_tls: false, ..Settings::from_config(config) },
            tls: None,
            channel: Channel::Lmtp,
            submission: None,
            implicit_tls: false,
            open: Mutex::new(HashMap::new()),
        })
    };
    let mut lmtp_addr = None;
    if let Some(addr) = config.smtp.lmtp_listen {
        let l = TcpListener::bind(addr).await.map_err(bind_err(addr.to_string()))?;
        lmtp_addr = Some(l.local_addr().map_err(bind_err(addr.to_string()))?);
        tasks.push(tokio::spawn(accept_tcp(l, lmtp_shared(), stopped.clone())));
    }
    if let Some(path) = &config.smtp.lmtp_socket {
        let shown = path.display().to_string();
        // A socket left by a previous run that did not stop cleanly.
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            let _ = std::fs::remove_file(path);
        }
        let l = UnixListener::bind(path).map_err(bind_err(shown.clone()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err(shown))?;
        tasks.push(tokio::spawn(accept_unix(l, lmtp_shared(), stopped.clone())));
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
        let l = TcpListener::bind(addr).await.map_err(bind_err(addr.to_string()))?;
        let bound = l.local_addr().map_err(bind_err(addr.to_string()))?;
        submission_addrs[i] = Some(bound);
        let shared = Arc::new(Shared {
            inbound: inbound.clone(),
            settings: submission_settings.clone(),
            tls: Some(tls.clone()),
            channel: Channel::Smtp,
            submission: Some(submission.clone()),
            implicit_tls,
            open: Mutex::new(HashMap::new()),
        });
        tasks.push(tokio::spawn(accept_tcp(l, shared, stopped.clone())));
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
        stop,
        tasks,
    })
}

async fn accept_tcp(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let stop = stop.clone();
                    sessions.spawn(async move {
                        let slot = match shared.admit(peer.ip()) {
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
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

async fn accept_unix(listener: UnixListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    let stop = stop.clone();
                    sessions.spawn(async move {
                        let _slot = Slot { shared: shared.clone(), ip: None };
                        session::run_plain(stream, "unix".into(), &shared, stop).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
