//! Operator commands on accounts: create one, import a registration authority's file.

use std::io::BufRead;
use std::path::Path;

use app::domain::account::{AccountInput, Kind, NewAccount};
use app::domain::FieldError;
use app::i18n::{I18n, Locale};
use hygie_core::accounts::{self, AccountRecord, Created};
use hygie_core::audit::Actor;
use hygie_core::clock::Clock;
use hygie_core::{Db, StoreError};

use crate::config::Config;

/// The columns of an import file (header names, case-insensitive, any order).
pub const IMPORT_COLUMNS: &[&str] =
    &["adresse", "type_bal", "nom", "prenom", "autorite", "fonction", "email_notification", "mobile"];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub existing: usize,
    /// Line number (1 = header) and reason, in French.
    pub rejected: Vec<(u64, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the header lacks the column(s) {0}; expected: {cols}", cols = IMPORT_COLUMNS.join(";"))]
    MissingColumns(String),
    #[error("the file is empty")]
    Empty,
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

pub fn to_record(a: &NewAccount) -> AccountRecord {
    let mut r = AccountRecord {
        address: a.address.as_str().to_lowercase(),
        mailbox_type: a.mailbox_type.as_str().to_string(),
        last_name: a.last_name.clone(),
        first_name: a.first_name.clone(),
        notification_email: a.notification_email.as_str().to_string(),
        mobile: a.mobile.as_ref().map(|m| m.as_str().to_string()),
        ..Default::default()
    };
    match &a.kind {
        Kind::Health { id, profession, specialty, practice_place } => {
            r.kind = "health".into();
            r.id_kind = Some(id.kind().into());
            r.id_value = Some(id.value().into());
            r.profession = Some(profession.clone());
            r.specialty = specialty.clone();
            r.practice_place = practice_place.clone();
        }
        Kind::Other { authority, role } => {
            r.kind = "other".into();
            r.authority = Some(authority.clone());
            r.role = Some(role.clone());
        }
    }
    r
}

/// The reasons a line was refused, in French, field by field.
pub fn describe(errors: &[FieldError]) -> String {
    let t = I18n { locale: Locale::Fr };
    errors.iter().map(|e| format!("{} : {}", e.field, e.problem.message(t))).collect::<Vec<_>>().join(" ; ")
}

/// Imports a registration authority's CSV file (`;` or `,` separated, UTF-8, header line).
/// Good lines are imported, bad ones reported by number; re-running it creates nothing twice.
pub async fn import(
    db: &Db,
    clock: &dyn Clock,
    config: &Config,
    actor: &Actor,
    path: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<ImportReport, ImportError> {
    let read_err = |source| ImportError::Read { path: path.display().to_string(), source };
    let trust_space = hygie_core::trust_space::all(db).await?;
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut first = String::new();
    std::io::BufReader::new(&file).read_line(&mut first).map_err(read_err)?;
    if first.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let delimiter = if first.matches(';').count() >= first.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| read_err(std::io::Error::other(e.to_string())))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| read_err(std::io::Error::other(e.to_string())))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    let index = |name: &str| headers.iter().position(|h| h == name);
    let missing: Vec<&str> = IMPORT_COLUMNS.iter().copied().filter(|c| index(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing.join(", ")));
    }
    let col = |rec: &csv::StringRecord, name: &str| index(name).and_then(|i| rec.get(i)).unwrap_or("").to_string();
    let public_url = config.public_url();
    let mut report = ImportReport::default();
    for (n, row) in reader.records().enumerate() {
        let line = n as u64 + 2;
        progress.inc(1);
        let rec = match row {
            Ok(r) => r,
            Err(e) => {
                report.rejected.push((line, format!("ligne illisible ({e})")));
                continue;
            }
        };
        let input = AccountInput {
            address: col(&rec, "adresse"),
            mailbox_type: col(&rec, "type_bal"),
            last_name: col(&rec, "nom"),
            first_name: col(&rec, "prenom"),
            authority: col(&rec, "autorite"),
            role: col(&rec, "fonction"),
            notification_email: col(&rec, "email_notification"),
            mobile: col(&rec, "mobile"),
            ..Default::default()
        };
        match NewAccount::parse(&input, &config.domains, |d| trust_space.contains(&d.to_lowercase())) {
            Ok(account) => {
                match accounts::create_and_invite(db, clock, actor, &to_record(&account), &public_url).await? {
                    Created::New(_) => report.imported += 1,
                    Created::Existing(_) => report.existing += 1,
                }
            }
            Err(errors) => report.rejected.push((line, describe(&errors))),
        }
    }
    Ok(report)
}

