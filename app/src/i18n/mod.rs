//! French first, English second. Every string a person reads goes through [`Msg`]; the locale is
//! chosen by the server (cookie, then `Accept-Language`) and read back by the browser from
//! `<html lang>` so that both render the same page.

use serde::{Deserialize, Serialize};

mod messages;
pub use messages::Msg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
pub enum Locale {
    #[default]
    Fr,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Fr, Locale::En];
    pub const COOKIE: &'static str = "hygie_lang";

    pub fn code(self) -> &'static str {
        match self {
            Locale::Fr => "fr",
            Locale::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Locale> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Locale::Fr),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// The other language, offered by the switcher.
    pub fn other(self) -> Locale {
        match self {
            Locale::Fr => Locale::En,
            Locale::En => Locale::Fr,
        }
    }

    /// Picks a locale from an `Accept-Language` header, honouring quality values; French when
    /// nothing matches.
    pub fn negotiate(accept_language: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for part in accept_language.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(l) = Locale::from_code(primary) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// Formats an ISO date (`2026-10-05`) for reading: `5 octobre 2026` / `5 October 2026`.
    pub fn long_date(self, iso: &str) -> String {
        const FR: [&str; 12] = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ];
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let mut parts = iso.split('-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
            return iso.to_string();
        };
        let (Ok(m), Ok(d)) = (m.parse::<usize>(), d.parse::<u32>()) else {
            return iso.to_string();
        };
        if !(1..=12).contains(&m) {
            return iso.to_string();
        }
        match self {
            Locale::Fr if d == 1 => format!("1er {} {y}", FR[m - 1]),
            Locale::Fr => format!("{d} {} {y}", FR[m - 1]),
            Locale::En => format!("{d} {} {y}", EN[m - 1]),
        }
    }

    /// `2026-12-03T11:00:00+01:00` (a Paris time) → "3 décembre 2026 à 11:00 (heure de Paris)" /
    /// "3 December 2026, 11:00 (Paris time)".
    pub fn paris_date_time(self, iso: &str) -> String {
        let Some((date, rest)) = iso.split_once('T') else { return iso.to_string() };
        let hm: String = rest.chars().take(5).collect();
        match self {
            Locale::Fr => format!("{} à {hm} (heure de Paris)", self.long_date(date)),
            Locale::En => format!("{}, {hm} (Paris time)", self.long_date(date)),
        }
    }

    /// A list's short date for a Paris time (`2026-12-08T14:32:05+01:00`) `days_ago` days before
    /// today: "14:32" today, "hier" / "yesterday", "lun. 7" / "Mon 7" within the week, "12 nov." /
    /// "12 Nov" this year, "22/07/2023" / "22/07/2023" before. The full date goes in a `title`.
    pub fn list_date(self, local: &str, days_ago: i64) -> String {
        const DAYS_FR: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
        const DAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS_FR: [&str; 12] =
            ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
        const MONTHS_EN: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let Some((date, rest)) = local.split_once('T') else { return local.to_string() };
        let mut parts = date.split('-');
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (
            parts.next().map(str::parse::<i64>),
            parts.next().map(str::parse::<usize>),
            parts.next().map(str::parse::<i64>),
        ) else {
            return local.to_string();
        };
        if !(1..=12).contains(&m) {
            return local.to_string();
        }
        let hm: String = rest.chars().take(5).collect();
        match days_ago {
            0 => hm,
            1 => match self {
                Locale::Fr => "hier".into(),
                Locale::En => "yesterday".into(),
            },
            2..=6 => {
                let wd = weekday(y, m as i64, d);
                match self {
                    Locale::Fr => format!("{} {d}", DAYS_FR[wd]),
                    Locale::En => format!("{} {d}", DAYS_EN[wd]),
                }
            }
            // This year (about): day and month; before, the date in figures.
            7..=300 => match self {
                Locale::Fr => format!("{d} {}", MONTHS_FR[m - 1]),
                Locale::En => format!("{d} {}", MONTHS_EN[m - 1]),
            },
            _ => format!("{d:02}/{m:02}/{y}"),
        }
    }

    /// `2026-11-22T16:05:09Z` → "22 novembre 2026 à 16:05 UTC" / "22 November 2026, 16:05 UTC".
    pub fn date_time(self, iso: &str) -> String {
        let Some((date, rest)) = iso.split_once('T') else { return iso.to_string() };
        let hm: String = rest.chars().take(5).collect();
        match self {
            Locale::Fr => format!("{} à {hm} UTC", self.long_date(date)),
            Locale::En => format!("{}, {hm} UTC", self.long_date(date)),
        }
    }
}

/// The day of the week of a date, 0 for Monday (Sakamoto's method).
fn weekday(y: i64, m: i64, d: i64) -> usize {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let sunday_first = (y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + d).rem_euclid(7);
    ((sunday_first + 6) % 7) as usize
}

/// The translator for the current page: `t.t(Msg::NavHome)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I18n {
    pub locale: Locale,
}

impl I18n {
    pub fn t(self, m: Msg) -> &'static str {
        m.text(self.locale)
    }

    /// A message with `{name}` placeholders filled in.
    pub fn fmt(self, m: Msg, args: &[(&str, &str)]) -> String {
        let mut s = m.text(self.locale).to_string();
        for (k, v) in args {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn list_dates_read_as_people_say_them() {
        let fr = Locale::Fr;
        assert_eq!(fr.list_date("2026-12-08T14:32:05+01:00", 0), "14:32");
        assert_eq!(fr.list_date("2026-12-07T09:00:00+01:00", 1), "hier");
        // 7 December 2026 is a Monday.
        assert_eq!(fr.list_date("2026-12-07T09:00:00+01:00", 3), "lun. 7");
        assert_eq!(Locale::En.list_date("2026-12-06T09:00:00+01:00", 4), "Sun 6");
        assert_eq!(fr.list_date("2026-11-12T09:00:00+01:00", 26), "12 nov.");
        assert_eq!(fr.list_date("2023-07-22T04:38:00+02:00", 1200), "22/07/2023");
    }
    use super::*;

    #[test]
    fn negotiates_with_quality_values() {
        assert_eq!(Locale::negotiate("en-GB,en;q=0.9,fr;q=0.8"), Locale::En);
        assert_eq!(Locale::negotiate("de-DE,fr;q=0.5,en;q=0.4"), Locale::Fr);
        assert_eq!(Locale::negotiate("fr-FR"), Locale::Fr);
        assert_eq!(Locale::negotiate("de, es"), Locale::Fr);
        assert_eq!(Locale::negotiate(""), Locale::Fr);
        assert_eq!(Locale::negotiate("en;q=0, fr;q=0.1"), Locale::Fr);
    }

    #[test]
    fn long_dates() {
        assert_eq!(Locale::Fr.long_date("2026-10-05"), "5 octobre 2026");
        assert_eq!(Locale::Fr.long_date("2026-03-01"), "1er mars 2026");
        assert_eq!(Locale::En.long_date("2026-03-02"), "2 March 2026");
        assert_eq!(Locale::En.long_date("garbage"), "garbage");
    }

    #[test]
    fn every_message_is_translated() {
        for m in Msg::ALL {
            for l in Locale::ALL {
                let text = m.text(l);
                assert!(!text.trim().is_empty(), "{m:?} has no {l:?} text");
            }
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let t = I18n { locale: Locale::Fr };
        assert_eq!(t.fmt(Msg::ErrTooLong, &[("max", "100")]), "100 caractères au maximum.");
    }
}
