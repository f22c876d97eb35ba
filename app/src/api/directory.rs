//! The directory's server functions: search page, entry page, composer suggestions. Signed-in
//! accounts only, limited per account (no harvesting), each query in the audit trail.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What the search form sends; empty fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryQuery {
    pub q: String,
    pub profession: String,
    pub specialty: String,
    pub place: String,
    pub identifier: String,
    pub mailbox_type: String,
}

impl DirectoryQuery {
    pub fn is_blank(&self) -> bool {
        [&self.q, &self.profession, &self.specialty, &self.place, &self.identifier, &self.mailbox_type]
            .iter()
            .all(|s| s.trim().is_empty())
    }
}

/// One published entry, as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub key: String,
    /// An account of this instance (rather than the national extract).
    pub hygie: bool,
    pub mailbox_type: String,
    pub address: String,
    pub title: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub id_kind: Option<String>,
    pub id_value: Option<String>,
    pub profession: Option<String>,
    pub specialty: Option<String>,
    pub organisation: Option<String>,
    pub service: Option<String>,
    pub street: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub no_paper: bool,
}

impl DirectoryEntry {
    /// "Dr Jean MARTIN", or the organisation and service of a mailbox without a person.
    pub fn display_name(&self) -> String {
        let person = [self.first_name.trim(), self.last_name.trim()].join(" ").trim().to_string();
        if !person.is_empty() {
            return match self.title.as_deref() {
                Some("DR") => format!("Dr {person}"),
                Some("PR") => format!("Pr {person}"),
                _ => person,
            };
        }
        let org = [self.organisation.as_deref(), self.service.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" — ");
        if org.is_empty() {
            self.address.clone()
        } else {
            org
        }
    }

