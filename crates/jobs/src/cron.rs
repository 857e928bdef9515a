//! Cron expressions in a time zone: Metronome's five fields (minute hour day-of-month
//! month day-of-week, an optional trailing year), evaluated on wall-clock time in an IANA
//! zone and returned as Unix seconds.
//!
//! Daylight-saving rules are Vixie cron's (as croner implements them): a fixed-time slot
//! that falls into a spring-forward gap runs at the first valid minute after the gap; a
//! fixed-time slot in a fall-back overlap runs once, at its first occurrence; wildcard and
//! step slots follow real time (skipped in a gap, run in both passes of an overlap).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::str::FromStr;

/// Which dialect a cron expression is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CronSyntax {
    /// Metronome's: five fields plus an optional sixth, the year.
    #[default]
    Metronome,
    /// Six fields with a leading seconds field; only for tests that need slots seconds apart.
    WithSeconds,
}

/// Why an expression or a zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron expression {expr:?} is invalid: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("cron expression {expr:?} never matches a date")]
    NeverMatches { expr: String },
    #[error("no time zone found with this id: {0:?}")]
    UnknownZone(String),
}

/// A parsed cron expression bound to its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parses `expr` in `syntax`, evaluated in the IANA zone `zone`.
    pub fn parse(expr: &str, zone: &str, syntax: CronSyntax) -> Result<Self, CronError> {
        let tz = Tz::from_str(zone).map_err(|_| CronError::UnknownZone(zone.to_string()))?;
        let fields = expr.split_whitespace().count();
        let allowed = match syntax {
            CronSyntax::Metronome => fields == 5 || fields == 6,
            CronSyntax::WithSeconds => fields == 6,
        };
        let invalid = |reason: String| CronError::Invalid {
            expr: expr.to_string(),
            reason,
        };
        if !allowed {
            return Err(invalid(format!("expected 5 fields, found {fields}")));
        }
        if expr.contains('@') {
            return Err(invalid("nicknames such as @daily are not supported".into()));
        }
        // Normalized to croner's seven fields: seconds, the five, year.
        let full = match (syntax, fields) {
            (CronSyntax::Metronome, 5) => format!("0 {expr} *"),
            (CronSyntax::Metronome, _) => format!("0 {expr}"),
            (CronSyntax::WithSeconds, _) => format!("{expr} *"),
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .dom_and_dow(true)
            .build()
            .parse(&full)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            expr: expr.to_string(),
            cron,
            tz,
        })
    }

    /// The expression as given.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &'static str {
        self.tz.name()
    }

    /// The first slot strictly after `after` (Unix seconds), or `None` if there is none.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = self.tz.from_utc_datetime(&utc(after)?.naive_utc());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp())
    }

    /// Like [`Self::next_after`], failing when the expression can never match (e.g. `0 0 30 2 *`).
    pub fn check_matches(&self, now: i64) -> Result<i64, CronError> {
        self.next_after(now).ok_or_else(|| CronError::NeverMatches {
            expr: self.expr.clone(),
        })
    }
}

fn utc(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(secs, 0)
}

/// Metronome's time format, `2016-07-15T13:02:59.735+0000` (always UTC).
pub fn format_metronome_time(unix_secs: f64) -> String {
    let millis = (unix_secs * 1000.0).round() as i64;
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        None => "1970-01-01T00:00:00.000+0000".to_string(),
    }
}

/// `yyyyMMddHHmmss` in UTC, the prefix of Metronome run ids.
pub fn run_id_prefix(unix_secs: f64) -> String {
    match utc(unix_secs.floor() as i64) {
        Some(t) => t.format("%Y%m%d%H%M%S").to_string(),
        None => "19700101000000".to_string(),
    }
}

#[cfg(test)]
mod tests;
