use super::*;
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

async fn seed(db: &Db, clock: &ManualClock, n: usize) {
    for i in 0..n {
        clock.advance_ms(1_000);
        let ev = AuditEvent::new(Actor::Anonymous, "portal.contact", Outcome::Success)
            .ip(Some(format!("192.0.2.{i}")))
            .object(format!("contact:{i}"));
        append(db, clock, ev).await.unwrap();
    }
}

async fn exec(db: &Db, sql: &str) {
    crate::with_pool!(db, p => { sqlx::query(sql).execute(p).await.unwrap(); });
}

#[test]
fn hash_depends_on_every_field() {
    let base = record_hash(GENESIS_HASH, 1, 10, "anonymous", Some("1.2.3.4"), "a", Some("o"), "success");
    assert_eq!(base.len(), 64);
    let variants = [
        record_hash("1", 1, 10, "anonymous", Some("1.2.3.4"), "a", Some("o"), "success"),
        record_hash(GENESIS_HASH, 2, 10, "anonymous", Some("1.2.3.4"), "a", Some("o"), "success"),
        record_hash(GENESIS_HASH, 1, 11, "anonymous", Some("1.2.3.4"), "a", Some("o"), "success"),
        record_hash(GENESIS_HASH, 1, 10, "system", Some("1.2.3.4"), "a", Some("o"), "success"),
        record_hash(GENESIS_HASH, 1, 10, "anonymous", None, "a", Some("o"), "success"),
        record_hash(GENESIS_HASH, 1, 10, "anonymous", Some("1.2.3.4"), "b", Some("o"), "success"),
        record_hash(GENESIS_HASH, 1, 10, "anonymous", Some("1.2.3.4"), "a", None, "success"),
        record_hash(GENESIS_HASH, 1, 10, "anonymous", Some("1.2.3.4"), "a", Some("o"), "failure:x"),
        // Moving a character from one field to the next must change the hash.
        record_hash(GENESIS_HASH, 1, 10, "anonymous", Some("1.2.3.4"), "ao", Some(""), "success"),
    ];
    for v in variants {
        assert_ne!(v, base);
    }
}

#[tokio::test]
async fn intact_chain_verifies_on_both_engines() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        let empty = verify(&t.db).await.unwrap();
        assert_eq!(empty, VerifyReport { records: 0, first_break: None });
        seed(&t.db, &clock, 5).await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report, VerifyReport { records: 5, first_break: None }, "{:?}", t.db.backend());
        let tail = latest(&t.db, 2).await.unwrap();
        assert_eq!(tail.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 4]);
        assert_eq!(tail[0].prev_hash, tail[1].hash);
    }
}

#[tokio::test]
async fn a_batch_appended_at_once_chains_as_one_by_one() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 2).await;
        let events: Vec<AuditEvent> = (0..3)
            .map(|i| AuditEvent::new(Actor::System, "mail.receive", Outcome::Success).object(format!("message:{i}")))
            .collect();
        crate::with_pool!(&t.db, p => {
            let mut tx = p.begin_write().await.unwrap();
            tx.append_audits(t.db.audit_key(), clock.now_ms(), &events).await.unwrap();
            tx.append_audits(t.db.audit_key(), clock.now_ms(), &[]).await.unwrap();
            tx.commit().await.unwrap();
        });
        seed(&t.db, &clock, 1).await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report, VerifyReport { records: 6, first_break: None }, "{:?}", t.db.backend());
        let tail = latest(&t.db, 6).await.unwrap();
        assert_eq!(tail.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6, 5, 4, 3, 2, 1]);
        assert_eq!(tail[1].object.as_deref(), Some("message:2"));
    }
}

#[tokio::test]
async fn edited_record_is_detected() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        exec(&t.db, "UPDATE audit_log SET outcome = 'failure:x' WHERE seq = 3").await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 3, reason: BreakReason::HashMismatch }));
    }
}

#[tokio::test]
async fn edited_record_with_recomputed_unkeyed_hash_is_detected() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        // A forger with the database but not the key cannot make the edited record's seal.
        let r: AuditRecord = crate::with_pool!(&t.db, p => sqlx::query_as(
            "SELECT seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash FROM audit_log WHERE seq = 3")
            .fetch_one(p).await.unwrap());
        let forged = record_hash(
            &r.prev_hash,
            r.seq,
            r.at_ms,
            &r.actor,
            r.ip.as_deref(),
            "forged",
            r.object.as_deref(),
            &r.outcome,
        );
        crate::with_pool!(&t.db, p => { sqlx::query("UPDATE audit_log SET action = 'forged', hash = $1 WHERE seq = 3")
            .bind(&forged).execute(p).await.unwrap(); });
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 3, reason: BreakReason::HashMismatch }));
        // Even with a key, a forger who reseals only that record breaks the link to the next.
        let resealed = sealed_hash(
            t.db.audit_key(),
            &r.prev_hash,
            r.seq,
            r.at_ms,
            &r.actor,
            r.ip.as_deref(),
            "forged",
            r.object.as_deref(),
            &r.outcome,
        );
        crate::with_pool!(&t.db, p => { sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 3")
            .bind(&resealed).execute(p).await.unwrap(); });
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 4, reason: BreakReason::ChainMismatch }));
    }
}

