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
    use hygie_core::{audit::Outcome, terms};

    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (_, a) = signed_in(&svc, false).await?;
    let current = terms::current(&svc.db).await.map_err(AppError::internal)?.ok_or(AppError::NotFound)?;
    if current.doc.version != version {
        return Err(AppError::TermsPending);
    }
    terms::accept(&svc.db, svc.clock.as_ref(), a.id, &version).await.map_err(AppError::internal)?;
    audit_account(&svc, a.id, "terms.accept", Outcome::Success, Some(format!("terms:{version}"))).await;
    Ok(())
}

/// Proves presence again (password) before a sensitive change.
#[server(name = Reauthenticate, prefix = "/api", endpoint = "reauthenticate")]
pub async fn reauthenticate(password: String) -> Result<(), AppError> {
    use hygie_core::audit::Outcome;
    use hygie_core::auth::{password as pw, policy, session};
    use secrecy::SecretString;

    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    crate::api::limit_ip(&svc).await?;
    let stored = a.password_hash.clone().map(pw::PasswordHashString::from_stored);
    if !pw::verify(SecretString::from(policy::normalise(&password)), stored).await {
        // A stolen cookie is no way to guess the password: failures count towards the lock.
        let ip = crate::server::client_ip();
        hygie_core::auth::signin::record_failure(&crate::server::signin_ctx(&svc, ip.as_deref(), None), &a)
            .await
            .map_err(AppError::internal)?;
        audit_account(&svc, a.id, "reauthenticate", Outcome::Failure("wrong_password".into()), None).await;
        return Err(AppError::BadCredentials);
    }
    session::mark_authenticated(&svc.db, svc.clock.as_ref(), s.id).await.map_err(AppError::internal)?;
    audit_account(&svc, a.id, "reauthenticate", Outcome::Success, None).await;
    Ok(())
}

#[cfg(feature = "ssr")]
fn require_fresh(svc: &crate::server::Services, s: &hygie_core::auth::session::Session) -> Result<(), AppError> {
    if svc.clock.now_ms() - s.authenticated_ms > crate::server::REAUTH_WINDOW_MS {
        Err(AppError::ReauthRequired)
    } else {
        Ok(())
    }
}

/// Changes the password (current one required); other sessions end.
#[server(name = ChangePassword, prefix = "/api", endpoint = "change-password")]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    use hygie_core::auth::{password as pw, policy, session, signin};
    use hygie_core::{accounts, audit::Outcome};
    use secrecy::SecretString;

    use crate::server::{audit_account, client_ip, services, signed_in, signin_ctx};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    require_fresh(&svc, &s)?;
    let stored = a.password_hash.clone().map(pw::PasswordHashString::from_stored);
    if !pw::verify(SecretString::from(policy::normalise(&current)), stored).await {
        audit_account(&svc, a.id, "password.change", Outcome::Failure("wrong_password".into()), None).await;
        return Err(AppError::Invalid(vec![crate::domain::FieldError {
            field: "current".into(),
            problem: crate::domain::FieldProblem::WrongPassword,
        }]));
    }
    let hash = match signin::hash_new_password(&a, &new_password).await.map_err(AppError::internal)? {
        Ok(h) => h,
        Err(p) => return Err(crate::api::password_error("new_password", p)),
    };
    accounts::set_password_hash(&svc.db, svc.clock.as_ref(), a.id, &hash).await.map_err(AppError::internal)?;
    accounts::revoke_links(&svc.db, svc.clock.as_ref(), a.id).await.map_err(AppError::internal)?;
    let ended = session::end_all(&svc.db, svc.clock.as_ref(), a.id, Some(s.id)).await.map_err(AppError::internal)?;
    let ip = client_ip();
    signin::notify_password_changed(&signin_ctx(&svc, ip.as_deref(), None), &a).await.map_err(AppError::internal)?;
    audit_account(&svc, a.id, "password.change", Outcome::Success, Some(format!("sessions_ended:{ended}"))).await;
    Ok(())
}

