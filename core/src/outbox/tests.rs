use super::*;
use crate::clock::ManualClock;
use crate::store::testing::TestDb;

fn email(to: &str) -> Outgoing {
    Outgoing {
        channel: Channel::Email,
        category: "test.mail".into(),
        recipient: to.into(),
        subject: Some("Accusé de réception".into()),
        body: "Bonjour,\nvotre demande est enregistrée.".into(),
        reply_to: Some("dr.martin@example.org".into()),
    }
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hygie-outbox-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn backoff_doubles_and_is_capped() {
    let p = RetryPolicy { base_ms: 1_000, max_ms: 10_000, max_attempts: 5, lease_ms: 1, ..RetryPolicy::default() };
    assert_eq!(p.delay_after(1), 1_000);
    assert_eq!(p.delay_after(2), 2_000);
    assert_eq!(p.delay_after(4), 8_000);
    assert_eq!(p.delay_after(5), 10_000);
    assert_eq!(p.delay_after(60), 10_000);
}

#[tokio::test]
async fn delivered_to_dev_outbox_and_body_erased() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let dir = temp_dir();
        let transport = Transport::dev(&dir);
        let id = enqueue(&t.db, &clock, &email("support@hygie.example")).await.unwrap();
        let report = run_once(&t.db, &clock, &RetryPolicy::default(), &transport, 10).await.unwrap();
        assert_eq!(report, PassReport { sent: 1, retried: 0, failed: 0 });

        let entries = DevOutbox::new(&dir).list().unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.id, id);
        assert_eq!(e.to, "support@hygie.example");
        assert_eq!(e.subject.as_deref(), Some("Accusé de réception"));
        assert_eq!(e.reply_to.as_deref(), Some("dr.martin@example.org"));
        assert_eq!(e.body, "Bonjour,\nvotre demande est enregistrée.\n");
        assert_eq!(DevOutbox::new(&dir).get(id).unwrap().as_ref(), Some(e));

        let body: Option<String> = crate::with_pool!(&t.db, p => sqlx::query_scalar("SELECT body FROM outbox WHERE id = $1")
            .bind(id).fetch_one(p).await.unwrap());
        assert_eq!(body, None, "a delivered body must not stay in the database");
        assert_eq!(stats(&t.db).await.unwrap(), QueueStats { pending: 0, sent: 1, failed: 0 });
        // Nothing left to do on the next pass.
        assert_eq!(
            run_once(&t.db, &clock, &RetryPolicy::default(), &transport, 10).await.unwrap(),
            PassReport::default()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_then_given_up() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let policy =
            RetryPolicy { base_ms: 1_000, max_ms: 60_000, max_attempts: 3, lease_ms: 30_000, ..RetryPolicy::default() };
        // A port nothing listens on: connection refused, a transient error.
        let transport = Transport {
            email: EmailTransport::smtp(SmtpSettings {
                host: "127.0.0.1".into(),
                port: 9,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from: "Hygie <noreply@hygie.example>".into(),
                timeout: std::time::Duration::from_secs(2),
            })
            .unwrap(),
            sms: SmsTransport::Disabled,
            mss: MssTransport::Dev(DevOutbox::new(temp_dir())),
        };
        enqueue(&t.db, &clock, &email("a@example.org")).await.unwrap();

        assert_eq!(run_once(&t.db, &clock, &policy, &transport, 10).await.unwrap().retried, 1);
        // Not due yet: nothing happens before the backoff delay.
        clock.advance_ms(999);
        assert_eq!(run_once(&t.db, &clock, &policy, &transport, 10).await.unwrap(), PassReport::default());
        clock.advance_ms(1);
        assert_eq!(run_once(&t.db, &clock, &policy, &transport, 10).await.unwrap().retried, 1);
        clock.advance_ms(2_000);
        assert_eq!(run_once(&t.db, &clock, &policy, &transport, 10).await.unwrap().failed, 1);
        assert_eq!(stats(&t.db).await.unwrap(), QueueStats { pending: 0, sent: 0, failed: 1 });
        let (attempts, err): (i64, Option<String>) = crate::with_pool!(&t.db, p => sqlx::query_as(
            "SELECT attempts, last_error FROM outbox").fetch_one(p).await.unwrap());
        assert_eq!(attempts, 3);
        assert!(err.unwrap().starts_with("SMTP"));
    }
}

