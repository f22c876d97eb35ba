//! The one error type that crosses the wire. Its variants are safe to show; internal causes stay
//! in the server log under `ref_id`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::i18n::{I18n, Msg};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error {ref_id}")]
    Internal { ref_id: String },
    /// Unknown address or wrong password: one message for both.
    #[error("bad credentials")]
    BadCredentials,
    #[error("account locked")]
    Locked,
    /// Suspended, closed or not yet activated.
    #[error("account unavailable")]
    AccountUnavailable,
    #[error("wrong code")]
    WrongCode { attempts_left: i64 },
    /// The code expired or was tried too often: start again.
    #[error("code expired")]
    CodeExpired,
    /// The person must accept the terms in force first.
    #[error("terms pending")]
    TermsPending,
    /// A sensitive change needs the password typed again.
    #[error("reauthentication required")]
    ReauthRequired,
    /// A link (activation, reset, unlock) that is unknown, used or expired.
    #[error("link expired")]
    LinkExpired,
    /// A recipient a message cannot go to; `reason`: "outside" (the trust space), "unknown" (no
    /// such mailbox here), "full" (their mailbox here is full).
    #[error("recipient refused")]
    RecipientRefused { address: String, reason: String },
    /// The message's text and attachments are over the limit (in MB).
    #[error("message too large")]
    TooLarge { max_mb: i64 },
    /// To a patient's address, the message as sent is over Mon Espace Santé's limit (in MB).
    #[error("message too large for a patient")]
    TooLargeForPatient { max_mb: i64 },
    /// The sender's mailbox is full (quota in MB).
    #[error("quota exceeded")]
    QuotaExceeded { quota_mb: i64 },
    /// The draft being saved was sent or deleted meanwhile.
    #[error("draft gone")]
    DraftGone,
    /// An authenticator app's code that was already used: wait for the next one.
    #[error("code already used")]
    CodeReplayed,
    /// A passkey ceremony that did not succeed; `reason`: "cancelled", "already_registered",
    /// "unsupported", "insecure" (the browser's), "refused" (the answer did not verify),
    /// "taken" (the key is another account's), "unavailable" (this instance has no passkeys);
    /// for the phone: "no_phone", "phone_refused" (wrong number or expired), "wrong_number",
    /// "request_gone".
    #[error("passkey refused")]
    KeyRefused { reason: String },
}

