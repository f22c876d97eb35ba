//! The directory of correspondents: Hygie's own accounts (what their holders let it publish)
//! and the remote correspondents of the national MSSanté extract.
//!
//! Own accounts are searched in `accounts` itself, so a privacy choice (liste rouge, publishing
//! the phone) takes effect with the next search. An account on the liste rouge, or not active,
//! is never returned, whatever the query; an extract entry whose address is one of our accounts
//! is never returned either (our account is the authority, and it may be on the liste rouge).
//!
//! Each import of the extract loads a table of its own (`directory_g<import id>`), indexes it
//! once loaded, then becomes current in one short transaction: searches read the old extract or
//! the new one, never a mix, and keep working during the import. The previous table is dropped
//! when the next import starts (a search still reading it would have to outlive a whole import).

pub(crate) mod import;
pub mod sample;

pub use import::{import, ImportError, ImportReport, LineProblem, Malformed};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::accounts::AccountRecord;
use crate::store::{Backend, Db, StoreError};

/// Results per page, and how deep a query may page (no bulk harvesting through pagination).
pub const PAGE_SIZE: i64 = 20;
pub const MAX_PAGES: i64 = 25;

/// A search key: lower-case ASCII letters and digits, accents dropped, every other run of
/// characters (spaces, hyphens, apostrophes) turned into one space. "Lefèvre-Œuvray" and
/// "LEFEVRE OEUVRAY" have the same key, "lefevre oeuvray".
pub fn key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let push = |out: &mut String, s: &str, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push_str(s);
    };
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let mut buf = [0u8; 4];
        match c {
            'a'..='z' | '0'..='9' => push(&mut out, c.encode_utf8(&mut buf), &mut pending_space),
            'A'..='Z' => push(&mut out, c.to_ascii_lowercase().encode_utf8(&mut buf), &mut pending_space),
            'œ' | 'Œ' => push(&mut out, "oe", &mut pending_space),
            'æ' | 'Æ' => push(&mut out, "ae", &mut pending_space),
            'ß' => push(&mut out, "ss", &mut pending_space),
            'ø' | 'Ø' => push(&mut out, "o", &mut pending_space),
            'ł' | 'Ł' => push(&mut out, "l", &mut pending_space),
            'đ' | 'Đ' => push(&mut out, "d", &mut pending_space),
            _ => pending_space = true,
        }
    }
    out
}

/// The exclusive upper bound of the keys that start with `prefix` (keys are ASCII below `~`).
fn upper(prefix: &str) -> String {
    format!("{prefix}~")
}

/// What a search asks. Every part is optional; empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// A name (prefix of last name then first name, or first name then last name), or, when it
    /// holds an `@`, the start of a mailbox address.
    pub text: String,
    /// A profession label, as listed by [`facets`] (matched without accents or case).
    pub profession: String,
    /// The start of a specialty.
    pub specialty: String,
    /// A city (prefix), a postcode (5 digits) or a département (2 digits, 2A, 2B, 97x).
    pub place: String,
    /// An RPPS or ADELI number, or the national id (type digit + number).
    pub identifier: String,
    /// PER, ORG, APP or CAB.
    pub mailbox_type: String,
}

impl Query {
    pub fn name(text: &str) -> Query {
        Query { text: text.to_string(), ..Query::default() }
    }

    /// Whether the query would match everything (nothing to search for).
    pub fn is_empty(&self) -> bool {
        key(&self.text).is_empty()
            && !self.text.contains('@')
            && key(&self.profession).is_empty()
            && key(&self.specialty).is_empty()
            && key(&self.place).is_empty()
            && !self.identifier.chars().any(|c| c.is_ascii_alphanumeric())
            && self.mailbox_type.trim().is_empty()
    }
}

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// An account of this instance.
    Hygie,
    /// The national extract.
    National,
}

/// One published entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Stable within an import: `c<account id>` or `n<import id>-<line>`.
    pub key: String,
    pub source: Source,
    /// PER, ORG, APP or CAB.
    pub mailbox_type: String,
    pub address: String,
    /// "rpps", "adeli" or the extract's code.
    pub id_kind: Option<String>,
    pub id_value: Option<String>,
    pub title: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub profession: Option<String>,
    pub specialty: Option<String>,
    pub organisation: Option<String>,
    pub service: Option<String>,
    pub street: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub departement: Option<String>,
    /// Only when the holder chose to publish it.
    pub phone: Option<String>,
    /// The holder no longer wants paper documents.
    pub no_paper: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    source: String,
    id: i64,
    mailbox_type: String,
    address: String,
    id_kind: Option<String>,
    id_value: Option<String>,
    title: Option<String>,
    last_name: String,
    first_name: String,
    profession: Option<String>,
    specialty: Option<String>,
    organisation: Option<String>,
    service: Option<String>,
    street: Option<String>,
    postcode: Option<String>,
    city: Option<String>,
    departement: Option<String>,
    phone: Option<String>,
    no_paper: bool,
}

