//! The directory on a real server, on each database engine: the operator's import command, the
//! search, entry and suggestion endpoints, the liste rouge switched on through the settings
//! endpoint, the per-account limit and the audit trail.

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use app::api::{
    DirectoryEntryGet, DirectoryQuery, DirectorySearch, DirectorySuggest, PreferencesView, SavePreferences,
};
use hygie_core::accounts::{self, AccountRecord, Created};
use serde_json::json;

on_each_engine!(the_directory_serves_signed_in_people_and_never_the_liste_rouge);

/// A national extract: a header, three correspondents, and a malformed line 4.
fn extract() -> String {
    let mut header = Vec::new();
    hygie_core::directory::sample::write(&mut header, 0, 0).unwrap();
    let person = |address: &str, last: &str, first: &str, specialty: &str, postcode: &str, city: &str| {
        let mut f = vec![String::new(); 31];
        f[0] = "PER".into();
        f[1] = address.into();
        f[2] = "8".into();
        f[3] = "10003334445".into();
        f[8] = "DR".into();
        f[9] = last.into();
        f[10] = first.into();
        f[14] = "Médecin".into();
        f[16] = specialty.into();
        f[27] = format!("{postcode} {city}");
        f[28] = postcode.into();
        f[29] = postcode[..2].into();
        f.join("|")
    };
    [
        String::from_utf8(header).unwrap().trim_end().to_string(),
        person("jean.martin@med.mssante.fr", "MARTIN", "Jean", "Cardiologie et maladies vasculaires", "69003", "LYON"),
        person("lea.martinez@med.mssante.fr", "MARTINEZ", "Léa", "Pédiatrie", "75015", "PARIS"),
        "PER|cassee@med.mssante.fr|8".to_string(),
        person("remi.pelletier@med.mssante.fr", "PELLETIER", "Rémi", "Psychiatrie", "13005", "MARSEILLE"),
    ]
    .join("\n")
}

async fn colleague(s: &TestServer, local: &str, last: &str, first: &str) -> (i64, String) {
    let address = format!("{local}@hygie.localhost");
    let rec = AccountRecord {
        address: address.clone(),
        mailbox_type: "personal".into(),
        kind: "health".into(),
        last_name: last.into(),
        first_name: first.into(),
        profession: Some("Infirmier".into()),
        practice_place: Some("12 rue Neuve, 69003 Lyon".into()),
        notification_email: format!("{local}@exemple.fr"),
        mobile: Some("+33611112222".into()),
        ..Default::default()
    };
    let Created::New(id) = accounts::create(s.db(), &s.clock, &rec).await.unwrap() else { panic!("exists") };
    let hash = hygie_core::auth::password::hash(hygie_core::auth::policy::normalise(PASSWORD).into()).await.unwrap();
    accounts::set_password_hash(s.db(), &s.clock, id, hash.as_stored()).await.unwrap();
    accounts::activate(s.db(), id).await.unwrap();
    (id, address)
}

fn addresses(body: &serde_json::Value) -> Vec<String> {
    let list = body.get("entries").unwrap_or(body);
    list.as_array().unwrap().iter().map(|e| e["address"].as_str().unwrap().to_string()).collect()
}

/// The first page of a search by words alone.
async fn search(b: &Browser, q: &str) -> Answer {
    b.run(DirectorySearch { query: DirectoryQuery { q: q.into(), ..Default::default() }, page: 0 }).await
}

fn suggest(q: &str) -> DirectorySuggest {
    DirectorySuggest { q: q.into() }
}

fn entry(key: &str) -> DirectoryEntryGet {
    DirectoryEntryGet { key: key.into() }
}