/// Counts the data lines of a file (for the progress bar).
pub fn count_lines(path: &Path) -> u64 {
    std::fs::File::open(path).map(|f| std::io::BufReader::new(f).lines().count().saturating_sub(1) as u64).unwrap_or(0)
}

/// A demonstration account: address local part, password, and the rest of its record.
pub struct DemoAccount {
    pub local: &'static str,
    pub password: &'static str,
    pub record: fn(String) -> AccountRecord,
}

/// The demonstration accounts seeded in development (documented in the README).
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        local: "camille.durand",
        password: "rendez-vous du mardi",
        record: |address| AccountRecord {
            address,
            mailbox_type: "personal".into(),
            kind: "health".into(),
            last_name: "Durand".into(),
            first_name: "Camille".into(),
            id_kind: Some("rpps".into()),
            id_value: Some("10000000009".into()),
            profession: Some("Médecin".into()),
            specialty: Some("Médecine générale".into()),
            practice_place: Some("Cabinet médical, 12 rue des Lilas, 69003 Lyon".into()),
            notification_email: "camille.durand@exemple.fr".into(),
            mobile: Some("+33612345678".into()),
            ..Default::default()
        },
    },
    DemoAccount {
        local: "louis.martin",
        password: "tournée du matin 2026",
        record: |address| AccountRecord {
            address,
            mailbox_type: "personal".into(),
            kind: "health".into(),
            last_name: "Martin".into(),
            first_name: "Louis".into(),
            id_kind: Some("rpps".into()),
            id_value: Some("10000000017".into()),
            profession: Some("Infirmier".into()),
            notification_email: "louis.martin@exemple.fr".into(),
            ..Default::default()
        },
    },
    DemoAccount {
        local: "nadia.benali",
        password: "permanence du jeudi",
        record: |address| AccountRecord {
            address,
            mailbox_type: "personal".into(),
            kind: "other".into(),
            last_name: "Benali".into(),
            first_name: "Nadia".into(),
            authority: Some("Conseil départemental du Rhône".into()),
            role: Some("Assistante sociale".into()),
            notification_email: "nadia.benali@exemple.fr".into(),
            mobile: Some("+33698765432".into()),
            ..Default::default()
        },
    },
];

/// Creates the demonstration accounts, active with their passwords, when there is no account at
/// all. Returns how many were created.
pub async fn seed_demo(db: &Db, clock: &dyn Clock, domain: &str) -> Result<usize, StoreError> {
    if accounts::count(db).await? > 0 {
        return Ok(0);
    }
    for demo in DEMO_ACCOUNTS {
        let record = (demo.record)(format!("{}@{domain}", demo.local));
        let Created::New(id) = accounts::create(db, clock, &record).await? else { continue };
        let normalised = hygie_core::auth::policy::normalise(demo.password);
        let hash =
            hygie_core::auth::password::hash(normalised.into()).await.map_err(|e| StoreError::Other(e.to_string()))?;
        accounts::set_password_hash(db, clock, id, hash.as_stored()).await?;
        accounts::activate(db, id).await?;
        hygie_core::audit::record(
            db,
            clock,
            hygie_core::audit::AuditEvent::new(Actor::System, "account.create", hygie_core::audit::Outcome::Success)
                .object(format!("account:{id} demo")),
        )
        .await;
    }
    Ok(DEMO_ACCOUNTS.len())
}
