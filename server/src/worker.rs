//! Background work: draining the outbox, building the search index of mail that came in, and
//! housekeeping.

use std::sync::Arc;
use std::time::Duration;

use hygie_core::clock::Clock;
use hygie_core::mail::{schedule, MailPolicy};
use hygie_core::outbox::{self, RetryPolicy, Transport};
use hygie_core::{ratelimit, Db};

/// Drains the outbox, and sends the scheduled messages that are due (undo send and scheduled
/// send, see `hygie_core::mail::schedule`), for as long as the server runs: straight on while
/// there is work, then every `idle` when both are empty or the database is unreachable. Both
/// claim their rows under leases in the database, so several instances may run this at once.
pub async fn outbox_loop(
    db: Db,
    clock: Arc<dyn Clock>,
    transport: Transport,
    policy: RetryPolicy,
    mail: Arc<MailPolicy>,
    idle: Duration,
) {
    loop {
        let mut busy = false;
        match schedule::run_due(&db, clock.as_ref(), &mail, policy.lease_ms, 20).await {
            Ok(report) if report.any() => {
                tracing::debug!(sent = report.sent, returned = report.returned, gone = report.gone, "scheduled pass");
                busy = true;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled pass failed; will retry"),
        }
        match outbox::run_once(&db, clock.as_ref(), &policy, &transport, 20).await {
            Ok(report) if report.sent + report.retried + report.failed > 0 => {
                tracing::debug!(sent = report.sent, retried = report.retried, failed = report.failed, "outbox pass");
                busy = true;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox pass failed; will retry"),
        }
        if !busy {
            tokio::time::sleep(idle).await;
        }
    }
}

/// Every ten minutes: removes expired rate-limit counters, and composer uploads left unsent
/// for a day.
pub async fn housekeeping_loop(db: Db, clock: Arc<dyn Clock>) {
    loop {
        let day_ago = clock.now_ms() - 86_400_000;
        if let Err(e) = ratelimit::purge_before(&db, day_ago).await {
            tracing::warn!(error = %e, "rate-limit housekeeping failed");
        }
        if let Err(e) = hygie_core::mail::attach::purge_uploads(&db, clock.as_ref()).await {
            tracing::warn!(error = %e, "upload housekeeping failed");
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
}

/// Builds the search index of messages received or imported (see
/// [`hygie_core::mail::indexer`]): small batches, so that a delivery waiting for the write lock
/// waits little, each followed by a pause as long as the batch took, so that during a burst of
/// mail the index takes at most half of the time and deliveries the rest (a search catches up
/// on its own); every second when idle.
pub async fn search_index_loop(db: Db) {
    loop {
        let started = std::time::Instant::now();
        match hygie_core::mail::indexer::index_pending(&db, None, 16).await {
            Ok(n) if n > 0 => {
                tokio::time::sleep(started.elapsed().max(Duration::from_millis(5))).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "search indexing failed; will retry"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