/// Starts changing the notification email (`kind` = "email") or the mobile ("mobile"): a code
/// goes to the new destination.
#[server(name = StartChangeDestination, prefix = "/api", endpoint = "change-destination")]
pub async fn start_change_destination(kind: String, value: String) -> Result<CodeSent, AppError> {
    use hygie_core::audit::Outcome;
    use hygie_core::auth::otp;
    use hygie_core::outbox::{self, Channel, Outgoing};

    use crate::domain::{email::EmailAddress, phone::MobileNumber, FieldError, FieldProblem};
    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    require_fresh(&svc, &s)?;
    let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
    let (channel, normalised, hint) = match kind.as_str() {
        "email" => {
            let e = EmailAddress::parse(&value).map_err(|p| invalid("email", p))?;
            let in_trust_space =
                hygie_core::trust_space::contains(&svc.db, e.domain()).await.map_err(AppError::internal)?;
            if in_trust_space || svc.auth.domains.iter().any(|d| d.eq_ignore_ascii_case(e.domain())) {
                return Err(invalid("email", FieldProblem::OnSecureDomain));
            }
            let hint = hygie_core::auth::signin::mask_email(e.as_str());
            (Channel::Email, e.as_str().to_string(), hint)
        }
        "mobile" => {
            let m = MobileNumber::parse(&value).map_err(|p| invalid("mobile", p))?;
            (Channel::Sms, m.as_str().to_string(), m.masked())
        }
        _ => {
            return Err(AppError::Invalid(vec![FieldError {
                field: "kind".into(),
                problem: FieldProblem::UnknownValue,
            }]))
        }
    };
    let purpose = if channel == Channel::Email { "change_email" } else { "change_mobile" };
    // Codes cost money and land on someone's phone: a few changes per hour and account.
    let limit = hygie_core::ratelimit::Limit { max: 5, window_ms: 3_600_000 };
    let key = format!("destination:{}", a.id);
    if let hygie_core::ratelimit::Decision::Limited { retry_after_ms } =
        hygie_core::ratelimit::hit(&svc.db, svc.clock.as_ref(), &key, limit).await.map_err(AppError::internal)?
    {
        return Err(AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) });
    }
    let (challenge, code) =
        otp::start_with_payload(&svc.db, svc.clock.as_ref(), a.id, purpose, channel.as_str(), Some(&normalised))
            .await
            .map_err(AppError::internal)?;
    let c = code.expose();
    let msg = Outgoing {
        channel,
        category: "auth.code".into(),
        recipient: normalised.clone(),
        subject: (channel == Channel::Email).then(|| "Votre code Hygie / Your Hygie code".to_string()),
        body: if channel == Channel::Email {
            format!(
                "Bonjour,\n\nPour faire de cette adresse l'adresse de notification du compte Hygie {}, saisissez le code \
                 {c} (valable 10 minutes).\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n---\n\
                 To make this address the notification address of a Hygie account, enter the code {c} (valid 10 minutes).\n",
                a.address
            )
        } else {
            format!("Hygie : votre code de confirmation de numéro est {c}. Valable 10 minutes. Ne le communiquez à personne.")
        },
        reply_to: None,
    };
    outbox::enqueue(&svc.db, svc.clock.as_ref(), &msg).await.map_err(AppError::internal)?;
    audit_account(&svc, a.id, &format!("settings.{purpose}.code_sent"), Outcome::Success, None).await;
    Ok(CodeSent { channel: channel.as_str().into(), hint, email_possible: false, challenge })
}

