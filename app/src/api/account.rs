//! The holder's own account: what it shows, the terms to accept, and the settings they change.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::CodeSent;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub address: String,
    pub first_name: String,
    pub last_name: String,
    /// "health" or "other".
    pub kind: String,
    /// "RPPS 10101010101", or the registration authority and role.
    pub identifier: Option<String>,
    pub profession: Option<String>,
    pub notification_email: String,
    /// Masked for display.
    pub mobile: Option<String>,
    pub prefs: PreferencesView,
    /// The session this page was loaded with.
    pub session_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferencesView {
    pub notify_new_mail: bool,
    pub liste_rouge: bool,
    pub publish_phone: bool,
    pub no_paper: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: i64,
    /// "Firefox, Windows".
    pub device: String,
    pub ip: String,
    /// UTC, ISO 8601.
    pub started: String,
    pub last_seen: String,
    pub current: bool,
    /// What proved the sign-in: "passkey", "totp", "recovery", "sms", "email", "" (unknown, from
    /// before terminals), or "password" (the password only: waiting for the second factor).
    pub factor: String,
}

/// Whether the signed-in holder has the terms in force still to accept: an answer, not a
/// refusal, so that the acceptance page, the normal journey of a first sign-in, logs no 403.
#[server(name = TermsPendingCheck, prefix = "/api", endpoint = "terms-pending")]
pub async fn terms_pending() -> Result<bool, AppError> {
    use crate::server::{require_holder, require_signed_in, Level};
    require_signed_in(Level::Full)?;
    match require_holder(Level::Full) {
        Ok(_) => Ok(false),
        Err(AppError::TermsPending) => Ok(true),
        Err(e) => Err(e),
    }
}

/// The signed-in account, for the account page. `TermsPending` until the terms are accepted.
#[server(name = MyAccount, prefix = "/api", endpoint = "my-account")]
pub async fn my_account() -> Result<AccountView, AppError> {
    use crate::server::{services, signed_in};
    let svc = services()?;
    let (session, a) = signed_in(&svc, true).await?;
    let identifier = match (a.kind.as_str(), &a.id_kind, &a.id_value) {
        ("health", Some(k), Some(v)) => Some(format!("{} {v}", k.to_uppercase())),
        _ => match (&a.authority, &a.role) {
            (Some(auth), Some(role)) => Some(format!("{role} — {auth}")),
            (Some(auth), None) => Some(auth.clone()),
            _ => None,
        },
    };
    let mobile =
        a.mobile.as_deref().and_then(|m| crate::domain::phone::MobileNumber::parse(m).ok()).map(|m| m.masked());
    Ok(AccountView {
        address: a.address,
        first_name: a.first_name,
        last_name: a.last_name,
        kind: a.kind,
        identifier,
        profession: a.profession,
        notification_email: a.notification_email,
        mobile,
        prefs: PreferencesView {
            notify_new_mail: a.notify_new_mail,
            liste_rouge: a.liste_rouge,
            publish_phone: a.publish_phone,
            no_paper: a.no_paper,
        },
        session_id: session.id,
    })
}

/// Accepts the terms in force. `version` is the one the person read; a newer one published in
/// between must be read first.
#[server(name = AcceptTerms, prefix = "/api", endpoint = "accept-terms")]
pub async fn accept_terms(version: String) -> Result<(), AppError> {
    use crate::server::{require_signed_in, services, Level};
    let svc = services()?;
    let holder = require_signed_in(Level::Full)?;
    Ok(hygie_core::accounts::settings::accept_terms(&svc.db, svc.clock.as_ref(), &holder, &version).await?)
}

/// Proves presence again (password) before a sensitive change.
#[server(name = Reauthenticate, prefix = "/api", endpoint = "reauthenticate")]
pub async fn reauthenticate(password: String) -> Result<(), AppError> {
    use hygie_core::auth::signin::Presence;

    use crate::server::{client_ip, require_holder, services, signin_ctx, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    crate::api::limit_ip(&svc).await?;
    let ip = client_ip();
    match hygie_core::auth::signin::confirm_presence(&signin_ctx(&svc, ip.as_deref(), None), &holder, &password).await?
    {
        Presence::Confirmed => Ok(()),
        Presence::WrongPassword => Err(AppError::BadCredentials),
    }
}

/// Changes the password (current one required); other sessions end.
#[server(name = ChangePassword, prefix = "/api", endpoint = "change-password")]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    hygie_core::accounts::settings::change_password(&svc.db, svc.clock.as_ref(), &holder, &current, &new_password)
        .await?;
    Ok(())
}

