//! The scheduler adapts each importer's interval to the rate of change and the import's duration.

use clerk_core::domain::Timestamp;
use clerk_sync::schedule::Observation;
use clerk_sync::{ScheduleConfig, SyncScheduler};

fn t(secs: i64) -> Timestamp {
    Timestamp(1_700_000_000 + secs)
}

fn ok(changes: u64, duration_secs: f64) -> Observation {
    Observation { changes, duration_secs, succeeded: true }
}

/// Runs `name` whenever it is due, observing `obs` each time, `runs` times; returns the intervals seen.
fn run(s: &mut SyncScheduler, name: &str, runs: usize, obs: Observation) -> Vec<i64> {
    (0..runs)
        .map(|_| {
            let now = s.schedule(name).unwrap().next_run;
            assert!(s.due(now).contains(&name));
            s.observe(name, obs, now).interval_secs
        })
        .collect()
}

#[test]
fn a_new_importer_is_due_at_once() {
    let mut s = SyncScheduler::new(ScheduleConfig::default());
    s.register("shop", t(0));
    assert_eq!(s.due(t(0)), ["shop"]);
    assert_eq!(s.schedule("shop").unwrap().interval_secs, 3_600);
}

#[test]
fn the_interval_shrinks_when_much_changes_and_grows_when_nothing_does() {
    let mut s = SyncScheduler::new(ScheduleConfig::default());
    s.register("busy", t(0));
    s.register("quiet", t(0));
    // 1,000 changes per sync: ten times the target of 100.
    let busy = run(&mut s, "busy", 8, ok(1_000, 1.0));
    assert!(busy.windows(2).all(|w| w[1] <= w[0]), "{busy:?}");
    assert!(*busy.last().unwrap() < 3_600 / 2, "{busy:?}");
    assert_eq!(*busy.last().unwrap(), 300, "clamped at the minimum: {busy:?}");
    let quiet = run(&mut s, "quiet", 12, ok(0, 1.0));
    assert!(quiet.windows(2).all(|w| w[1] >= w[0]), "{quiet:?}");
    assert_eq!(*quiet.last().unwrap(), 86_400, "clamped at the maximum: {quiet:?}");
    let status: Vec<(&str, f64)> = s.status().iter().map(|i| (i.name.as_str(), i.runs_per_day())).collect();
    assert_eq!(status, [("busy", 288.0), ("quiet", 1.0)]);
}

#[test]
fn a_steady_rate_converges_to_the_target() {
    let mut s = SyncScheduler::new(ScheduleConfig::default());
    s.register("shop", t(0));
    // 100 changes per hour whatever the interval: the interval settles near one hour.
    let mut now = t(0);
    for _ in 0..12 {
        let interval = s.schedule("shop").unwrap().interval_secs;
        let changes = (100 * interval / 3_600) as u64;
        now = s.schedule("shop").unwrap().next_run;
        s.observe("shop", ok(changes, 1.0), now);
    }
    let interval = s.schedule("shop").unwrap().interval_secs;
    assert!((3_300..=3_900).contains(&interval), "{interval}");
    assert!(s.schedule("shop").unwrap().next_run > now);
}

#[test]
fn slow_imports_run_less_often() {
    let mut s = SyncScheduler::new(ScheduleConfig::default());
    s.register("fast", t(0));
    s.register("slow", t(0));
    let fast = s.observe("fast", ok(1_000, 2.0), t(3_600)).interval_secs;
    // 10 minutes of import at 5% load at most: at least 12,000 s between runs.
    let slow = s.observe("slow", ok(1_000, 600.0), t(3_600)).interval_secs;
    assert!(slow > fast, "{slow} vs {fast}");
    assert_eq!(slow, 12_000);
}

#[test]
fn realtime_updates_stretch_the_interval_and_failures_retry_sooner() {
    let mut s = SyncScheduler::new(ScheduleConfig::default());
    s.register("shop", t(0));
    s.observe("shop", ok(100, 1.0), t(3_600));
    assert_eq!(s.schedule("shop").unwrap().interval_secs, 3_600);
    s.set_realtime("shop", true, t(3_600));
    let sched = s.schedule("shop").unwrap();
    assert!(sched.realtime);
    assert_eq!(sched.interval_secs, 14_400);
    assert_eq!(sched.next_run, t(3_600 + 14_400));
    s.set_realtime("shop", false, t(3_600));
    assert_eq!(s.schedule("shop").unwrap().interval_secs, 3_600);

    let after = s.observe("shop", Observation { changes: 0, duration_secs: 1.0, succeeded: false }, t(7_200));
    assert_eq!(after.interval_secs, 3_600, "a failure does not change the interval");
    assert_eq!(after.next_run, t(7_200 + 900), "but retries after a quarter of it");
}

#[test]
fn sync_reports_feed_the_scheduler() {
    let mut s = SyncScheduler::default();
    let mut report = clerk_sync::SyncReport::new("shop", true, t(0));
    report.stored.products = 5_000;
    report.duration_secs = 3.0;
    s.register("shop", t(0));
    let sched = s.record(&report, t(3_600));
    assert!(sched.interval_secs < 3_600);
    assert_eq!(sched.last.unwrap().changes, 5_000);
}
