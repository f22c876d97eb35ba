//! The assistance contact form.

use serde::{Deserialize, Serialize};

use super::email::EmailAddress;
use super::{text_field, FieldError, FieldProblem};

/// What the visitor typed, as sent by the form (also used to refill it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInput {
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
}

/// A contact request that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactForm {
    pub name: String,
    pub email: EmailAddress,
    pub subject: String,
    pub message: String,
}

pub const NAME_MAX: usize = 100;
pub const SUBJECT_MAX: usize = 150;
pub const MESSAGE_MIN: usize = 10;
pub const MESSAGE_MAX: usize = 5_000;

impl ContactForm {
    /// Checks every field and returns all the problems at once, in form order.
    pub fn parse(input: &ContactInput) -> Result<ContactForm, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = take(&mut errors, "name", text_field(&input.name, 1, NAME_MAX, false));
        let email = take(&mut errors, "email", EmailAddress::parse(&input.email));
        let subject = take(&mut errors, "subject", text_field(&input.subject, 1, SUBJECT_MAX, false));
        let message = take(&mut errors, "message", text_field(&input.message, MESSAGE_MIN, MESSAGE_MAX, true));
        match (name, email, subject, message) {
            (Some(name), Some(email), Some(subject), Some(message)) => {
                Ok(ContactForm { name, email, subject, message })
            }
            _ => Err(errors),
        }
    }
}

fn take<T>(errors: &mut Vec<FieldError>, field: &str, r: Result<T, FieldProblem>) -> Option<T> {
    r.map_err(|problem| errors.push(FieldError { field: field.into(), problem })).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ContactInput {
        ContactInput {
            name: " Élise Martin ".into(),
            email: "elise.martin@exemple.fr".into(),
            subject: "Code non reçu".into(),
            message: "Bonjour,\r\nje ne reçois plus le code par SMS.".into(),
        }
    }

    #[test]
    fn a_good_request_is_trimmed_and_normalised() {
        let f = ContactForm::parse(&input()).unwrap();
        assert_eq!(f.name, "Élise Martin");
        assert_eq!(f.message, "Bonjour,\nje ne reçois plus le code par SMS.");
    }

    #[test]
    fn every_problem_is_reported_in_form_order() {
        let bad =
            ContactInput { name: "".into(), email: "elise@".into(), subject: "a\nb".into(), message: "court".into() };
        let errs = ContactForm::parse(&bad).unwrap_err();
        assert_eq!(
            errs.iter().map(|e| (e.field.as_str(), e.problem)).collect::<Vec<_>>(),
            vec![
                ("name", FieldProblem::Required),
                ("email", FieldProblem::InvalidEmail),
                ("subject", FieldProblem::SingleLine),
                ("message", FieldProblem::TooShort { min: MESSAGE_MIN }),
            ]
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let mut i = input();
        i.name = "é".repeat(NAME_MAX);
        assert!(ContactForm::parse(&i).is_ok());
        i.name = "é".repeat(NAME_MAX + 1);
        assert_eq!(ContactForm::parse(&i).unwrap_err()[0].problem, FieldProblem::TooLong { max: NAME_MAX });
        i = input();
        i.message = "x".repeat(MESSAGE_MAX + 1);
        assert_eq!(ContactForm::parse(&i).unwrap_err()[0].problem, FieldProblem::TooLong { max: MESSAGE_MAX });
        i.message = "bonjour\u{0}!!!!!".into();
        assert_eq!(ContactForm::parse(&i).unwrap_err()[0].problem, FieldProblem::ControlChars);
    }
}