impl Row {
    fn into_entry(self, import_id: Option<i64>) -> Entry {
        let (source, key) = if self.source == "c" {
            (Source::Hygie, format!("c{}", self.id))
        } else {
            (Source::National, format!("n{}-{}", import_id.unwrap_or(0), self.id))
        };
        let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        Entry {
            key,
            source,
            mailbox_type: self.mailbox_type,
            address: self.address,
            id_kind: blank(self.id_kind),
            id_value: blank(self.id_value),
            title: blank(self.title),
            last_name: self.last_name,
            first_name: self.first_name,
            profession: blank(self.profession),
            specialty: blank(self.specialty),
            organisation: blank(self.organisation),
            service: blank(self.service),
            street: blank(self.street),
            postcode: blank(self.postcode),
            city: blank(self.city),
            departement: blank(self.departement),
            phone: blank(self.phone),
            no_paper: self.no_paper,
        }
    }
}

/// The columns both halves of a search return, in order.
const LOCAL_COLUMNS: &str = "'c' AS source, a.id AS id, \
    CASE a.mailbox_type WHEN 'personal' THEN 'PER' WHEN 'organisational' THEN 'ORG' ELSE 'APP' END AS mailbox_type, \
    a.address AS address, a.id_kind AS id_kind, a.id_value AS id_value, CAST(NULL AS TEXT) AS title, \
    a.last_name AS last_name, a.first_name AS first_name, a.profession AS profession, a.specialty AS specialty, \
    CAST(NULL AS TEXT) AS organisation, CAST(NULL AS TEXT) AS service, a.practice_place AS street, \
    CAST(NULL AS TEXT) AS postcode, CAST(NULL AS TEXT) AS city, CAST(NULL AS TEXT) AS departement, \
    CASE WHEN a.publish_phone THEN a.mobile ELSE NULL END AS phone, a.no_paper AS no_paper";

const NATIONAL_COLUMNS: &str = "'n' AS source, d.id AS id, d.mailbox_type AS mailbox_type, d.address AS address, \
    d.id_kind AS id_kind, d.id_value AS id_value, d.title AS title, d.last_name AS last_name, \
    d.first_name AS first_name, d.profession AS profession, d.specialty AS specialty, \
    d.organisation AS organisation, d.service AS service, d.street AS street, d.postcode AS postcode, \
    d.city AS city, d.departement AS departement, CAST(NULL AS TEXT) AS phone, d.no_paper AS no_paper";

/// Only active accounts off the liste rouge are ever published.
const LOCAL_PUBLISHED: &str = "a.status = 'active' AND a.liste_rouge = FALSE";

/// An extract entry is hidden when the address is one of ours (ours is the authority). On
/// PostgreSQL the extract's columns are `COLLATE "C"`: comparing in the accounts' collation
/// keeps their unique index usable.
fn national_published(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "NOT EXISTS (SELECT 1 FROM accounts o WHERE o.address = d.address)",
        Backend::Postgres => "NOT EXISTS (SELECT 1 FROM accounts o WHERE o.address = (d.address COLLATE \"default\"))",
    }
}

pub(crate) fn table(import_id: i64) -> String {
    format!("directory_g{import_id}")
}

/// The import searches read, if any.
pub async fn current_import(db: &Db) -> Result<Option<i64>, StoreError> {
    let v: Option<Option<i64>> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT current_import FROM directory_state WHERE id = 1").fetch_optional(p).await?);
    Ok(v.flatten())
}

/// The two ways a name matches: last name then first name (the most relevant, listed first),
/// or first name then last name (organisations: legal name, or trade name / service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Branch {
    Name,
    Reversed,
}

/// One SQL statement of a search: its conditions and their bound values.
struct Statement {
    conditions: Vec<String>,
    binds: Vec<String>,
}

impl Statement {
    fn bind(&mut self, v: String) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }
}

