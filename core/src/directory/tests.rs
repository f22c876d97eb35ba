use std::sync::Arc;

use super::import::parse_line;
use super::*;
use crate::accounts::{self, Preferences};
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

const NOW: i64 = 1_800_000_000_000;

/// A data line from its non-empty fields (index → value); the rest stay empty.
fn line(fields: &[(usize, &str)]) -> String {
    let mut f = vec![""; 31];
    for (i, v) in fields {
        f[*i] = v;
    }
    f.join("|")
}

fn header() -> String {
    let mut out = Vec::new();
    sample::write(&mut out, 0, 0).unwrap();
    String::from_utf8(out).unwrap()
}

fn person(
    address: &str,
    last: &str,
    first: &str,
    profession: &str,
    specialty: &str,
    place: (&str, &str, &str),
) -> String {
    let routing = format!("{} {}", place.1, place.0);
    line(&[
        (0, "PER"),
        (1, address),
        (2, "8"),
        (3, "10001234567"),
        (4, "810001234567"),
        (8, "DR"),
        (9, last),
        (10, first),
        (14, profession),
        (16, specialty),
        (17, "True"),
        (22, "12"),
        (24, "RUE"),
        (25, "DE LA PAIX"),
        (27, &routing),
        (28, place.1),
        (29, place.2),
        (30, "France"),
    ])
}

async fn import_text(db: &Db, text: &str) -> ImportReport {
    let clock = ManualClock::new(NOW);
    import(db, &clock, text.as_bytes(), &mut |_| {}).await.expect("import")
}

async fn account(db: &Db, address: &str, last: &str, first: &str, prefs: Preferences) -> i64 {
    let clock = ManualClock::new(NOW);
    let rec = AccountRecord {
        address: address.into(),
        mailbox_type: "personal".into(),
        kind: "health".into(),
        last_name: last.into(),
        first_name: first.into(),
        id_kind: Some("rpps".into()),
        id_value: Some("10009998887".into()),
        profession: Some("Médecin".into()),
        specialty: Some("Pédiatrie".into()),
        practice_place: Some("Cabinet des Lilas, 3 rue Neuve, 69003 Lyon".into()),
        notification_email: "perso@example.org".into(),
        mobile: Some("+33611223344".into()),
        ..AccountRecord::default()
    };
    let id = match accounts::create(db, &clock, &rec).await.unwrap() {
        accounts::Created::New(id) => id,
        accounts::Created::Existing(id) => id,
    };
    accounts::activate(db, id).await.unwrap();
    accounts::set_preferences(db, id, prefs).await.unwrap();
    id
}

fn prefs(liste_rouge: bool, publish_phone: bool) -> Preferences {
    Preferences { notify_new_mail: true, liste_rouge, publish_phone, no_paper: false }
}

fn addresses(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.address.as_str()).collect()
}

#[test]
fn keys_fold_case_accents_and_punctuation() {
    assert_eq!(key("Lefèvre-Œuvray"), "lefevre oeuvray");
    assert_eq!(key("  LEFEVRE   OEUVRAY "), "lefevre oeuvray");
    assert_eq!(key("N'Diaye"), "n diaye");
    assert_eq!(key("Saint-Étienne CEDEX 08"), "saint etienne cedex 08");
    assert_eq!(key("Müller Straße"), "muller strasse");
    assert_eq!(key("Ørsted Łukasz"), "orsted lukasz");
    assert_eq!(key("—"), "");
    assert!(key("李小龙 Zoé").chars().all(|c| c.is_ascii_lowercase() || c == ' '));
}

