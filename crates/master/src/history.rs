//! The history service beside the master (dcos-history's `/dcos-history-service`): it takes
//! the master's `state-summary` every 2 s into a one-minute ring and every minute into a
//! one-hour ring, persists the hour ring in the store (`/keel/history/hour`) so it survives
//! restarts, and serves `/ping`, `/history/last`, `/history/minute` and `/history/hour`.

use crate::Master;
use crate::error::MasterError;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_store::Expect;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The store key of the persisted hour ring.
pub const HISTORY_HOUR: &str = "/keel/history/hour";

/// The path prefix Admin Router served the service under.
const PREFIX: &str = "/dcos-history-service";

/// The spacing of the minute ring's samples.
pub const MINUTE_STEP: Duration = Duration::from_secs(2);

/// How far back the minute ring reaches.
const MINUTE_SPAN_MS: u64 = 60_000;

/// How far back the hour ring reaches.
const HOUR_SPAN_MS: u64 = 3_600_000;

/// One state-summary as taken, kept as its JSON text, so serving is a copy and no re-encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken, in Unix milliseconds.
    pub at_ms: u64,
    /// The state-summary's JSON.
    pub summary: String,
}

/// The two rings: pure, every decision from `now` and the samples given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rings {
    /// The hour ring's spacing (60 s; shorter only for tests).
    pub hour_step_ms: u64,
    minute: VecDeque<Sample>,
    hour: VecDeque<Sample>,
}

impl Rings {
    /// Empty rings whose hour ring takes a sample every `hour_step`.
    pub fn new(hour_step: Duration) -> Rings {
        Rings {
            hour_step_ms: (hour_step.as_millis() as u64).max(1),
            minute: VecDeque::new(),
            hour: VecDeque::new(),
        }
    }

    /// Rings with a persisted hour ring, dropping what is older than an hour before `now_ms`.
    pub fn with_hour(hour_step: Duration, hour: Vec<Sample>, now_ms: u64) -> Rings {
        let mut r = Rings::new(hour_step);
        r.hour = hour.into_iter().collect();
        r.hour.make_contiguous().sort_by_key(|s| s.at_ms);
        expire(&mut r.hour, now_ms, HOUR_SPAN_MS);
        r
    }

    /// Adds a sample taken at `s.at_ms`; returns whether the hour ring changed (and so must be
    /// persisted).
    pub fn record(&mut self, s: Sample) -> bool {
        let now = s.at_ms;
        self.minute.push_back(s.clone());
        expire(&mut self.minute, now, MINUTE_SPAN_MS);
        let due = self
            .hour
            .back()
            .is_none_or(|last| now.saturating_sub(last.at_ms) >= self.hour_step_ms);
        let before = self.hour.len();
        if due {
            self.hour.push_back(s);
        }
        expire(&mut self.hour, now, HOUR_SPAN_MS);
        due || self.hour.len() != before
    }

    /// The newest sample.
    pub fn last(&self) -> Option<&Sample> {
        self.minute.back().or(self.hour.back())
    }

    /// The minute ring, oldest first.
    pub fn minute(&self) -> impl Iterator<Item = &Sample> {
        self.minute.iter()
    }

    /// The hour ring, oldest first.
    pub fn hour(&self) -> impl Iterator<Item = &Sample> {
        self.hour.iter()
    }
}

/// Drops the samples older than `span_ms` before `now_ms`.
fn expire(ring: &mut VecDeque<Sample>, now_ms: u64, span_ms: u64) {
    while ring
        .front()
        .is_some_and(|s| now_ms.saturating_sub(s.at_ms) > span_ms)
    {
        ring.pop_front();
    }
}

/// A JSON array of the samples' summaries, as dcos-history answers.
fn json_array<'a>(samples: impl Iterator<Item = &'a Sample>) -> String {
    let mut out = String::from("[");
    for (i, s) in samples.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&s.summary);
    }
    out.push(']');
    out
}

/// The running history service.
#[derive(Clone)]
pub struct History {
    master: Master,
    rings: Arc<Mutex<Rings>>,
}

impl History {
    /// Opens the service over `master`: loads the persisted hour ring and takes the first
    /// sample, so `/history/last` always has one.
    pub fn open(master: &Master, hour_step: Duration) -> Result<History, MasterError> {
        let (store, clock) = master.with_core(|c| (c.io.store.clone(), c.io.clock.clone()));
        let now = now_ms(clock.unix_secs());
        let hour = match store.get(HISTORY_HOUR)? {
            Some(kv) => serde_json::from_slice::<Vec<Sample>>(&kv.value).unwrap_or_else(|e| {
                tracing::warn!("ignoring the persisted history at {HISTORY_HOUR}: {e}");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let h = History {
            master: master.clone(),
            rings: Arc::new(Mutex::new(Rings::with_hour(hour_step, hour, now))),
        };
        if h.sample() {
            h.persist()?;
        }
        Ok(h)
    }

    /// Takes a sample every [`MINUTE_STEP`] and persists the hour ring when it changes.
    /// Runs forever.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(MINUTE_STEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !self.sample() {
                continue;
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.persist()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("history: persisting the hour: {e}"),
                Err(e) => tracing::error!("history: persisting the hour: {e}"),
            }
        }
    }

