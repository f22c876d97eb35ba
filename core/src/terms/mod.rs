//! Versioned terms of use (CGU). The versions shipped in the repository (`terms/*.md`) are
//! loaded into the database at start-up; the operator can publish later ones, which are added to
//! the same table. The current version is the most recently published one.

use crate::clock::Clock;
use crate::store::{Db, StoreError};

/// The versions kept in the repository, oldest first.
pub const BUNDLED: &[&str] = &[include_str!("../../../terms/cgu-1.0.md"), include_str!("../../../terms/cgu-1.1.md")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsDocument {
    pub version: String,
    /// ISO date (`2026-10-05`) from which the version applies.
    pub date: String,
    pub title: String,
    pub body_md: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TermsParseError {
    #[error("the file must start with a front-matter block between two `---` lines")]
    MissingFrontMatter,
    #[error("front matter lacks `{0}`")]
    MissingField(&'static str),
    #[error("`version` must look like 1.0 or 2.3.1")]
    BadVersion,
    #[error("`date` must be an ISO date such as 2026-10-05")]
    BadDate,
    #[error("the terms have no text after the front matter")]
    EmptyBody,
}

impl TermsDocument {
    /// Parses a Markdown file with a `version`, `date` and `title` front matter.
    pub fn parse(text: &str) -> Result<TermsDocument, TermsParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n");
        let rest = text.strip_prefix("---\n").ok_or(TermsParseError::MissingFrontMatter)?;
        let (front, body) = rest.split_once("\n---\n").ok_or(TermsParseError::MissingFrontMatter)?;
        let field = |name: &'static str| {
            front
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
                .filter(|v| !v.is_empty())
                .ok_or(TermsParseError::MissingField(name))
        };
        let version = field("version")?;
        if version.split('.').count() < 2
            || !version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(TermsParseError::BadVersion);
        }
        let date = field("date")?;
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(&date, &fmt).map_err(|_| TermsParseError::BadDate)?;
        let title = field("title")?;
        let body_md = body.trim().to_string();
        if body_md.is_empty() {
            return Err(TermsParseError::EmptyBody);
        }
        Ok(TermsDocument { version, date, title, body_md })
    }

    /// The body as HTML. The Markdown comes from the repository or the operator, never from
    /// users; raw HTML in it is escaped all the same.
    pub fn body_html(&self) -> String {
        render_markdown(&self.body_md)
    }
}

/// Renders Markdown to HTML, escaping any raw HTML it contains.
pub fn render_markdown(md: &str) -> String {
    use pulldown_cmark::{html, Event, Options, Parser};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).map(|ev| match ev {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        other => other,
    });
    let mut out = String::with_capacity(md.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsVersion {
    pub seq: i64,
    pub doc: TermsDocument,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    version: String,
    published_on: String,
    title: String,
    body_md: String,
}

impl From<Row> for TermsVersion {
    fn from(r: Row) -> Self {
        TermsVersion {
            seq: r.seq,
            doc: TermsDocument { version: r.version, date: r.published_on, title: r.title, body_md: r.body_md },
        }
    }
}

/// Adds a version unless one with the same number exists. Returns whether it was added.
pub async fn add(db: &Db, clock: &dyn Clock, doc: &TermsDocument) -> Result<bool, StoreError> {
    let n = crate::with_pool!(db, p => sqlx::query(
        "INSERT INTO terms_versions (version, published_on, title, body_md, created_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING")
        .bind(&doc.version)
        .bind(&doc.date)
        .bind(&doc.title)
        .bind(&doc.body_md)
        .bind(clock.now_ms())
        .execute(p)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Loads the bundled versions that the database does not hold yet. A bundled file that does not
/// parse is a build defect, caught by this module's tests.
pub async fn sync_bundled(db: &Db, clock: &dyn Clock) -> Result<usize, StoreError> {
    let mut added = 0;
    for text in BUNDLED {
        if let Ok(doc) = TermsDocument::parse(text) {
            if add(db, clock, &doc).await? {
                added += 1;
            }
        }
    }
    Ok(added)
}

/// Every version, newest first.
pub async fn list(db: &Db) -> Result<Vec<TermsVersion>, StoreError> {
    let rows: Vec<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT seq, version, published_on, title, body_md FROM terms_versions ORDER BY seq DESC")
        .fetch_all(p).await?);
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The version number of the terms in force, without their text.
pub async fn current_version(db: &Db) -> Result<Option<String>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT version FROM terms_versions ORDER BY seq DESC LIMIT 1")
        .fetch_optional(p).await?))
}

pub async fn current(db: &Db) -> Result<Option<TermsVersion>, StoreError> {
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT seq, version, published_on, title, body_md FROM terms_versions ORDER BY seq DESC LIMIT 1")
        .fetch_optional(p).await?);
    Ok(row.map(Into::into))
}

pub async fn get(db: &Db, version: &str) -> Result<Option<TermsVersion>, StoreError> {
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT seq, version, published_on, title, body_md FROM terms_versions WHERE version = $1")
        .bind(version).fetch_optional(p).await?);
    Ok(row.map(Into::into))
}

/// Whether `account_id` accepted `version`.
pub async fn accepted(db: &Db, account_id: i64, version: &str) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terms_acceptances WHERE account_id = $1 AND version = $2")
        .bind(account_id).bind(version).fetch_one(p).await?);
    Ok(n > 0)
}

