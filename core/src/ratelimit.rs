//! Fixed-window rate limits whose counters live in the database, so that every Hygie instance
//! behind a load balancer sees the same count.

use crate::clock::{Clock, Millis};
use crate::store::{Db, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: i64 },
    Limited { retry_after_ms: Millis },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

/// Counts one hit on `key` and says whether it is within `limit`. The hit is counted even when
/// refused, so hammering does not shorten the wait.
pub async fn hit(db: &Db, clock: &dyn Clock, key: &str, limit: Limit) -> Result<Decision, StoreError> {
    let now = clock.now_ms();
    let window_start = now - now.rem_euclid(limit.window_ms);
    let (start, count): (i64, i64) = crate::with_pool!(db, p => sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start_ms, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start_ms = excluded.window_start_ms \
                        THEN rate_limits.count + 1 ELSE 1 END, \
           window_start_ms = excluded.window_start_ms \
         RETURNING window_start_ms, count")
        .bind(key)
        .bind(window_start)
        .fetch_one(p)
        .await?);
    if count <= limit.max {
        Ok(Decision::Allowed { remaining: limit.max - count })
    } else {
        Ok(Decision::Limited { retry_after_ms: (start + limit.window_ms - now).max(1) })
    }
}

/// Removes counters whose window is over (run now and then by the server's housekeeping).
pub async fn purge_before(db: &Db, before_ms: Millis) -> Result<u64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query("DELETE FROM rate_limits WHERE window_start_ms < $1")
        .bind(before_ms).execute(p).await?.rows_affected()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    #[tokio::test]
    async fn counts_per_key_and_resets_with_the_window() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(3_600_000 * 1000);
            let limit = Limit { max: 3, window_ms: 3_600_000 };
            for remaining in [2, 1, 0] {
                assert_eq!(
                    hit(&t.db, &clock, "contact:ip:192.0.2.1", limit).await.unwrap(),
                    Decision::Allowed { remaining }
                );
            }
            clock.advance_ms(600_000);
            assert_eq!(
                hit(&t.db, &clock, "contact:ip:192.0.2.1", limit).await.unwrap(),
                Decision::Limited { retry_after_ms: 3_000_000 }
            );
            // Another key has its own counter.
            assert!(hit(&t.db, &clock, "contact:ip:192.0.2.2", limit).await.unwrap().is_allowed());
            // The next window starts afresh.
            clock.advance_ms(3_000_000);
            assert_eq!(
                hit(&t.db, &clock, "contact:ip:192.0.2.1", limit).await.unwrap(),
                Decision::Allowed { remaining: 2 }
            );
            assert_eq!(purge_before(&t.db, clock.now_ms()).await.unwrap(), 1);
        }
    }

    #[tokio::test]
    async fn concurrent_hits_are_all_counted() {
        for t in TestDb::both().await {
            let clock = std::sync::Arc::new(ManualClock::new(0));
            let limit = Limit { max: 10, window_ms: 60_000 };
            let mut tasks = Vec::new();
            for _ in 0..25 {
                let db = t.db.clone();
                let clock = clock.clone();
                tasks.push(tokio::spawn(
                    async move { hit(&db, clock.as_ref(), "k", limit).await.unwrap().is_allowed() },
                ));
            }
            let mut allowed = 0;
            for task in tasks {
                if task.await.unwrap() {
                    allowed += 1;
                }
            }
            assert_eq!(allowed, 10);
        }
    }
}