#[test]
fn a_line_is_read_field_by_field() {
    let l = parse_line(&person(
        "Jean.Martin@Medecin.MSSante.fr",
        "MARTIN",
        "Jean",
        "Médecin",
        "Cardiologie et maladies vasculaires",
        ("LYON", "69003", "69"),
    ))
    .unwrap();
    assert_eq!(l.address, "jean.martin@medecin.mssante.fr");
    assert_eq!(l.name_key, "martin jean");
    assert_eq!(l.rev_key, "jean martin");
    assert_eq!(l.id_kind.as_deref(), Some("rpps"));
    assert_eq!(l.city.as_deref(), Some("LYON"));
    assert_eq!(l.city_key, "lyon");
    assert_eq!(l.street.as_deref(), Some("12 RUE DE LA PAIX"));
    assert_eq!(l.specialty_key, "cardiologie et maladies vasculaires");
    assert!(l.no_paper);

    let org = parse_line(&line(&[
        (0, "ORG"),
        (1, "urgences@ch-lyon.mssante.fr"),
        (7, "Urgences"),
        (18, "Centre hospitalier de Lyon"),
        (19, "Hôpital Édouard Herriot"),
    ]))
    .unwrap();
    assert_eq!(org.last_name, "");
    assert_eq!(org.name_key, "centre hospitalier de lyon");
    assert_eq!(org.rev_key, "hopital edouard herriot");
    assert!(!org.no_paper);

    assert_eq!(parse_line("PER|a@b.fr|8"), Err(Malformed::FieldCount(3)));
    assert_eq!(parse_line(&line(&[(0, "XYZ"), (1, "a@b.fr")])), Err(Malformed::MailboxType("XYZ".into())));
    assert_eq!(parse_line(&line(&[(0, "PER")])), Err(Malformed::Address));
    assert_eq!(parse_line(&line(&[(0, "PER"), (1, "pas une adresse")])), Err(Malformed::Address));
    assert_eq!(parse_line(&line(&[(0, "cab"), (1, "x@y.fr")])).unwrap().mailbox_type, "CAB");
}

#[tokio::test]
async fn searching_by_name_filters_and_address() {
    for t in TestDb::both().await {
        let text = [
            header(),
            person(
                "jean.martin@med.mssante.fr",
                "MARTIN",
                "Jean",
                "Médecin",
                "Cardiologie et maladies vasculaires",
                ("LYON", "69003", "69"),
            ),
            person(
                "anne.martineau@med.mssante.fr",
                "MARTINEAU",
                "Anne",
                "Médecin",
                "Pédiatrie",
                ("LYON", "69003", "69"),
            ),
            person(
                "eloise.lefevre@med.mssante.fr",
                "LEFÈVRE",
                "Éloïse",
                "Médecin",
                "Cardiologie et maladies vasculaires",
                ("PARIS", "75015", "75"),
            ),
            person("paul.martin@inf.mssante.fr", "MARTIN", "Paul", "Infirmier", "", ("AJACCIO", "20000", "2A")),
            line(&[
                (0, "ORG"),
                (1, "urgences@ch-lyon.mssante.fr"),
                (7, "Urgences"),
                (18, "Centre hospitalier de Lyon"),
                (27, "69003 LYON"),
                (28, "69003"),
                (29, "69"),
            ]),
        ]
        .join("\n");
        let r = import_text(&t.db, &text).await;
        assert_eq!((r.lines, r.entries, r.malformed), (5, 5, 0));

        // Prefix, case and accents; the exact last name first.
        let found = search(&t.db, &Query::name("mart"), 0, 20).await.unwrap();
        assert_eq!(
            addresses(&found),
            ["jean.martin@med.mssante.fr", "paul.martin@inf.mssante.fr", "anne.martineau@med.mssante.fr"]
        );
        assert_eq!(addresses(&search_one(&t.db, &Query::name("LEFEVRE")).await), ["eloise.lefevre@med.mssante.fr"]);
        assert_eq!(addresses(&search_one(&t.db, &Query::name("éloïse lef")).await), ["eloise.lefevre@med.mssante.fr"]);
        assert_eq!(addresses(&search_one(&t.db, &Query::name("centre hosp")).await), ["urgences@ch-lyon.mssante.fr"]);
        assert_eq!(addresses(&search_one(&t.db, &Query::name("urgences@")).await), ["urgences@ch-lyon.mssante.fr"]);
        assert!(search_one(&t.db, &Query::name("  ")).await.is_empty());

        // Filters, alone and together.
        let cardio_lyon = Query { specialty: "cardio".into(), place: "Lyon".into(), ..Query::default() };
        assert_eq!(addresses(&search_one(&t.db, &cardio_lyon).await), ["jean.martin@med.mssante.fr"]);
        let q = Query { place: "69003".into(), mailbox_type: "ORG".into(), ..Query::default() };
        assert_eq!(addresses(&search_one(&t.db, &q).await), ["urgences@ch-lyon.mssante.fr"]);
        let q = Query { place: "2a".into(), ..Query::default() };
        assert_eq!(addresses(&search_one(&t.db, &q).await), ["paul.martin@inf.mssante.fr"]);
        let q = Query { text: "martin".into(), profession: "infirmier".into(), ..Query::default() };
        assert_eq!(addresses(&search_one(&t.db, &q).await), ["paul.martin@inf.mssante.fr"]);
        let q = Query { identifier: "8 1000 1234 567".into(), text: "lef".into(), ..Query::default() };
        assert_eq!(addresses(&search_one(&t.db, &q).await), ["eloise.lefevre@med.mssante.fr"]);

        // Pages.
        let second = search(&t.db, &Query::name("mart"), 1, 1).await.unwrap();
        assert_eq!(addresses(&second), ["paul.martin@inf.mssante.fr"]);

        // An entry by its key, with what it publishes.
        let e = entry(&t.db, &found[0].key).await.unwrap().expect("entry");
        assert_eq!(e.source, Source::National);
        assert_eq!(e.title.as_deref(), Some("DR"));
        assert_eq!(e.postcode.as_deref(), Some("69003"));
        assert_eq!(e.phone, None, "the extract carries no phone numbers");
        assert!(e.no_paper);
        assert!(entry(&t.db, "n999-2").await.unwrap().is_none());
        assert!(entry(&t.db, "zzz").await.unwrap().is_none());

        let f = facets(&t.db).await.unwrap();
        assert_eq!(f.professions[0], ("Médecin".to_string(), 3));
        assert!(f.specialties.iter().any(|(l, n)| l == "Cardiologie et maladies vasculaires" && *n == 2));
    }
}

