//! Cron evaluation cases: time zones, daylight-saving gaps and overlaps, Metronome's field
//! rules. Each case lists the next slots as wall-clock times with their UTC offsets.

use super::*;
use chrono::DateTime;

/// Parses `start` (RFC 3339), then checks the next `expect.len()` slots of `expr` in `zone`.
fn check(expr: &str, zone: &str, start: &str, expect: &[&str]) {
    check_syntax(CronSyntax::Metronome, expr, zone, start, expect)
}

fn check_syntax(syntax: CronSyntax, expr: &str, zone: &str, start: &str, expect: &[&str]) {
    let cron = CronSchedule::parse(expr, zone, syntax).expect("valid expression");
    let tz: Tz = zone.parse().expect("zone");
    let mut t = DateTime::parse_from_rfc3339(start)
        .expect("start time")
        .timestamp();
    let mut got = Vec::new();
    for _ in expect {
        t = cron.next_after(t).expect("a next slot");
        let local = tz.from_utc_datetime(&utc(t).expect("in range").naive_utc());
        got.push(local.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    }
    assert_eq!(got, expect, "{expr} in {zone} after {start}");
}

#[test]
fn daily_in_utc() {
    check(
        "0 9 * * *",
        "UTC",
        "2024-01-01T10:00:00Z",
        &["2024-01-02T09:00:00+00:00", "2024-01-03T09:00:00+00:00"],
    );
}

#[test]
fn weekdays_in_berlin() {
    check(
        "30 8 * * 1-5",
        "Europe/Berlin",
        "2024-01-05T12:00:00Z",
        &["2024-01-08T08:30:00+01:00", "2024-01-09T08:30:00+01:00"],
    );
}

#[test]
fn half_hour_offset_zone() {
    check(
        "0 0 * * *",
        "Asia/Kolkata",
        "2024-01-01T00:00:00Z",
        &["2024-01-02T00:00:00+05:30"],
    );
}

#[test]
fn fixed_time_in_spring_forward_gap_runs_right_after_the_gap() {
    // New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
    check(
        "30 2 * * *",
        "America/New_York",
        "2024-03-09T12:00:00-05:00",
        &["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
    );
}

#[test]
fn fixed_time_in_fall_back_overlap_runs_once() {
    // New York, 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    check(
        "30 1 * * *",
        "America/New_York",
        "2024-11-02T12:00:00-04:00",
        &["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
    );
}

#[test]
fn interval_in_fall_back_overlap_follows_real_time() {
    check(
        "*/30 * * * *",
        "America/New_York",
        "2024-11-03T00:45:00-04:00",
        &[
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
            "2024-11-03T02:00:00-05:00",
        ],
    );
}

#[test]
fn interval_in_spring_forward_gap_skips_the_gap() {
    check(
        "*/30 * * * *",
        "America/New_York",
        "2024-03-10T01:15:00-05:00",
        &[
            "2024-03-10T01:30:00-05:00",
            "2024-03-10T03:00:00-04:00",
            "2024-03-10T03:30:00-04:00",
        ],
    );
}

#[test]
fn southern_hemisphere_dst() {
    // Sydney, 2024-10-06: 02:00 AEST jumps to 03:00 AEDT.
    check(
        "15 2 * * *",
        "Australia/Sydney",
        "2024-10-05T12:00:00+10:00",
        &["2024-10-06T03:00:00+11:00", "2024-10-07T02:15:00+11:00"],
    );
}

#[test]
fn metronome_field_rules() {
    // Day of week 7 is Sunday.
    check(
        "0 12 * * 7",
        "UTC",
        "2024-01-01T00:00:00Z",
        &["2024-01-07T12:00:00+00:00"],
    );
    // L: the last day of the month.
    check(
        "0 0 L * *",
        "UTC",
        "2024-02-10T00:00:00Z",
        &["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00"],
    );
    // Day of month AND day of week must both match (Friday the 13th).
    check(
        "0 0 13 * 5",
        "UTC",
        "2024-01-01T00:00:00Z",
        &["2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00"],
    );
    // An optional sixth field is the year.
    check(
        "0 0 1 1 * 2030",
        "UTC",
        "2024-06-01T00:00:00Z",
        &["2030-01-01T00:00:00+00:00"],
    );
}

#[test]
fn seconds_syntax_for_tests() {
    check_syntax(
        CronSyntax::WithSeconds,
        "*/5 * * * * *",
        "UTC",
        "2024-01-01T00:00:01Z",
        &["2024-01-01T00:00:05+00:00", "2024-01-01T00:00:10+00:00"],
    );
    assert!(CronSchedule::parse("* * * * *", "UTC", CronSyntax::WithSeconds).is_err());
}

#[test]
fn rejected_expressions() {
    let err = |expr: &str, zone: &str| {
        CronSchedule::parse(expr, zone, CronSyntax::Metronome)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        err("* * * *", "UTC"),
        "cron expression \"* * * *\" is invalid: expected 5 fields, found 4"
    );
    assert!(err("61 * * * *", "UTC").starts_with("cron expression \"61 * * * *\" is invalid"));
    assert!(err("@daily", "UTC").contains("invalid"));
    assert_eq!(
        err("* * * * *", "Mars/Olympus"),
        "no time zone found with this id: \"Mars/Olympus\""
    );
    let feb30 = CronSchedule::parse("0 0 30 2 *", "UTC", CronSyntax::Metronome).expect("parses");
    assert_eq!(
        feb30
            .check_matches(1_700_000_000)
            .err()
            .map(|e| e.to_string()),
        Some("cron expression \"0 0 30 2 *\" never matches a date".into())
    );
}

#[test]
fn metronome_time_format() {
    assert_eq!(
        format_metronome_time(1_468_587_779.735),
        "2016-07-15T13:02:59.735+0000"
    );
    assert_eq!(run_id_prefix(1_468_587_779.735), "20160715130259");
}
