//! What the mail protocols' listeners (SMTP, LMTP, submission, IMAP) share: binding, counting
//! open connections against their limits, the accept loop, and stopping.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// Binds `addr`; returns the listener and the address it got (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ListenError> {
    let err = |source| ListenError::Bind { addr: addr.to_string(), source };
    let l = TcpListener::bind(addr).await.map_err(err)?;
    let bound = l.local_addr().map_err(err)?;
    Ok((l, bound))
}

/// The accept loops of a set of listeners, and how to stop them.
pub struct Stopper {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Stopper {
    /// A stopper, and the signal its loops and sessions watch.
    pub fn new() -> (Stopper, watch::Receiver<bool>) {
        let (stop, stopped) = watch::channel(false);
        (Stopper { stop, tasks: Vec::new() }, stopped)
    }

    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Tells every loop and session to stop (each says goodbye in its protocol, and a command
    /// being answered finishes first), waits for them up to `grace`, then aborts the rest.
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

/// Which limit a connection is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Too many connections in all.
    Total,
    /// Too many for its key (its address, its holder).
    Key,
}

/// Open connections counted per key (a peer address, a holder), with a limit per key and one in
/// all.
pub struct Counter<K: Hash + Eq + Clone> {
    open: Mutex<HashMap<K, usize>>,
    per_key: usize,
    total: usize,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    pub fn new(per_key: usize, total: usize) -> Arc<Counter<K>> {
        Arc::new(Counter { open: Mutex::new(HashMap::new()), per_key, total })
    }

    /// Counts one more connection for `key`, until the slot is dropped; or says which limit
    /// it is over.
    pub fn admit(self: &Arc<Self>, key: K) -> Result<Slot<K>, Over> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.values().sum::<usize>() >= self.total {
            return Err(Over::Total);
        }
        let mine = open.entry(key.clone()).or_insert(0);
        if *mine >= self.per_key {
            return Err(Over::Key);
        }
        *mine += 1;
        Ok(Slot { counter: self.clone(), key })
    }
}

/// One open connection, counted until it is dropped.
pub struct Slot<K: Hash + Eq + Clone> {
    counter: Arc<Counter<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A listening socket the accept loop can serve: TCP for the network, a Unix socket for an MTA
/// on the same machine (LMTP).
pub trait Listener: Send {
    type Stream: Send + 'static;
    type Peer: Send + 'static;
    fn accept(&self) -> impl Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    type Peer = SocketAddr;
    async fn accept(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Replies are small and a session waits for each: no Nagle delay.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    type Peer = tokio::net::unix::SocketAddr;
    async fn accept(&self) -> std::io::Result<(UnixStream, Self::Peer)> {
        UnixListener::accept(self).await
    }
}

/// Accepts connections until told to stop, each served by `serve` in its own task; then
/// waits for the sessions, which watch `stop` too and end on their own.
pub async fn accept_loop<L, F, Fut>(listener: L, mut stop: watch::Receiver<bool>, protocol: &'static str, serve: F)
where
    L: Listener,
    F: Fn(L::Stream, L::Peer, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    sessions.spawn(serve(stream, peer, stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, protocol, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
