//! Marathon timestamps: UTC with exactly three fractional digits and a literal `Z`
//! (`2015-09-30T09:09:17.614Z`), the only form marathon-python 0.13.0 parses. Time is an
//! input here (unix milliseconds); nothing in this module reads the clock.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Values outside the calendar
/// range chrono supports render as the epoch.
pub fn format_ts(unix_millis: i64) -> String {
    // Years 0000..=9999 by hand (every app's versions are formatted on every write and
    // read, and chrono's `format` parses its pattern each time); anything else by chrono.
    if (YEAR_0_MS..YEAR_10000_MS).contains(&unix_millis) {
        return format_four_digit_year(unix_millis);
    }
    let dt = DateTime::<Utc>::from_timestamp_millis(unix_millis).unwrap_or(DateTime::UNIX_EPOCH);
    dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in unix milliseconds.
const YEAR_0_MS: i64 = -62_167_219_200_000;
const YEAR_10000_MS: i64 = 253_402_300_800_000;

fn format_four_digit_year(unix_millis: i64) -> String {
    let days = unix_millis.div_euclid(86_400_000);
    let ms_of_day = unix_millis.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (secs, ms) = (ms_of_day / 1000, ms_of_day % 1000);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
}

/// (year, month, day) of a count of days since 1970-01-01 in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses an ISO-8601 timestamp into unix milliseconds: Marathon's own form, RFC 3339 with
/// any offset and any number of fractional digits, `+0000` offsets (Metronome), a naive
/// date-time (read as UTC) and a bare date. Digits below the millisecond are dropped.
pub fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// A point in time as unix milliseconds; ordered, and written in Marathon's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub fn from_millis(unix_millis: i64) -> Timestamp {
        Timestamp(unix_millis)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses any form [`parse_ts`] accepts.
    pub fn parse(s: &str) -> Option<Timestamp> {
        parse_ts(s).map(Timestamp)
    }
}

/// The error of parsing a [`Timestamp`]; names the rejected text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTimestamp(pub String);

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid timestamp '{}'", self.0)
    }
}

impl std::error::Error for InvalidTimestamp {}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_ts(self.0))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(s: &str) -> Result<Timestamp, InvalidTimestamp> {
        Timestamp::parse(s).ok_or_else(|| InvalidTimestamp(s.to_owned()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_three_digits_and_z() {
        assert_eq!(format_ts(1_443_604_157_614), "2015-09-30T09:09:17.614Z");
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(1_443_604_157_000), "2015-09-30T09:09:17.000Z");
        assert_eq!(format_ts(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ts(i64::MAX), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn formats_like_chrono_across_the_four_digit_years() {
        let chrono_fmt = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap_or(DateTime::UNIX_EPOCH)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        };
        let edges = [
            YEAR_0_MS,
            YEAR_0_MS - 1,
            YEAR_10000_MS - 1,
            YEAR_10000_MS,
            -86_400_001,
            -1,
            0,
            951_782_400_000,   // 2000-02-29
            4_107_542_399_999, // 2100-02-28T23:59:59.999
        ];
        let sweep =
            (0..20_000).map(|i| YEAR_0_MS + i * 15_854_400_013_777 % (YEAR_10000_MS - YEAR_0_MS));
        for ms in edges.into_iter().chain(sweep) {
            assert_eq!(format_ts(ms), chrono_fmt(ms), "{ms}");
        }
    }

    #[test]
    fn parses_iso_variants() {
        let cases = [
            ("2015-09-30T09:09:17.614Z", Some(1_443_604_157_614)),
            ("2015-09-30T09:09:17Z", Some(1_443_604_157_000)),
            ("2015-09-30T09:09:17.614123456Z", Some(1_443_604_157_614)),
            ("2015-09-30T11:09:17.614+02:00", Some(1_443_604_157_614)),
            ("2015-09-30T09:09:17.614+0000", Some(1_443_604_157_614)),
            ("2015-09-30T09:09:17.614", Some(1_443_604_157_614)),
            ("2015-09-30", Some(1_443_571_200_000)),
            ("yesterday", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_ts(input), want, "{input}");
        }
    }

    #[test]
    fn timestamp_round_trips_through_json() {
        let ts = Timestamp(1_443_604_157_614);
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2015-09-30T09:09:17.614Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        assert!(Timestamp(1) > Timestamp::EPOCH);
        assert!(serde_json::from_str::<Timestamp>("\"nope\"").is_err());
    }
}
