//! The trust space: the mail domains of the MSSanté whitelist, imported from the national XML
//! file (`//n:Domaine/n:Nom` in namespace `https://listeblanche.mssante.fr/schema`). An import
//! replaces the whole list in one transaction: readers see the old list or the new one, and a
//! file that does not parse or holds no domain changes nothing.

use std::collections::HashSet;
use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

use crate::clock::Clock;
use crate::store::{BeginWrite, Db, StoreError};

pub const NAMESPACE: &[u8] = b"https://listeblanche.mssante.fr/schema";

#[derive(Debug, thiserror::Error)]
pub enum TrustSpaceError {
    #[error("the file is not well-formed XML (near byte {position}): {message}")]
    Xml { position: u64, message: String },
    #[error("the file holds no domain (no Domaine/Nom element in namespace https://listeblanche.mssante.fr/schema)")]
    NoDomain,
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

/// Reads the domains of a whitelist file, lower-cased, trimmed, without duplicates or empties,
/// in file order.
pub fn parse(input: impl BufRead) -> Result<Vec<String>, TrustSpaceError> {
    let mut reader = NsReader::from_reader(input);
    let mut buf = Vec::new();
    // For each open element: whether it is `Domaine` / `Nom` in the whitelist namespace.
    let mut stack: Vec<Tag> = Vec::new();
    let mut text = String::new();
    let mut seen = HashSet::new();
    let mut domains = Vec::new();
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| TrustSpaceError::Xml { position, message: e.to_string() })?;
        match event {
            (ns, Event::Start(e)) => {
                stack.push(tag(&ns, e.local_name().as_ref()));
                text.clear();
            }
            (_, Event::End(_)) => {
                let closed = stack.pop();
                let parent = stack.last().copied();
                if closed == Some(Tag::Nom) && parent == Some(Tag::Domaine) {
                    let d = text.trim().to_lowercase();
                    if !d.is_empty() && seen.insert(d.clone()) {
                        domains.push(d);
                    }
                }
                text.clear();
            }
            (_, Event::Text(t)) => {
                let s = t.unescape().map_err(|e| TrustSpaceError::Xml { position, message: e.to_string() })?;
                text.push_str(&s);
            }
            (_, Event::CData(c)) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
            (_, Event::Eof) => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(TrustSpaceError::Xml { position: reader.buffer_position(), message: "unclosed element".into() });
    }
    if domains.is_empty() {
        return Err(TrustSpaceError::NoDomain);
    }
    Ok(domains)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Domaine,
    Nom,
    Other,
}

fn tag(ns: &ResolveResult, local: &[u8]) -> Tag {
    match (ns, local) {
        (ResolveResult::Bound(Namespace(n)), b"Domaine") if *n == NAMESPACE => Tag::Domaine,
        (ResolveResult::Bound(Namespace(n)), b"Nom") if *n == NAMESPACE => Tag::Nom,
        _ => Tag::Other,
    }
}

/// Replaces the whole list in one transaction. Returns how many domains are now in force.
pub async fn replace(db: &Db, clock: &dyn Clock, domains: &[String]) -> Result<u64, StoreError> {
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("DELETE FROM trust_domains").execute(&mut *tx).await?;
        for chunk in domains.chunks(500) {
            let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
            let sql = format!("INSERT INTO trust_domains (domain) VALUES {} ON CONFLICT (domain) DO NOTHING", values.join(", "));
            let mut q = sqlx::query(&sql);
            for d in chunk {
                q = q.bind(d);
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO trust_space_imports (imported_ms, domain_count) VALUES ($1, $2)")
            .bind(clock.now_ms()).bind(domains.len() as i64).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    count(db).await
}

pub async fn count(db: &Db) -> Result<u64, StoreError> {
    let n: i64 =
        crate::with_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM trust_domains").fetch_one(p).await?);
    Ok(n as u64)
}

/// Whether `domain` is on the whitelist (case-insensitive; sub-domains are separate entries).
pub async fn contains(db: &Db, domain: &str) -> Result<bool, StoreError> {
    let d = domain.trim().to_lowercase();
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM trust_domains WHERE domain = $1")
        .bind(&d).fetch_one(p).await?);
    Ok(n > 0)
}

/// The whole list, for checks done many times in a row (account imports).
pub async fn all(db: &Db) -> Result<HashSet<String>, StoreError> {
    let v: Vec<String> =
        crate::with_pool!(db, p => sqlx::query_scalar("SELECT domain FROM trust_domains").fetch_all(p).await?);
    Ok(v.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<n:ListeBlanche xmlns:n="https://listeblanche.mssante.fr/schema" xmlns:x="urn:other">
  <n:Operateur>
    <n:Nom>Opérateur A</n:Nom>
    <n:Domaine><n:Nom>  Hopital-Exemple.MSSANTE.fr </n:Nom><n:Type>ETAB</n:Type></n:Domaine>
    <n:Domaine><n:Nom></n:Nom></n:Domaine>
    <n:Domaine><n:Nom>pro.mssante.fr</n:Nom></n:Domaine>
    <n:Domaine><n:Nom>PRO.mssante.fr</n:Nom></n:Domaine>
    <x:Domaine><x:Nom>autre-espace.fr</x:Nom></x:Domaine>
    <n:Domaine><n:Nom><![CDATA[labo.mssante.fr]]></n:Nom></n:Domaine>
  </n:Operateur>
</n:ListeBlanche>"#;

    #[test]
    fn reads_domaine_nom_in_the_namespace_only() {
        let d = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(d, ["hopital-exemple.mssante.fr", "pro.mssante.fr", "labo.mssante.fr"]);
    }

    #[test]
    fn default_namespace_works_too() {
        let xml = r#"<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema"><Domaine><Nom>a.fr</Nom></Domaine></ListeBlanche>"#;
        assert_eq!(parse(xml.as_bytes()).unwrap(), ["a.fr"]);
    }

    #[test]
    fn refuses_broken_or_empty_files() {
        assert!(matches!(parse("<a><b></a>".as_bytes()), Err(TrustSpaceError::Xml { .. })));
        assert!(matches!(
            parse("<n:L xmlns:n=\"https://listeblanche.mssante.fr/schema\"><n:Domaine>".as_bytes()),
            Err(TrustSpaceError::Xml { .. })
        ));
        let no_ns = "<ListeBlanche><Domaine><Nom>a.fr</Nom></Domaine></ListeBlanche>";
        assert!(matches!(parse(no_ns.as_bytes()), Err(TrustSpaceError::NoDomain)));
    }

    #[tokio::test]
    async fn an_import_replaces_the_list_whole() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let first: Vec<String> = (0..1200).map(|i| format!("d{i}.mssante.fr")).collect();
            assert_eq!(replace(&t.db, &clock, &first).await.unwrap(), 1200);
            assert!(contains(&t.db, "D7.MSSANTE.FR").await.unwrap());
            assert!(!contains(&t.db, "sous.d7.mssante.fr").await.unwrap(), "sub-domains are separate entries");
            let second = vec!["nouveau.mssante.fr".to_string()];
            assert_eq!(replace(&t.db, &clock, &second).await.unwrap(), 1);
            assert!(!contains(&t.db, "d7.mssante.fr").await.unwrap());
            assert_eq!(all(&t.db).await.unwrap().len(), 1);
        }
    }
}