#[tokio::test]
async fn sms_without_gateway_fails_permanently_at_once() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let transport = Transport {
            email: EmailTransport::Dev(DevOutbox::new(temp_dir())),
            sms: SmsTransport::Disabled,
            mss: MssTransport::Dev(DevOutbox::new(temp_dir())),
        };
        let sms = Outgoing {
            channel: Channel::Sms,
            category: "test.sms".into(),
            recipient: "+33612345678".into(),
            subject: None,
            body: "code".into(),
            reply_to: None,
        };
        enqueue(&t.db, &clock, &sms).await.unwrap();
        let r = run_once(&t.db, &clock, &RetryPolicy::default(), &transport, 10).await.unwrap();
        assert_eq!(r, PassReport { sent: 0, retried: 0, failed: 1 });
        assert!(crate::audit::verify(&t.db).await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn a_claim_is_exclusive_until_its_lease_expires() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let policy = RetryPolicy { lease_ms: 60_000, ..RetryPolicy::default() };
        for i in 0..5 {
            enqueue(&t.db, &clock, &email(&format!("p{i}@example.org"))).await.unwrap();
        }
        let first = claim(&t.db, &clock, &policy, 3).await.unwrap();
        assert_eq!(first.len(), 3);
        let second = claim(&t.db, &clock, &policy, 10).await.unwrap();
        assert_eq!(second.len(), 2, "claimed rows must not be handed out twice");
        assert!(first.iter().all(|a| second.iter().all(|b| a.id != b.id)));
        assert!(claim(&t.db, &clock, &policy, 10).await.unwrap().is_empty());
        // A worker that died: its lease runs out and the rows are claimable again.
        clock.advance_ms(60_000);
        assert_eq!(claim(&t.db, &clock, &policy, 10).await.unwrap().len(), 5);
    }
}

#[tokio::test]
async fn concurrent_workers_never_send_twice() {
    for t in TestDb::both().await {
        let clock = std::sync::Arc::new(ManualClock::new(1_800_000_000_000));
        for i in 0..40 {
            enqueue(&t.db, clock.as_ref(), &email(&format!("p{i}@example.org"))).await.unwrap();
        }
        let dir = temp_dir();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let db = t.db.clone();
            let clock = clock.clone();
            let dir = dir.clone();
            tasks.push(tokio::spawn(async move {
                let transport = Transport::dev(&dir);
                let mut sent = 0;
                loop {
                    let r = run_once(&db, clock.as_ref(), &RetryPolicy::default(), &transport, 3).await.unwrap();
                    if r == PassReport::default() {
                        break sent;
                    }
                    sent += r.sent;
                }
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert_eq!(total, 40);
        assert_eq!(DevOutbox::new(&dir).list().unwrap().len(), 40);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A one-shot HTTP server that records the request it gets and answers with `status`.
async fn one_shot_http(status: u16) -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        sock.write_all(reply.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf).to_string()
    });
    (url, task)
}

fn sms(to: &str) -> Outgoing {
    Outgoing {
        channel: Channel::Sms,
        category: "test.sms".into(),
        recipient: to.into(),
        subject: None,
        body: "Hygie : votre code est 123456".into(),
        reply_to: None,
    }
}

fn gateway(url: String, token: &str) -> Transport {
    let gw = SmsGateway::new(url, secrecy::SecretString::from(token)).unwrap();
    Transport {
        email: EmailTransport::Dev(DevOutbox::new(temp_dir())),
        sms: SmsTransport::Gateway(gw),
        mss: MssTransport::Dev(DevOutbox::new(temp_dir())),
    }
}

#[tokio::test]
async fn sms_gateway_gets_the_documented_json() {
    let (url, server) = one_shot_http(202).await;
    gateway(url, "tok-123").send(42, 0, &sms("+33612345678")).await.unwrap();
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /v1/messages HTTP/1.1"));
    assert!(request.to_ascii_lowercase().contains("authorization: bearer tok-123"));
    assert!(request.to_ascii_lowercase().contains("content-type: application/json"));
    let body = request.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"to": "+33612345678", "text": "Hygie : votre code est 123456", "reference": "hygie-outbox-42"})
    );
}