async fn the_directory_serves_signed_in_people_and_never_the_liste_rouge(engine: Engine) {
    let s = TestServer::start(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extraction.txt");
    std::fs::write(&file, extract()).unwrap();
    // Awaited, not blocking: the server under test runs on this same runtime, and a blocked
    // runtime would hold its open SQLite write transaction hostage.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hygie"))
        .args(["directory", "import"])
        .arg(&file)
        .env("HYGIE_DATABASE_URL", s.config.database_url())
        .env("HYGIE_DATA_DIR", &s.config.data_dir)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("line 4: 3 fields instead of 31"), "{stdout}");
    assert!(stdout.contains("3 entries imported from 4 lines, 1 malformed"), "{stdout}");

    let (_, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let (zoe_id, zoe) = colleague(&s, "zoe.martinot", "Martinot", "Zoé").await;
    let (a, z) = (Browser::new(&s), Browser::new(&s));
    sign_in(&s, &a, &alice, 1).await;

    // Signed-in people only.
    let anon = Browser::new(&s);
    assert_eq!(search(&anon, "mart").await.status, 401);
    assert_eq!(anon.run(suggest("mart")).await.status, 401);

    // Own accounts and the extract together, by name order; accents and case do not matter.
    let r = search(&a, "MART").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        addresses(&r.body),
        ["jean.martin@med.mssante.fr", "lea.martinez@med.mssante.fr", zoe.as_str()],
        "{engine:?}"
    );
    assert_eq!(r.body["has_more"], false);
    let zoe_entry = &r.body["entries"][2];
    assert_eq!(zoe_entry["hygie"], true);
    assert_eq!(zoe_entry["phone"], json!(null), "the phone is not published by default");
    assert_eq!(addresses(&search(&a, "zoé mar").await.body), [zoe.as_str()]);
    let query = DirectoryQuery {
        profession: "médecin".into(),
        specialty: "cardio".into(),
        place: "Lyon".into(),
        ..Default::default()
    };
    assert_eq!(addresses(&a.run(DirectorySearch { query, page: 0 }).await.body), ["jean.martin@med.mssante.fr"]);

    // Suggestions for the composer: from two characters.
    assert_eq!(a.run(suggest("m")).await.body, json!([]));
    let sug = a.run(suggest("pel")).await;
    assert_eq!(addresses(&sug.body), ["remi.pelletier@med.mssante.fr"]);
    assert_eq!(sug.body[0]["specialty"], "Psychiatrie");

    // An entry by its key; an unknown or malformed key is not found.
    let key = r.body["entries"][0]["key"].as_str().unwrap().to_string();
    let e = a.run(entry(&key)).await;
    assert_eq!(e.body["last_name"], "MARTIN");
    assert_eq!(a.run(entry("n999-1")).await.status, 404);
    assert_eq!(a.run(entry("'; DROP TABLE accounts; --")).await.status, 404);

    // Zoé chooses the liste rouge in her settings: from then on, nobody finds her.
    sign_in(&s, &z, &zoe, 2).await;
    let prefs = |liste_rouge| SavePreferences {
        prefs: PreferencesView { notify_new_mail: true, liste_rouge, publish_phone: true, no_paper: true },
    };
    assert_eq!(z.run(prefs(false)).await.status, 200);
    let shown = a.run(entry(&format!("c{zoe_id}"))).await;
    assert_eq!((shown.body["phone"].as_str(), shown.body["no_paper"].as_bool()), (Some("+33611112222"), Some(true)));
    assert_eq!(z.run(prefs(true)).await.status, 200);
    for q in ["mart", "martinot", "zoé", "zoe.martinot@hygie.localhost", "zoe.martinot@"] {
        assert!(!addresses(&search(&a, q).await.body).contains(&zoe), "{q} found the liste rouge");
        assert!(!addresses(&a.run(suggest(q)).await.body).contains(&zoe), "{q}");
    }
    let query = DirectoryQuery {
        profession: "infirmier".into(),
        place: "69003".into(),
        mailbox_type: "PER".into(),
        ..Default::default()
    };
    assert_eq!(addresses(&a.run(DirectorySearch { query, page: 0 }).await.body), Vec::<String>::new());
    assert_eq!(a.run(entry(&format!("c{zoe_id}"))).await.status, 404);

    // The trail: each query with its words, never what it found; the privacy choice too.
    let trail = hygie_core::audit::latest(s.db(), 1000).await.unwrap();
    let searches: Vec<_> = trail.iter().filter(|r| r.action == "directory.search").collect();
    assert!(searches.iter().any(|r| r.object.as_deref() == Some("q=\"MART\"")), "{searches:?}");
    assert!(trail.iter().any(|r| r.action == "directory.suggest" && r.object.as_deref() == Some("q=\"pel\"")));
    assert!(trail
        .iter()
        .any(|r| r.action == "settings.preferences"
            && r.object.as_deref().is_some_and(|o| o.contains("liste_rouge:true"))));
    for r in &trail {
        let o = r.object.as_deref().unwrap_or_default();
        assert!(!o.contains("mssante.fr") && !o.contains("Psychiatrie"), "a result in the trail: {o}");
    }

    // No harvesting: a per-account limit on searches.
    let mut last = 0;
    for i in 0..400 {
        last = search(&a, &format!("x{i}")).await.status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the search limit was never reached");
    s.stop().await;
}
