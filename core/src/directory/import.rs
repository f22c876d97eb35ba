//! `hygie directory import`: the national extract (../shared/formats/DIRECTORY-EXTRACT.md), one
//! header line then 31 `|`-separated fields per line, streamed into a new table that becomes
//! current once loaded and indexed. Memory stays flat: one batch of rows at a time, plus the
//! distinct professions and specialties and the first [`MAX_REPORTED`] problems.

use std::collections::HashMap;
use std::io::BufRead;

use super::{key, table, text_type};
use crate::clock::{Clock, Millis};
use crate::store::{BeginWrite, Db, StoreError};

pub const FIELDS: usize = 31;
/// Problems listed one by one; beyond this they are only counted.
pub const MAX_REPORTED: usize = 1000;
/// An import holding the lock longer than this is taken for crashed.
const LOCK_STALE_MS: Millis = 3_600_000;
const ROWS_PER_STATEMENT: usize = 500;
const ROWS_PER_TRANSACTION: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    NotUtf8,
    FieldCount(usize),
    MailboxType(String),
    Address,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::NotUtf8 => write!(f, "not UTF-8 text"),
            Malformed::FieldCount(n) => write!(f, "{n} fields instead of {FIELDS}"),
            Malformed::MailboxType(t) => {
                let shown: String = t.chars().take(20).collect();
                write!(f, "unknown mailbox type {shown:?} (expected PER, ORG, APP or CAB)")
            }
            Malformed::Address => write!(f, "missing or invalid mailbox address"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based, the header being line 1.
    pub line: u64,
    pub problem: Malformed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub import_id: i64,
    /// Data lines read (the header and blank lines excluded).
    pub lines: u64,
    pub entries: u64,
    pub malformed: u64,
    /// The first [`MAX_REPORTED`] malformed lines.
    pub problems: Vec<LineProblem>,
    /// Time spent reading and storing the lines, then indexing them.
    pub load_time: std::time::Duration,
    pub index_time: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("another directory import is running (started {0} ms ago); it holds the lock for at most an hour")]
    Busy(Millis),
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the file holds no valid entry: the directory is unchanged")]
    Empty,
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Query(e))
    }
}

/// One extract line, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) mailbox_type: String,
    pub(crate) address: String,
    pub(crate) id_kind: Option<String>,
    pub(crate) id_value: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) last_name: String,
    pub(crate) first_name: String,
    pub(crate) profession: Option<String>,
    pub(crate) specialty: Option<String>,
    pub(crate) no_paper: bool,
    pub(crate) organisation: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) street: Option<String>,
    pub(crate) postcode: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) departement: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) name_key: String,
    pub(crate) rev_key: String,
    pub(crate) profession_key: String,
    pub(crate) specialty_key: String,
    pub(crate) city_key: String,
}

const COLUMNS: [&str; 23] = [
    "id",
    "mailbox_type",
    "address",
    "id_kind",
    "id_value",
    "title",
    "last_name",
    "first_name",
    "profession",
    "specialty",
    "no_paper",
    "organisation",
    "service",
    "street",
    "postcode",
    "city",
    "departement",
    "country",
    "name_key",
    "rev_key",
    "profession_key",
    "specialty_key",
    "city_key",
];

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && a.chars().all(|c| c.is_ascii_graphic())
}

pub(crate) fn parse_line(text: &str) -> Result<Line, Malformed> {
    let mut f = [""; FIELDS];
    let mut n = 0;
    for part in text.split('|') {
        if n < FIELDS {
            f[n] = part;
        }
        n += 1;
    }
    if n != FIELDS {
        return Err(Malformed::FieldCount(n));
    }
    let mailbox_type = f[0].trim().to_uppercase();
    if !["PER", "ORG", "APP", "CAB"].contains(&mailbox_type.as_str()) {
        return Err(Malformed::MailboxType(f[0].trim().to_string()));
    }
    let address = f[1].trim().to_lowercase();
    if !valid_address(&address) {
        return Err(Malformed::Address);
    }
    let id_kind = match f[2].trim() {
        "" => None,
        "8" => Some("rpps".to_string()),
        "0" => Some("adeli".to_string()),
        other => Some(other.to_string()),
    };
    let last_name = f[9].trim().to_string();
    let first_name = f[10].trim().to_string();
    let organisation = opt(f[18]).or_else(|| opt(f[19]));
    let trade_name = opt(f[19]);
    let service = opt(f[7]);
    let joined = |parts: &[&str], sep: &str| {
        parts.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(sep)
    };
    let number_and_street = joined(&[f[22], f[23], f[24], f[25]], " ");
    let street = opt(&joined(&[f[20], f[21], &number_and_street, f[26]], ", "));
    let postcode = opt(f[28]);
    // "75015 PARIS" or "75015 PARIS CEDEX 15": the city follows the postcode.
    let routing = f[27].trim();
    let city = opt(routing.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' '));
    let person = !(last_name.is_empty() && first_name.is_empty());
    let local_part = address.split('@').next().unwrap_or_default();
    let (name_key, rev_key) = if person {
        (key(&format!("{last_name} {first_name}")), key(&format!("{first_name} {last_name}")))
    } else {
        let named = organisation.as_deref().or(service.as_deref()).unwrap_or(local_part);
        let other = trade_name.as_deref().or(service.as_deref()).unwrap_or(named);
        (key(named), key(other))
    };
    let profession = opt(f[14]);
    let specialty = opt(f[16]);
    Ok(Line {
        profession_key: key(profession.as_deref().unwrap_or_default()),
        specialty_key: key(specialty.as_deref().unwrap_or_default()),
        city_key: key(city.as_deref().unwrap_or_default()),
        mailbox_type,
        id_kind,
        id_value: opt(f[3]),
        title: opt(f[8]),
        last_name,
        first_name,
        profession,
        specialty,
        no_paper: matches!(f[17].trim().to_ascii_lowercase().as_str(), "true" | "1" | "oui" | "vrai"),
        organisation,
        service,
        street,
        postcode,
        city,
        departement: opt(f[29]).map(|d| d.to_uppercase()),
        country: opt(f[30]),
        name_key,
        rev_key,
        address,
    })
}

