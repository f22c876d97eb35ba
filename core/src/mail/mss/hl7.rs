//! The HL7 v2 data types XDS metadata carries as text: `CX` (an identifier and its assigning
//! authority's OID), `XCN` (a person), `XON` (an organisation), the `PID-n|…` lines of
//! `sourcePatientInfo`, and `DTM` times.

use super::metadata::clean;

/// Component `n` (from 0) of an HL7 value (`^`-separated), cleaned.
pub(super) fn component(value: &str, n: usize) -> String {
    clean(value.split('^').nth(n).unwrap_or(""))
}

/// A `CX` identifier: `ID^^^&OID&ISO^TYPE` → (ID, OID).
pub(super) fn cx(value: &str) -> (String, String) {
    let id = component(value, 0);
    let authority = value.split('^').nth(3).unwrap_or("");
    let oid = clean(authority.split('&').nth(1).unwrap_or(""));
    (id, oid)
}

/// An `XCN` person: `ID^FAMILY^Given^^^Prefix^^^&OID&ISO^…`; a value without `^` is a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Xcn {
    pub id: String,
    pub family: String,
    pub given: String,
    pub prefix: String,
}

impl Xcn {
    pub fn parse(value: &str) -> Xcn {
        if !value.contains('^') {
            return Xcn { family: clean(value), ..Xcn::default() };
        }
        Xcn {
            id: component(value, 0),
            family: component(value, 1),
            given: component(value, 2),
            prefix: component(value, 5),
        }
    }

    /// `Dr Paul MARTIN`, as far as the parts are there.
    pub fn display_name(&self) -> String {
        [self.prefix.as_str(), self.given.as_str(), self.family.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The value of field `pid` (`PID-5`, …) among `sourcePatientInfo` lines (`PID-5|DUPONT^Jeanne`).
pub(super) fn pid_field<'a>(lines: &'a [String], pid: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (name, value) = l.split_once('|')?;
        (name.trim().eq_ignore_ascii_case(pid)).then_some(value.trim())
    })
}

/// A `DTM` (`YYYYMMDD[HHMM[SS]]`, UTC in XDS) as ISO 8601: `2026-10-05` or
/// `2026-10-05T10:15:00Z`. `None` when it is not a date.
pub(super) fn iso_time(value: &str) -> Option<String> {
    let v = value.trim();
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return None;
    }
    let (y, m, d) = (&digits[0..4], &digits[4..6], &digits[6..8]);
    let (mo, da): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    if digits.len() < 12 {
        return Some(format!("{y}-{m}-{d}"));
    }
    let (h, mi) = (&digits[8..10], &digits[10..12]);
    let s = if digits.len() >= 14 { &digits[12..14] } else { "00" };
    let (hh, mm, ss): (u32, u32, u32) = (h.parse().ok()?, mi.parse().ok()?, s.parse().ok()?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(format!("{y}-{m}-{d}T{h}:{mi}:{s}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hl7_values() {
        assert_eq!(
            cx("261037512345678^^^&1.2.250.1.213.1.4.8&ISO^NH"),
            ("261037512345678".into(), "1.2.250.1.213.1.4.8".into())
        );
        assert_eq!(cx("12345"), ("12345".into(), String::new()));
        let p = Xcn::parse("801234567890^MARTIN^Paul^^^Dr^^^&1.2.250.1.71.4.2.1&ISO^D^^^RPPS");
        assert_eq!((p.id.as_str(), p.display_name().as_str()), ("801234567890", "Dr Paul MARTIN"));
        assert_eq!(Xcn::parse("Dr Durand").display_name(), "Dr Durand");
        let lines = vec!["PID-5|DUPONT^Jeanne^^^^^L".to_string(), "PID-7|19610312".to_string()];
        assert_eq!(pid_field(&lines, "PID-7"), Some("19610312"));
        assert_eq!(pid_field(&lines, "PID-8"), None);
        assert_eq!(iso_time("20261005101530").as_deref(), Some("2026-10-05T10:15:30Z"));
        assert_eq!(iso_time("202610051015").as_deref(), Some("2026-10-05T10:15:00Z"));
        assert_eq!(iso_time("20261005").as_deref(), Some("2026-10-05"));
        assert_eq!(iso_time("2026"), None);
        assert_eq!(iso_time("20261305"), None);
        assert_eq!(iso_time("hier"), None);
    }
}