#[tokio::test]
async fn sms_gateway_refusal_is_permanent_and_overload_is_retried() {
    let (url, server) = one_shot_http(400).await;
    let err = gateway(url, "t").send(1, 0, &sms("+33612345678")).await.unwrap_err();
    server.await.unwrap();
    assert!(err.is_permanent(), "{err}");

    let (url, server) = one_shot_http(503).await;
    let err = gateway(url, "t").send(1, 0, &sms("+33612345678")).await.unwrap_err();
    server.await.unwrap();
    assert!(!err.is_permanent(), "{err}");
    assert!(!TransportError::GatewayStatus(429).is_permanent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_claiming_at_once_never_get_the_same_row() {
    for t in TestDb::both().await {
        let clock = std::sync::Arc::new(ManualClock::new(1_800_000_000_000));
        for i in 0..60 {
            enqueue(&t.db, clock.as_ref(), &email(&format!("p{i}@example.org"))).await.unwrap();
        }
        // Two pools on one database, as two Hygie instances have.
        let other = Db::connect(&t.url, crate::audit::AuditKey::for_tests()).await.unwrap();
        let mut tasks = Vec::new();
        for (n, db) in [t.db.clone(), other.clone()].into_iter().enumerate() {
            let clock = clock.clone();
            tasks.push(tokio::spawn(async move {
                let owner = format!("instance-{n}");
                let mut got = Vec::new();
                loop {
                    let batch = claim_as(&db, clock.as_ref(), &RetryPolicy::default(), 4, &owner).await.unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|c| (c.id, c.lease_owner)));
                    tokio::task::yield_now().await;
                }
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_unstable();
        let mut ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
        ids.dedup();
        assert_eq!((all.len(), ids.len()), (60, 60), "every row claimed once, by one instance");
        // The database names, for each row, the instance that got it.
        let leases: Vec<(i64, Option<String>)> = crate::with_pool!(&t.db, p => sqlx::query_as(
            "SELECT id, lease_owner FROM outbox ORDER BY id").fetch_all(p).await.unwrap());
        let leases: Vec<(i64, String)> = leases.into_iter().map(|(id, o)| (id, o.unwrap_or_default())).collect();
        assert_eq!(leases, all);
        other.close().await;
    }
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_records_nothing() {
    for t in TestDb::both().await {
        let clock = ManualClock::new(1_800_000_000_000);
        let policy = RetryPolicy { lease_ms: 60_000, ..RetryPolicy::default() };
        let id = enqueue(&t.db, &clock, &email("p@example.org")).await.unwrap();
        let slow = claim_as(&t.db, &clock, &policy, 10, "slow").await.unwrap().remove(0);
        assert_eq!(slow.id, id);
        // Renewed while it holds the lease, it keeps the row past the first minute.
        clock.advance_ms(50_000);
        assert!(renew(&t.db, &clock, &policy, &slow).await.unwrap());
        clock.advance_ms(50_000);
        assert!(claim_as(&t.db, &clock, &policy, 10, "other").await.unwrap().is_empty(), "renewed: still held");
        // Then it stalls past its lease: the row is claimable again, and taken.
        clock.advance_ms(60_000);
        assert!(!renew(&t.db, &clock, &policy, &slow).await.unwrap(), "a lease that ran out is not renewed");
        let error = TransportError::GatewayStatus(503);
        assert_eq!(
            mark_attempt_failed(&t.db, &clock, &policy, &slow, &error, false).await.unwrap(),
            Attempt::LeaseLost
        );
        assert!(!mark_sent(&t.db, &clock, &slow).await.unwrap(), "ran out, nobody else yet: still not its to mark");
        let fresh = claim_as(&t.db, &clock, &policy, 10, "fresh").await.unwrap().remove(0);
        assert_eq!(fresh.id, id);
        assert!(!mark_sent(&t.db, &clock, &slow).await.unwrap(), "another worker holds it now");
        let (status, attempts, owner): (String, i64, Option<String>) = crate::with_pool!(&t.db, p => sqlx::query_as(
            "SELECT status, attempts, lease_owner FROM outbox WHERE id = $1").bind(id).fetch_one(p).await.unwrap());
        assert_eq!((status.as_str(), attempts, owner.as_deref()), ("pending", 0, Some("fresh")));
        // The holder records its outcome.
        assert!(mark_sent(&t.db, &clock, &fresh).await.unwrap());
        assert_eq!(stats(&t.db).await.unwrap(), QueueStats { pending: 0, sent: 1, failed: 0 });
        assert!(!mark_sent(&t.db, &clock, &fresh).await.unwrap(), "once");
    }
}
