//! The phone that approves sign-ins: adding it (a QR code in "Mes terminaux", opened on the
//! phone), the sign-in page's request and polls, and the phone app's answers, authenticated by
//! its device token and confirmed with its device passkey.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::KeyCeremony;
use crate::error::AppError;

/// The link a phone opens to be added, as a QR code and as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneLinkView {
    pub url: String,
    pub qr_svg: String,
}

/// What the phone needs to register: the passkey options and the VAPID key for pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSetup {
    pub ceremony: KeyCeremony,
    pub vapid: String,
}

/// The phone, added: its device token (kept by the app on the phone) and, with the holder's
/// first terminal, recovery codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneAddedView {
    pub device_token: String,
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for PhoneAddedView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneAddedView")
    }
}

/// A sign-in waiting for the phone: the number to choose there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalAsked {
    pub id: String,
    pub number: i64,
}

/// A request as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: String,
    pub choices: Vec<i64>,
    pub ip: String,
    /// UTC, ISO 8601.
    pub at: String,
}

/// In "Mes terminaux": a one-time link (10 minutes) for the holder's phone, as a QR code.
#[server(name = StartPhoneLink, prefix = "/api", endpoint = "terminal-phone-link")]
pub async fn start_phone_link() -> Result<PhoneLinkView, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    svc.passkeys()?;
    let link = hygie_core::auth::phone::start_link(&svc.db, svc.clock.as_ref(), &holder, &svc.auth.public_url).await?;
    Ok(PhoneLinkView { url: link.url, qr_svg: link.qr_svg })
}

/// On the phone, signed in: whether `token` is a live link of this holder's.
#[server(name = PhoneLinkLive, prefix = "/api", endpoint = "terminal-phone-link-live")]
pub async fn phone_link_live(token: String) -> Result<bool, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    Ok(hygie_core::auth::phone::link_is_live(&svc.db, svc.clock.as_ref(), &holder, &token).await?)
}

/// On the phone: begins registering it (its passkey; the VAPID key for its pushes).
#[server(name = StartPhone, prefix = "/api", endpoint = "terminal-phone-start")]
pub async fn start_phone(token: String, name: String) -> Result<PhoneSetup, AppError> {
    use crate::server::{limit_hourly, require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rp = svc.passkeys()?;
    limit_hourly(&svc, &format!("passkey-start:{}", holder.account_id), crate::api::PASSKEY_STARTS_PER_HOUR).await?;
    let (c, vapid) =
        hygie_core::auth::phone::start_phone(&svc.db, svc.clock.as_ref(), rp, &holder, &token, &name).await?;
    Ok(PhoneSetup { ceremony: KeyCeremony { id: c.id, options: c.options }, vapid })
}

/// On the phone: finishes registering it, with its passkey's answer and its push subscription
/// (empty `endpoint` when the browser could not subscribe).
#[server(name = FinishPhone, prefix = "/api", endpoint = "terminal-phone-finish")]
pub async fn finish_phone(
    token: String,
    ceremony: String,
    response: String,
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<PhoneAddedView, AppError> {
    use hygie_core::auth::phone::{self, Subscription};

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let rp = svc.passkeys()?;
    let subscription = (!endpoint.is_empty()).then_some(Subscription { endpoint, p256dh, auth });
    let added = phone::finish_phone(
        &svc.db,
        svc.clock.as_ref(),
        rp,
        &svc.auth.push,
        &holder,
        &token,
        &ceremony,
        &response,
        subscription.as_ref(),
    )
    .await?;
    Ok(PhoneAddedView {
        device_token: added.device_token,
        recovery_codes: added.recovery_codes.unwrap_or_default().iter().map(|c| c.to_string()).collect(),
    })
}

/// At sign-in, after the password: "Valider sur mon téléphone".
#[server(name = AskPhone, prefix = "/api", endpoint = "sign-in-phone")]
pub async fn ask_phone() -> Result<ApprovalAsked, AppError> {
    use hygie_core::auth::phone::AskRefused;
    use hygie_core::auth::signin;

    use crate::server::{client_ip, pending_sign_in, services, signin_ctx, user_agent};
    let svc = services()?;
    let pending = pending_sign_in()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::ask_phone(&ctx, &svc.auth.http, &pending).await.map_err(AppError::internal)? {
        Ok(asked) => Ok(ApprovalAsked { id: asked.id, number: asked.number }),
        Err(AskRefused::NoPhone) => Err(AppError::KeyRefused { reason: "no_phone".into() }),
        Err(AskRefused::TooMany { retry_after_ms }) => {
            Err(AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) })
        }
    }
}

