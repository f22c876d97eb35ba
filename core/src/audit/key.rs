//! The key that seals the audit chain. It lives outside the database (a file in the data
//! directory by default, mode 0600), so that someone who can write to the database alone cannot
//! rebuild a chain that verifies: every record's hash is an HMAC-SHA256 under this key.
//!
//! A trail started before keys existed keeps its older records: the key file says from which
//! sequence number records are keyed (`from`), and those before it are checked as plain SHA-256
//! links. The first keyed record seals them too, since its HMAC covers the previous hash.

use std::path::Path;
use std::sync::Arc;

/// The secret and the first record it seals. Cheap to clone; never printed.
#[derive(Clone)]
pub struct AuditKey {
    secret: Arc<[u8; 32]>,
    from_seq: i64,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("secret", &"[REDACTED]").field("from_seq", &self.from_seq).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the audit key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the audit key file {path} is not valid: {reason}")]
    Invalid { path: String, reason: &'static str },
}

impl AuditKey {
    pub fn new(secret: [u8; 32], from_seq: i64) -> AuditKey {
        AuditKey { secret: Arc::new(secret), from_seq: from_seq.max(1) }
    }

    /// A fresh key from the OS random source, sealing records from `from_seq` on.
    pub fn generate(from_seq: i64) -> AuditKey {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        AuditKey::new(secret, from_seq)
    }

    /// A fixed, public key: for tests and throw-away databases only.
    pub fn for_tests() -> AuditKey {
        AuditKey::new(*b"hygie-test-audit-key-not-secret!", 1)
    }

    /// The first sequence number this key seals; records before it are unkeyed (older trail).
    pub fn from_seq(&self) -> i64 {
        self.from_seq
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// A key for another `purpose` ("terminals"), derived from this one (HMAC-SHA256 over the
    /// purpose): one file outside the database holds every secret key, each use its own.
    pub(crate) fn subkey(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.secret.as_slice()).expect("any key length");
        mac.update(b"hygie subkey:");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Reads the key file at `path`, if there is one.
    pub fn load(path: &Path) -> Result<Option<AuditKey>, KeyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KeyError::Io { path: path.display().to_string(), source }),
        };
        let invalid = |reason| KeyError::Invalid { path: path.display().to_string(), reason };
        let (mut secret, mut from) = (None, None);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            match line.split_once('=') {
                Some(("key", v)) => {
                    let bytes = hex::decode(v.trim()).map_err(|_| invalid("key is not hexadecimal"))?;
                    secret = Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| invalid("key is not 32 bytes"))?);
                }
                Some(("from", v)) => from = Some(v.trim().parse::<i64>().map_err(|_| invalid("from is not a number"))?),
                _ => return Err(invalid("unknown line")),
            }
        }
        match (secret, from) {
            (Some(s), Some(f)) if f >= 1 => Ok(Some(AuditKey::new(s, f))),
            _ => Err(invalid("needs a key= and a from= line")),
        }
    }

    /// Writes the key file at `path`, readable by its owner only; refuses to replace one.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        let text = format!(
            "# Hygie audit key: seals the audit trail. Keep it secret, back it up apart from the database,\n\
             # and give every Hygie instance sharing one database the same file.\n\
             key={}\nfrom={}\n",
            hex::encode(*self.secret),
            self.from_seq
        );
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_keys_load_back_and_are_private() {
        let dir = std::env::temp_dir().join(format!("hygie-key-{}", crate::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.key");
        assert!(AuditKey::load(&path).unwrap().is_none());
        let k = AuditKey::generate(42);
        k.save_new(&path).unwrap();
        let back = AuditKey::load(&path).unwrap().unwrap();
        assert_eq!(back.secret(), k.secret());
        assert_eq!(back.from_seq(), 42);
        assert!(k.save_new(&path).is_err(), "an existing key is never replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(!format!("{k:?}").contains(&hex::encode(*k.secret())), "Debug never shows the secret");
        std::fs::write(&path, "key=zz\nfrom=1\n").unwrap();
        assert!(AuditKey::load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