/// The conditions of `q` on the table aliased `a` (accounts) or `d` (extract), for `branch`
/// when the query has a name. `None` when this source cannot match (a CAB mailbox type asked
/// of the accounts).
fn statement(q: &Query, backend: Backend, local: bool, branch: Option<Branch>) -> Option<Statement> {
    let alias = if local { "a" } else { "d" };
    let mut st = Statement { conditions: Vec::new(), binds: Vec::new() };
    let text = q.text.trim();
    if text.contains('@') {
        let a = text.to_lowercase();
        let (lo, hi) = (st.bind(a.clone()), st.bind(upper(&a)));
        // A prefix range needs byte order: PostgreSQL's default collation may sort `~` first.
        let column = match (backend, local) {
            (Backend::Postgres, true) => "a.address COLLATE \"C\"".to_string(),
            _ => format!("{alias}.address"),
        };
        st.conditions.push(format!("{column} >= {lo} AND {column} < {hi}"));
    } else if let Some(branch) = branch {
        let k = key(text);
        let (lo, hi) = (st.bind(k.clone()), st.bind(upper(&k)));
        match branch {
            Branch::Name => st.conditions.push(format!("{alias}.name_key >= {lo} AND {alias}.name_key < {hi}")),
            // Not already listed by the name branch.
            Branch::Reversed => st.conditions.push(format!(
                "{alias}.rev_key >= {lo} AND {alias}.rev_key < {hi} \
                 AND NOT ({alias}.name_key >= {lo} AND {alias}.name_key < {hi})"
            )),
        }
    }
    let profession = key(&q.profession);
    if !profession.is_empty() {
        let p = st.bind(profession);
        st.conditions.push(format!("{alias}.profession_key = {p}"));
    }
    let specialty = key(&q.specialty);
    if !specialty.is_empty() {
        let (lo, hi) = (st.bind(specialty.clone()), st.bind(upper(&specialty)));
        st.conditions.push(format!("{alias}.specialty_key >= {lo} AND {alias}.specialty_key < {hi}"));
    }
    let place = key(&q.place);
    if !place.is_empty() {
        // Accounts have one free-text practice place: matched as words inside it.
        let cond = match (place_kind(&place), local) {
            (PlaceKind::Postcode, false) => format!("d.postcode = {}", st.bind(place.clone())),
            (PlaceKind::Departement, false) => format!("d.departement = {}", st.bind(place.to_uppercase())),
            (PlaceKind::City, false) => {
                let (lo, hi) = (st.bind(place.clone()), st.bind(upper(&place)));
                format!("d.city_key >= {lo} AND d.city_key < {hi}")
            }
            (PlaceKind::Postcode, true) => {
                format!("(' ' || a.place_key || ' ') LIKE {}", st.bind(format!("% {place} %")))
            }
            // A postcode of the département in the practice place ("69003 lyon").
            (PlaceKind::Departement, true) => {
                let pattern = format!("% {place}{} %", "_".repeat(5 - place.len()));
                format!("(' ' || a.place_key || ' ') LIKE {}", st.bind(pattern))
            }
            (PlaceKind::City, true) => format!("(' ' || a.place_key) LIKE {}", st.bind(format!("% {place}%"))),
        };
        st.conditions.push(cond);
    }
    let identifier: String = q.identifier.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if !identifier.is_empty() {
        // The national id is the kind digit then the number (RPPS: 8 + 11 digits).
        let number = match identifier.len() {
            12 if identifier.starts_with('8') => identifier[1..].to_string(),
            10 if identifier.starts_with('0') => identifier[1..].to_string(),
            _ => identifier,
        };
        let p = st.bind(number);
        st.conditions.push(format!("{alias}.id_value = {p}"));
    }
    let t = q.mailbox_type.trim().to_uppercase();
    if !t.is_empty() {
        let value = if local {
            match t.as_str() {
                "PER" => "personal",
                "ORG" => "organisational",
                "APP" => "applicative",
                _ => return None,
            }
            .to_string()
        } else {
            t
        };
        let p = st.bind(value);
        st.conditions.push(format!("{alias}.mailbox_type = {p}"));
    }
    Some(st)
}

enum PlaceKind {
    Postcode,
    Departement,
    City,
}

fn place_kind(place: &str) -> PlaceKind {
    let digits = place.chars().all(|c| c.is_ascii_digit());
    if digits && place.len() == 5 {
        PlaceKind::Postcode
    } else if (digits && (place.len() == 2 || (place.len() == 3 && place.starts_with("97"))))
        || place == "2a"
        || place == "2b"
    {
        PlaceKind::Departement
    } else {
        PlaceKind::City
    }
}

