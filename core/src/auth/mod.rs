//! Authentication building blocks: password hashing now; one-time codes and sessions next.

pub mod otp;
pub mod password;