/// Imports the extract read from `input`. `progress` is called after each stored batch with the
/// number of bytes read so far. On success the new extract is the one searches read; on any
/// error the directory is unchanged.
pub async fn import<R: BufRead + Send>(
    db: &Db,
    clock: &dyn Clock,
    mut input: R,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ImportReport, ImportError> {
    let now = clock.now_ms();
    let locked = crate::with_pool!(db, p => sqlx::query(
        "UPDATE directory_state SET importing_since_ms = $1 WHERE id = 1 \
         AND (importing_since_ms IS NULL OR importing_since_ms < $2)")
        .bind(now).bind(now - LOCK_STALE_MS).execute(p).await?.rows_affected());
    if locked != 1 {
        let since: Option<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT importing_since_ms FROM directory_state WHERE id = 1").fetch_one(p).await?);
        return Err(ImportError::Busy(now - since.unwrap_or(now)));
    }
    let import_id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO directory_imports (started_ms, status) VALUES ($1, 'running') RETURNING id")
        .bind(now).fetch_one(p).await?);
    let result = load(db, clock, import_id, &mut input, progress).await;
    if result.is_err() {
        // Leave no trace of the failed load; the current extract stays.
        crate::with_pool!(db, p => {
            let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {}", table(import_id))).execute(p).await;
            let _ = sqlx::query("UPDATE directory_imports SET status = 'failed', finished_ms = $1 WHERE id = $2")
                .bind(clock.now_ms()).bind(import_id).execute(p).await;
            let _ = sqlx::query("UPDATE directory_state SET importing_since_ms = NULL WHERE id = 1").execute(p).await;
        });
    }
    result
}

