//! Email addresses as people type them into forms.

use serde::{Deserialize, Serialize};

use super::FieldProblem;

/// A syntactically valid address `local@domain`, domain lower-cased. Deliberately stricter than
/// RFC 5321 (no quoted local parts, no IP literals): what a professional would type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, FieldProblem> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldProblem::Required);
        }
        if s.chars().count() > 254 {
            return Err(FieldProblem::TooLong { max: 254 });
        }
        let (local, domain) = s.rsplit_once('@').ok_or(FieldProblem::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.chars().count() >= 2);
        if !local_ok || !domain_ok {
            return Err(FieldProblem::InvalidEmail);
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_people_type() {
        for ok in ["jean.dupont@hygie.example", "  Dr.Martin+cabinet@Exemple.FR ", "é.lise@santé.fr", "a_b-c@x-y.org"]
        {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(EmailAddress::parse("A@Exemple.FR").unwrap().as_str(), "A@exemple.fr");
        assert_eq!(EmailAddress::parse("a@b.fr").unwrap().domain(), "b.fr");
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(EmailAddress::parse(" "), Err(FieldProblem::Required));
        for bad in [
            "jean",
            "jean@",
            "@x.fr",
            "jean@localhost",
            "a..b@x.fr",
            ".a@x.fr",
            "a@-x.fr",
            "a@x.f",
            "a b@x.fr",
            "a@x..fr",
            "a@x.fr\nBcc: y@z.fr",
            "a@x.123",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@x.fr", "a".repeat(260));
        assert_eq!(EmailAddress::parse(&long), Err(FieldProblem::TooLong { max: 254 }));
    }
}