    /// Profession and specialty, "Médecin · Cardiologie".
    pub fn occupation(&self) -> String {
        [self.profession.as_deref(), self.specialty.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ")
    }

    /// "69003 LYON", or the practice place an account gave.
    pub fn place(&self) -> String {
        let town = [self.postcode.as_deref(), self.city.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if town.is_empty() {
            self.street.clone().unwrap_or_default()
        } else {
            town
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPage {
    pub entries: Vec<DirectoryEntry>,
    pub page: i64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryFacets {
    pub professions: Vec<String>,
    pub specialties: Vec<String>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use hygie_core::audit::Outcome;
    use hygie_core::directory::{Entry, Query, Source};

    use super::*;
    use crate::server::{audit_account, Services};

    /// Search pages per account and hour; suggestions (one per pause in typing) have their own.
    pub const SEARCHES_PER_HOUR: i64 = 300;
    pub const SUGGESTIONS_PER_HOUR: i64 = 1200;
    const FIELD_MAX: usize = 200;

    fn cut(s: &str) -> String {
        s.trim().chars().take(FIELD_MAX).filter(|c| !c.is_control()).collect()
    }

    pub fn to_query(q: &DirectoryQuery) -> Query {
        Query {
            text: cut(&q.q),
            profession: cut(&q.profession),
            specialty: cut(&q.specialty),
            place: cut(&q.place),
            identifier: cut(&q.identifier),
            mailbox_type: cut(&q.mailbox_type),
        }
    }

    /// The query as the audit trail keeps it: the words asked, never the results.
    pub fn describe(q: &Query) -> String {
        [
            ("q", &q.text),
            ("profession", &q.profession),
            ("specialty", &q.specialty),
            ("place", &q.place),
            ("identifier", &q.identifier),
            ("type", &q.mailbox_type),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
    }

    pub fn view(e: Entry) -> DirectoryEntry {
        DirectoryEntry {
            key: e.key,
            hygie: e.source == Source::Hygie,
            mailbox_type: e.mailbox_type,
            address: e.address,
            title: e.title,
            last_name: e.last_name,
            first_name: e.first_name,
            id_kind: e.id_kind,
            id_value: e.id_value,
            profession: e.profession,
            specialty: e.specialty,
            organisation: e.organisation,
            service: e.service,
            street: e.street,
            postcode: e.postcode,
            city: e.city,
            phone: e.phone,
            no_paper: e.no_paper,
        }
    }

    pub async fn run(
        svc: &Services,
        account_id: i64,
        action: &str,
        query: &Query,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<DirectoryEntry>, bool), AppError> {
        let found = hygie_core::directory::search(&svc.db, query, page * per_page, per_page + 1)
            .await
            .map_err(AppError::internal)?;
        audit_account(svc, account_id, action, Outcome::Success, Some(describe(query))).await?;
        let has_more = found.len() as i64 > per_page;
        Ok((found.into_iter().take(per_page as usize).map(view).collect(), has_more))
    }
}

/// One page (0-based) of the directory for a query.
#[server(name = DirectorySearch, prefix = "/api", endpoint = "directory-search")]
pub async fn directory_search(query: DirectoryQuery, page: i64) -> Result<DirectoryPage, AppError> {
    use hygie_core::directory::{MAX_PAGES, PAGE_SIZE};

    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let q = ssr::to_query(&query);
    let page = page.clamp(0, MAX_PAGES - 1);
    if q.is_empty() {
        return Ok(DirectoryPage { entries: Vec::new(), page, has_more: false });
    }
    limit_hourly(&svc, &format!("directory:{}", holder.account_id), ssr::SEARCHES_PER_HOUR).await?;
    let (entries, more) = ssr::run(&svc, holder.account_id, "directory.search", &q, page, PAGE_SIZE).await?;
    Ok(DirectoryPage { entries, page, has_more: more && page + 1 < MAX_PAGES })
}

/// Up to 8 entries whose name or address starts with `q` (at least 2 characters), for the
/// composer's recipient fields.
#[server(name = DirectorySuggest, prefix = "/api", endpoint = "directory-suggest")]
pub async fn directory_suggest(q: String) -> Result<Vec<DirectoryEntry>, AppError> {
    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let text: String = q.trim().chars().take(200).collect();
    if text.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return Ok(Vec::new());
    }
    limit_hourly(&svc, &format!("directory-suggest:{}", holder.account_id), ssr::SUGGESTIONS_PER_HOUR).await?;
    let query = hygie_core::directory::Query::name(&text);
    Ok(ssr::run(&svc, holder.account_id, "directory.suggest", &query, 0, 8).await?.0)
}

/// One entry by its key, if it is (still) published.
#[server(name = DirectoryEntryGet, prefix = "/api", endpoint = "directory-entry")]
pub async fn directory_entry(key: String) -> Result<DirectoryEntry, AppError> {
    use hygie_core::audit::Outcome;

    use crate::server::{audit_account, limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    limit_hourly(&svc, &format!("directory:{}", holder.account_id), ssr::SEARCHES_PER_HOUR).await?;
    let key: String = key.chars().take(40).collect();
    let found = hygie_core::directory::entry(&svc.db, &key).await.map_err(AppError::internal)?;
    let outcome = if found.is_some() { Outcome::Success } else { Outcome::Failure("not_found".into()) };
    audit_account(&svc, holder.account_id, "directory.entry", outcome, Some(format!("entry:{key}"))).await?;
    found.map(ssr::view).ok_or(AppError::NotFound)
}

/// The professions and specialties to choose from, most common first.
#[server(name = DirectoryFacetsGet, prefix = "/api", endpoint = "directory-facets")]
pub async fn directory_facets() -> Result<DirectoryFacets, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    require_holder(Level::Full)?;
    let f = hygie_core::directory::facets(&svc.db).await.map_err(AppError::internal)?;
    Ok(DirectoryFacets {
        professions: f.professions.into_iter().map(|(l, _)| l).collect(),
        specialties: f.specialties.into_iter().take(300).map(|(l, _)| l).collect(),
    })
}
