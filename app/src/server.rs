//! Server-side glue for the UI: the services the server functions use, provided as Leptos
//! context by the `server` crate, and the request facts its middleware resolved.

use std::sync::Arc;

use hygie_core::clock::Clock;
use hygie_core::contact::{self, ContactError, ContactRequest, ContactSettings};
use hygie_core::{audit, Db};
use leptos::prelude::*;

use crate::api::SiteInfo;
use crate::domain::contact::{ContactForm, ContactInput};
use crate::error::AppError;

/// Everything a server function may need, built once at start-up. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub site: Arc<SiteInfo>,
    pub contact: ContactSettings,
}

/// The client's address as resolved by the server's middleware (peer address, or the
/// load balancer's `X-Forwarded-For` when configured to trust it).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The nonce of this response's Content-Security-Policy, set by the server's middleware.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

pub fn services() -> Result<Services, AppError> {
    use_context::<Services>().ok_or_else(|| AppError::internal("services missing from context"))
}

/// The client IP of the request being served, if known.
pub fn client_ip() -> Option<String> {
    use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<ClientIp>().map(|c| c.0.clone()))
}

/// Validates, stores and forwards a contact request; every outcome goes to the audit trail.
/// Shared by the server function (JavaScript) and the plain form POST (no JavaScript).
pub async fn submit_contact(svc: &Services, ip: Option<&str>, input: &ContactInput) -> Result<i64, AppError> {
    let form = match ContactForm::parse(input) {
        Ok(f) => f,
        Err(errors) => {
            let ev = audit::AuditEvent::new(
                audit::Actor::Anonymous,
                "portal.contact.submit",
                audit::Outcome::Failure("invalid".into()),
            )
            .ip(ip.map(str::to_owned));
            audit::append(&svc.db, svc.clock.as_ref(), ev).await.map_err(AppError::internal)?;
            return Err(AppError::Invalid(errors));
        }
    };
    let req = ContactRequest {
        name: form.name,
        email: form.email.as_str().to_string(),
        subject: form.subject,
        message: form.message,
    };
    match contact::submit(&svc.db, svc.clock.as_ref(), &svc.contact, ip, &req).await {
        Ok(id) => Ok(id),
        Err(ContactError::RateLimited { retry_after_ms }) => {
            Err(AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) })
        }
        Err(e) => Err(AppError::internal(e)),
    }
}
