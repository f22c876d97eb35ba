//! IMAP for mail clients and business software (RFC 9051 and RFC 3501 clients): implicit TLS
//! and STARTTLS on the HTTPS certificate, OAuth access tokens only (SASL OAUTHBEARER and
//! XOAUTH2; LOGIN is refused). The protocol is parsed and framed by `imap-next` (literals,
//! AUTHENTICATE, IDLE, the literal size limit); every rule is the holder's mailbox verbs'
//! ([`hygie_core::mail::Mailbox`]): this module only speaks the protocol, applies the
//! connection limits and maps the mailbox to IMAP's folders, sequence numbers and UIDs.

mod fetch;
mod names;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hygie_core::clock::Clock;
use hygie_core::mail::MailPolicy;
use hygie_core::Db;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::listen::{self, Counter, ListenError, Over, Slot, Stopper};

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
    /// Open connections per peer address (and in all), and per holder once authenticated.
    per_ip: Arc<Counter<IpAddr>>,
    per_holder: Arc<Counter<i64>>,
}

/// One authenticated connection of a holder, counted until it is dropped.
pub(crate) type HolderSlot = Slot<i64>;

impl Shared {
    fn admit(&self, ip: IpAddr) -> Result<Slot<IpAddr>, &'static str> {
        self.per_ip.admit(ip).map_err(|over| match over {
            Over::Total => "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
            Over::Key => "* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n",
        })
    }

    /// A connection for `account_id`, within the per-holder limit.
    pub(crate) fn admit_holder(&self, account_id: i64) -> Option<HolderSlot> {
        self.per_holder.admit(account_id).ok()
    }
}

/// The running listeners: their addresses, and how to stop them.
pub struct Listeners {
    pub tls_addr: Option<SocketAddr>,
    pub starttls_addr: Option<SocketAddr>,
    stopper: Stopper,
}

impl Listeners {
    /// Stops accepting, tells every session BYE (a command being answered finishes first), up
    /// to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.stopper.shutdown(grace).await;
    }
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
    let (mut stopper, stopped) = Stopper::new();
    let settings = Settings::from_config(config);
    let per_ip = Counter::new(settings.connections_per_ip, settings.max_connections);
    let per_holder = Counter::new(settings.connections_per_holder, usize::MAX);
    let shared = Arc::new(Shared { db, clock, policy, settings, tls, per_ip, per_holder });
    let mut bind = async |addr: Option<SocketAddr>, implicit_tls: bool| -> Result<Option<SocketAddr>, ListenError> {
        let Some(addr) = addr.filter(|_| config.imap.enabled) else { return Ok(None) };
        let (l, bound) = listen::bind(addr).await?;
        tracing::info!(addr = %bound, implicit_tls, "IMAP listening");
        stopper.spawn(accept(l, shared.clone(), implicit_tls, stopped.clone()));
        Ok(Some(bound))
    };
    let tls_addr = bind(config.imap.tls_listen, true).await?;
    let starttls_addr = bind(config.imap.starttls_listen, false).await?;
    Ok(Listeners { tls_addr, starttls_addr, stopper })
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, implicit_tls: bool, stop: watch::Receiver<bool>) {
    listen::accept_loop(listener, stop, "imap", move |stream, peer, stop| {
        let shared = shared.clone();
        async move {
            let ip = peer.ip().to_canonical();
            let _slot = match shared.admit(ip) {
                Ok(slot) => slot,
                Err(bye) => {
                    // Plain text only on the STARTTLS port: on the TLS port the client expects
                    // a handshake, so the connection just closes.
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
        }
    })
    .await
}