impl AppError {
    /// Logs `cause` under a fresh reference and returns the error to show.
    #[cfg(feature = "ssr")]
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        let ref_id = hygie_core::random_ref();
        tracing::error!(ref_id = %ref_id, error = %cause, "internal error");
        AppError::Internal { ref_id }
    }

    /// What to tell the person, in their language.
    pub fn message(&self, t: I18n) -> String {
        match self {
            AppError::Unauthorized => t.t(Msg::ErrUnauthorized).into(),
            AppError::Forbidden => t.t(Msg::ErrForbidden).into(),
            AppError::NotFound => t.t(Msg::ErrNotFound).into(),
            AppError::Invalid(_) => t.t(Msg::ErrSummary).into(),
            AppError::RateLimited { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60).max(1);
                t.fmt(Msg::ErrRateLimited, &[("minutes", &minutes.to_string())])
            }
            AppError::Internal { ref_id } => t.fmt(Msg::ErrInternal, &[("ref", ref_id)]),
            AppError::BadCredentials => t.t(Msg::ErrBadCredentials).into(),
            AppError::Locked => t.t(Msg::ErrLocked).into(),
            AppError::AccountUnavailable => t.t(Msg::ErrAccountUnavailable).into(),
            AppError::WrongCode { attempts_left } => t.fmt(Msg::ErrWrongCode, &[("left", &attempts_left.to_string())]),
            AppError::CodeExpired => t.t(Msg::ErrCodeExpired).into(),
            AppError::TermsPending => t.t(Msg::ErrTermsPending).into(),
            AppError::ReauthRequired => t.t(Msg::ErrReauthRequired).into(),
            AppError::LinkExpired => t.t(Msg::ErrLinkExpired).into(),
            AppError::RecipientRefused { address, reason } => {
                let msg = match reason.as_str() {
                    "outside" => Msg::ErrRecipientOutside,
                    "full" => Msg::ErrRecipientFull,
                    _ => Msg::ErrRecipientUnknown,
                };
                t.fmt(msg, &[("address", address)])
            }
            AppError::TooLarge { max_mb } => t.fmt(Msg::ErrTooLarge, &[("max", &max_mb.to_string())]),
            AppError::TooLargeForPatient { max_mb } => {
                t.fmt(Msg::ErrTooLargeForPatient, &[("max", &max_mb.to_string())])
            }
            AppError::QuotaExceeded { quota_mb } => t.fmt(Msg::ErrQuotaExceeded, &[("quota", &quota_mb.to_string())]),
            AppError::DraftGone => t.t(Msg::ErrDraftGone).into(),
            AppError::CodeReplayed => t.t(Msg::ErrCodeReplayed).into(),
            AppError::KeyRefused { reason } => t
                .t(match reason.as_str() {
                    "cancelled" => Msg::ErrKeyCancelled,
                    "already_registered" => Msg::ErrKeyAlreadyRegistered,
                    "unsupported" | "insecure" => Msg::ErrKeyUnsupported,
                    "taken" => Msg::ErrKeyTaken,
                    "unavailable" => Msg::ErrKeyUnavailable,
                    "no_phone" => Msg::ErrNoPhone,
                    "phone_refused" => Msg::ErrPhoneRefused,
                    "wrong_number" => Msg::ErrWrongNumber,
                    "request_gone" => Msg::ErrRequestGone,
                    _ => Msg::ErrKeyRefused,
                })
                .into(),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::auth::holder::HolderDenied> for AppError {
    fn from(e: hygie_core::auth::holder::HolderDenied) -> Self {
        use hygie_core::auth::holder::HolderDenied;
        match e {
            HolderDenied::Level { .. } => AppError::Unauthorized,
            HolderDenied::TermsPending => AppError::TermsPending,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::auth::terminals::TerminalError> for AppError {
    fn from(e: hygie_core::auth::terminals::TerminalError) -> Self {
        use hygie_core::auth::terminals::{TerminalError, NAME_MAX};

        use crate::domain::{FieldError, FieldProblem};
        let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
        match e {
            TerminalError::ReauthRequired => AppError::ReauthRequired,
            TerminalError::NameRequired => invalid("name", FieldProblem::Required),
            TerminalError::NameTooLong => invalid("name", FieldProblem::TooLong { max: NAME_MAX }),
            TerminalError::TooMany => invalid("name", FieldProblem::TooManyTerminals),
            TerminalError::NotFound => AppError::NotFound,
            TerminalError::WrongCode => invalid("code", FieldProblem::WrongCode),
            TerminalError::KeyRefused => AppError::KeyRefused { reason: "refused".into() },
            TerminalError::KeyTaken => AppError::KeyRefused { reason: "taken".into() },
            TerminalError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::auth::oauth::OAuthError> for AppError {
    fn from(e: hygie_core::auth::oauth::OAuthError) -> Self {
        use hygie_core::auth::oauth::OAuthError;

        use crate::domain::{FieldError, FieldProblem};
        match e {
            OAuthError::UnknownCode => {
                AppError::Invalid(vec![FieldError { field: "code".into(), problem: FieldProblem::UnknownDeviceCode }])
            }
            OAuthError::TooManyAttempts { retry_after_ms } => {
                AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) }
            }
            OAuthError::Denied(d) => d.into(),
            OAuthError::InvalidGrant => AppError::NotFound,
            other => AppError::internal(other),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::StoreError> for AppError {
    fn from(e: hygie_core::StoreError) -> Self {
        AppError::internal(e)
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::SendError> for AppError {
    fn from(e: hygie_core::mail::SendError) -> Self {
        use hygie_core::mail::SendError;

        use crate::domain::{FieldError, FieldProblem};
        let refused = |address: String, reason: &str| AppError::RecipientRefused { address, reason: reason.into() };
        let mb = |bytes: i64| bytes / (1024 * 1024);
        let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
        match e {
            SendError::NoRecipient => invalid("to", FieldProblem::Required),
            SendError::OutsideTrustSpace(x) => refused(x, "outside"),
            SendError::UnknownMailbox(x) => refused(x, "unknown"),
            SendError::MailboxFull(x) => refused(x, "full"),
            SendError::TooLarge { max_bytes } => AppError::TooLarge { max_mb: mb(max_bytes) },
            SendError::TooLargeForPatient { max_bytes } => AppError::TooLargeForPatient { max_mb: mb(max_bytes) },
            SendError::QuotaExceeded { quota_bytes } => AppError::QuotaExceeded { quota_mb: mb(quota_bytes) },
            SendError::DraftGone => AppError::DraftGone,
            SendError::UnknownUpload => invalid("attachments", FieldProblem::UnknownValue),
            SendError::ForwardedNotFound => AppError::NotFound,
            SendError::RateLimited { retry_after_secs } => AppError::RateLimited { retry_after_secs },
            SendError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::receipts::ReceiptError> for AppError {
    fn from(e: hygie_core::mail::receipts::ReceiptError) -> Self {
        use hygie_core::mail::receipts::ReceiptError;
        match e {
            ReceiptError::NotFound => AppError::NotFound,
            ReceiptError::NotAsked | ReceiptError::AlreadyAnswered | ReceiptError::Off => AppError::Forbidden,
            ReceiptError::OutsideTrustSpace => {
                AppError::RecipientRefused { address: String::new(), reason: "outside".into() }
            }
            ReceiptError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::schedule::ScheduleError> for AppError {
    fn from(e: hygie_core::mail::schedule::ScheduleError) -> Self {
        use hygie_core::mail::schedule::ScheduleError;

        use crate::domain::{FieldError, FieldProblem};
        let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
        match e {
            ScheduleError::Past => invalid("send_at", FieldProblem::PastTime),
            ScheduleError::TooFar => invalid("send_at", FieldProblem::TooFarAhead),
            ScheduleError::Leaving => invalid("send_at", FieldProblem::Leaving),
            ScheduleError::InvalidDelay => invalid("delay", FieldProblem::UnknownValue),
            ScheduleError::NotFound => AppError::NotFound,
            ScheduleError::Draft(e) => e.into(),
            ScheduleError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::MailError> for AppError {
    fn from(e: hygie_core::mail::MailError) -> Self {
        use hygie_core::mail::MailError;
        match e {
            MailError::RateLimited { retry_after_secs } => AppError::RateLimited { retry_after_secs },
            MailError::TooLarge { max_bytes } => AppError::TooLarge { max_mb: max_bytes / (1024 * 1024) },
            MailError::QuotaExceeded { quota_bytes } => {
                AppError::QuotaExceeded { quota_mb: quota_bytes / (1024 * 1024) }
            }
            MailError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::mail::folders::FolderError> for AppError {
    fn from(e: hygie_core::mail::folders::FolderError) -> Self {
        use hygie_core::mail::folders::{FolderError, NAME_MAX};

        use crate::domain::{FieldError, FieldProblem};
        let invalid = |problem| AppError::Invalid(vec![FieldError { field: "name".into(), problem }]);
        match e {
            FolderError::InvalidName => invalid(FieldProblem::FolderName { max: NAME_MAX }),
            FolderError::Duplicate => invalid(FieldProblem::FolderExists),
            FolderError::TooDeep | FolderError::Cycle => invalid(FieldProblem::FolderTooDeep),
            FolderError::NotFound => AppError::NotFound,
            FolderError::Store(e) => AppError::internal(e),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<hygie_core::accounts::settings::SettingsError> for AppError {
    fn from(e: hygie_core::accounts::settings::SettingsError) -> Self {
        use hygie_core::accounts::settings::SettingsError;

        use crate::domain::{FieldError, FieldProblem};
        let invalid = |field: &str, problem| AppError::Invalid(vec![FieldError { field: field.into(), problem }]);
        match e {
            SettingsError::TermsChanged => AppError::TermsPending,
            SettingsError::ReauthRequired => AppError::ReauthRequired,
            SettingsError::WrongPassword => invalid("current", FieldProblem::WrongPassword),
            SettingsError::Password(p) => crate::api::password_error("new_password", p),
            SettingsError::OnSecureDomain => invalid("email", FieldProblem::OnSecureDomain),
            SettingsError::RateLimited { retry_after_ms } => {
                AppError::RateLimited { retry_after_secs: (retry_after_ms.max(0) as u64).div_ceil(1000) }
            }
            SettingsError::WrongCode { attempts_left } => AppError::WrongCode { attempts_left },
            SettingsError::CodeExpired => AppError::CodeExpired,
            SettingsError::Store(e) => AppError::internal(e),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Transport or (de)serialisation failures: nothing the person can fix but retry.
        let ref_id = match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => "network",
            _ => "protocol",
        };
        AppError::Internal { ref_id: ref_id.into() }
    }
}
