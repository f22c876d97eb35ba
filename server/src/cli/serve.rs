//! `hygie serve`: HTTPS and inbound SMTP until SIGINT or SIGTERM, then a graceful stop (10 s).

use std::process::ExitCode;
use std::sync::Arc;

use hygie_core::clock::SystemClock;
use hygie_server::config::Config;

pub async fn run(config: Config) -> super::Outcome {
    let running = hygie_server::start(config, Arc::new(SystemClock)).await.map_err(|e| e.to_string())?;
    running.serve_until(shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
