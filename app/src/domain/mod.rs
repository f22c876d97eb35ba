//! Types with `parse()`, shared by the browser form and the server: the same rules run in both.

pub mod account;
pub mod compose;
pub mod contact;
pub mod email;
pub mod phone;
pub mod professional_id;

use serde::{Deserialize, Serialize};

use crate::i18n::{I18n, Msg};

/// Why a field was refused. Rendered through the i18n layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldProblem {
    Required,
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    InvalidEmail,
    SingleLine,
    ControlChars,
    InvalidPhone,
    NotMobile,
    InvalidIdentifier,
    NotInstanceDomain,
    OnSecureDomain,
    UnknownValue,
    /// A common password, or a keyboard or digit sequence.
    CommonPassword,
    /// A password built on the holder's own name or address.
    PersonalPassword,
    /// The one-time code is six digits.
    InvalidCode,
    /// The current password typed to confirm a change is wrong.
    WrongPassword,
    /// Still on its way (attachments uploading).
    Pending,
    /// A folder name: 1 to `max` characters, no slash.
    FolderName {
        max: usize,
    },
    FolderExists,
    FolderTooDeep,
    /// A code that does not match the authenticator app's (its clock, or the wrong entry).
    WrongCode,
    /// A device code that is unknown, expired or already used.
    UnknownDeviceCode,
    /// The account has as many terminals as it may.
    TooManyTerminals,
    /// A date and time that cannot be read.
    DateTime,
    /// A time to send that has passed.
    PastTime,
    /// A time to send more than a year ahead.
    TooFarAhead,
    /// A scheduled message being sent right now: its time can no longer change.
    Leaving,
}

impl FieldProblem {
    pub fn message(self, t: I18n) -> String {
        match self {
            FieldProblem::Required => t.t(Msg::ErrRequired).into(),
            FieldProblem::TooShort { min } => t.fmt(Msg::ErrTooShort, &[("min", &min.to_string())]),
            FieldProblem::TooLong { max } => t.fmt(Msg::ErrTooLong, &[("max", &max.to_string())]),
            FieldProblem::InvalidEmail => t.t(Msg::ErrEmail).into(),
            FieldProblem::SingleLine => t.t(Msg::ErrSingleLine).into(),
            FieldProblem::ControlChars => t.t(Msg::ErrControlChars).into(),
            FieldProblem::InvalidPhone => t.t(Msg::ErrPhone).into(),
            FieldProblem::NotMobile => t.t(Msg::ErrNotMobile).into(),
            FieldProblem::InvalidIdentifier => t.t(Msg::ErrIdentifier).into(),
            FieldProblem::NotInstanceDomain => t.t(Msg::ErrNotInstanceDomain).into(),
            FieldProblem::OnSecureDomain => t.t(Msg::ErrOnSecureDomain).into(),
            FieldProblem::UnknownValue => t.t(Msg::ErrUnknownValue).into(),
            FieldProblem::CommonPassword => t.t(Msg::ErrCommonPassword).into(),
            FieldProblem::PersonalPassword => t.t(Msg::ErrPersonalPassword).into(),
            FieldProblem::InvalidCode => t.t(Msg::ErrInvalidCode).into(),
            FieldProblem::WrongPassword => t.t(Msg::ErrWrongPassword).into(),
            FieldProblem::WrongCode => t.t(Msg::ErrAppCodeWrong).into(),
            FieldProblem::UnknownDeviceCode => t.t(Msg::ErrDeviceCode).into(),
            FieldProblem::TooManyTerminals => t.t(Msg::ErrTooManyTerminals).into(),
            FieldProblem::Pending => t.t(Msg::AttachNotReady).into(),
            FieldProblem::FolderName { max } => t.fmt(Msg::ErrFolderName, &[("max", &max.to_string())]),
            FieldProblem::FolderExists => t.t(Msg::ErrFolderExists).into(),
            FieldProblem::FolderTooDeep => t.t(Msg::ErrFolderTooDeep).into(),
            FieldProblem::DateTime => t.t(Msg::ErrDateTime).into(),
            FieldProblem::PastTime => t.t(Msg::ErrPastTime).into(),
            FieldProblem::TooFarAhead => t.t(Msg::ErrTooFarAhead).into(),
            FieldProblem::Leaving => t.t(Msg::ErrLeaving).into(),
        }
    }
}

/// A problem with a named field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

/// Trims `raw` and checks its length in characters and that it holds no control characters
/// (newlines and tabs allowed only when `multiline`).
pub fn text_field(raw: &str, min: usize, max: usize, multiline: bool) -> Result<String, FieldProblem> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldProblem::Required);
    }
    if !multiline && value.contains(['\n', '\r']) {
        return Err(FieldProblem::SingleLine);
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err(FieldProblem::ControlChars);
    }
    let len = value.chars().count();
    if len < min {
        return Err(FieldProblem::TooShort { min });
    }
    if len > max {
        return Err(FieldProblem::TooLong { max });
    }
    Ok(value.replace("\r\n", "\n"))
}
