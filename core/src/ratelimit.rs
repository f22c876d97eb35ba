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

/// The part of a client address a per-IP limit counts on. An IPv4 address as it is; an IPv6
/// address by its /64 network, since one subscriber usually holds a whole /64 and could
/// otherwise take a fresh address for every attempt. An IPv4 address written as IPv6
/// (`::ffff:192.0.2.1`) counts as the IPv4 one; anything that is not an address is kept as
/// given.
pub fn ip_key(ip: &str) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    match ip.trim().parse::<IpAddr>().map(|a| a.to_canonical()) {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Err(_) => ip.to_string(),
    }
}

/// Counts one hit on `key` and says whether it is within `limit`. The hit is counted even when
/// refused, so hammering does not shorten the wait.
pub async fn hit(db: &Db, clock: &dyn Clock, key: &str, limit: Limit) -> Result<Decision, StoreError> {
    let now = clock.now_ms();
    Ok(crate::with_pool!(db, p => {
        let mut conn = p.acquire().await?;
        conn.hit_in(now, key, limit).await?
    }))
}

/// Whether one more hit on `key` would be within `limit`, without counting it: for a check made
/// early (an SMTP peer's MAIL command) whose hit is counted later with the change it limits
/// ([`RateTx::hit_in`] in the same transaction).
pub async fn peek(db: &Db, clock: &dyn Clock, key: &str, limit: Limit) -> Result<Decision, StoreError> {
    let now = clock.now_ms();
    let window_start = now - now.rem_euclid(limit.window_ms);
    let count: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT count FROM rate_limits WHERE key = $1 AND window_start_ms = $2")
        .bind(key).bind(window_start).fetch_optional(p).await?);
    let count = count.unwrap_or(0) + 1;
    Ok(decide(count, window_start, now, limit))
}

fn decide(count: i64, start: Millis, now: Millis, limit: Limit) -> Decision {
    if count <= limit.max {
        Decision::Allowed { remaining: limit.max - count }
    } else {
        Decision::Limited { retry_after_ms: (start + limit.window_ms - now).max(1) }
    }
}

/// Counts a hit inside the caller's transaction (or on a connection): it counts only if the
/// change it belongs to commits. Implemented for both engines' connections.
pub trait RateTx {
    fn hit_in(
        &mut self,
        now: Millis,
        key: &str,
        limit: Limit,
    ) -> impl std::future::Future<Output = Result<Decision, sqlx::Error>> + Send;
}

macro_rules! impl_rate_tx {
    ($conn:ty) => {
        impl RateTx for $conn {
            async fn hit_in(&mut self, now: Millis, key: &str, limit: Limit) -> Result<Decision, sqlx::Error> {
                let window_start = now - now.rem_euclid(limit.window_ms);
                let (start, count): (i64, i64) = sqlx::query_as(
                    "INSERT INTO rate_limits (key, window_start_ms, count) VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                       count = CASE WHEN rate_limits.window_start_ms = excluded.window_start_ms \
                                    THEN rate_limits.count + 1 ELSE 1 END, \
                       window_start_ms = excluded.window_start_ms \
                     RETURNING window_start_ms, count",
                )
                .bind(key)
                .bind(window_start)
                .fetch_one(&mut *self)
                .await?;
                Ok(decide(count, start, now, limit))
            }
        }
    };
}

impl_rate_tx!(sqlx::SqliteConnection);
impl_rate_tx!(sqlx::PgConnection);

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
    async fn a_peek_does_not_count_and_a_hit_in_a_transaction_counts_with_it() {
        use crate::store::BeginWrite;
        for t in TestDb::both().await {
            let clock = ManualClock::new(7_200_000);
            let limit = Limit { max: 2, window_ms: 3_600_000 };
            for _ in 0..3 {
                assert_eq!(peek(&t.db, &clock, "k", limit).await.unwrap(), Decision::Allowed { remaining: 1 });
            }
            // Rolled back: not counted.
            crate::with_pool!(t.db, p => {
                let mut tx = p.begin_write().await.unwrap();
                tx.hit_in(clock.now_ms(), "k", limit).await.unwrap();
                tx.rollback().await.unwrap();
            });
            assert_eq!(peek(&t.db, &clock, "k", limit).await.unwrap(), Decision::Allowed { remaining: 1 });
            for _ in 0..2 {
                crate::with_pool!(t.db, p => {
                    let mut tx = p.begin_write().await.unwrap();
                    tx.hit_in(clock.now_ms(), "k", limit).await.unwrap();
                    tx.commit().await.unwrap();
                });
            }
            assert_eq!(peek(&t.db, &clock, "k", limit).await.unwrap(), Decision::Limited { retry_after_ms: 3_600_000 });
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(ip_key("192.0.2.1"), "192.0.2.1");
        assert_eq!(ip_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(ip_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:2:ffff::9"));
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("::1"), "::/64");
        assert_eq!(ip_key(""), "");
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