    /// Takes one sample now; returns whether the hour ring changed.
    fn sample(&self) -> bool {
        let (summary, secs) = self
            .master
            .with_core(|c| (c.summary_json(), c.io.clock.unix_secs()));
        let Ok(json) = serde_json::to_string(&summary) else {
            return false;
        };
        let s = Sample {
            at_ms: now_ms(secs),
            summary: json,
        };
        self.lock().record(s)
    }

    /// Writes the hour ring to the store.
    fn persist(&self) -> Result<(), MasterError> {
        let hour: Vec<Sample> = self.lock().hour().cloned().collect();
        let body = serde_json::to_vec(&hour).map_err(|e| MasterError::Corrupt {
            key: HISTORY_HOUR.to_owned(),
            reason: e.to_string(),
        })?;
        let store = self.master.with_core(|c| c.io.store.clone());
        store.put(HISTORY_HOUR, &body, Expect::Any)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The routes under `/dcos-history-service`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(&format!("{PREFIX}/"), get(help))
            .route(&format!("{PREFIX}/ping"), get(ping))
            .route(&format!("{PREFIX}/history/last"), get(last))
            .route(&format!("{PREFIX}/history/minute"), get(minute))
            .route(&format!("{PREFIX}/history/hour"), get(hour))
            .with_state(self.clone())
    }
}

fn now_ms(unix_secs: f64) -> u64 {
    (unix_secs.max(0.0) * 1000.0) as u64
}

/// dcos-history answers `application/json` for everything, text included, with CORS open.
fn json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

async fn help() -> Response {
    json(format!(
        "DC/OS history service (Keel)\n\nRoutes:\n  {PREFIX}/ping\n  {PREFIX}/history/last\n  \
         {PREFIX}/history/minute\n  {PREFIX}/history/hour\n"
    ))
}

async fn ping() -> Response {
    json("pong".to_owned())
}

async fn last(State(h): State<History>) -> Response {
    let body = h
        .lock()
        .last()
        .map(|s| s.summary.clone())
        .unwrap_or_else(|| "{}".to_owned());
    json(body)
}

async fn minute(State(h): State<History>) -> Response {
    json(json_array(h.lock().minute()))
}

async fn hour(State(h): State<History>) -> Response {
    json(json_array(h.lock().hour()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: u64) -> Sample {
        Sample {
            at_ms,
            summary: format!("{{\"t\":{at_ms}}}"),
        }
    }

    fn ats<'a>(it: impl Iterator<Item = &'a Sample>) -> Vec<u64> {
        it.map(|s| s.at_ms).collect()
    }

    #[test]
    fn the_minute_ring_keeps_sixty_seconds_and_the_hour_one_sample_a_minute() {
        let mut r = Rings::new(Duration::from_secs(60));
        let mut hour_changes = 0;
        for i in 0..100u64 {
            if r.record(s(i * 2_000)) {
                hour_changes += 1;
            }
        }
        // Samples every 2 s up to 198 s: the minute ring keeps 138..=198 s.
        assert_eq!(ats(r.minute()).first(), Some(&138_000));
        assert_eq!(r.minute().count(), 31);
        assert_eq!(ats(r.hour()), vec![0, 60_000, 120_000, 180_000]);
        assert_eq!(hour_changes, 4);
        assert_eq!(r.last().map(|s| s.at_ms), Some(198_000));
    }

    #[test]
    fn the_hour_ring_forgets_what_is_older_than_an_hour() {
        let mut r = Rings::new(Duration::from_secs(60));
        for i in 0..=70u64 {
            r.record(s(i * 60_000));
        }
        let hour = ats(r.hour());
        assert_eq!(hour.first(), Some(&(10 * 60_000)));
        assert_eq!(hour.len(), 61);
    }

    #[test]
    fn a_persisted_hour_is_sorted_expired_and_continued() {
        let old = vec![s(5_000_000), s(1_000), s(4_000_000)];
        let mut r = Rings::with_hour(Duration::from_secs(60), old, 5_010_000);
        assert_eq!(ats(r.hour()), vec![4_000_000, 5_000_000]);
        // 10 s after the newest persisted sample: not yet due for the hour ring.
        assert!(!r.record(s(5_010_000)));
        assert!(r.record(s(5_060_000)));
        assert_eq!(ats(r.hour()), vec![4_000_000, 5_000_000, 5_060_000]);
    }

    #[test]
    fn the_rings_are_served_as_json_arrays_of_summaries() {
        let mut r = Rings::new(Duration::from_secs(60));
        assert_eq!(json_array(r.minute()), "[]");
        r.record(s(1));
        r.record(s(2_001));
        assert_eq!(json_array(r.minute()), r#"[{"t":1},{"t":2001}]"#);
        assert_eq!(json_array(r.hour()), r#"[{"t":1}]"#);
    }

    #[test]
    fn samples_round_trip_through_their_persisted_form() {
        let v = vec![s(7), s(8)];
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        let back: Vec<Sample> = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(back, v);
    }
}