/// Records that `account_id` accepted `version` (idempotent).
pub async fn accept(db: &Db, clock: &dyn Clock, account_id: i64, version: &str) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query(
        "INSERT INTO terms_acceptances (account_id, version, accepted_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id, version) DO NOTHING")
        .bind(account_id).bind(version).bind(clock.now_ms()).execute(p).await?; });
    Ok(())
}

/// Publishes a new version and tells every account holder (not closed) at their notification
/// address. Returns how many were told, or `None` when the version already existed.
pub async fn publish(
    db: &Db,
    clock: &dyn Clock,
    doc: &TermsDocument,
    public_url: &str,
) -> Result<Option<u64>, StoreError> {
    if let Some(latest) = current(db).await? {
        if !version_is_newer(&doc.version, &latest.doc.version) {
            return Ok(None);
        }
    }
    if !add(db, clock, doc).await? {
        return Ok(None);
    }
    let recipients: Vec<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT notification_email FROM accounts WHERE status <> 'closed' ORDER BY id")
        .fetch_all(p).await?);
    let link = format!("{}/cgu/{}", public_url.trim_end_matches('/'), doc.version);
    for to in &recipients {
        let mail = crate::outbox::Outgoing {
            channel: crate::outbox::Channel::Email,
            category: "terms.published".into(),
            recipient: to.clone(),
            subject: Some(format!("Nouvelles conditions d'utilisation Hygie (version {}) / New terms of use", doc.version)),
            body: format!(
                "Bonjour,\n\nLa version {v} des conditions d'utilisation de Hygie, datée du {d}, est publiée :\n{link}\n\n\
                 Elle vous sera présentée à votre prochaine connexion et devra être acceptée pour continuer à utiliser \
                 votre messagerie.\n\n---\nVersion {v} of Hygie's terms of use is published (link above). You will be \
                 asked to accept it at your next sign-in.\n",
                v = doc.version,
                d = doc.date
            ),
            reply_to: None,
        };
        crate::outbox::enqueue(db, clock, &mail).await?;
    }
    Ok(Some(recipients.len() as u64))
}

/// Compares dotted version numbers numerically ("1.10" is newer than "1.9").
pub fn version_is_newer(candidate: &str, than: &str) -> bool {
    let parse = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(candidate) > parse(than)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    #[test]
    fn bundled_versions_parse_in_order() {
        let docs: Vec<_> = BUNDLED.iter().map(|t| TermsDocument::parse(t).unwrap()).collect();
        assert_eq!(docs.iter().map(|d| d.version.as_str()).collect::<Vec<_>>(), ["1.0", "1.1"]);
        assert!(docs.windows(2).all(|w| w[0].date < w[1].date));
        assert!(docs.iter().all(|d| d.body_md.contains("## 1.")));
    }

    #[test]
    fn rejects_bad_files_with_a_reason() {
        assert_eq!(TermsDocument::parse("no front matter"), Err(TermsParseError::MissingFrontMatter));
        assert_eq!(
            TermsDocument::parse("---\nversion: 2\ndate: 2026-01-01\ntitle: T\n---\nx"),
            Err(TermsParseError::BadVersion)
        );
        assert_eq!(
            TermsDocument::parse("---\nversion: 2.0\ndate: 01/02/2026\ntitle: T\n---\nx"),
            Err(TermsParseError::BadDate)
        );
        assert_eq!(
            TermsDocument::parse("---\nversion: 2.0\ndate: 2026-01-01\n---\nx"),
            Err(TermsParseError::MissingField("title"))
        );
        assert_eq!(
            TermsDocument::parse("---\nversion: 2.0\ndate: 2026-01-01\ntitle: T\n---\n  \n"),
            Err(TermsParseError::EmptyBody)
        );
        let ok =
            TermsDocument::parse("\u{feff}---\r\nversion: 2.0\r\ndate: 2026-01-01\r\ntitle: CGU\r\n---\r\n## 1. A\r\n")
                .unwrap();
        assert_eq!(ok.title, "CGU");
        assert_eq!(ok.body_md, "## 1. A");
    }

    #[test]
    fn markdown_is_rendered_and_raw_html_escaped() {
        let html = render_markdown("## 1. Titre\n\nTexte <script>alert(1)</script> et [lien](/cookies).");
        assert!(html.contains("<h2>1. Titre</h2>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains(r#"<a href="/cookies">lien</a>"#));
    }

    #[tokio::test]
    async fn sync_is_idempotent_and_newest_is_current() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(0);
            assert_eq!(sync_bundled(&t.db, &clock).await.unwrap(), 2);
            assert_eq!(sync_bundled(&t.db, &clock).await.unwrap(), 0);
            assert_eq!(current(&t.db).await.unwrap().unwrap().doc.version, "1.1");
            let later =
                TermsDocument::parse("---\nversion: 2.0\ndate: 2027-01-01\ntitle: CGU\n---\n## 1. Nouveau").unwrap();
            assert!(add(&t.db, &clock, &later).await.unwrap());
            let all = list(&t.db).await.unwrap();
            assert_eq!(all.iter().map(|v| v.doc.version.as_str()).collect::<Vec<_>>(), ["2.0", "1.1", "1.0"]);
            assert_eq!(get(&t.db, "1.0").await.unwrap().unwrap().doc.date, "2026-03-02");
            assert_eq!(get(&t.db, "9.9").await.unwrap(), None);
        }
    }
}
