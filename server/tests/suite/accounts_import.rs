//! The operator's import of a registration authority's file, on each database engine.

use std::io::Write;

use crate::common::{on_each_engine, test_db, Engine};
use hygie_core::audit::Actor;
use hygie_core::clock::ManualClock;
use hygie_core::store::testing::TestDb;
use hygie_server::accounts::{import, ImportReport};
use hygie_server::config::Config;

on_each_engine!(imports_990_good_lines_names_the_10_bad_ones_and_is_idempotent);

/// 1,000 lines, of which lines (file numbering, header = 1) 51, 151, …, 951 are bad in ten
/// different ways.
fn write_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("autorite.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "\u{feff}adresse;type_bal;nom;prenom;autorite;fonction;email_notification;mobile").unwrap();
    let bad: [&dyn Fn(usize) -> String; 10] = [
        &|i| format!("pers{i}@ailleurs.fr;PER;Nom{i};Prénom;CD69;Éducateur;p{i}@exemple.fr;"),
        &|i| format!("pers{i}@hygie.test;XYZ;Nom{i};Prénom;CD69;Éducateur;p{i}@exemple.fr;"),
        &|i| format!("pers{i}@hygie.test;PER;;Prénom;CD69;Éducateur;p{i}@exemple.fr;"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;;Éducateur;p{i}@exemple.fr;"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;CD69;;p{i}@exemple.fr;"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;CD69;Éducateur;pas-une-adresse;"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;CD69;Éducateur;p{i}@hygie.test;"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;CD69;Éducateur;p{i}@exemple.fr;01 23 45 67 89"),
        &|i| format!("pers{i}@hygie.test;PER;Nom{i};Prénom;CD69;Éducateur;p{i}@exemple.fr;12"),
        &|i| format!("pers{i}@@hygie.test;PER;Nom{i};Prénom;CD69;Éducateur;p{i}@exemple.fr;"),
    ];
    for i in 0..1000 {
        if i % 100 == 49 {
            writeln!(f, "{}", bad[i / 100](i)).unwrap();
        } else {
            let mobile = if i % 2 == 0 { format!("06 12 34 {:02} {:02}", i / 100, i % 100) } else { String::new() };
            writeln!(f, "pers{i}@hygie.test;PER;Nom{i};Élodie;Conseil départemental du Rhône;Assistante sociale;p{i}@exemple.fr;{mobile}").unwrap();
        }
    }
    path
}

async fn imports_990_good_lines_names_the_10_bad_ones_and_is_idempotent(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path());
    let mut config = Config::default();
    config.domains = vec!["hygie.test".into()];
    config.public_url = Some("https://hygie.test".into());
    let t = test_db(engine).await;
    let clock = ManualClock::new(1_800_000_000_000);
    let actor = Actor::Operator("test".into());
    let bar = indicatif::ProgressBar::hidden();
    let started = std::time::Instant::now();
    let first = import(&t.db, &clock, &config, &actor, &file, &bar).await.unwrap();
    eprintln!("{:?}: first import of 1,000 lines in {:?}", t.db.backend(), started.elapsed());
    assert_eq!(first.imported, 990);
    assert_eq!(first.existing, 0);
    let lines: Vec<u64> = first.rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, (0..10).map(|k| k * 100 + 51).collect::<Vec<u64>>());
    let reasons: Vec<&str> = first.rejected.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        reasons[0].starts_with("address : L'adresse doit appartenir à un domaine de ce service."),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].starts_with("mailbox_type : Valeur inconnue."));
    assert!(reasons[2].starts_with("last_name : Ce champ est obligatoire."));
    assert!(reasons[6].contains("notification_email : L'adresse de notification doit être une messagerie ordinaire"));
    assert!(reasons[7].contains("mobile : Ce numéro n'est pas un mobile"));
    assert_eq!(hygie_core::accounts::count(&t.db).await.unwrap(), 990);
    assert_eq!(bar.position(), 1000);

    let again = import(&t.db, &clock, &config, &actor, &file, &indicatif::ProgressBar::hidden()).await.unwrap();
    assert_eq!(
        again,
        ImportReport { imported: 0, existing: 990, rejected: first.rejected.clone() },
        "a second run creates nothing"
    );
    assert_eq!(hygie_core::accounts::count(&t.db).await.unwrap(), 990);
    let invitations = hygie_core::outbox::stats(&t.db).await.unwrap().pending;
    assert_eq!(invitations, 990, "one activation link per new account, none on re-import");
    assert!(hygie_core::audit::verify(&t.db).await.unwrap().is_intact());
}

#[tokio::test]
async fn a_file_without_the_expected_columns_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(&path, "adresse,nom\na@hygie.test,A\n").unwrap();
    let t = TestDb::sqlite().await;
    let err = import(
        &t.db,
        &ManualClock::new(0),
        &Config::default(),
        &Actor::System,
        &path,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("type_bal") && err.contains("email_notification"), "{err}");
    assert_eq!(hygie_core::accounts::count(&t.db).await.unwrap(), 0);
}
