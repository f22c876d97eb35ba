//! Contact requests from the public portal's assistance form: stored, forwarded to the support
//! address through the outbox, rate-limited per IP and recorded in the audit trail.

use crate::audit::{self, Actor, AuditEvent, Outcome};
use crate::clock::{format_utc, Clock};
use crate::outbox::{self, Channel, Outgoing};
use crate::ratelimit::{self, Decision, Limit};
use crate::store::{Db, StoreError};

/// A request that already passed validation (see `app::domain::contact`).
#[derive(Clone)]
pub struct ContactRequest {
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ContactSettings {
    pub support_address: String,
    pub limit: Limit,
}

impl From<sqlx::Error> for ContactError {
    fn from(e: sqlx::Error) -> Self {
        ContactError::Store(StoreError::Query(e))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("too many requests from this address")]
    RateLimited { retry_after_ms: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores and forwards a request; returns its reference number.
pub async fn submit(
    db: &Db,
    clock: &dyn Clock,
    settings: &ContactSettings,
    ip: Option<&str>,
    req: &ContactRequest,
) -> Result<i64, ContactError> {
    let ip_key = format!("contact:ip:{}", ratelimit::ip_key(ip.unwrap_or("unknown")));
    if let Decision::Limited { retry_after_ms } = ratelimit::hit(db, clock, &ip_key, settings.limit).await? {
        let ev = AuditEvent::new(Actor::Anonymous, "portal.contact.submit", Outcome::Denied("rate_limited".into()))
            .ip(ip.map(str::to_owned));
        audit::append(db, clock, ev).await?;
        return Err(ContactError::RateLimited { retry_after_ms });
    }

    let now = clock.now_ms();
    let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO contact_requests (created_ms, name, email, subject, message) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(now)
        .bind(&req.name)
        .bind(&req.email)
        .bind(&req.subject)
        .bind(&req.message)
        .fetch_one(p)
        .await?);

    let copy = Outgoing {
        channel: Channel::Email,
        category: "contact.copy".into(),
        recipient: settings.support_address.clone(),
        subject: Some(format!("[Hygie assistance #{id}] {}", req.subject)),
        body: format!(
            "Nouvelle demande reçue par le formulaire d'assistance du portail Hygie.\n\n\
             Référence : #{id}\nReçue le : {}\nNom : {}\nAdresse de contact : {}\nObjet : {}\n\n\
             Message :\n{}\n",
            format_utc(now),
            req.name,
            req.email,
            req.subject,
            req.message
        ),
        reply_to: Some(req.email.clone()),
    };
    let outbox_id = outbox::enqueue(db, clock, &copy).await?;
    crate::with_pool!(db, p => { sqlx::query("UPDATE contact_requests SET outbox_id = $1 WHERE id = $2")
        .bind(outbox_id).bind(id).execute(p).await?; });

    let ev = AuditEvent::new(Actor::Anonymous, "portal.contact.submit", Outcome::Success)
        .ip(ip.map(str::to_owned))
        .object(format!("contact:{id}"));
    audit::append(db, clock, ev).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    fn request() -> ContactRequest {
        ContactRequest {
            name: "Dr Élise Martin".into(),
            email: "elise.martin@example.org".into(),
            subject: "Code non reçu".into(),
            message: "Je ne reçois pas le code par SMS depuis ce matin.".into(),
        }
    }

    #[tokio::test]
    async fn stores_forwards_audits_and_limits() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let settings = ContactSettings {
                support_address: "support@hygie.example".into(),
                limit: Limit { max: 2, window_ms: 3_600_000 },
            };
            let id = submit(&t.db, &clock, &settings, Some("192.0.2.7"), &request()).await.unwrap();
            submit(&t.db, &clock, &settings, Some("192.0.2.7"), &request()).await.unwrap();
            let third = submit(&t.db, &clock, &settings, Some("192.0.2.7"), &request()).await;
            assert!(matches!(third, Err(ContactError::RateLimited { .. })));
            // Another visitor is not affected.
            submit(&t.db, &clock, &settings, Some("192.0.2.8"), &request()).await.unwrap();

            let (name, outbox_id): (String, Option<i64>) = crate::with_pool!(&t.db, p => sqlx::query_as(
                "SELECT name, outbox_id FROM contact_requests WHERE id = $1").bind(id).fetch_one(p).await.unwrap());
            assert_eq!(name, "Dr Élise Martin");
            let claimed = outbox::claim(&t.db, &clock, &outbox::RetryPolicy::default(), 10).await.unwrap();
            assert_eq!(claimed.len(), 3);
            let first = claimed.iter().find(|c| Some(c.id) == outbox_id).unwrap();
            assert_eq!(first.message.recipient, "support@hygie.example");
            assert_eq!(first.message.reply_to.as_deref(), Some("elise.martin@example.org"));
            assert!(first.message.subject.as_deref().unwrap().contains("Code non reçu"));
            assert!(first.message.body.contains("depuis ce matin"));

            let trail = audit::latest(&t.db, 10).await.unwrap();
            let actions: Vec<_> = trail.iter().map(|r| (r.action.as_str(), r.outcome.as_str())).collect();
            assert_eq!(
                actions,
                vec![
                    ("portal.contact.submit", "success"),
                    ("portal.contact.submit", "denied:rate_limited"),
                    ("portal.contact.submit", "success"),
                    ("portal.contact.submit", "success"),
                ]
            );
            assert!(trail.iter().all(|r| r.ip.is_some()));
            // The trail names the request, never its content.
            assert!(trail.iter().all(|r| !format!("{r:?}").contains("SMS")));
            assert!(audit::verify(&t.db).await.unwrap().is_intact());
        }
    }

    #[tokio::test]
    async fn addresses_of_one_ipv6_64_share_the_limit() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let settings = ContactSettings {
                support_address: "support@hygie.example".into(),
                limit: Limit { max: 2, window_ms: 3_600_000 },
            };
            submit(&t.db, &clock, &settings, Some("2001:db8:7:7::1"), &request()).await.unwrap();
            submit(&t.db, &clock, &settings, Some("2001:db8:7:7:dead:beef:0:2"), &request()).await.unwrap();
            let third = submit(&t.db, &clock, &settings, Some("2001:db8:7:7:ffff:ffff:ffff:ffff"), &request()).await;
            assert!(matches!(third, Err(ContactError::RateLimited { .. })), "a new address in the same /64");
            // The next /64 is someone else.
            submit(&t.db, &clock, &settings, Some("2001:db8:7:8::1"), &request()).await.unwrap();
            // The trail keeps each full address.
            let trail = audit::latest(&t.db, 10).await.unwrap();
            assert_eq!(trail[1].ip.as_deref(), Some("2001:db8:7:7:ffff:ffff:ffff:ffff"));
        }
    }
}