/// Write access to the database alone cannot rebuild a chain that verifies: every record is
/// recomputed in order, hashes, links and head included, without the key.
#[tokio::test]
async fn a_chain_rebuilt_without_the_key_does_not_verify() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 4).await;
        let records: Vec<AuditRecord> = crate::with_pool!(&t.db, p => sqlx::query_as(
            "SELECT seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash FROM audit_log ORDER BY seq")
            .fetch_all(p).await.unwrap());
        let mut prev = GENESIS_HASH.to_string();
        for r in &records {
            let object = if r.seq == 2 { Some("contact:forged") } else { r.object.as_deref() };
            let h = record_hash(&prev, r.seq, r.at_ms, &r.actor, r.ip.as_deref(), &r.action, object, &r.outcome);
            crate::with_pool!(&t.db, p => { sqlx::query("UPDATE audit_log SET object = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
                .bind(object).bind(&prev).bind(&h).bind(r.seq).execute(p).await.unwrap(); });
            prev = h;
        }
        crate::with_pool!(&t.db, p => { sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
            .bind(&prev).execute(p).await.unwrap(); });
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 1, reason: BreakReason::HashMismatch }));
    }
}

/// A trail begun before the key: its older records are checked as unkeyed links, and the first
/// keyed record seals them (its seal covers the previous hash).
#[tokio::test]
async fn records_older_than_the_key_are_sealed_by_the_first_keyed_one() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        let key = AuditKey::generate(4);
        let db = t.db.clone().with_audit_key(key.clone());
        seed(&db, &clock, 3).await;
        // Records 1 to 3 are plain SHA-256 links, as an older Hygie wrote them.
        let third: String = crate::with_pool!(&db, p => sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 3")
            .fetch_one(p).await.unwrap());
        let r3: AuditRecord = crate::with_pool!(&db, p => sqlx::query_as(
            "SELECT seq, at_ms, actor, ip, action, object, outcome, prev_hash, hash FROM audit_log WHERE seq = 3")
            .fetch_one(p).await.unwrap());
        assert_eq!(
            third,
            record_hash(
                &r3.prev_hash,
                3,
                r3.at_ms,
                &r3.actor,
                r3.ip.as_deref(),
                &r3.action,
                r3.object.as_deref(),
                &r3.outcome
            )
        );
        seed(&db, &clock, 3).await;
        assert_eq!(verify(&db).await.unwrap(), VerifyReport { records: 6, first_break: None });
        // Another key does not verify the keyed part.
        let other = t.db.clone().with_audit_key(AuditKey::generate(4));
        assert_eq!(
            verify(&other).await.unwrap().first_break,
            Some(Break { seq: 4, reason: BreakReason::HashMismatch })
        );
        // Rewriting record 3 as an unkeyed link breaks at the first keyed record.
        let forged = record_hash(
            &r3.prev_hash,
            3,
            r3.at_ms,
            &r3.actor,
            r3.ip.as_deref(),
            "forged",
            r3.object.as_deref(),
            &r3.outcome,
        );
        crate::with_pool!(&db, p => { sqlx::query("UPDATE audit_log SET action = 'forged', hash = $1 WHERE seq = 3")
            .bind(&forged).execute(p).await.unwrap(); });
        assert_eq!(verify(&db).await.unwrap().first_break, Some(Break { seq: 4, reason: BreakReason::ChainMismatch }));
    }
}

#[test]
fn printable_text_has_no_control_characters() {
    assert_eq!(printable("mail.send"), "mail.send");
    assert_eq!(printable("Firefox é"), "Firefox é");
    let hostile = "x\u{1b}[2J\r\nfake line\u{202e}gnp.exe\\";
    let shown = printable(hostile);
    assert!(!shown.chars().any(|c| c.is_control() || c == '\u{202e}'), "{shown}");
    assert!(shown.contains("\\u{1b}") && shown.contains("\\u{202e}"), "{shown}");
    assert_ne!(printable("a\\u{1b}"), printable("a\u{1b}"), "an escape cannot be faked by typing one");
}

#[tokio::test]
async fn deleted_record_is_detected() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        exec(&t.db, "DELETE FROM audit_log WHERE seq = 4").await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 4, reason: BreakReason::MissingRecord }));
    }
}

#[tokio::test]
async fn deleted_last_records_are_detected() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        exec(&t.db, "DELETE FROM audit_log WHERE seq >= 5").await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 5, reason: BreakReason::TruncatedEnd }));
    }
}

#[tokio::test]
async fn reordered_records_are_detected() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        // Swap records 2 and 3 whole (content and hashes), keeping the sequence numbers.
        exec(&t.db, "UPDATE audit_log SET seq = -2 WHERE seq = 2").await;
        exec(&t.db, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
        exec(&t.db, "UPDATE audit_log SET seq = 3 WHERE seq = -2").await;
        let report = verify(&t.db).await.unwrap();
        assert_eq!(report.first_break, Some(Break { seq: 2, reason: BreakReason::ChainMismatch }));
    }
}

#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    for t in TestDb::both().await {
        let clock = std::sync::Arc::new(ManualClock::new(1_700_000_000_000));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = t.db.clone();
            let clock = clock.clone();
            tasks.push(tokio::spawn(async move {
                let ev = AuditEvent::new(Actor::System, "test.concurrent", Outcome::Success).object(i.to_string());
                append(&db, clock.as_ref(), ev).await.unwrap()
            }));
        }
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
        assert!(verify(&t.db).await.unwrap().is_intact());
    }
}