/// The first 100 results, panicking on a store error.
async fn search_one(db: &Db, q: &Query) -> Vec<Entry> {
    search(db, q, 0, 100).await.expect("search")
}

#[tokio::test]
async fn the_liste_rouge_never_leaks() {
    for t in TestDb::both().await {
        // The same address in the extract (a stale national entry) must not leak either.
        let text = [
            header(),
            person("zoe.secret@hygie.test", "SECRET", "Zoé", "Médecin", "Pédiatrie", ("LYON", "69003", "69")),
            person("jean.public@med.mssante.fr", "SECRETAN", "Jean", "Médecin", "Pédiatrie", ("LYON", "69003", "69")),
        ]
        .join("\n");
        import_text(&t.db, &text).await;
        let id = account(&t.db, "zoe.secret@hygie.test", "Secret", "Zoé", prefs(true, true)).await;

        let queries = [
            Query::name("secret"),
            Query::name("zoé"),
            Query::name("zoe.secret@hygie.test"),
            Query::name("zoe.secret@"),
            Query { profession: "Médecin".into(), ..Query::default() },
            Query { specialty: "pédiatrie".into(), ..Query::default() },
            Query { place: "lyon".into(), ..Query::default() },
            Query { place: "69003".into(), ..Query::default() },
            Query { place: "69".into(), ..Query::default() },
            Query { identifier: "10009998887".into(), ..Query::default() },
            Query { identifier: "810001234567".into(), ..Query::default() },
            Query { mailbox_type: "PER".into(), ..Query::default() },
        ];
        for q in &queries {
            let found = search_one(&t.db, q).await;
            assert!(
                !found.iter().any(|e| e.address == "zoe.secret@hygie.test"),
                "{q:?} found a liste rouge entry on {:?}",
                t.db.backend()
            );
        }
        assert!(entry(&t.db, &format!("c{id}")).await.unwrap().is_none());
        let f = facets(&t.db).await.unwrap();
        assert_eq!(f.professions, [("Médecin".to_string(), 1)], "counts leak nothing either");
        assert_eq!(f.specialties, [("Pédiatrie".to_string(), 1)]);
        assert!(search_one(&t.db, &Query { identifier: "-".into(), ..Query::default() }).await.is_empty());

        // Off the liste rouge, the account is found, ours rather than the extract's copy, and
        // with the phone its holder chose to publish.
        accounts::set_preferences(&t.db, id, prefs(false, true)).await.unwrap();
        let found = search_one(&t.db, &Query::name("zoe.secret@hygie.test")).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].source, Source::Hygie);
        assert_eq!(found[0].phone.as_deref(), Some("+33611223344"));
        for q in &queries[..10] {
            assert!(search_one(&t.db, q).await.iter().any(|e| e.key == format!("c{id}")), "{q:?}");
        }
        accounts::set_preferences(&t.db, id, prefs(false, false)).await.unwrap();
        let e = entry(&t.db, &format!("c{id}")).await.unwrap().expect("published");
        assert_eq!(e.phone, None, "the phone is shown only when chosen");
    }
}