/// The sign-in page's poll: `None` while the phone has not answered, then where to go.
#[server(name = PhoneAnswered, prefix = "/api", endpoint = "sign-in-phone-answered")]
pub async fn phone_answered(id: String) -> Result<Option<String>, AppError> {
    use hygie_core::auth::signin::{self, CodeStep};

    use crate::server::{clear_session_cookie, client_ip, pending_sign_in, services, set_session_cookie, signin_ctx};
    let svc = services()?;
    let pending = pending_sign_in()?;
    let ip = client_ip();
    let ua = crate::server::user_agent();
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::phone_step(&ctx, &pending, &id).await.map_err(AppError::internal)? {
        None => Ok(None),
        Some(CodeStep::SignedIn { token, account_id, .. }) => {
            set_session_cookie(token.expose());
            Ok(Some(crate::api::auth::after_sign_in(&svc, account_id).await?))
        }
        Some(CodeStep::Locked) => {
            clear_session_cookie();
            Err(AppError::Locked)
        }
        Some(CodeStep::Expired) => {
            clear_session_cookie();
            Err(AppError::CodeExpired)
        }
        Some(_) => Err(AppError::KeyRefused { reason: "phone_refused".into() }),
    }
}

/// The phone app: the requests waiting for this phone (its device token).
#[server(name = PhoneWaiting, prefix = "/api", endpoint = "phone-waiting")]
pub async fn phone_waiting(device: String) -> Result<Vec<ApprovalRequest>, AppError> {
    use hygie_core::clock::format_utc;

    use crate::server::services;
    let svc = services()?;
    let list = hygie_core::auth::phone::waiting(&svc.db, svc.clock.as_ref(), &device).await?;
    Ok(list
        .into_iter()
        .map(|r| ApprovalRequest {
            id: r.id,
            choices: r.choices,
            ip: r.ip.unwrap_or_default(),
            at: format_utc(r.created_ms),
        })
        .collect())
}

/// The phone app: the number chosen for request `id`; the right one asks for the device's
/// passkey (its options are returned).
#[server(name = PhoneChoose, prefix = "/api", endpoint = "phone-choose")]
pub async fn phone_choose(device: String, id: String, number: i64) -> Result<KeyCeremony, AppError> {
    use hygie_core::auth::phone::{self, Choice};

    use crate::server::{client_ip, services, signin_ctx};
    let svc = services()?;
    let rp = svc.passkeys()?;
    let ip = client_ip();
    let ctx = signin_ctx(&svc, ip.as_deref(), None);
    match phone::choose(&ctx, rp, &device, &id, number).await.map_err(AppError::internal)? {
        Choice::Confirm(c) => Ok(KeyCeremony { id: c.id, options: c.options }),
        Choice::Wrong => Err(AppError::KeyRefused { reason: "wrong_number".into() }),
        Choice::Gone => Err(AppError::KeyRefused { reason: "request_gone".into() }),
    }
}

/// The phone app: the device's passkey confirms; the sign-in is approved.
#[server(name = PhoneConfirm, prefix = "/api", endpoint = "phone-confirm")]
pub async fn phone_confirm(device: String, ceremony: String, response: String) -> Result<(), AppError> {
    use crate::server::services;
    let svc = services()?;
    let rp = svc.passkeys()?;
    if hygie_core::auth::phone::confirm(&svc.db, svc.clock.as_ref(), rp, &device, &ceremony, &response).await? {
        Ok(())
    } else {
        Err(AppError::KeyRefused { reason: "refused".into() })
    }
}
