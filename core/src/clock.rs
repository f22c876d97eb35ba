//! Time as a dependency, so that expiry and retries are tested by moving a clock, not by sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        let now = time::OffsetDateTime::now_utc();
        (now.unix_timestamp_nanos() / 1_000_000) as Millis
    }
}

/// A clock that only moves when told to; shared between a test and the code under test.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start_ms: Millis) -> Self {
        Self(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn advance_ms(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }

    pub fn set_ms(&self, to: Millis) {
        self.0.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Formats a timestamp as RFC 3339 UTC, second precision (`2026-11-22T14:05:09Z`).
pub fn format_utc(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

/// `ms` as the time in Paris (CET, CEST from the last Sunday of March to the last Sunday of
/// October, changing at 01:00 UTC): `2026-12-03T11:00:00+01:00`.
pub fn format_paris(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let last_sunday = |month: time::Month| {
        let last = time::Date::from_calendar_date(t.year(), month, 31).unwrap_or(time::Date::MIN);
        let back = last.weekday().number_days_from_sunday() as i64;
        (last - time::Duration::days(back))
            .with_hms(1, 0, 0)
            .map(|d| d.assume_utc())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    let summer = t >= last_sunday(time::Month::March) && t < last_sunday(time::Month::October);
    let offset = time::UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    t.to_offset(offset).format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_time_follows_summer_time() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let at = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
                * 1000
        };
        assert_eq!(format_paris(at("2026-12-03T10:00:00Z")), "2026-12-03T11:00:00+01:00");
        assert_eq!(format_paris(at("2026-07-14T10:00:00Z")), "2026-07-14T12:00:00+02:00");
        assert_eq!(format_paris(at("2026-03-29T00:59:59Z")), "2026-03-29T01:59:59+01:00");
        assert_eq!(format_paris(at("2026-03-29T01:00:00Z")), "2026-03-29T03:00:00+02:00");
        assert_eq!(format_paris(at("2026-10-25T00:59:59Z")), "2026-10-25T02:59:59+02:00");
        assert_eq!(format_paris(at("2026-10-25T01:00:00Z")), "2026-10-25T02:00:00+01:00");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set_ms(42);
        assert_eq!(c.now_ms(), 42);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_615_509_000), "2026-11-25T14:05:09Z");
    }
}
