//! One store API over two engines: SQLite (embedded default, one file in the data directory) and
//! PostgreSQL (several Hygie instances over one database). Queries are written once with `$n`
//! placeholders and run on whichever pool [`Db`] holds, through [`with_pool!`].

use std::str::FromStr;
use std::time::Duration;

use crate::audit::AuditKey;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A failure beside the database in a store operation (password hashing).
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
/// deferred transaction that reads before it writes fails straight away with "database is
/// locked" when another connection or process (the server, `hygie mail import`) committed in
/// between, where an immediate one waits its turn (`busy_timeout`). On PostgreSQL, `BEGIN`.
#[allow(async_fn_in_trait)]
pub trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// A connection pool on one of the two supported engines.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store: a pool on one of the two engines, and the key that seals the audit trail written
/// through it (kept outside the database, see [`crate::audit::AuditKey`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    audit_key: AuditKey,
}

/// Runs the same expression on whichever pool a [`Db`] holds. The expression is type-checked
/// once per engine, so a query that only one engine accepts is a compile error, not a surprise.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $crate::store::Db::pool(&$db) {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

/// The connection options of a PostgreSQL URL. Health data must not cross a network in clear:
/// over TCP to anything but this machine (not a Unix socket, not `localhost`, `127.0.0.0/8` or
/// `::1`), TLS is required (`sslmode=require`) unless the URL (`?sslmode=…`) or `PGSSLMODE`
/// says otherwise. `require` encrypts without checking the server's certificate: name the
/// authority with `?sslmode=verify-full&sslrootcert=/path/ca.pem` to check it.
pub fn pg_options(url: &str, env_sslmode: Option<&str>) -> Result<PgConnectOptions, sqlx::Error> {
    let opts = PgConnectOptions::from_str(url)?;
    let explicit = env_sslmode.is_some_and(|m| !m.is_empty())
        || url.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
        });
    let host = opts.get_host().trim_start_matches('[').trim_end_matches(']');
    let local = opts.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback());
    Ok(if explicit || local { opts } else { opts.ssl_mode(PgSslMode::Require) })
}

impl Db {
    /// Opens a pool for `url`: `sqlite:PATH` (created if missing; WAL, `synchronous=FULL`,
    /// foreign keys on) or `postgres://…` (TLS required over the network: see [`pg_options`]).
    /// Audit records written through it are sealed with `audit_key`.
    pub async fn connect(url: &str, audit_key: AuditKey) -> Result<Db, StoreError> {
        let pool = Self::connect_pool(url).await?;
        Ok(Db { pool, audit_key })
    }

    async fn connect_pool(url: &str) -> Result<Pool, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool =
                SqlitePoolOptions::new().max_connections(8).connect_with(opts).await.map_err(StoreError::Connect)?;
            Ok(Pool::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = pg_options(url, std::env::var("PGSSLMODE").ok().as_deref()).map_err(StoreError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(StoreError::Connect)?;
            Ok(Pool::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Brings the schema up to date. Any failure is returned: start-up must stop on it.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
            Pool::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
        }
        .map_err(StoreError::Migrate)?;
        // Search keys are computed in Rust (accent folding), so accounts older than the
        // directory get theirs here.
        crate::directory::refresh_account_keys(self).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The pool, for [`with_pool!`] and the few places that need one engine's own SQL.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The key that seals audit records written through this store.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// The same pool, sealing audit records with `key` from now on.
    pub fn with_audit_key(self, key: AuditKey) -> Db {
        Db { pool: self.pool, audit_key: key }
    }

    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> PgSslMode {
        pg_options(url, None).unwrap().get_ssl_mode()
    }

    #[test]
    fn postgres_over_the_network_requires_tls_unless_told_otherwise() {
        // Another machine: TLS required, by name or address.
        assert!(matches!(mode("postgres://hygie:secret@db.internal/hygie"), PgSslMode::Require));
        assert!(matches!(mode("postgres://hygie@10.0.0.5:5432/hygie"), PgSslMode::Require));
        assert!(matches!(mode("postgresql://hygie@[2001:db8::5]/hygie"), PgSslMode::Require));
        assert!(matches!(mode("postgres://hygie@db.internal/hygie?host=db2.internal"), PgSslMode::Require));
        // This machine: as libpq does by default.
        for local in [
            "postgres://root@localhost/postgres?host=/var/run/postgresql",
            "postgres://hygie@localhost/hygie",
            "postgres://hygie@127.0.0.1/hygie",
            "postgres://hygie@[::1]:5433/hygie",
        ] {
            assert!(matches!(mode(local), PgSslMode::Prefer), "{local}");
        }
        // Said explicitly, in the URL or the environment: kept, either way.
        assert!(matches!(mode("postgres://hygie@db.internal/hygie?sslmode=verify-full"), PgSslMode::VerifyFull));
        assert!(matches!(mode("postgres://hygie@db.internal/hygie?sslmode=disable"), PgSslMode::Disable));
        assert!(matches!(mode("postgres://hygie@localhost/hygie?ssl-mode=require"), PgSslMode::Require));
        let from_env = pg_options("postgres://hygie@db.internal/hygie", Some("disable")).unwrap();
        assert!(matches!(from_env.get_ssl_mode(), PgSslMode::Prefer), "with PGSSLMODE set, sqlx applies it");
    }
}
