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
/// [`hygie_core::mail::indexer`]) in small batches, so that a delivery waiting for the write lock
/// waits little. While mail is arriving (`inbound` committed since the last batch), each batch
/// is followed by a pause four times as long as it took, so that the index takes at most a fifth
/// of the time and deliveries the rest (a search catches up on its own first, so it misses
/// nothing); once the burst is over, the index catches up at full speed; every second when idle.
pub async fn search_index_loop(db: Db, inbound: hygie_core::mail::delivery::Inbound) {
    let mut seen = inbound.commits();
    loop {
        let started = std::time::Instant::now();
        match hygie_core::mail::indexer::index_pending(&db, None, 8).await {
            Ok(n) if n > 0 => {
                let now = inbound.commits();
                let pause = if now != seen { started.elapsed() * 4 } else { Duration::ZERO };
                seen = now;
                tokio::time::sleep(pause.max(Duration::from_millis(1))).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "search indexing failed; will retry"),
        }
        seen = inbound.commits();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