#[tokio::test]
async fn malformed_lines_are_reported_by_number_and_the_rest_imported() {
    for t in TestDb::both().await {
        let mut text = Vec::new();
        let bad = sample::write(&mut text, 5_000, 100).unwrap();
        let clock = ManualClock::new(NOW);
        let mut calls = 0;
        let r = import(&t.db, &clock, &text[..], &mut |_| calls += 1).await.unwrap();
        assert_eq!(r.lines, 5_000);
        assert_eq!(r.malformed, 50);
        assert_eq!(r.entries, 4_950);
        assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), bad);
        let kinds: std::collections::HashSet<String> =
            r.problems.iter().map(|p| std::mem::discriminant(&p.problem)).map(|d| format!("{d:?}")).collect();
        assert_eq!(kinds.len(), 4, "every kind of problem is in the sample: {:?}", r.problems[..4].to_vec());
        assert!(calls >= 1);
        assert_eq!(status(&t.db).await.unwrap().national_entries, 4_950);
    }
}

#[tokio::test]
async fn a_file_without_any_entry_changes_nothing() {
    for t in TestDb::both().await {
        import_text(&t.db, &[header(), person("a@b.mssante.fr", "A", "B", "", "", ("", "", ""))].join("\n")).await;
        let clock = ManualClock::new(NOW);
        let err = import(&t.db, &clock, format!("{}\nXYZ|x\n", header()).as_bytes(), &mut |_| {}).await;
        assert!(matches!(err, Err(ImportError::Empty)), "{err:?}");
        assert_eq!(addresses(&search_one(&t.db, &Query::name("a")).await), ["a@b.mssante.fr"]);
        // The lock was released: another import goes through.
        import_text(&t.db, &[header(), person("c@d.mssante.fr", "C", "D", "", "", ("", "", ""))].join("\n")).await;
        assert_eq!(addresses(&search_one(&t.db, &Query::name("c")).await), ["c@d.mssante.fr"]);
    }
}