/// Starts changing the notification email (`kind` = "email") or the mobile ("mobile"): a code
/// goes to the new destination.
#[server(name = StartChangeDestination, prefix = "/api", endpoint = "change-destination")]
pub async fn start_change_destination(kind: String, value: String) -> Result<CodeSent, AppError> {
    use hygie_core::accounts::settings;
    use hygie_core::notify::Destination;

    use crate::domain::{email::EmailAddress, phone::MobileNumber, FieldError, FieldProblem};
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
    let (what, normalised, hint) = match kind.as_str() {
        "email" => {
            let e = EmailAddress::parse(&value).map_err(|p| invalid("email", p))?;
            (Destination::NotificationEmail, e.as_str().to_string(), hygie_core::auth::signin::mask_email(e.as_str()))
        }
        "mobile" => {
            let m = MobileNumber::parse(&value).map_err(|p| invalid("mobile", p))?;
            (Destination::Mobile, m.as_str().to_string(), m.masked())
        }
        _ => return Err(invalid("kind", FieldProblem::UnknownValue)),
    };
    let (db, clock, domains) = (&svc.db, svc.clock.as_ref(), &svc.auth.domains);
    let challenge = settings::start_change_destination(db, clock, &holder, what, &normalised, domains).await?;
    let channel = if what == Destination::Mobile { "sms" } else { "email" };
    Ok(CodeSent {
        channel: channel.into(),
        hint,
        email_possible: false,
        sms_possible: false,
        challenge,
        totp: false,
        phone: false,
    })
}

/// Confirms a new destination with the code it received.
#[server(name = ConfirmChangeDestination, prefix = "/api", endpoint = "confirm-destination")]
pub async fn confirm_change_destination(challenge: i64, code: String) -> Result<(), AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let code = crate::api::code_shape(&code)?;
    hygie_core::accounts::settings::confirm_change_destination(&svc.db, svc.clock.as_ref(), &holder, challenge, &code)
        .await?;
    Ok(())
}

#[server(name = SavePreferences, prefix = "/api", endpoint = "preferences")]
pub async fn save_preferences(prefs: PreferencesView) -> Result<(), AppError> {
    use hygie_core::accounts::{settings, Preferences};

    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let p = Preferences {
        notify_new_mail: prefs.notify_new_mail,
        liste_rouge: prefs.liste_rouge,
        publish_phone: prefs.publish_phone,
        no_paper: prefs.no_paper,
    };
    Ok(settings::set_preferences(&svc.db, svc.clock.as_ref(), &holder, p).await?)
}

#[server(name = MySessions, prefix = "/api", endpoint = "my-sessions")]
pub async fn my_sessions() -> Result<Vec<SessionView>, AppError> {
    use hygie_core::auth::session;
    use hygie_core::clock::format_utc;

    use crate::server::{services, signed_in};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    let rows =
        session::list(&svc.db, svc.clock.as_ref(), &svc.auth.sessions, a.id).await.map_err(AppError::internal)?;
    Ok(rows
        .into_iter()
        .map(|r| SessionView {
            id: r.id,
            device: describe_user_agent(r.user_agent.as_deref().unwrap_or_default()),
            ip: r.ip.unwrap_or_default(),
            started: format_utc(r.created_ms),
            last_seen: format_utc(r.last_seen_ms),
            current: r.id == s.id,
            factor: if r.level < 2 { "password".into() } else { r.factor.unwrap_or_default() },
        })
        .collect())
}

/// Ends one of my sessions (`id`), or all but this one (`id` = 0). Returns how many ended.
#[server(name = EndSessions, prefix = "/api", endpoint = "end-sessions")]
pub async fn end_sessions(id: i64) -> Result<u64, AppError> {
    use crate::server::{require_holder, services, Level};
    let svc = services()?;
    let holder = require_holder(Level::Full)?;
    let which = (id != 0).then_some(id);
    Ok(hygie_core::accounts::settings::end_sessions(&svc.db, svc.clock.as_ref(), &holder, which).await?)
}

/// "Firefox, Windows" from a User-Agent string; good enough to recognise one's devices.
pub fn describe_user_agent(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        "?"
    } else {
        "Application"
    };
    let os = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    if os.is_empty() {
        browser.to_string()
    } else {
        format!("{browser}, {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn user_agents_read_as_devices() {
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe_user_agent(firefox), "Firefox, Windows");
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Chrome, Linux");
        let iphone =
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1";
        assert_eq!(describe_user_agent(iphone), "Safari, iOS");
        assert_eq!(describe_user_agent("reqwest/0.12"), "Application");
    }
}
