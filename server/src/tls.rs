//! TLS: the configured certificate, or a self-signed development certificate for localhost,
//! generated once and kept in the data directory.

use std::path::{Path, PathBuf};

use axum_server::tls_rustls::RustlsConfig;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate or key ({path}): {source}")]
    Load { path: PathBuf, source: std::io::Error },
    #[error("cannot generate the development certificate: {0}")]
    Generate(String),
    #[error("cannot write the development certificate in {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Installs ring as the process's rustls crypto provider (once).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificate and key to serve: the configured ones, or the development pair.
pub fn cert_paths(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let dir = config.data_dir.join("tls");
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    if !(cert.exists() && key.exists()) {
        generate_dev_cert(&dir, &cert, &key)?;
        tracing::warn!(
            cert = %cert.display(),
            "no TLS certificate configured: generated a self-signed development certificate for localhost; \
             browsers will warn about it. Set tls.cert and tls.key for production."
        );
    } else {
        tracing::info!(cert = %cert.display(), "using the self-signed development certificate");
    }
    Ok((cert, key))
}

fn generate_dev_cert(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let write_err = |source| TlsError::Write { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes()).map_err(write_err)?;
    std::fs::write(cert_path, certified.cert.pem()).map_err(write_err)?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, bytes)
    }
}

pub async fn rustls_config(config: &Config) -> Result<RustlsConfig, TlsError> {
    install_crypto_provider();
    let (cert, key) = cert_paths(config)?;
    RustlsConfig::from_pem_file(&cert, &key).await.map_err(|source| TlsError::Load { path: cert.clone(), source })
}
