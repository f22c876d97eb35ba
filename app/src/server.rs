//! Server-side glue for the UI: the services the server functions use, provided as Leptos
//! context by the `server` crate, and the request facts its middleware resolved.

use std::sync::Arc;

use hygie_core::accounts::{self, Account};
use hygie_core::auth::holder::Holder;
pub use hygie_core::auth::session::Level;
use hygie_core::auth::session::{Session, SessionPolicy};
use hygie_core::auth::signin::Ctx;
use hygie_core::clock::Clock;
use hygie_core::contact::{self, ContactError, ContactRequest, ContactSettings};
use hygie_core::mail::Mailbox;
use hygie_core::ratelimit::Limit;
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
    pub auth: AuthSettings,
    /// The instance's mail domains and limits, for every holder's [`Mailbox`].
    pub mail: Arc<hygie_core::mail::MailPolicy>,
    /// Draws PDF attachments' pages for preview.
    pub previewer: hygie_core::mail::preview::Previewer,
    /// This instance as a WebAuthn relying party; `None` when its public address cannot be one
    /// (an IP address): then there are no passkeys.
    pub passkeys: Option<Arc<hygie_core::auth::passkeys::RelyingParty>>,
}

impl Services {
    /// The holder's mailbox: every mail verb goes through it.
    pub fn mailbox<'a>(&'a self, holder: &'a Holder) -> Mailbox<'a> {
        Mailbox::new(&self.db, self.clock.as_ref(), holder, &self.mail)
    }

    /// The relying party for passkey ceremonies, or the error that says there are none here.
    pub fn passkeys(&self) -> Result<&hygie_core::auth::passkeys::RelyingParty, AppError> {
        self.passkeys.as_deref().ok_or_else(|| AppError::KeyRefused { reason: "unavailable".into() })
    }
}

/// Sign-in settings from the configuration.
#[derive(Clone)]
pub struct AuthSettings {
    pub sessions: SessionPolicy,
    /// The address links in emails point to.
    pub public_url: String,
    /// Sign-in attempts allowed per client IP (all accounts together).
    pub per_ip: Limit,
    /// The instance's mailbox domains (a notification address may not be on one).
    pub domains: Vec<String>,
    /// Where the pushes to phones may go.
    pub push: hygie_core::auth::phone::PushPolicy,
    /// The client that sends them.
    pub http: hygie_core::reqwest::Client,
}

/// The session cookie. `__Host-` makes the browser refuse it unless Secure, Path=/ and without
/// Domain, so no sibling site can set or read it.
pub const SESSION_COOKIE: &str = "__Host-hygie_session";

/// The session the server's middleware found for this request's cookie, if any.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Session);

/// The holder the server's middleware resolved from this request's session: an active,
/// unlocked account, at its session's level.
#[derive(Debug, Clone)]
pub struct CurrentHolder(pub Holder);

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

fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// The live session of this request (any level).
pub fn current_session() -> Option<Session> {
    request_parts().and_then(|p| p.extensions.get::<CurrentSession>().map(|c| c.0.clone()))
}

/// The sign-in this browser has begun (password verified, second factor awaited); a browser
/// without one, or already signed in, starts again from the password.
pub fn pending_sign_in() -> Result<Session, AppError> {
    current_session().filter(|s| s.level == Level::Password).ok_or(AppError::CodeExpired)
}

/// The browser's User-Agent, for the list of sessions.
pub fn user_agent() -> Option<String> {
    request_parts()
        .and_then(|p| p.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// The sign-in flow's context for this request.
pub fn signin_ctx<'a>(svc: &'a Services, ip: Option<&'a str>, ua: Option<&'a str>) -> Ctx<'a> {
    Ctx {
        db: &svc.db,
        clock: svc.clock.as_ref(),
        policy: svc.auth.sessions,
        public_url: &svc.auth.public_url,
        ip,
        user_agent: ua,
    }
}

fn set_cookie(value: String) {
    if let (Some(res), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&value)) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}

/// Hands the browser a new session token. No Max-Age: the browser forgets it when closed, and
/// the server ends it on idle or absolute timeout anyway.
pub fn set_session_cookie(token: &str) {
    set_cookie(format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"));
}

pub fn clear_session_cookie() {
    set_cookie(format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"));
}

/// The holder of this request, signed in at `level` at least, who accepted the terms in force.
/// Every server function that acts for someone starts here.
pub fn require_holder(level: Level) -> Result<Holder, AppError> {
    let holder = current_holder().ok_or(AppError::Unauthorized)?;
    holder.require(level)?;
    Ok(holder)
}

/// [`require_holder`] without the terms: the acceptance page itself, and signing out.
pub fn require_signed_in(level: Level) -> Result<Holder, AppError> {
    let holder = current_holder().ok_or(AppError::Unauthorized)?;
    holder.require_level(level)?;
    Ok(holder)
}

/// The holder the middleware resolved for this request, at whatever level.
pub fn current_holder() -> Option<Holder> {
    request_parts().and_then(|p| p.extensions.get::<CurrentHolder>().map(|c| c.0.clone()))
}

/// The signed-in holder's session and whole account (settings need more than the holder
/// carries). With `terms`, also requires the terms in force to be accepted.
pub async fn signed_in(svc: &Services, terms_required: bool) -> Result<(Session, Account), AppError> {
    let holder = if terms_required { require_holder(Level::Full)? } else { require_signed_in(Level::Full)? };
    let session = current_session().ok_or(AppError::Unauthorized)?;
    let account =
        accounts::get(&svc.db, holder.account_id).await.map_err(AppError::internal)?.ok_or(AppError::Unauthorized)?;
    Ok((session, account))
}

/// Counts one hit on `key` ("search:12", "signin:IP") and refuses it past `limit`, with the
/// wait in the error.
pub async fn limit_hits(svc: &Services, key: &str, limit: hygie_core::ratelimit::Limit) -> Result<(), AppError> {
    use hygie_core::ratelimit::{self, Decision};
    match ratelimit::hit(&svc.db, svc.clock.as_ref(), key, limit).await.map_err(AppError::internal)? {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { retry_after_ms } => {
            Err(AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) })
        }
    }
}

/// [`limit_hits`] with at most `max` hits an hour.
pub async fn limit_hourly(svc: &Services, key: &str, max: i64) -> Result<(), AppError> {
    limit_hits(svc, key, hygie_core::ratelimit::Limit { max, window_ms: 3_600_000 }).await
}

/// Records `event` on its own (a refusal, a reading): if the trail cannot be written, the
/// request fails.
pub async fn record(svc: &Services, event: audit::AuditEvent) -> Result<(), AppError> {
    audit::append(&svc.db, svc.clock.as_ref(), event).await?;
    Ok(())
}

/// Records an action of a signed-in account in the audit trail; if the record cannot be
/// written, the request fails.
pub async fn audit_account(
    svc: &Services,
    account_id: i64,
    action: &str,
    outcome: audit::Outcome,
    object: Option<String>,
) -> Result<(), AppError> {
    let mut ev = audit::AuditEvent::new(audit::Actor::Account(account_id.to_string()), action, outcome).ip(client_ip());
    ev.object = object;
    record(svc, ev).await
}
