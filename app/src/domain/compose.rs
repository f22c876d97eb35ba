//! A message being written: recipients, subject, body. The same rules run in the browser and on
//! the server.

use serde::{Deserialize, Serialize};

use super::email::EmailAddress;
use super::{text_field, FieldError, FieldProblem};

pub const SUBJECT_MAX: usize = 250;
pub const BODY_MAX: usize = 500_000;
pub const RECIPIENTS_MAX: usize = 100;
pub const ATTACHMENTS_MAX: usize = 50;

/// What the composer sends, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeInput {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub urgent: bool,
    /// The Message-ID answered, for replies.
    pub in_reply_to: String,
    /// Space-separated Message-IDs of the thread, for replies.
    pub references: String,
    /// Files uploaded for this message (ids from `POST /messagerie/pj`).
    #[serde(default)]
    pub attachments: Vec<i64>,
    /// For a forward: the message forwarded (0 for none) and which of its attachments go along.
    #[serde(default)]
    pub forward_from: i64,
    #[serde(default)]
    pub forward_parts: Vec<usize>,
    /// The draft this message is saved in (0 before the first save).
    #[serde(default)]
    pub draft_id: i64,
    /// Ask the recipients for a read receipt.
    #[serde(default)]
    pub read_receipt: bool,
    /// To a patient's address: the patient may not reply (`X-MSS-MES: FIN`).
    #[serde(default)]
    pub patient_no_reply: bool,
}

/// A checked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub urgent: bool,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<i64>,
    pub forward_from: Option<i64>,
    pub forward_parts: Vec<usize>,
    pub draft_id: Option<i64>,
    pub read_receipt: bool,
    pub patient_no_reply: bool,
}

/// The domain of patients' mailboxes in Mon Espace Santé (as `hygie_core::mail::delivery::PATIENT_DOMAIN`).
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";

/// Does a recipient field, as typed, name a patient's address?
pub fn to_patient(field: &str) -> bool {
    field
        .split([',', ';', ' '])
        .filter_map(|a| a.trim().rsplit_once('@'))
        .any(|(_, domain)| domain.trim_end_matches('>').eq_ignore_ascii_case(PATIENT_DOMAIN))
}

/// Splits a recipient field on commas, semicolons and spaces; checks each address.
pub fn recipients(raw: &str) -> Result<Vec<String>, FieldProblem> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', ';', ' ', '\n', '\t']).map(str::trim).filter(|p| !p.is_empty()) {
        // "Nom <adresse>" as pasted from elsewhere.
        let part = part.trim_start_matches('<').trim_end_matches('>');
        let a = EmailAddress::parse(part).map_err(|_| FieldProblem::InvalidEmail)?;
        let a = a.as_str().to_lowercase();
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.len() > RECIPIENTS_MAX {
        return Err(FieldProblem::TooLong { max: RECIPIENTS_MAX });
    }
    Ok(out)
}

impl Compose {
    /// A message to send: every recipient must be a valid address, and there must be one.
    pub fn parse(input: &ComposeInput) -> Result<Compose, Vec<FieldError>> {
        Self::check(input, true)
    }

    /// A draft: recipients stay as typed (they are not read from here), a subject's line breaks
    /// are dropped; the other limits hold.
    pub fn parse_draft(input: &ComposeInput) -> Result<Compose, Vec<FieldError>> {
        let mut lenient = input.clone();
        lenient.to.clear();
        lenient.cc.clear();
        lenient.bcc.clear();
        lenient.subject = input.subject.chars().filter(|c| !c.is_control()).collect();
        Self::check(&lenient, false)
    }