async fn load<R: BufRead + Send>(
    db: &Db,
    clock: &dyn Clock,
    import_id: i64,
    input: &mut R,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ImportReport, ImportError> {
    drop_retired(db, import_id).await?;
    let t = text_type(db);
    let name = table(import_id);
    let id_type = match db.backend() {
        crate::Backend::Sqlite => "INTEGER",
        crate::Backend::Postgres => "BIGINT",
    };
    let create = format!(
        "CREATE TABLE {name} (id {id_type} PRIMARY KEY, mailbox_type {t} NOT NULL, address {t} NOT NULL, \
         id_kind {t}, id_value {t}, title {t}, last_name {t} NOT NULL, first_name {t} NOT NULL, profession {t}, \
         specialty {t}, no_paper BOOLEAN NOT NULL, organisation {t}, service {t}, street {t}, postcode {t}, \
         city {t}, departement {t}, country {t}, name_key {t} NOT NULL, rev_key {t} NOT NULL, \
         profession_key {t} NOT NULL, specialty_key {t} NOT NULL, city_key {t} NOT NULL)"
    );
    crate::with_pool!(db, p => { sqlx::query(&create).execute(p).await?; });

    let started = std::time::Instant::now();
    let mut report = ImportReport { import_id, ..ImportReport::default() };
    let mut professions: HashMap<String, i64> = HashMap::new();
    let mut specialties: HashMap<String, i64> = HashMap::new();
    let mut batch: Vec<(u64, Line)> = Vec::with_capacity(ROWS_PER_TRANSACTION);
    let mut buf = Vec::with_capacity(1024);
    let mut line_no: u64 = 0;
    let mut bytes: u64 = 0;
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let raw: &[u8] = if line_no == 1 { buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf) } else { &buf };
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let parsed = match std::str::from_utf8(raw) {
            Ok(text) => {
                if line_no == 1 && text.trim_start().to_lowercase().starts_with("type de bal") {
                    continue;
                }
                parse_line(text)
            }
            Err(_) => Err(Malformed::NotUtf8),
        };
        report.lines += 1;
        match parsed {
            Ok(line) => {
                if let Some(p) = &line.profession {
                    *professions.entry(p.clone()).or_default() += 1;
                }
                if let Some(s) = &line.specialty {
                    *specialties.entry(s.clone()).or_default() += 1;
                }
                batch.push((line_no, line));
            }
            Err(problem) => {
                report.malformed += 1;
                if report.problems.len() < MAX_REPORTED {
                    report.problems.push(LineProblem { line: line_no, problem });
                }
            }
        }
        if batch.len() >= ROWS_PER_TRANSACTION {
            report.entries += store_batch(db, &name, &batch).await?;
            batch.clear();
            progress(bytes);
        }
    }
    report.entries += store_batch(db, &name, &batch).await?;
    progress(bytes);
    if report.entries == 0 {
        return Err(ImportError::Empty);
    }

    report.load_time = started.elapsed();
    let started = std::time::Instant::now();
    for (column, index) in [
        ("name_key", "name"),
        ("rev_key", "rev"),
        ("address", "address"),
        ("id_value", "id_value"),
        ("postcode", "postcode"),
        ("departement", "departement"),
        ("city_key", "city"),
        ("specialty_key", "specialty"),
    ] {
        let sql = format!("CREATE INDEX {name}_{index} ON {name} ({column})");
        crate::with_pool!(db, p => { sqlx::query(&sql).execute(p).await?; });
    }
    crate::with_pool!(db, p => { sqlx::query(&format!("ANALYZE {name}")).execute(p).await?; });
    report.index_time = started.elapsed();

    // The switch: facets, the import's record and the current pointer in one transaction.
    let previous = super::current_import(db).await?;
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for (kind, counts) in [("profession", &professions), ("specialty", &specialties)] {
            for (label, n) in counts {
                sqlx::query("INSERT INTO directory_facets (import_id, kind, label, entries) VALUES ($1, $2, $3, $4)")
                    .bind(import_id).bind(kind).bind(label).bind(n).execute(&mut *tx).await?;
            }
        }
        sqlx::query("UPDATE directory_imports SET status = 'done', finished_ms = $1, lines = $2, entries = $3, \
                     malformed = $4 WHERE id = $5")
            .bind(clock.now_ms()).bind(report.lines as i64).bind(report.entries as i64)
            .bind(report.malformed as i64).bind(import_id).execute(&mut *tx).await?;
        if let Some(prev) = previous {
            sqlx::query("UPDATE directory_imports SET status = 'retired' WHERE id = $1")
                .bind(prev).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE directory_state SET current_import = $1, importing_since_ms = NULL WHERE id = 1")
            .bind(import_id).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(report)
}

/// Drops the tables of imports that are no longer current: the previous extract, failed loads,
/// and loads that were still "running" when their process died (this import holds the lock,
/// so no other one is running).
async fn drop_retired(db: &Db, this_import: i64) -> Result<(), ImportError> {
    let current = super::current_import(db).await?;
    crate::with_pool!(db, p => { sqlx::query(
        "UPDATE directory_imports SET status = 'failed' WHERE status = 'running' AND id <> $1")
        .bind(this_import).execute(p).await?; });
    let ids: Vec<i64> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT id FROM directory_imports WHERE id <> $1").bind(this_import).fetch_all(p).await?);
    for id in ids.into_iter().filter(|id| Some(*id) != current) {
        crate::with_pool!(db, p => {
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", table(id))).execute(p).await?;
            sqlx::query("DELETE FROM directory_facets WHERE import_id = $1").bind(id).execute(p).await?;
        });
    }
    Ok(())
}

async fn store_batch(db: &Db, table: &str, rows: &[(u64, Line)]) -> Result<u64, ImportError> {
    if rows.is_empty() {
        return Ok(0);
    }
    // Bare `?` on SQLite: for `$n` or `?n`, binding looks every parameter's name up in a list of
    // all the statement's names (sqlx asks each one's name), which is quadratic in the thousands
    // of parameters of a batch. Anonymous parameters have no name to look up.
    let numbered = db.backend() == crate::Backend::Postgres;
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", COLUMNS.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for c in 0..COLUMNS.len() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    n += 1;
                    if numbered {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for (line_no, l) in chunk {
                q = q
                    .bind(*line_no as i64)
                    .bind(&l.mailbox_type)
                    .bind(&l.address)
                    .bind(&l.id_kind)
                    .bind(&l.id_value)
                    .bind(&l.title)
                    .bind(&l.last_name)
                    .bind(&l.first_name)
                    .bind(&l.profession)
                    .bind(&l.specialty)
                    .bind(l.no_paper)
                    .bind(&l.organisation)
                    .bind(&l.service)
                    .bind(&l.street)
                    .bind(&l.postcode)
                    .bind(&l.city)
                    .bind(&l.departement)
                    .bind(&l.country)
                    .bind(&l.name_key)
                    .bind(&l.rev_key)
                    .bind(&l.profession_key)
                    .bind(&l.specialty_key)
                    .bind(&l.city_key);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(rows.len() as u64)
}
