//! Password hashing with Argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane). Passwords are
//! normalised to NFKC before hashing (by the caller's `Password::parse`), never truncated.
//!
//! Every hash and verification of the process takes a permit first, one per core: a burst of
//! sign-ins queues instead of starting hundreds of 19 MiB computations at once, which would
//! exhaust memory and slow every one of them down.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::sync::{Semaphore, SemaphorePermit};

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

/// Argon2 computations running now, and the most seen at once, for [`work_stats`].
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// How many Argon2 computations may run at once: the cores this process may use.
pub fn max_concurrent() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(max_concurrent()))
}

/// What the Argon2 work of this process looks like: running now, most at once, the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkStats {
    pub in_flight: usize,
    pub peak: usize,
    pub max_concurrent: usize,
}

pub fn work_stats() -> WorkStats {
    WorkStats {
        in_flight: IN_FLIGHT.load(Ordering::SeqCst),
        peak: PEAK.load(Ordering::SeqCst),
        max_concurrent: max_concurrent(),
    }
}

/// Runs one Argon2 computation on a blocking thread once a permit is free.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    // The semaphore is never closed: acquiring fails only if it were.
    let permit: SemaphorePermit<'static> = permits().acquire().await.ok()?;
    tokio::task::spawn_blocking(move || {
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        let out = work();
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        out
    })
    .await
    .ok()
}

/// Hashes on a blocking thread: Argon2 takes tens of milliseconds of CPU.
pub async fn hash(password: SecretString) -> Result<PasswordHashString, HashError> {
    bounded(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| PasswordHashString(h.to_string()))
            .map_err(|_| HashError)
    })
    .await
    .ok_or(HashError)?
}

/// Verifies `password` against `stored`, or against a fixed dummy hash when there is no account,
/// so that an unknown address and a wrong password take the same time.
pub async fn verify(password: SecretString, stored: Option<PasswordHashString>) -> bool {
    bounded(move || {
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_verifications_queues_for_the_cores() {
        let stored = hash(SecretString::from("une phrase de passe")).await.unwrap().as_stored().to_string();
        // More at once than there are cores, wherever the test runs.
        let n = (max_concurrent() * 4).max(32);
        let burst: Vec<_> = (0..n)
            .map(|i| {
                let stored = PasswordHashString::from_stored(stored.clone());
                let typed = if i % 2 == 0 { "une phrase de passe" } else { "pas la bonne" };
                tokio::spawn(verify(SecretString::from(typed), Some(stored)))
            })
            .collect();
        let mut right = 0;
        for (i, task) in burst.into_iter().enumerate() {
            let ok = task.await.unwrap();
            assert_eq!(ok, i % 2 == 0, "verification {i}");
            right += usize::from(ok);
        }
        assert_eq!(right, n / 2);
        // Other tests of this process hash at the same time: the bound is process-wide.
        let stats = work_stats();
        assert!(stats.peak >= 1);
        assert!(
            stats.peak <= stats.max_concurrent,
            "{} Argon2 computations at once on {} cores",
            stats.peak,
            stats.max_concurrent
        );
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