/// One page of published entries matching `q`: last-name matches first ("martin jean" before
/// "martineau"), then first-name-first matches, each in key order. At most `limit` entries after
/// skipping `offset`. An empty query returns nothing.
///
/// Each (source, match kind) is one statement reading its index in key order and stopping after
/// `offset + limit` rows, so a two-letter prefix on the national extract costs a few index pages,
/// not a sort of every match; the few lists are merged here.
pub async fn search(db: &Db, q: &Query, offset: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
    if q.is_empty() || limit <= 0 {
        return Ok(Vec::new());
    }
    let import_id = current_import(db).await?;
    let offset = offset.max(0);
    let wanted = offset + limit;
    let branches: Vec<Option<Branch>> = if !q.text.contains('@') && !key(&q.text).is_empty() {
        vec![Some(Branch::Name), Some(Branch::Reversed)]
    } else {
        vec![None]
    };
    let mut found: Vec<(Option<Branch>, String, Row)> = Vec::new();
    for branch in branches {
        for local in [true, false] {
            let table_name = match (local, import_id) {
                (true, _) => "accounts a".to_string(),
                (false, Some(id)) => format!("{} d", table(id)),
                (false, None) => continue,
            };
            let Some(mut st) = statement(q, db.backend(), local, branch) else { continue };
            let (columns, published, sort) = match (local, branch) {
                (true, Some(Branch::Reversed)) => (LOCAL_COLUMNS, LOCAL_PUBLISHED, "a.rev_key"),
                (true, _) => (LOCAL_COLUMNS, LOCAL_PUBLISHED, "a.name_key"),
                (false, Some(Branch::Reversed)) => (NATIONAL_COLUMNS, national_published(db.backend()), "d.rev_key"),
                (false, _) => (NATIONAL_COLUMNS, national_published(db.backend()), "d.name_key"),
            };
            st.conditions.insert(0, published.to_string());
            let lim = st.binds.len() + 1;
            let sql = format!(
                "SELECT {columns}, {sort} AS sort_key FROM {table_name} WHERE {} ORDER BY {sort}, address, id LIMIT ${lim}",
                st.conditions.join(" AND ")
            );
            let rows: Vec<(Row, String)> = crate::with_pool!(db, p => {
                let mut query = sqlx::query_as::<_, SortedRow>(&sql);
                for v in &st.binds {
                    query = query.bind(v);
                }
                query.bind(wanted).fetch_all(p).await?.into_iter().map(|r| (r.row, r.sort_key)).collect()
            });
            found.extend(rows.into_iter().map(|(row, sort_key)| (branch, sort_key, row)));
        }
    }
    found.sort_by(|a, b| {
        (a.0, &a.1, &a.2.address, &a.2.source, a.2.id).cmp(&(b.0, &b.1, &b.2.address, &b.2.source, b.2.id))
    });
    Ok(found
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(_, _, row)| row.into_entry(import_id))
        .collect())
}

#[derive(sqlx::FromRow)]
struct SortedRow {
    #[sqlx(flatten)]
    row: Row,
    sort_key: String,
}

/// One published entry by its key (`c12`, `n3-4567`), or `None` if it is not (or no longer)
/// published: liste rouge, closed account, or an extract replaced since.
pub async fn entry(db: &Db, entry_key: &str) -> Result<Option<Entry>, StoreError> {
    let parsed = if let Some(id) = entry_key.strip_prefix('c') {
        id.parse::<i64>().ok().map(|id| (None, id))
    } else if let Some(rest) = entry_key.strip_prefix('n') {
        rest.split_once('-').and_then(|(g, id)| Some((Some(g.parse::<i64>().ok()?), id.parse::<i64>().ok()?)))
    } else {
        None
    };
    let Some((generation, id)) = parsed else { return Ok(None) };
    let sql = match generation {
        None => format!("SELECT {LOCAL_COLUMNS} FROM accounts a WHERE {LOCAL_PUBLISHED} AND a.id = $1"),
        Some(g) => {
            if current_import(db).await? != Some(g) {
                return Ok(None);
            }
            let published = national_published(db.backend());
            format!("SELECT {NATIONAL_COLUMNS} FROM {} d WHERE {published} AND d.id = $1", table(g))
        }
    };
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?);
    Ok(row.map(|r| r.into_entry(generation)))
}

