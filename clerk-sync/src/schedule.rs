//! [`SyncScheduler`]: when each importer runs next, from the rate of change seen in its previous syncs and how
//! long they took (a proxy for the load an import puts on the shop), within configurable bounds.
//!
//! The scheduler keeps no clock: every call takes `now`, so it is deterministic and testable.

use std::collections::BTreeMap;

use clerk_core::domain::Timestamp;
use serde::{Deserialize, Serialize};

use crate::report::SyncReport;

/// Settings of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// The shortest interval between two syncs of one importer, in seconds. Default 5 minutes.
    pub min_interval_secs: i64,
    /// The longest interval, in seconds. Default one day.
    pub max_interval_secs: i64,
    /// The interval of a new importer until its first sync is seen. Default one hour.
    pub initial_interval_secs: i64,
    /// How many changed records one sync should find: a shop changing faster is synced more often. Default 100.
    pub target_changes: f64,
    /// The largest share of the time an importer may spend importing (import duration / interval). Default 0.05.
    pub max_load: f64,
    /// How much longer the interval is while real-time updates are on (syncs then only catch what real-time
    /// missed). Default 4.
    pub realtime_factor: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            min_interval_secs: 300,
            max_interval_secs: 86_400,
            initial_interval_secs: 3_600,
            target_changes: 100.0,
            max_load: 0.05,
            realtime_factor: 4.0,
        }
    }
}

/// What one sync showed: how much changed, how long it took, whether it worked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Records written or deleted.
    pub changes: u64,
    /// Seconds the sync took.
    pub duration_secs: f64,
    /// Whether it completed.
    pub succeeded: bool,
}

impl From<&SyncReport> for Observation {
    fn from(r: &SyncReport) -> Self {
        Observation { changes: r.changes(), duration_secs: r.duration_secs, succeeded: r.succeeded() }
    }
}

/// The schedule of one importer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImporterSchedule {
    /// The importer's name.
    pub name: String,
    /// The current interval between syncs, in seconds.
    pub interval_secs: i64,
    /// When it runs next.
    pub next_run: Timestamp,
    /// When it last ran.
    pub last_run: Option<Timestamp>,
    /// The last observation.
    pub last: Option<Observation>,
    /// Whether the shop pushes real-time updates for it.
    pub realtime: bool,
    /// Syncs observed.
    pub runs: u64,
}

impl ImporterSchedule {
    /// Syncs per day at the current interval.
    pub fn runs_per_day(&self) -> f64 {
        86_400.0 / self.interval_secs.max(1) as f64
    }
}

/// Decides when each importer runs next.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncScheduler {
    config: ScheduleConfig,
    importers: BTreeMap<String, ImporterSchedule>,
}

impl SyncScheduler {
    /// A scheduler without importers.
    pub fn new(config: ScheduleConfig) -> Self {
        SyncScheduler { config, importers: BTreeMap::new() }
    }

