//! What the operator types or imports to create an account, and its rules.

use serde::{Deserialize, Serialize};

use super::email::EmailAddress;
use super::phone::MobileNumber;
use super::professional_id::ProfessionalId;
use super::{text_field, FieldError, FieldProblem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailboxType {
    Personal,
    Organisational,
    Applicative,
}

impl MailboxType {
    /// Accepts the stored names and the national abbreviations (`PER`, `ORG`, `APP`).
    pub fn parse(raw: &str) -> Result<MailboxType, FieldProblem> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" => Err(FieldProblem::Required),
            "personal" | "per" | "personnelle" => Ok(MailboxType::Personal),
            "organisational" | "org" | "organisationnelle" => Ok(MailboxType::Organisational),
            "applicative" | "app" => Ok(MailboxType::Applicative),
            _ => Err(FieldProblem::UnknownValue),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MailboxType::Personal => "personal",
            MailboxType::Organisational => "organisational",
            MailboxType::Applicative => "applicative",
        }
    }
}

/// Raw input, one string per field (a form, command-line flags or a CSV line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInput {
    pub address: String,
    pub mailbox_type: String,
    pub last_name: String,
    pub first_name: String,
    /// Health professionals: RPPS or ADELI.
    pub professional_id: String,
    pub profession: String,
    pub specialty: String,
    pub practice_place: String,
    /// Other professionals authorised by law: their registration authority and role.
    pub authority: String,
    pub role: String,
    pub notification_email: String,
    pub mobile: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Health { id: ProfessionalId, profession: String, specialty: Option<String>, practice_place: Option<String> },
    Other { authority: String, role: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub address: EmailAddress,
    pub mailbox_type: MailboxType,
    pub last_name: String,
    pub first_name: String,
    pub kind: Kind,
    pub notification_email: EmailAddress,
    pub mobile: Option<MobileNumber>,
}

fn optional(raw: &str, max: usize) -> Result<Option<String>, FieldProblem> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        text_field(raw, 1, max, false).map(Some)
    }
}

impl NewAccount {
    /// Checks every field; `instance_domains` are the mail domains this Hygie serves: the mailbox
    /// address must be on one, the notification address must not (nor, once the trust space is
    /// imported, on any of its domains: see `secure_domains`).
    pub fn parse(
        input: &AccountInput,
        instance_domains: &[String],
        is_secure_domain: impl Fn(&str) -> bool,
    ) -> Result<NewAccount, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |field: &str, problem: FieldProblem| errors.push(FieldError { field: field.into(), problem });

        let address = match EmailAddress::parse(&input.address) {
            Ok(a) if instance_domains.iter().any(|d| d.eq_ignore_ascii_case(a.domain())) => Some(a),
            Ok(_) => {
                take("address", FieldProblem::NotInstanceDomain);
                None
            }
            Err(p) => {
                take("address", p);
                None
            }
        };
        let mailbox_type = MailboxType::parse(&input.mailbox_type).map_err(|p| take("mailbox_type", p)).ok();
        let names_required = mailbox_type == Some(MailboxType::Personal);
        let name = |raw: &str| {
            if names_required {
                text_field(raw, 1, 100, false)
            } else {
                optional(raw, 100).map(Option::unwrap_or_default)
            }
        };
        let last_name = name(&input.last_name).map_err(|p| take("last_name", p)).ok();
        let first_name = name(&input.first_name).map_err(|p| take("first_name", p)).ok();

        let kind = if !input.professional_id.trim().is_empty() || !input.profession.trim().is_empty() {
            let id = ProfessionalId::parse(&input.professional_id).map_err(|p| take("professional_id", p)).ok();
            let profession = text_field(&input.profession, 1, 100, false).map_err(|p| take("profession", p)).ok();
            let specialty = optional(&input.specialty, 150).map_err(|p| take("specialty", p)).ok();
            let place = optional(&input.practice_place, 200).map_err(|p| take("practice_place", p)).ok();
            match (id, profession, specialty, place) {
                (Some(id), Some(profession), Some(specialty), Some(practice_place)) => {
                    Some(Kind::Health { id, profession, specialty, practice_place })
                }
                _ => None,
            }
        } else {
            let authority = text_field(&input.authority, 1, 150, false).map_err(|p| take("authority", p)).ok();
            let role = text_field(&input.role, 1, 150, false).map_err(|p| take("role", p)).ok();
            match (authority, role) {
                (Some(authority), Some(role)) => Some(Kind::Other { authority, role }),
                _ => None,
            }
        };

