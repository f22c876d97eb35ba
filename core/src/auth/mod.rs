//! Authentication: password hashing and policy, one-time codes, sessions, the holder's
//! terminals (authenticator apps, passkeys), and the sign-in flow that ties them to accounts.

pub mod holder;
pub mod oauth;
pub mod otp;
pub mod passkeys;
pub mod password;
pub mod phone;
pub mod policy;
pub mod session;
pub mod signin;
pub mod terminals;
#[cfg(test)]
pub(crate) mod testing;
