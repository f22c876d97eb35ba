//! First-party audience measurement, only for visitors who consented to it: page views per day
//! and path, and distinct visitors per day (by a random cookie value, stored hashed). Nothing is
//! sent to any third party.

use sha2::{Digest, Sha256};

use crate::clock::{format_utc, Clock};
use crate::store::{Db, StoreError};

/// Counts a page view for a consenting visitor identified by the random value of their
/// audience cookie.
pub async fn record_view(db: &Db, clock: &dyn Clock, path: &str, visitor: &str) -> Result<(), StoreError> {
    let day = format_utc(clock.now_ms())[..10].to_string();
    let visitor = hex::encode(Sha256::digest(visitor.as_bytes()));
    let path: String = path.chars().take(200).collect();
    crate::with_pool!(db, p => {
        sqlx::query("INSERT INTO audience_daily (day, path, views) VALUES ($1, $2, 1) \
                     ON CONFLICT (day, path) DO UPDATE SET views = audience_daily.views + 1")
            .bind(&day).bind(&path).execute(p).await?;
        sqlx::query("INSERT INTO audience_visitors (day, visitor) VALUES ($1, $2) ON CONFLICT (day, visitor) DO NOTHING")
            .bind(&day).bind(&visitor).execute(p).await?;
    });
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    pub day: String,
    pub views: i64,
    pub visitors: i64,
}

/// Views and distinct visitors per day, newest first.
pub async fn summary(db: &Db, days: i64) -> Result<Vec<DaySummary>, StoreError> {
    let rows: Vec<(String, i64, i64)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT d.day, CAST(SUM(d.views) AS BIGINT), \
                (SELECT COUNT(*) FROM audience_visitors v WHERE v.day = d.day) \
         FROM audience_daily d GROUP BY d.day ORDER BY d.day DESC LIMIT $1")
        .bind(days).fetch_all(p).await?);
    Ok(rows.into_iter().map(|(day, views, visitors)| DaySummary { day, views, visitors }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    #[tokio::test]
    async fn counts_views_and_distinct_visitors() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            record_view(&t.db, &clock, "/", "v1").await.unwrap();
            record_view(&t.db, &clock, "/faq", "v1").await.unwrap();
            record_view(&t.db, &clock, "/", "v2").await.unwrap();
            clock.advance_ms(86_400_000);
            record_view(&t.db, &clock, "/", "v1").await.unwrap();
            let s = summary(&t.db, 7).await.unwrap();
            assert_eq!(s.len(), 2);
            assert_eq!((s[0].views, s[0].visitors), (1, 1));
            assert_eq!((s[1].views, s[1].visitors), (3, 2));
        }
    }
}
