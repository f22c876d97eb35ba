//! Search: the query language (words, `de:`, `objet:`, `pj:`...) and its SQL on both engines.

use super::*;
use crate::clock::{Clock, Millis};
use crate::store::Backend;
use crate::store::{Db, StoreError};

/// A search as typed: free words plus operators `de:`/`from:`, `à:`/`to:`, `objet:`/`subject:`,
/// `pj:`/`has:attachment`, `non-lu:`/`is:unread`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub subject: Vec<String>,
    pub has_attachment: bool,
    pub unread: bool,
    /// `après:`/`after:` a day: from its midnight (UTC), inclusive.
    pub after_ms: Option<Millis>,
    /// `avant:`/`before:` a day: before its midnight (UTC).
    pub before_ms: Option<Millis>,
}

/// Midnight UTC of a day written `2026-10-01`, `01/10/2026` or `1/10/2026`, in milliseconds.
fn day_start_ms(text: &str) -> Option<Millis> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    let (y, m, d): (i32, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

impl SearchQuery {
    pub fn parse(q: &str) -> SearchQuery {
        let mut s = SearchQuery::default();
        for token in q.split_whitespace() {
            let lower = token.to_lowercase();
            let (op, value) = match lower.split_once(':') {
                Some((op, v)) => (op.to_string(), v.to_string()),
                None => (String::new(), lower.clone()),
            };
            match op.as_str() {
                "de" | "from" if !value.is_empty() => s.from.push(value),
                "à" | "a" | "to" if !value.is_empty() => s.to.push(value),
                "objet" | "subject" if !value.is_empty() => s.subject.push(value),
                "pj" => s.has_attachment = true,
                "has" if value == "attachment" || value == "pj" => s.has_attachment = true,
                "non-lu" | "nonlu" => s.unread = true,
                "is" if value == "unread" => s.unread = true,
                "après" | "apres" | "after" | "depuis" | "since" if day_start_ms(&value).is_some() => {
                    s.after_ms = day_start_ms(&value)
                }
                "avant" | "before" if day_start_ms(&value).is_some() => s.before_ms = day_start_ms(&value),
                _ => s.words.push(lower),
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }
}

/// The letter-and-digit runs of a typed word ("bilan-2.pdf" → bilan, 2, pdf), as the indexes
/// tokenise them; full-text query syntax stays out.
fn search_words(w: &str) -> Vec<String> {
    w.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

fn like(w: &str) -> String {
    format!("%{}%", w.replace(['%', '_', '\\'], ""))
}

/// Where a page of search results starts: just after this line (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchAfter {
    pub date_ms: Millis,
    pub id: i64,
}

/// The conditions of a search, after `m.account_id = $1`: SQL and the text each `$n` takes.
struct Filter {
    sql: String,
    binds: Vec<String>,
}

impl Filter {
    async fn new(
        db: &Db,
        clock: &dyn Clock,
        account_id: i64,
        q: &SearchQuery,
        folder: Option<&str>,
    ) -> Result<Filter, StoreError> {
        // What arrived a moment ago is found too.
        super::indexer::catch_up(db, account_id).await?;
        // Parameter $1 is the account; each clause adds its own.
        let mut binds: Vec<String> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        let mut add = |binds: &mut Vec<String>, value: String, clause: &dyn Fn(usize) -> String| {
            binds.push(value);
            clauses.push(clause(binds.len() + 1));
        };
        let words: Vec<String> = q.words.iter().flat_map(|w| search_words(w)).collect();
        let subject_words: Vec<String> = q.subject.iter().flat_map(|w| search_words(w)).collect();
        if !words.is_empty() || !subject_words.is_empty() {
            match db.backend() {
                Backend::Sqlite => {
                    // The holder first, so that only their messages' matches are walked; free
                    // words never match the holder column.
                    let m = std::iter::once(format!("owner : \"a{account_id}\""))
                        .chain(words.iter().map(|w| format!("{{subject body people attachments}} : \"{w}\"*")))
                        .chain(subject_words.iter().map(|w| format!("subject : \"{w}\"*")))
                        .collect::<Vec<_>>()
                        .join(" ");
                    add(&mut binds, m, &|n| {
                        format!("m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ${n})")
                    });
                }
                Backend::Postgres => {
                    let m = words
                        .iter()
                        .map(|w| format!("{w}:*"))
                        .chain(subject_words.iter().map(|w| format!("{w}:*A")))
                        .collect::<Vec<_>>()
                        .join(" & ");
                    add(&mut binds, m, &|n| format!("m.search @@ to_tsquery('french', ${n})"));
                }
            }
        }
        for w in &q.from {
            add(&mut binds, like(w), &|n| format!("(LOWER(m.from_addr) LIKE ${n} OR LOWER(m.from_name) LIKE ${n})"));
        }
        for w in &q.to {
            add(&mut binds, like(w), &|n| format!("(LOWER(m.to_addrs) LIKE ${n} OR LOWER(m.cc_addrs) LIKE ${n})"));
        }
        let mut sql = String::new();
        for c in &clauses {
            sql.push_str(" AND ");
            sql.push_str(c);
        }
        // Integers, never text: formatted in.
        if let Some(key) = folder {
            let f = folders::resolve(db, clock, account_id, key)
                .await?
                .ok_or_else(|| StoreError::Other(format!("no folder {key}")))?;
            sql.push_str(&format!(" AND m.folder_id = {f}"));
        }
        if q.has_attachment {
            sql.push_str(" AND m.attachment_names <> ''");
        }
        if q.unread {
            sql.push_str(" AND m.unread");
        }
        if let Some(after) = q.after_ms {
            sql.push_str(&format!(" AND m.date_ms >= {after}"));
        }
        if let Some(before) = q.before_ms {
            sql.push_str(&format!(" AND m.date_ms < {before}"));
        }
        Ok(Filter { sql, binds })
    }
}

/// One page of the account's messages matching `q`, in one folder or all, newest first:
/// `limit` lines after `after` (from the newest without it).
pub(crate) async fn search(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    q: &SearchQuery,
    folder: Option<&str>,
    after: Option<SearchAfter>,
    limit: i64,
) -> Result<Vec<ListItem>, StoreError> {
    let f = Filter::new(db, clock, account_id, q, folder).await?;
    let mut sql = format!(
        "SELECT m.id, m.from_addr, m.from_name, m.to_addrs, m.subject, m.snippet, m.date_ms, m.unread, m.flagged, \
         m.urgent, m.attachment_names <> '' AS has_attachments, {THREAD_COUNT} FROM messages m WHERE m.account_id = $1{}",
        f.sql
    );
    // Keyset, not offset: a deep page costs what the first does.
    if let Some(SearchAfter { date_ms, id }) = after {
        sql.push_str(&format!(" AND (m.date_ms < {date_ms} OR (m.date_ms = {date_ms} AND m.id < {id}))"));
    }
    sql.push_str(&format!(" ORDER BY m.date_ms DESC, m.id DESC LIMIT {}", limit.clamp(1, 500)));
    Ok(crate::with_pool!(db, p => {
        let mut query = sqlx::query_as(&sql).bind(account_id);
        for b in &f.binds {
            query = query.bind(b);
        }
        query.fetch_all(p).await?
    }))
}

/// How many of the account's messages match `q` (in `folder`, or all).
pub(crate) async fn search_count(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    q: &SearchQuery,
    folder: Option<&str>,
) -> Result<i64, StoreError> {
    let f = Filter::new(db, clock, account_id, q, folder).await?;
    let sql = format!("SELECT COUNT(*) FROM messages m WHERE m.account_id = $1{}", f.sql);
    Ok(crate::with_pool!(db, p => {
        let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(account_id);
        for b in &f.binds {
            query = query.bind(b);
        }
        query.fetch_one(p).await?
    }))
}

/// The ids of every message of the account matching `q` (in `folder`, or all), in no order:
/// what a mail client's SEARCH needs, all of them, and nothing else.
pub(crate) async fn search_ids(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    q: &SearchQuery,
    folder: Option<&str>,
) -> Result<Vec<i64>, StoreError> {
    let f = Filter::new(db, clock, account_id, q, folder).await?;
    let sql = format!("SELECT m.id FROM messages m WHERE m.account_id = $1{}", f.sql);
    Ok(crate::with_pool!(db, p => {
        let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(account_id);
        for b in &f.binds {
            query = query.bind(b);
        }
        query.fetch_all(p).await?
    }))
}
