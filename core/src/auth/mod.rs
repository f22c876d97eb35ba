//! Authentication building blocks: password hashing now; one-time codes and sessions next.

pub mod password;
