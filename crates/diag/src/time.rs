//! Timestamps as dcos-diagnostics prints them (`2026-12-08 00:30:05 +0000 UTC`), from Unix
//! seconds, without a calendar dependency.

/// `YYYY-MM-DD HH:MM:SS +0000 UTC` for `unix_secs`.
pub fn utc(unix_secs: f64) -> String {
    let s = unix_secs.max(0.0) as i64;
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_print_as_utc_dates() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 +0000 UTC");
        assert_eq!(utc(1_796_688_605.0), "2026-12-08 00:10:05 +0000 UTC");
    }
}