/// The professions and specialties of the directory, most common first, for the filters.
pub async fn facets(db: &Db) -> Result<Facets, StoreError> {
    let import_id = current_import(db).await?;
    // The counts stored at import, less the extract entries hidden behind one of our accounts
    // (which may be on the liste rouge), plus the published accounts.
    let hidden = match import_id {
        Some(id) => {
            let t = table(id);
            let published = national_published(db.backend()).replacen("NOT EXISTS", "EXISTS", 1);
            format!(
                " UNION ALL SELECT 'profession', d.profession, -COUNT(*) FROM {t} d WHERE {published} \
                   AND d.profession IS NOT NULL GROUP BY d.profession \
                 UNION ALL SELECT 'specialty', d.specialty, -COUNT(*) FROM {t} d WHERE {published} \
                   AND d.specialty IS NOT NULL GROUP BY d.specialty"
            )
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT kind, label, entries FROM directory_facets WHERE import_id = $1 \
         UNION ALL SELECT 'profession', profession, COUNT(*) FROM accounts a \
           WHERE {LOCAL_PUBLISHED} AND profession IS NOT NULL AND profession <> '' GROUP BY profession \
         UNION ALL SELECT 'specialty', specialty, COUNT(*) FROM accounts a \
           WHERE {LOCAL_PUBLISHED} AND specialty IS NOT NULL AND specialty <> '' GROUP BY specialty{hidden}"
    );
    let rows: Vec<(String, String, i64)> =
        crate::with_pool!(db, p => sqlx::query_as(&sql).bind(import_id.unwrap_or(0)).fetch_all(p).await?);
    let mut f = Facets::default();
    for (kind, label, n) in rows {
        let list = if kind == "profession" { &mut f.professions } else { &mut f.specialties };
        match list.iter_mut().find(|(l, _)| key(l) == key(&label)) {
            Some((_, count)) => *count += n,
            None => list.push((label, n)),
        }
    }
    for list in [&mut f.professions, &mut f.specialties] {
        list.retain(|(_, n)| *n > 0);
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    Ok(f)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub professions: Vec<(String, i64)>,
    pub specialties: Vec<(String, i64)>,
}

/// The search keys of an account: (name, reversed name, profession, specialty, place).
pub fn account_keys(a: &AccountRecord) -> [String; 5] {
    let person = !(a.last_name.trim().is_empty() && a.first_name.trim().is_empty());
    let local_part = a.address.split('@').next().unwrap_or_default();
    let (name, rev) = if person {
        (key(&format!("{} {}", a.last_name, a.first_name)), key(&format!("{} {}", a.first_name, a.last_name)))
    } else {
        (key(local_part), key(local_part))
    };
    [
        name,
        rev,
        key(a.profession.as_deref().unwrap_or_default()),
        key(a.specialty.as_deref().unwrap_or_default()),
        key(a.practice_place.as_deref().unwrap_or_default()),
    ]
}

/// Fills the search keys of accounts created before the directory existed.
pub async fn refresh_account_keys(db: &Db) -> Result<u64, StoreError> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, String, String, String, Option<String>, Option<String>, Option<String>)> = crate::with_pool!(db, p => sqlx::query_as(
            "SELECT id, address, last_name, first_name, profession, specialty, practice_place FROM accounts \
             WHERE name_key IS NULL").fetch_all(p).await?);
    for (id, address, last_name, first_name, profession, specialty, practice_place) in &rows {
        let rec = AccountRecord {
            address: address.clone(),
            last_name: last_name.clone(),
            first_name: first_name.clone(),
            profession: profession.clone(),
            specialty: specialty.clone(),
            practice_place: practice_place.clone(),
            ..AccountRecord::default()
        };
        let [name, rev, profession, specialty, place] = account_keys(&rec);
        crate::with_pool!(db, p => { sqlx::query(
            "UPDATE accounts SET name_key = $1, rev_key = $2, profession_key = $3, specialty_key = $4, place_key = $5 \
             WHERE id = $6")
            .bind(&name).bind(&rev).bind(&profession).bind(&specialty).bind(&place).bind(id).execute(p).await?; });
    }
    Ok(rows.len() as u64)
}

/// What the directory holds now (for the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub current_import: Option<i64>,
    pub national_entries: i64,
    pub imported_ms: Option<i64>,
    pub published_accounts: i64,
}

pub async fn status(db: &Db) -> Result<Status, StoreError> {
    let current = current_import(db).await?;
    let (national_entries, imported_ms): (i64, Option<i64>) = match current {
        Some(id) => crate::with_pool!(db, p => sqlx::query_as(
            "SELECT entries, finished_ms FROM directory_imports WHERE id = $1").bind(id).fetch_one(p).await?),
        None => (0, None),
    };
    let published_accounts: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts a WHERE a.status = 'active' AND a.liste_rouge = FALSE").fetch_one(p).await?);
    Ok(Status { current_import: current, national_entries, imported_ms, published_accounts })
}

pub(crate) fn text_type(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Sqlite => "TEXT",
        Backend::Postgres => "TEXT COLLATE \"C\"",
    }
}

#[cfg(test)]
mod tests;
