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
async fn edited_record_with_recomputed_hash_is_detected_at_the_next_one() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_700_000_000_000);
        seed(&t.db, &clock, 6).await;
        // A forger who recomputes the edited record's own hash still breaks the link to it.
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
        assert_eq!(report.first_break, Some(Break { seq: 4, reason: BreakReason::ChainMismatch }));
    }
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