    /// The settings.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    fn clamp(&self, secs: f64) -> i64 {
        let (lo, hi) = (self.config.min_interval_secs.max(1), self.config.max_interval_secs.max(1));
        if secs.is_nan() {
            return hi.max(lo);
        }
        (secs.round().clamp(lo as f64, hi.max(lo) as f64)) as i64
    }

    /// Adds an importer, due at once. Adding a known name changes nothing.
    pub fn register(&mut self, name: &str, now: Timestamp) -> &ImporterSchedule {
        let interval = self.clamp(self.config.initial_interval_secs as f64);
        self.importers.entry(name.to_owned()).or_insert_with(|| ImporterSchedule {
            name: name.to_owned(),
            interval_secs: interval,
            next_run: now,
            last_run: None,
            last: None,
            realtime: false,
            runs: 0,
        })
    }

    /// Removes an importer.
    pub fn unregister(&mut self, name: &str) -> Option<ImporterSchedule> {
        self.importers.remove(name)
    }

    /// Turns real-time updates for `name` on or off (registered at `now` if unknown). With real-time on, the
    /// interval is [`ScheduleConfig::realtime_factor`] times longer.
    pub fn set_realtime(&mut self, name: &str, on: bool, now: Timestamp) {
        self.register(name, now);
        let factor = self.config.realtime_factor.max(1.0);
        let Some(s) = self.importers.get(name) else { return };
        if s.realtime == on {
            return;
        }
        let interval = if on { s.interval_secs as f64 * factor } else { s.interval_secs as f64 / factor };
        let interval = self.clamp(interval);
        if let Some(s) = self.importers.get_mut(name) {
            s.realtime = on;
            s.interval_secs = interval;
            s.next_run = s.last_run.map_or(s.next_run, |l| Timestamp(l.secs() + interval));
        }
    }

    /// Takes the report of a sync that finished at `now` and plans the importer's next run.
    pub fn record(&mut self, report: &SyncReport, now: Timestamp) -> &ImporterSchedule {
        self.observe(&report.importer, Observation::from(report), now)
    }

    /// Takes an observation of a sync of `name` that finished at `now` and plans the next run:
    ///
    /// - the ideal interval finds [`ScheduleConfig::target_changes`] changes per sync at the rate of change just
    ///   seen (no change: twice the interval);
    /// - the new interval is the geometric mean of the old and the ideal one (no jumps on one odd sync), times
    ///   the real-time factor when real-time updates are on;
    /// - it is at least `duration / max_load`, so slow imports run less often;
    /// - it is clamped to `[min_interval, max_interval]`. A failed sync is retried after a quarter of the
    ///   interval.
    pub fn observe(&mut self, name: &str, obs: Observation, now: Timestamp) -> &ImporterSchedule {
        self.register(name, now);
        let config = self.config;
        let (interval, elapsed, realtime) = match self.importers.get(name) {
            Some(s) => (
                s.interval_secs as f64,
                s.last_run.map_or(s.interval_secs, |l| (now.secs() - l.secs()).max(1)) as f64,
                s.realtime,
            ),
            None => (config.initial_interval_secs as f64, config.initial_interval_secs as f64, false),
        };
        let (new_interval, next) = if obs.succeeded {
            let mut ideal = if obs.changes == 0 {
                interval * 2.0
            } else {
                let rate = obs.changes as f64 / elapsed;
                config.target_changes.max(1.0) / rate
            };
            if realtime {
                ideal *= config.realtime_factor.max(1.0);
            }
            let mut new = (interval * ideal).sqrt();
            let floor = obs.duration_secs.max(0.0) / config.max_load.max(1e-6);
            new = new.max(floor);
            let new = self.clamp(new);
            (new, Timestamp(now.secs() + new))
        } else {
            let retry = self.clamp(interval / 4.0);
            (interval as i64, Timestamp(now.secs() + retry))
        };
        let s = self.importers.get_mut(name).expect("registered above");
        s.interval_secs = new_interval;
        s.next_run = next;
        s.last_run = Some(now);
        s.last = Some(obs);
        s.runs += 1;
        s
    }

    /// The importers due at `now`, soonest first.
    pub fn due(&self, now: Timestamp) -> Vec<&str> {
        let mut due: Vec<&ImporterSchedule> = self.importers.values().filter(|s| s.next_run <= now).collect();
        due.sort_by_key(|s| s.next_run);
        due.into_iter().map(|s| s.name.as_str()).collect()
    }

    /// The earliest next run of any importer.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.importers.values().map(|s| s.next_run).min()
    }

    /// The schedule of `name`.
    pub fn schedule(&self, name: &str) -> Option<&ImporterSchedule> {
        self.importers.get(name)
    }

    /// Every importer's schedule (frequency, next run, real-time), by name.
    pub fn status(&self) -> Vec<&ImporterSchedule> {
        self.importers.values().collect()
    }
}
