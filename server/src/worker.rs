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
    transport: Arc<Transport>,
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

/// Runs the task `make` builds, and builds it again (after a pause) whenever it panics, so that
/// a bug met by one message cannot stop a worker for every other message until a restart.
/// Aborting the supervisor aborts the task it runs.
pub async fn supervised<F, Fut>(name: &'static str, pause: Duration, make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    /// Aborts the task when the supervisor is dropped (a dropped `JoinHandle` only detaches).
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    loop {
        let task = tokio::spawn(make());
        let _guard = AbortOnDrop(task.abort_handle());
        match task.await {
            Err(e) if e.is_panic() => {
                tracing::error!(task = name, "background task panicked; starting it again");
                tokio::time::sleep(pause).await;
            }
            _ => return,
        }
    }
}

/// Every ten minutes: removes expired rate-limit counters, composer uploads left unsent for a
/// day, expired OAuth access tokens and device requests, and API idempotency keys past their
/// time.
pub async fn housekeeping_loop(db: Db, clock: Arc<dyn Clock>) {
    loop {
        let day_ago = clock.now_ms() - 86_400_000;
        if let Err(e) = ratelimit::purge_before(&db, day_ago).await {
            tracing::warn!(error = %e, "rate-limit housekeeping failed");
        }
        if let Err(e) = hygie_core::mail::attach::purge_uploads(&db, clock.as_ref()).await {
            tracing::warn!(error = %e, "upload housekeeping failed");
        }
        if let Err(e) = hygie_core::auth::oauth::purge_expired(&db, clock.as_ref()).await {
            tracing::warn!(error = %e, "OAuth housekeeping failed");
        }
        if let Err(e) = hygie_core::mail::idempotency::purge_expired(&db, clock.as_ref()).await {
            tracing::warn!(error = %e, "idempotency-key housekeeping failed");
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::supervised;

    #[tokio::test]
    async fn a_task_that_panics_is_started_again_and_stops_with_its_supervisor() {
        // Panics on its first two runs, then ends: run three times.
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        supervised("test", Duration::from_millis(1), move || {
            let r = r.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("a bug met by one message");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        // A task that runs for ever stops when its supervisor is aborted.
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let outer = tokio::spawn(supervised("test", Duration::from_millis(1), move || {
            let t = t.clone();
            async move {
                loop {
                    t.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        outer.abort();
        let _ = outer.await;
        let stopped = ticks.load(Ordering::SeqCst);
        assert!(stopped > 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), stopped, "the task stopped with its supervisor");
    }
}
