//! Signing in and out, and the ways back into an account (activation, reset, unlock).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A code is awaited: sent (where, masked), or shown by the holder's authenticator app, or a
/// passkey's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSent {
    /// "sms", "email", "totp" (the authenticator app's; nothing was sent) or "passkey".
    pub channel: String,
    pub hint: String,
    /// Whether the person may switch to email (the weaker option).
    pub email_possible: bool,
    /// Whether the person may ask for a code by SMS instead (from the authenticator app step).
    pub sms_possible: bool,
    /// The challenge to confirm (settings changes); 0 for sign-in, which uses the session.
    pub challenge: i64,
    /// Whether the holder has an authenticator app (its code is accepted at this step).
    #[serde(default)]
    pub totp: bool,
    /// Whether the holder has a phone that can approve the sign-in.
    #[serde(default)]
    pub phone: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetInfo {
    pub needs_code: bool,
    /// The code is one of the holder's terminal (authenticator app) or a recovery code.
    pub terminal: bool,
}

#[cfg(feature = "ssr")]
mod ssr {
    use hygie_core::auth::policy::PasswordProblem;
    use hygie_core::auth::signin::LinkProblem;

    use crate::domain::{FieldError, FieldProblem};
    use crate::error::AppError;
    use crate::server::{client_ip, Services};

    pub fn password_error(field: &str, p: PasswordProblem) -> AppError {
        let problem = match p {
            PasswordProblem::TooShort => FieldProblem::TooShort { min: hygie_core::auth::policy::MIN_CHARS },
            PasswordProblem::TooLong => FieldProblem::TooLong { max: hygie_core::auth::policy::MAX_CHARS },
            PasswordProblem::Common => FieldProblem::CommonPassword,
            PasswordProblem::Personal => FieldProblem::PersonalPassword,
        };
        AppError::Invalid(vec![FieldError { field: field.into(), problem }])
    }

    pub fn link_error(p: LinkProblem) -> AppError {
        match p {
            LinkProblem::Dead => AppError::LinkExpired,
            LinkProblem::Password(p) => password_error("password", p),
            LinkProblem::WrongCode { attempts_left } => AppError::WrongCode { attempts_left },
            LinkProblem::CodeExpired => AppError::CodeExpired,
        }
    }

    /// Counts one sign-in-type attempt from this client IP against the configured limit.
    pub async fn limit_ip(svc: &Services) -> Result<(), AppError> {
        let key = format!("signin:{}", hygie_core::ratelimit::ip_key(&client_ip().unwrap_or_default()));
        crate::server::limit_hits(svc, &key, svc.auth.per_ip).await
    }