#[tokio::test]
async fn one_import_at_a_time() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(NOW);
        crate::with_pool!(&t.db, p => { sqlx::query("UPDATE directory_state SET importing_since_ms = $1")
            .bind(NOW - 60_000).execute(p).await.unwrap(); });
        let text = [header(), person("a@b.mssante.fr", "A", "B", "", "", ("", "", ""))].join("\n");
        let r = import(&t.db, &clock, text.as_bytes(), &mut |_| {}).await;
        assert!(matches!(r, Err(ImportError::Busy(60_000))), "{r:?}");
        // A lock older than an hour is a crashed import's: its half-loaded table goes too.
        crate::with_pool!(&t.db, p => {
            sqlx::query("INSERT INTO directory_imports (id, started_ms, status) VALUES (77, $1, 'running')")
                .bind(NOW - 60_000).execute(p).await.unwrap();
            sqlx::query("CREATE TABLE directory_g77 (id INTEGER)").execute(p).await.unwrap();
        });
        clock.advance_ms(3_600_000);
        import(&t.db, &clock, text.as_bytes(), &mut |_| {}).await.unwrap();
        let left: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM directory_imports WHERE id = 77 AND status = 'failed'").fetch_one(p).await.unwrap());
        assert_eq!(left, 1);
        let table =
            crate::with_pool!(&t.db, p => sqlx::query("SELECT 1 FROM directory_g77").fetch_all(p).await.map(|_| ()));
        assert!(table.is_err(), "the crashed import's table is dropped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reimport_replaces_the_extract_atomically() {
    for t in TestDb::both().await {
        let extract = |prefix: &str, n: usize| {
            let mut lines = vec![header()];
            for i in 0..n {
                lines.push(person(
                    &format!("{prefix}.{i}@med.mssante.fr"),
                    &format!("Durand{prefix}"),
                    &format!("P{i:05}"),
                    "Médecin",
                    "",
                    ("LYON", "69003", "69"),
                ));
            }
            lines.join("\n")
        };
        import_text(&t.db, &extract("old", 3_000)).await;
        let db = t.db.clone();
        let new_text = extract("new", 8_000);
        let importer = tokio::spawn(async move {
            let clock = Arc::new(ManualClock::new(NOW));
            import(&db, clock.as_ref(), new_text.as_bytes(), &mut |_| {}).await.unwrap()
        });
        let q = Query::name("durand");
        let (mut saw_old, mut saw_new) = (0, 0);
        loop {
            let done = importer.is_finished();
            let found = search(&t.db, &q, 0, 100).await.unwrap();
            let old = found.iter().filter(|e| e.address.starts_with("old.")).count();
            let new = found.iter().filter(|e| e.address.starts_with("new.")).count();
            assert!(old == 0 || new == 0, "a search saw both extracts");
            assert_eq!(found.len(), 100, "a search during the import found nothing");
            if old > 0 {
                saw_old += 1;
            } else {
                saw_new += 1;
            }
            if done {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let r = importer.await.unwrap();
        assert_eq!(r.entries, 8_000);
        assert!(saw_old > 0, "searches ran during the import");
        assert!(saw_new > 0);
        assert!(search_one(&t.db, &Query::name("durandold")).await.is_empty(), "old entries are gone");
        assert_eq!(status(&t.db).await.unwrap().national_entries, 8_000);
        // The old table is dropped when the next import starts.
        import_text(&t.db, &extract("third", 10)).await;
        let tables: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(match t.db.backend() {
            crate::Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'directory_g%'",
            crate::Backend::Postgres => "SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'directory_g%'",
        }).fetch_one(p).await.unwrap());
        assert_eq!(tables, 2, "the current extract and the one before it");
    }
}

/// A file the size of the real extract: every malformed line is reported by its number (the
/// first thousand listed, all counted), the rest is searchable. Speed is measured by
/// `scripts/bench-directory.sh`, not here.
#[tokio::test]
async fn a_full_size_extract_with_one_percent_malformed_lines() {
    const LINES: u64 = 542_000;
    let mut text = Vec::with_capacity(140 << 20);
    let bad = sample::write(&mut text, LINES, 100).unwrap();
    assert_eq!(bad.len(), 5_420);
    for t in TestDb::both().await {
        let started = std::time::Instant::now();
        let clock = ManualClock::new(NOW);
        let mut last = 0;
        let r = import(&t.db, &clock, &text[..], &mut |bytes| {
            assert!(bytes >= last, "progress goes forward");
            last = bytes;
        })
        .await
        .unwrap();
        eprintln!(
            "{:?}: 542,000 lines imported in {:?} (debug build): loaded in {:?}, indexed in {:?}",
            t.db.backend(),
            started.elapsed(),
            r.load_time,
            r.index_time
        );
        assert_eq!(last, text.len() as u64, "progress reaches the end of the file");
        assert_eq!((r.lines, r.malformed, r.entries), (LINES, 5_420, LINES - 5_420));
        assert_eq!(r.problems.len(), import::MAX_REPORTED);
        assert_eq!(r.problems.iter().map(|p| p.line).collect::<Vec<_>>(), bad[..import::MAX_REPORTED]);
        let found = search(&t.db, &Query::name("martin"), 0, 20).await.unwrap();
        assert_eq!(found.len(), 20);
        assert!(found.iter().all(|e| e.last_name == "MARTIN" || e.last_name.starts_with("MARTIN")));
        let lyon = Query { specialty: "cardiologie".into(), place: "69".into(), ..Query::default() };
        assert!(search(&t.db, &lyon, 0, 20).await.unwrap().iter().all(|e| e.departement.as_deref() == Some("69")));
    }
}
