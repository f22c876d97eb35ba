//! Fresh databases for tests, on both engines.
//!
//! PostgreSQL tests need `HYGIE_TEST_POSTGRES_URL` (the test command starts a local server and
//! sets it). Without it they fail: a store test that silently skips one engine proves nothing.

use super::{Db, Pool};
use crate::audit::AuditKey;

pub const PG_ENV: &str = "HYGIE_TEST_POSTGRES_URL";

/// A database that lives as long as the value: a temporary SQLite file, or a PostgreSQL database
/// created for the test and dropped afterwards.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<TempDir>,
    pg_admin: Option<(String, String)>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("hygie-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite:{}", dir.join("hygie.db").display());
        let db = Db::connect(&url, AuditKey::for_tests()).await.expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb { db, url, _dir: Some(TempDir(dir)), pg_admin: None }
    }

    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| {
            panic!(
                "{PG_ENV} is not set: PostgreSQL store tests cannot run. \
                 Run the README test command (scripts/test.sh), which starts PostgreSQL."
            )
        });
        let name = format!("hygie_test_{}", random_suffix());
        let admin = Db::connect(&admin_url, AuditKey::for_tests()).await.expect("connect to PostgreSQL admin database");
        if let Pool::Postgres(p) = admin.pool() {
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(p).await.expect("create test database");
        }
        admin.close().await;
        let url = with_database(&admin_url, &name);
        let db = Db::connect(&url, AuditKey::for_tests()).await.expect("connect to test database");
        db.migrate().await.expect("migrate postgres");
        TestDb { db, url, _dir: None, pg_admin: Some((admin_url, name)) }
    }

    /// Both engines, SQLite first.
    pub async fn both() -> Vec<TestDb> {
        vec![TestDb::sqlite().await, TestDb::postgres().await]
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(Pool::Postgres(p)) =
                            Db::connect(&admin_url, AuditKey::for_tests()).await.map(|d| d.pool().clone())
                        {
                            let _ =
                                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&p).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Makes every audit append fail, as a full disk or a broken trail would (a trigger refuses the
/// insert), so tests can show that an action without its record changes nothing.
pub async fn break_audit(db: &Db) {
    match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query(
                "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
            )
            .execute(p)
            .await
            .expect("break the audit trail");
        }
        Pool::Postgres(p) => {
            sqlx::query(
                "CREATE OR REPLACE FUNCTION audit_broken() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'audit unavailable'; END $$ LANGUAGE plpgsql",
            )
            .execute(p)
            .await
            .expect("break the audit trail");
            sqlx::query(
                "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_broken()",
            )
            .execute(p)
            .await
            .expect("break the audit trail");
        }
    }
}

/// Undoes [`break_audit`].
pub async fn repair_audit(db: &Db) {
    match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query("DROP TRIGGER audit_broken").execute(p).await.expect("repair the audit trail");
        }
        Pool::Postgres(p) => {
            sqlx::query("DROP TRIGGER audit_broken ON audit_log").execute(p).await.expect("repair the audit trail");
        }
    }
}

/// Replaces the database name in a PostgreSQL URL (`postgres://u@h/db?x` → `…/name?x`).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_database_name() {
        assert_eq!(with_database("postgres://root@/postgres?host=/run/pg", "t1"), "postgres://root@/t1?host=/run/pg");
        assert_eq!(with_database("postgres://u:p@localhost:5432/x", "t2"), "postgres://u:p@localhost:5432/t2");
        assert_eq!(with_database("postgres://u@localhost", "t3"), "postgres://u@localhost/t3");
    }
}
