//! Hygie core: storage, audit trail, outgoing messages and every other piece that touches IO or
//! secrets. No Leptos here; the web layer (`app`, `server`) calls into this crate.

pub mod audit;
pub mod clock;
pub mod contact;
pub mod outbox;
pub mod ratelimit;
pub mod store;
pub mod audience;
pub mod terms;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{Backend, Db, StoreError};
