//! Hygie core: storage, audit trail, outgoing messages and every other piece that touches IO or
//! secrets. No Leptos here; the web layer (`app`, `server`) calls into this crate.

/// The HTTP client crate the core sends with (SMS, pushes), for the channels that hand it one.
pub use reqwest;
pub mod accounts;
pub mod audience;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod contact;
pub mod directory;
pub mod mail;
pub mod notify;
pub mod outbox;
pub mod ratelimit;
pub mod store;
pub mod terms;
pub mod trust_space;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{Backend, Db, StoreError};

/// A short random reference (12 hex digits) to quote an incident in logs and to the user.
pub fn random_ref() -> String {
    random_hex(6)
}

/// A random token of `bytes` bytes, hex-encoded (cookies, nonces, identifiers).
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