/// Confirms a new destination with the code it received.
#[server(name = ConfirmChangeDestination, prefix = "/api", endpoint = "confirm-destination")]
pub async fn confirm_change_destination(challenge: i64, code: String) -> Result<(), AppError> {
    use hygie_core::audit::Outcome;
    use hygie_core::auth::otp::{self, Verify};
    use hygie_core::{accounts, outbox::Channel};

    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    require_fresh(&svc, &s)?;
    let code = crate::api::code_shape(&code)?;
    let Some((purpose, _, Some(value))) =
        otp::describe(&svc.db, svc.clock.as_ref(), challenge, a.id).await.map_err(AppError::internal)?
    else {
        return Err(AppError::CodeExpired);
    };
    let channel = match purpose.as_str() {
        "change_email" => Channel::Email,
        "change_mobile" => Channel::Sms,
        _ => return Err(AppError::CodeExpired),
    };
    match otp::verify(&svc.db, svc.clock.as_ref(), challenge, a.id, &code).await.map_err(AppError::internal)? {
        Verify::Ok => {}
        Verify::Wrong { attempts_left } => {
            audit_account(&svc, a.id, &format!("settings.{purpose}"), Outcome::Failure("wrong_code".into()), None)
                .await;
            return Err(AppError::WrongCode { attempts_left });
        }
        Verify::Dead => return Err(AppError::CodeExpired),
    }
    accounts::set_destination(&svc.db, a.id, channel, &value).await.map_err(AppError::internal)?;
    accounts::revoke_links(&svc.db, svc.clock.as_ref(), a.id).await.map_err(AppError::internal)?;
    // The previous notification address hears about the change, in case it was not the holder.
    accounts::notify(
        &svc.db,
        svc.clock.as_ref(),
        &a,
        "settings.changed",
        "Modification de votre compte Hygie / Your Hygie account was changed",
        format!(
            "Bonjour,\n\nLe {} du compte {} vient d'être modifié.\nSi ce n'était pas vous, contactez l'assistance sans \
             attendre.\n\n---\nThe {} of {} was just changed. If it was not you, contact support at once.\n",
            if channel == Channel::Email { "adresse de notification" } else { "numéro de mobile" },
            a.address,
            if channel == Channel::Email { "notification address" } else { "mobile number" },
            a.address
        ),
    )
    .await
    .map_err(AppError::internal)?;
    audit_account(&svc, a.id, &format!("settings.{purpose}"), Outcome::Success, None).await;
    Ok(())
}

#[server(name = SavePreferences, prefix = "/api", endpoint = "preferences")]
pub async fn save_preferences(prefs: PreferencesView) -> Result<(), AppError> {
    use hygie_core::accounts::{self, Preferences};
    use hygie_core::audit::Outcome;

    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (_, a) = signed_in(&svc, true).await?;
    let p = Preferences {
        notify_new_mail: prefs.notify_new_mail,
        liste_rouge: prefs.liste_rouge,
        publish_phone: prefs.publish_phone,
        no_paper: prefs.no_paper,
    };
    accounts::set_preferences(&svc.db, a.id, p).await.map_err(AppError::internal)?;
    let flags = format!(
        "notify:{},liste_rouge:{},publish_phone:{},no_paper:{}",
        p.notify_new_mail, p.liste_rouge, p.publish_phone, p.no_paper
    );
    audit_account(&svc, a.id, "settings.preferences", Outcome::Success, Some(flags)).await;
    Ok(())
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
        })
        .collect())
}

/// Ends one of my sessions (`id`), or all but this one (`id` = 0). Returns how many ended.
#[server(name = EndSessions, prefix = "/api", endpoint = "end-sessions")]
pub async fn end_sessions(id: i64) -> Result<u64, AppError> {
    use hygie_core::audit::Outcome;
    use hygie_core::auth::session;

    use crate::server::{audit_account, services, signed_in};
    let svc = services()?;
    let (s, a) = signed_in(&svc, true).await?;
    let ended = if id == 0 {
        session::end_all(&svc.db, svc.clock.as_ref(), a.id, Some(s.id)).await.map_err(AppError::internal)?
    } else {
        u64::from(session::end_of_account(&svc.db, svc.clock.as_ref(), a.id, id).await.map_err(AppError::internal)?)
    };
    let object = if id == 0 { format!("others_of_session:{}", s.id) } else { format!("session:{id}") };
    audit_account(&svc, a.id, "session.end", Outcome::Success, Some(object)).await;
    Ok(ended)
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
