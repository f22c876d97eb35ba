//! Mobile numbers, stored in E.164 (`+33612345678`).

use serde::{Deserialize, Serialize};

use super::FieldProblem;

/// A mobile number in E.164 form. French numbers may be typed the French way
/// (`06 12 34 56 78`, `06.12.34.56.78`); others need their `+` country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MobileNumber(String);

impl MobileNumber {
    pub fn parse(raw: &str) -> Result<MobileNumber, FieldProblem> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldProblem::Required);
        }
        if !trimmed.chars().all(|c| c.is_ascii_digit() || " .-()+".contains(c)) {
            return Err(FieldProblem::InvalidPhone);
        }
        let plus = trimmed.starts_with('+') || trimmed.starts_with("00");
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let e164 = if trimmed.starts_with('+') {
            format!("+{digits}")
        } else if let Some(rest) = digits.strip_prefix("00").filter(|_| plus) {
            format!("+{rest}")
        } else if digits.len() == 10 && digits.starts_with('0') {
            format!("+33{}", &digits[1..])
        } else {
            return Err(FieldProblem::InvalidPhone);
        };
        let national = &e164[1..];
        if !(8..=15).contains(&national.len()) || national.starts_with('0') {
            return Err(FieldProblem::InvalidPhone);
        }
        // French numbers: only mobiles (06, 07) can receive a code by SMS.
        if let Some(fr) = national.strip_prefix("33") {
            if fr.len() != 9 || !(fr.starts_with('6') || fr.starts_with('7')) {
                return Err(FieldProblem::NotMobile);
            }
        }
        Ok(MobileNumber(e164))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For display with the last digits only (`+33 •• •• •• 56 78`), so that a screen does not
    /// reveal the whole number.
    pub fn masked(&self) -> String {
        let tail: String = self.0.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("••••••{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_international_forms() {
        for (raw, e164) in [
            ("06 12 34 56 78", "+33612345678"),
            ("07.12.34.56.78", "+33712345678"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("0033612345678", "+33612345678"),
            ("+32 470 12 34 56", "+32470123456"),
        ] {
            assert_eq!(MobileNumber::parse(raw).unwrap().as_str(), e164, "{raw}");
        }
        assert_eq!(MobileNumber::parse("0612345678").unwrap().masked(), "••••••5678");
    }

    #[test]
    fn refusals() {
        assert_eq!(MobileNumber::parse(""), Err(FieldProblem::Required));
        assert_eq!(MobileNumber::parse("01 23 45 67 89"), Err(FieldProblem::NotMobile));
        for bad in ["12345", "06 12 34 56", "+0612345678", "06-12-34-56-78x", "612345678"] {
            assert_eq!(MobileNumber::parse(bad), Err(FieldProblem::InvalidPhone), "{bad}");
        }
    }
}
