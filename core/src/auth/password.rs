//! Password hashing with Argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane). Passwords are
//! normalised to NFKC before hashing (by the caller's `Password::parse`), never truncated.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// A PHC-format Argon2id hash. Not `Debug`, `Clone` or `Serialize`: it leaves the store only to
/// be verified.
pub struct PasswordHashString(String);

impl PasswordHashString {
    pub fn from_stored(s: String) -> Self {
        PasswordHashString(s)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

fn argon2() -> Argon2<'static> {
    // 19 MiB, t=2, p=1: OWASP's recommended Argon2id setting.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: Argon2 takes tens of milliseconds of CPU.
pub async fn hash(password: SecretString) -> Result<PasswordHashString, HashError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| PasswordHashString(h.to_string()))
            .map_err(|_| HashError)
    })
    .await
    .map_err(|_| HashError)?
}

/// Verifies `password` against `stored`, or against a fixed dummy hash when there is no account,
/// so that an unknown address and a wrong password take the same time.
pub async fn verify(password: SecretString, stored: Option<PasswordHashString>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(h) => (h.0.as_str(), true),
            None => (dummy_hash(), false),
        };
        let ok = PasswordHash::new(hash)
            .map(|parsed| argon2().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(b"hygie-dummy-password-for-timing", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let pw = "correct horse battery staple é";
        let a = hash(SecretString::from(pw)).await.unwrap();
        let b = hash(SecretString::from(pw)).await.unwrap();
        assert!(a.as_stored().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a.as_stored(), b.as_stored());
        assert!(verify(SecretString::from(pw), Some(PasswordHashString::from_stored(a.as_stored().into()))).await);
        assert!(!verify(SecretString::from("correct horse battery staple e"), Some(a)).await);
        // No account: always false, whatever is typed.
        assert!(!verify(SecretString::from("hygie-dummy-password-for-timing"), None).await);
    }

    #[tokio::test]
    async fn long_passwords_are_not_truncated() {
        let long = "a".repeat(200);
        let h = hash(SecretString::from(long.clone())).await.unwrap();
        let almost = format!("{}b", "a".repeat(199));
        assert!(!verify(SecretString::from(almost), Some(PasswordHashString::from_stored(h.as_stored().into()))).await);
        assert!(verify(SecretString::from(long), Some(h)).await);
    }
}
