//! IMAP for mail clients and business software (RFC 9051 and RFC 3501 clients): implicit TLS
//! and STARTTLS on the HTTPS certificate, OAuth access tokens only (SASL OAUTHBEARER and
//! XOAUTH2; LOGIN is refused). The protocol is parsed and framed by `imap-next` (literals,
//! AUTHENTICATE, IDLE, the literal size limit); every rule is the holder's mailbox verbs'
//! ([`hygie_core::mail::Mailbox`]): this module only speaks the protocol, applies the
//! connection limits and maps the mailbox to IMAP's folders, sequence numbers and UIDs.

mod fetch;
mod names;
mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hygie_core::clock::Clock;
use hygie_core::mail::MailPolicy;
use hygie_core::Db;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// What every session shares.
pub struct Settings {
    pub max_literal_bytes: u32,
    pub connections_per_holder: usize,
    pub connections_per_ip: usize,
    pub max_connections: usize,
    /// Silence allowed once authenticated (and the longest IDLE).
    pub idle_timeout: Duration,
    /// Time allowed to authenticate.
    pub login_timeout: Duration,
    /// How often an IDLE-ing session looks for changes to its folder.
    pub idle_poll: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let i = &config.imap;
        Settings {
            max_literal_bytes: u32::try_from(config.imap_max_literal_bytes()).unwrap_or(u32::MAX),
            connections_per_holder: i.connections_per_holder,
            connections_per_ip: i.connections_per_ip,
            max_connections: i.max_connections,
            idle_timeout: Duration::from_secs(i.idle_minutes * 60),
            login_timeout: Duration::from_secs(i.login_seconds),
            idle_poll: Duration::from_millis(500),
        }
    }
}

pub(crate) struct Shared {
    db: Db,
    clock: Arc<dyn Clock>,
    policy: Arc<MailPolicy>,
    settings: Settings,
    tls: TlsAcceptor,
    /// Open connections per peer address, and per holder (account id) once authenticated.
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    per_ip: HashMap<IpAddr, usize>,
    per_holder: HashMap<i64, usize>,
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// One open connection from an address, counted until it is dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
        release(&mut open.per_ip, &self.ip);
    }
}

/// One authenticated connection of a holder, counted until it is dropped.
pub(crate) struct HolderSlot {
    shared: Arc<Shared>,
    account_id: i64,
}

impl Drop for HolderSlot {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
        release(&mut open.per_holder, &self.account_id);
    }
}

impl Shared {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.per_ip.values().sum();
        if total >= self.settings.max_connections {
            return Err("* BYE [UNAVAILABLE] Too many connections, try again later\r\n");
        }
        let mine = open.per_ip.entry(ip).or_insert(0);
        if *mine >= self.settings.connections_per_ip {
            return Err("* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n");
        }
        *mine += 1;
        Ok(Slot { shared: self.clone(), ip })
    }

    /// A connection for `account_id`, within the per-holder limit.
    pub(crate) fn admit_holder(self: &Arc<Self>, account_id: i64) -> Option<HolderSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.per_holder.entry(account_id).or_insert(0);
        if *mine >= self.settings.connections_per_holder {
            return None;
        }
        *mine += 1;
        Some(HolderSlot { shared: self.clone(), account_id })
    }
}

/// The running listeners: their addresses, and how to stop them.
pub struct Listeners {
    pub tls_addr: Option<SocketAddr>,
    pub starttls_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Stops accepting, tells every session BYE (a command being answered finishes first), up
    /// to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(grace, t).await.is_err() {
                abort.abort();
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// Binds the configured IMAP listeners and starts accepting. Port 0 picks a free port: see the
/// returned addresses.
pub async fn start(
    config: &Config,
    db: Db,
    clock: Arc<dyn Clock>,
    policy: Arc<MailPolicy>,
    tls: TlsAcceptor,
) -> Result<Listeners, ListenError> {
    let (stop, stopped) = watch::channel(false);
    let shared =
        Arc::new(Shared { db, clock, policy, settings: Settings::from_config(config), tls, open: Default::default() });
    let mut tasks = Vec::new();
    let mut bind = async |addr: Option<SocketAddr>, implicit_tls: bool| -> Result<Option<SocketAddr>, ListenError> {
        let Some(addr) = addr.filter(|_| config.imap.enabled) else { return Ok(None) };
        let err = |source| ListenError::Bind { addr: addr.to_string(), source };
        let l = TcpListener::bind(addr).await.map_err(err)?;
        let bound = l.local_addr().map_err(err)?;
        tracing::info!(addr = %bound, implicit_tls, "IMAP listening");
        tasks.push(tokio::spawn(accept(l, shared.clone(), implicit_tls, stopped.clone())));
        Ok(Some(bound))
    };
    let tls_addr = bind(config.imap.tls_listen, true).await?;
    let starttls_addr = bind(config.imap.starttls_listen, false).await?;
    Ok(Listeners { tls_addr, starttls_addr, stop, tasks })
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, implicit_tls: bool, mut stop: watch::Receiver<bool>) {
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
                        let ip = peer.ip().to_canonical();
                        let slot = match shared.admit(ip) {
                            Ok(slot) => slot,
                            Err(bye) => {
                                // Plain text only on the STARTTLS port: on the TLS port the
                                // client expects a handshake, so the connection just closes.
                                if !implicit_tls {
                                    use tokio::io::AsyncWriteExt;
                                    let mut stream = stream;
                                    let _ = stream.write_all(bye.as_bytes()).await;
                                    let _ = stream.shutdown().await;
                                }
                                return;
                            }
                        };
                        session::run(stream, implicit_tls, ip, &shared, stop).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "IMAP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