    fn check(input: &ComposeInput, require_recipient: bool) -> Result<Compose, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut field = |name: &str, r: Result<Vec<String>, FieldProblem>| match r {
            Ok(v) => v,
            Err(problem) => {
                errors.push(FieldError { field: name.into(), problem });
                Vec::new()
            }
        };
        let to = field("to", recipients(&input.to));
        let cc = field("cc", recipients(&input.cc));
        let bcc = field("bcc", recipients(&input.bcc));
        if require_recipient && errors.is_empty() && to.is_empty() && cc.is_empty() && bcc.is_empty() {
            errors.push(FieldError { field: "to".into(), problem: FieldProblem::Required });
        }
        if to.len() + cc.len() + bcc.len() > RECIPIENTS_MAX {
            errors.push(FieldError { field: "to".into(), problem: FieldProblem::TooLong { max: RECIPIENTS_MAX } });
        }
        let subject = if input.subject.trim().is_empty() {
            String::new()
        } else {
            match text_field(&input.subject, 1, SUBJECT_MAX, false) {
                Ok(s) => s,
                Err(problem) => {
                    errors.push(FieldError { field: "subject".into(), problem });
                    String::new()
                }
            }
        };
        let body = input.body.replace("\r\n", "\n").replace('\0', "");
        if body.chars().count() > BODY_MAX {
            errors.push(FieldError { field: "body".into(), problem: FieldProblem::TooLong { max: BODY_MAX } });
        }
        if input.attachments.len() + input.forward_parts.len() > ATTACHMENTS_MAX {
            errors.push(FieldError {
                field: "attachments".into(),
                problem: FieldProblem::TooLong { max: ATTACHMENTS_MAX },
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Message-IDs go into headers: printable ASCII without spaces or brackets, or nothing.
        let clean_id = |s: &str| {
            let id = s.trim().trim_start_matches('<').trim_end_matches('>');
            let ok =
                !id.is_empty() && id.len() <= 250 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
            if ok {
                id.to_string()
            } else {
                String::new()
            }
        };
        Ok(Compose {
            to,
            cc,
            bcc,
            subject,
            body,
            urgent: input.urgent,
            in_reply_to: Some(clean_id(&input.in_reply_to)).filter(|s| !s.is_empty()),
            references: input.references.split_whitespace().map(clean_id).filter(|s| !s.is_empty()).take(30).collect(),
            attachments: {
                let mut ids = input.attachments.clone();
                ids.dedup();
                ids
            },
            forward_from: (input.forward_from > 0).then_some(input.forward_from),
            forward_parts: if input.forward_from > 0 { input.forward_parts.clone() } else { Vec::new() },
            draft_id: (input.draft_id > 0).then_some(input.draft_id),
            read_receipt: input.read_receipt,
            patient_no_reply: input.patient_no_reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_address_is_recognised_as_typed() {
        assert!(to_patient("1234567890123456@patient.mssante.fr"));
        assert!(to_patient("dr.roy@hygie.test, <2840175123456@Patient.MSSante.fr>"));
        assert!(!to_patient("dr.roy@hygie.test; infirmier@patient.mssante.fr.example"));
        assert!(!to_patient(""));
    }

    #[test]
    fn recipients_are_split_checked_and_deduplicated() {
        assert_eq!(
            recipients("a@hygie.example; B@Hygie.example,  <c@labo.mssante.fr>\na@hygie.example").unwrap(),
            ["a@hygie.example", "b@hygie.example", "c@labo.mssante.fr"]
        );
        assert_eq!(recipients("a@hygie.example, pas-une-adresse"), Err(FieldProblem::InvalidEmail));
        assert_eq!(recipients("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_message_needs_a_recipient_and_a_one_line_subject() {
        let e = Compose::parse(&ComposeInput { subject: "a\nb".into(), ..Default::default() }).unwrap_err();
        let fields: Vec<_> = e.iter().map(|e| (e.field.as_str(), e.problem)).collect();
        assert_eq!(fields, [("to", FieldProblem::Required), ("subject", FieldProblem::SingleLine)]);
        let ok = Compose::parse(&ComposeInput {
            bcc: "x@hygie.example".into(),
            body: "l1\r\nl2".into(),
            in_reply_to: "<m1@h>".into(),
            references: "<r@h> <m1@h>".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.body, "l1\nl2");
        assert_eq!(ok.in_reply_to.as_deref(), Some("m1@h"));
        assert_eq!(ok.references, ["r@h", "m1@h"]);
        let forged = Compose::parse(&ComposeInput {
            to: "x@hygie.example".into(),
            in_reply_to: "x>\r\nFrom: forged@evil.example\r\nContent-Type: text/html".into(),
            references: "ok@h bad>\r\nX: y".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(forged.in_reply_to, None, "no header injection through the reply fields");
        assert!(forged.references.iter().all(|r| !r.contains(['\r', '\n', '>'])));
    }

    #[test]
    fn a_draft_keeps_unfinished_recipients_out_of_the_check() {
        let input = ComposeInput {
            to: "dr.martin@, pas fini".into(),
            subject: "Ligne\r\nX-Injected: 1".into(),
            draft_id: 7,
            ..Default::default()
        };
        assert!(Compose::parse(&input).is_err());
        let d = Compose::parse_draft(&input).unwrap();
        assert!(d.to.is_empty(), "recipients are kept as typed elsewhere, never parsed into headers");
        assert_eq!(d.subject, "LigneX-Injected: 1");
        assert_eq!(d.draft_id, Some(7));
        let too_long = ComposeInput { body: "x".repeat(BODY_MAX + 1), ..Default::default() };
        assert_eq!(Compose::parse_draft(&too_long).unwrap_err()[0].field, "body");
    }
}