        let notification_email = match EmailAddress::parse(&input.notification_email) {
            Ok(e)
                if instance_domains.iter().any(|d| d.eq_ignore_ascii_case(e.domain()))
                    || is_secure_domain(e.domain()) =>
            {
                take("notification_email", FieldProblem::OnSecureDomain);
                None
            }
            Ok(e) => Some(e),
            Err(p) => {
                take("notification_email", p);
                None
            }
        };
        let mobile = if input.mobile.trim().is_empty() {
            Some(None)
        } else {
            MobileNumber::parse(&input.mobile).map(Some).map_err(|p| take("mobile", p)).ok()
        };

        match (address, mailbox_type, last_name, first_name, kind, notification_email, mobile) {
            (
                Some(address),
                Some(mailbox_type),
                Some(last_name),
                Some(first_name),
                Some(kind),
                Some(notification_email),
                Some(mobile),
            ) if errors.is_empty() => {
                Ok(NewAccount { address, mailbox_type, last_name, first_name, kind, notification_email, mobile })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["hygie.example".into()]
    }

    fn social_worker() -> AccountInput {
        AccountInput {
            address: "claire.martin@hygie.example".into(),
            mailbox_type: "PER".into(),
            last_name: "Martin".into(),
            first_name: "Claire".into(),
            authority: "Conseil départemental du Rhône".into(),
            role: "Assistante sociale".into(),
            notification_email: "claire.martin@exemple.fr".into(),
            mobile: "06 12 34 56 78".into(),
            ..Default::default()
        }
    }

    #[test]
    fn other_professional() {
        let a = NewAccount::parse(&social_worker(), &domains(), |_| false).unwrap();
        assert_eq!(a.address.as_str(), "claire.martin@hygie.example");
        assert_eq!(a.mailbox_type, MailboxType::Personal);
        assert!(matches!(a.kind, Kind::Other { .. }));
        assert_eq!(a.mobile.unwrap().as_str(), "+33612345678");
    }

    #[test]
    fn health_professional_needs_a_valid_identifier() {
        let mut i = social_worker();
        i.professional_id = "751001234".into();
        i.profession = "Infirmier".into();
        let a = NewAccount::parse(&i, &domains(), |_| false).unwrap();
        assert!(matches!(a.kind, Kind::Health { ref id, .. } if id.kind() == "adeli"));
        i.professional_id = "12".into();
        let errs = NewAccount::parse(&i, &domains(), |_| false).unwrap_err();
        assert_eq!(errs[0], FieldError { field: "professional_id".into(), problem: FieldProblem::InvalidIdentifier });
    }

    #[test]
    fn domain_rules() {
        let mut i = social_worker();
        i.address = "claire@ailleurs.fr".into();
        i.notification_email = "claire@hygie.example".into();
        let errs = NewAccount::parse(&i, &domains(), |_| false).unwrap_err();
        let got: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.problem)).collect();
        assert_eq!(
            got,
            vec![("address", FieldProblem::NotInstanceDomain), ("notification_email", FieldProblem::OnSecureDomain)]
        );
        // A notification address inside the trust space is refused as well.
        let mut i = social_worker();
        i.notification_email = "claire@ch-lyon.mssante.fr".into();
        let errs = NewAccount::parse(&i, &domains(), |d| d.ends_with("mssante.fr")).unwrap_err();
        assert_eq!(errs[0].problem, FieldProblem::OnSecureDomain);
    }

    #[test]
    fn organisational_mailboxes_need_no_person_name() {
        let mut i = social_worker();
        i.mailbox_type = "ORG".into();
        i.last_name.clear();
        i.first_name.clear();
        i.mobile.clear();
        let a = NewAccount::parse(&i, &domains(), |_| false).unwrap();
        assert_eq!(a.last_name, "");
        assert_eq!(a.mobile, None);
        i.mailbox_type = "PER".into();
        let errs = NewAccount::parse(&i, &domains(), |_| false).unwrap_err();
        assert_eq!(errs.len(), 2);
        i.mailbox_type = "XYZ".into();
        assert_eq!(NewAccount::parse(&i, &domains(), |_| false).unwrap_err()[0].problem, FieldProblem::UnknownValue);
    }
}