    /// Checks the shape of a one-time code before spending an attempt on it.
    pub fn code_shape(code: &str) -> Result<String, AppError> {
        let c: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()) {
            Ok(c)
        } else {
            Err(AppError::Invalid(vec![FieldError { field: "code".into(), problem: FieldProblem::InvalidCode }]))
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::{code_shape, limit_ip, password_error};

/// Signing in again from this browser replaces whatever session it had.
#[cfg(feature = "ssr")]
async fn replace_session(svc: &crate::server::Services, token: &str) -> Result<(), AppError> {
    if let Some(previous) = crate::server::current_session() {
        hygie_core::auth::session::end(&svc.db, svc.clock.as_ref(), previous.id).await?;
    }
    crate::server::set_session_cookie(token);
    Ok(())
}

/// First step: address and password. On success a code is on its way and the browser holds a
/// session waiting for it.
#[server(name = SignInPassword, prefix = "/api", endpoint = "sign-in")]
pub async fn sign_in_password(address: String, password: String, prefer_email: bool) -> Result<CodeSent, AppError> {
    use hygie_core::auth::signin::{self, PasswordStep};

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    ssr::limit_ip(&svc).await?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::password_step(&ctx, &address, &password, prefer_email).await.map_err(AppError::internal)? {
        PasswordStep::CodeSent { token, channel, hint, email_possible } => {
            replace_session(&svc, token.expose()).await?;
            Ok(CodeSent {
                channel: channel.as_str().into(),
                hint,
                email_possible,
                sms_possible: false,
                challenge: 0,
                totp: false,
                phone: false,
            })
        }
        PasswordStep::TerminalAsked { token, passkey, phone, totp, sms_possible } => {
            replace_session(&svc, token.expose()).await?;
            let channel = if passkey {
                "passkey"
            } else if phone {
                "phone"
            } else {
                "totp"
            };
            Ok(CodeSent {
                channel: channel.into(),
                phone,
                hint: String::new(),
                email_possible: true,
                sms_possible,
                challenge: 0,
                totp,
            })
        }
        PasswordStep::Rejected => Err(AppError::BadCredentials),
        PasswordStep::Locked => Err(AppError::Locked),
        PasswordStep::Unavailable => Err(AppError::AccountUnavailable),
    }
}

/// Second step: the code. Returns where to go next.
#[server(name = SignInCode, prefix = "/api", endpoint = "sign-in-code")]
pub async fn sign_in_code(code: String) -> Result<String, AppError> {
    use hygie_core::auth::signin::{self, CodeStep};

    use crate::server::{
        clear_session_cookie, client_ip, pending_sign_in, services, set_session_cookie, signin_ctx, user_agent,
    };
    let svc = services()?;
    // Six digits, or (with an authenticator app) one of the printed recovery codes.
    let code =
        ssr::code_shape(&code).or_else(|e| hygie_core::auth::terminals::normalise_recovery_code(&code).ok_or(e))?;
    // A signed-in session is left alone: a code typed twice does not sign anyone out.
    let pending = pending_sign_in()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::code_step(&ctx, &pending, &code).await.map_err(AppError::internal)? {
        CodeStep::SignedIn { token, account_id, .. } => {
            set_session_cookie(token.expose());
            after_sign_in(&svc, account_id).await
        }
        CodeStep::Wrong { attempts_left } => Err(AppError::WrongCode { attempts_left }),
        CodeStep::Expired => {
            clear_session_cookie();
            Err(AppError::CodeExpired)
        }
        CodeStep::Locked => {
            clear_session_cookie();
            Err(AppError::Locked)
        }
        CodeStep::Replayed => Err(AppError::CodeReplayed),
        CodeStep::KeyRefused => Err(AppError::KeyRefused { reason: "refused".into() }),
    }
}

/// Where a person just signed in goes: the terms in force first if they have not accepted them.
#[cfg(feature = "ssr")]
pub(crate) async fn after_sign_in(svc: &crate::server::Services, account_id: i64) -> Result<String, AppError> {
    use hygie_core::terms;
    // The version in force only, not its text.
    let pending_terms = match terms::current_version(&svc.db).await? {
        Some(version) => !terms::accepted(&svc.db, account_id, &version).await?,
        None => false,
    };
    Ok(if pending_terms { "/compte/cgu".into() } else { "/messagerie".into() })
}

/// "Se connecter avec une clé d'accès": the options for the browser's `credentials.get`, for
/// whichever of this site's keys the person holds.
#[server(name = StartPasskeySignIn, prefix = "/api", endpoint = "sign-in-passkey-start")]
pub async fn start_passkey_sign_in() -> Result<crate::api::KeyCeremony, AppError> {
    use hygie_core::auth::signin;

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    let rp = svc.passkeys()?;
    ssr::limit_ip(&svc).await?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    let c = signin::start_passkey_signin(&ctx, rp).await.map_err(AppError::internal)?;
    Ok(crate::api::KeyCeremony { id: c.id, options: c.options })
}

/// Signs in with the key's answer alone. Returns where to go next.
#[server(name = FinishPasskeySignIn, prefix = "/api", endpoint = "sign-in-passkey")]
pub async fn finish_passkey_sign_in(ceremony: String, response: String) -> Result<String, AppError> {
    use hygie_core::auth::signin::{self, PasskeySignIn};

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    let rp = svc.passkeys()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::passkey_signin(&ctx, rp, &ceremony, &response).await.map_err(AppError::internal)? {
        PasskeySignIn::SignedIn { token, account_id, .. } => {
            replace_session(&svc, token.expose()).await?;
            after_sign_in(&svc, account_id).await
        }
        PasskeySignIn::Refused => Err(AppError::KeyRefused { reason: "refused".into() }),
        PasskeySignIn::Locked => Err(AppError::Locked),
        PasskeySignIn::Unavailable => Err(AppError::AccountUnavailable),
    }
}

/// After the password: the options for proving the sign-in with one of the holder's passkeys.
#[server(name = StartPasskeyStep, prefix = "/api", endpoint = "sign-in-passkey-step-start")]
pub async fn start_passkey_step() -> Result<crate::api::KeyCeremony, AppError> {
    use hygie_core::auth::signin;

    use crate::server::{client_ip, pending_sign_in, services, signin_ctx, user_agent};
    let svc = services()?;
    let rp = svc.passkeys()?;
    let pending = pending_sign_in()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::start_passkey_step(&ctx, rp, &pending).await.map_err(AppError::internal)? {
        Some(c) => Ok(crate::api::KeyCeremony { id: c.id, options: c.options }),
        None => Err(AppError::KeyRefused { reason: "refused".into() }),
    }
}

/// After the password: the passkey's answer proves the sign-in. Returns where to go next.
#[server(name = FinishPasskeyStep, prefix = "/api", endpoint = "sign-in-passkey-step")]
pub async fn finish_passkey_step(ceremony: String, response: String) -> Result<String, AppError> {
    use hygie_core::auth::signin::{self, CodeStep};

    use crate::server::{
        clear_session_cookie, client_ip, pending_sign_in, services, set_session_cookie, signin_ctx, user_agent,
    };
    let svc = services()?;
    let rp = svc.passkeys()?;
    let pending = pending_sign_in()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::passkey_step(&ctx, rp, &pending, &ceremony, &response).await.map_err(AppError::internal)? {
        CodeStep::SignedIn { token, account_id, .. } => {
            set_session_cookie(token.expose());
            after_sign_in(&svc, account_id).await
        }
        CodeStep::Locked => {
            clear_session_cookie();
            Err(AppError::Locked)
        }
        CodeStep::Expired => {
            clear_session_cookie();
            Err(AppError::CodeExpired)
        }
        _ => Err(AppError::KeyRefused { reason: "refused".into() }),
    }
}

/// Sends a new sign-in code, by email when asked (the weaker option).
#[server(name = ResendSignInCode, prefix = "/api", endpoint = "sign-in-resend")]
pub async fn resend_sign_in_code(to_email: bool) -> Result<CodeSent, AppError> {
    use hygie_core::auth::signin::{self, ResendStep};

    use crate::server::{client_ip, current_session, services, signin_ctx, user_agent};
    let svc = services()?;
    let pending = current_session().ok_or(AppError::CodeExpired)?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    match signin::resend_code(&ctx, &pending, to_email).await.map_err(AppError::internal)? {
        ResendStep::Sent { channel, hint } => Ok(CodeSent {
            channel: channel.as_str().into(),
            hint,
            email_possible: channel == signin::CodeChannel::Sms,
            sms_possible: false,
            challenge: 0,
            totp: false,
            phone: false,
        }),
        ResendStep::TooSoon { retry_after_ms } => {
            Err(AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) })
        }
        ResendStep::LimitReached | ResendStep::Expired => Err(AppError::CodeExpired),
    }
}

