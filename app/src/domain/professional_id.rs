//! Identifiers of health professionals: RPPS (11 digits, Luhn checksum) or ADELI (9 characters).

use serde::{Deserialize, Serialize};

use super::FieldProblem;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProfessionalId {
    Rpps(String),
    Adeli(String),
}

impl ProfessionalId {
    /// Accepts an RPPS number (11 digits whose Luhn checksum holds) or an ADELI number
    /// (9 characters: digits, with a letter allowed in third position for Corsica, `2A`/`2B`).
    /// Spaces are ignored.
    pub fn parse(raw: &str) -> Result<ProfessionalId, FieldProblem> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        if s.is_empty() {
            return Err(FieldProblem::Required);
        }
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            return if luhn_ok(&s) { Ok(ProfessionalId::Rpps(s)) } else { Err(FieldProblem::InvalidIdentifier) };
        }
        let b = s.as_bytes();
        let adeli_ok = b.len() == 9
            && b.iter()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == 1 && (*c == b'A' || *c == b'B') && b[0] == b'2'));
        if adeli_ok {
            Ok(ProfessionalId::Adeli(s))
        } else {
            Err(FieldProblem::InvalidIdentifier)
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ProfessionalId::Rpps(_) => "rpps",
            ProfessionalId::Adeli(_) => "adeli",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            ProfessionalId::Rpps(v) | ProfessionalId::Adeli(v) => v,
        }
    }
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpps_with_checksum() {
        // 10003456789 + Luhn digit.
        let body = "1000345678";
        let check = (0..10).find(|d| luhn_ok(&format!("{body}{d}"))).unwrap();
        let good = format!("{body}{check}");
        assert_eq!(ProfessionalId::parse(&good), Ok(ProfessionalId::Rpps(good.clone())));
        let bad = format!("{body}{}", (check + 1) % 10);
        assert_eq!(ProfessionalId::parse(&bad), Err(FieldProblem::InvalidIdentifier));
    }

    #[test]
    fn adeli_and_refusals() {
        assert_eq!(ProfessionalId::parse("75 100 123 4"), Ok(ProfessionalId::Adeli("751001234".into())));
        assert_eq!(ProfessionalId::parse("2a1001234"), Ok(ProfessionalId::Adeli("2A1001234".into())));
        assert_eq!(ProfessionalId::parse(""), Err(FieldProblem::Required));
        for bad in ["12345", "7510012345", "3A1001234", "ABCDEFGHI"] {
            assert_eq!(ProfessionalId::parse(bad), Err(FieldProblem::InvalidIdentifier), "{bad}");
        }
    }
}
