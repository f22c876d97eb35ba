//! Server functions, one file per area. Each body is a few lines: authenticate, parse, call
//! core, map to a view type.

pub mod account;
pub mod auth;
pub mod devices;
pub mod directory;
pub mod mail;
pub mod phone;
pub mod portal;
pub mod terminals;

pub use account::*;
pub use auth::*;
pub use devices::*;
pub use directory::*;
pub use mail::*;
pub use phone::*;
pub use portal::*;
pub use terminals::*;