/// Ends this session server-side and forgets the cookie.
#[server(name = SignOut, prefix = "/api", endpoint = "sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    use hygie_core::auth::signin;

    use crate::server::{clear_session_cookie, client_ip, current_session, services, signin_ctx, user_agent};
    let svc = services()?;
    clear_session_cookie();
    if let Some(s) = current_session() {
        let (ip, ua) = (client_ip(), user_agent());
        signin::sign_out(&signin_ctx(&svc, ip.as_deref(), ua.as_deref()), &s).await.map_err(AppError::internal)?;
    }
    Ok(())
}

/// Chooses the first password of an account from its activation link.
#[server(name = ActivateAccount, prefix = "/api", endpoint = "activate")]
pub async fn activate_account(token: String, password: String) -> Result<(), AppError> {
    use hygie_core::auth::signin;

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    ssr::limit_ip(&svc).await?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    signin::activate(&ctx, &token, &password).await.map_err(AppError::internal)?.map_err(ssr::link_error)
}

/// "Mot de passe oublié": always the same answer.
#[server(name = ForgotPassword, prefix = "/api", endpoint = "forgot-password")]
pub async fn forgot_password(address: String) -> Result<(), AppError> {
    use hygie_core::auth::signin;

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    ssr::limit_ip(&svc).await?;
    let (ip, ua) = (client_ip(), user_agent());
    signin::request_reset(&signin_ctx(&svc, ip.as_deref(), ua.as_deref()), &address).await.map_err(AppError::internal)
}

/// Whether a reset link is live, and which code it needs: the SMS code, or a terminal's.
#[server(name = ResetLinkInfo, prefix = "/api", endpoint = "reset-info")]
pub async fn reset_link_info(token: String) -> Result<ResetInfo, AppError> {
    use hygie_core::auth::signin;

    use crate::server::{services, signin_ctx};
    let svc = services()?;
    let ctx = signin_ctx(&svc, None, None);
    use signin::ResetProof;
    match signin::reset_needs(&ctx, &token).await? {
        Some(proof) => Ok(ResetInfo { needs_code: proof != ResetProof::None, terminal: proof == ResetProof::Terminal }),
        None => Err(AppError::LinkExpired),
    }
}

/// Sets a new password from a reset link; every session ends.
#[server(name = ResetPassword, prefix = "/api", endpoint = "reset-password")]
pub async fn reset_password(token: String, code: String, password: String) -> Result<(), AppError> {
    use hygie_core::auth::signin;

    use crate::server::{clear_session_cookie, client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    ssr::limit_ip(&svc).await?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    signin::reset_password(&ctx, &token, &code, &password)
        .await
        .map_err(AppError::internal)?
        .map_err(ssr::link_error)?;
    clear_session_cookie();
    Ok(())
}

/// Unlocks an account from the link sent when it locked.
#[server(name = UnlockAccount, prefix = "/api", endpoint = "unlock")]
pub async fn unlock_account(token: String) -> Result<(), AppError> {
    use hygie_core::auth::signin;

    use crate::server::{client_ip, services, signin_ctx, user_agent};
    let svc = services()?;
    let (ip, ua) = (client_ip(), user_agent());
    let ctx = signin_ctx(&svc, ip.as_deref(), ua.as_deref());
    if signin::unlock_with_link(&ctx, &token).await.map_err(AppError::internal)? {
        Ok(())
    } else {
        Err(AppError::LinkExpired)
    }
}
