//! Timestamps as dcos-diagnostics prints them (`2026-12-08 00:30:05 +0000 UTC`), from Unix
//! seconds, on top of the API's one calendar conversion (`keel_api::marathon::format_ts`).

/// `YYYY-MM-DD HH:MM:SS +0000 UTC` for `unix_secs`.
pub fn utc(unix_secs: f64) -> String {
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`: the date and the time without the milliseconds.
    let iso = keel_api::marathon::format_ts((unix_secs.max(0.0) * 1000.0) as i64);
    match (iso.get(..10), iso.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} +0000 UTC"),
        _ => iso,
    }
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
