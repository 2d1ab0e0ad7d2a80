//! Concurrent change: queries answered while real-time orders are folded in and full re-analyses run on other
//! threads; swaps of the engine's snapshot racing each other; real-time product updates racing a full sync of
//! the same products.
//!
//! Threads only (`std::thread` + `futures::executor::block_on`): the library needs no runtime. Run repeatedly
//! with `for i in $(seq 20); do cargo test --release --test concurrency || break; done`.

#[path = "fixtures/hostile/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clerk::api::{Blend, Query, QueryEngine, Request, Segment, Window};
use clerk::core::domain::{Order, OrderLine, Product, RecordKind, Timestamp, DAY};
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::core::{Dataset, IntentModel, PopularityModel};
use clerk::platform::{AnalysisPolicy, Clerk, PROVISIONAL_MODEL};
use clerk::sync::{
    CoreImporter, ImportError, Importer, Location, RealtimeUpdate, Record, RecordSink, SyncCursor, SyncMode,
};
use clerk::{DataStore, MemoryStore};
use futures::executor::block_on;

fn shop() -> &'static SyntheticShop {
    static SHOP: OnceLock<SyntheticShop> = OnceLock::new();
    SHOP.get_or_init(|| SyntheticShop::generate(&ShopConfig::small()))
}

/// A day after the shop's last order: real-time orders are placed before it, so the model's reference time
/// does not move and only what they touch changes between full analyses.
fn now() -> Timestamp {
    Timestamp(shop().end().secs() + DAY)
}

/// Requests whose answers depend on the analysis only (not on fold-ins of the real-time orders below, which
/// touch only `rt-` products and customers): alternatives and most-sold-with without fallback, audiences.
fn stable_requests() -> Vec<Request> {
    let s = shop();
    let mut out = Vec::new();
    for group in s.truth.substitute_groups.iter().take(4) {
        let p = group[0].clone();
        out.push(Request::new(Query::Alternatives { products: vec![p.clone()] }).limit(5).allow_fallback(false));
        out.push(Request::new(Query::MostSoldWith { products: vec![p.clone()] }).limit(5).allow_fallback(false));
        out.push(
            Request::new(Query::Audience { product: p, segment: Segment::Interested, window: Window::default() })
                .limit(5),
        );
    }
    out
}

/// Requests that change with every fold-in (only checked for errors and versions).
fn moving_requests() -> Vec<Request> {
    let s = shop();
    vec![
        Request::new(Query::Popular { category: None }).limit(20),
        Request::new(Query::CustomerPicks { customer: s.customers[0].id.clone() }).limit(10),
        Request::new(Query::Complementary { products: vec![s.products[0].id.clone()] }).limit(10),
        Request::new(Query::Trending { category: None }).limit(10).filter("price > 1"),
    ]
}

fn rt_order(round: usize, k: usize) -> Order {
    let t = Timestamp(shop().end().secs() - (k as i64 + 1) * 3600);
    let mut o = Order::new(format!("rt-{round}-{k}"), Some(format!("rt-c{k}")), t);
    o.lines = vec![OrderLine::new(format!("rt-p{}", k % 5), 1.0), OrderLine::new(format!("rt-p{}", (k + 1) % 5), 2.0)];
    o
}

async fn analysed_clerk() -> Clerk {
    let store = Arc::new(MemoryStore::new());
    shop().load_into(&*store).await.expect("memory store");
    let t = now();
    // Without fold-ins in `run_due`, every run after a change is a full analysis (real-time orders are still
    // folded in by `apply` at once).
    let policy = AnalysisPolicy { fold_in: false, ..AnalysisPolicy::default() };
    let clerk =
        Clerk::builder().store(store).analysis_policy(policy).clock(Arc::new(move || t)).build().await.expect("build");
    let run = clerk.run_due(now()).await.expect("first analysis");
    assert_eq!(run.analysis.map(|a| a.version), Some(1));
    clerk
}

type Seen = Vec<(usize, u64, Vec<String>)>;

/// Queries never fail or wait while real-time orders are folded in and full analyses run; every answer carries a
/// version that was installed, versions never go back on a thread, every answer of one version to one request
/// is the same (no mix of two analyses), and the last version is picked up and answers as it does alone.
#[test]
fn queries_during_fold_ins_and_full_analyses_see_one_version() {
    let clerk = block_on(analysed_clerk());
    let stable = stable_requests();
    let moving = moving_requests();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = 4;
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (clerk, stop, stable, moving) = (clerk.clone(), stop.clone(), stable.clone(), moving.clone());
            std::thread::spawn(move || {
                let mut seen: Seen = Vec::new();
                let mut last = 0;
                let mut n = 0usize;
                let mut slowest = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) || n < 50 {
                    let i = (n + r) % (stable.len() + moving.len());
                    let started = Instant::now();
                    let answer = if i < stable.len() {
                        clerk.query_now(&stable[i])
                    } else if i % 2 == 0 {
                        clerk.query_now(&moving[i - stable.len()])
                    } else {
                        let body = serde_json::to_string(&moving[i - stable.len()]).expect("json");
                        let out = clerk.handle_json_now(&body);
                        serde_json::from_str(&out).map_err(|_| panic!("{out}"))
                    };
                    slowest = slowest.max(started.elapsed());
                    let answer = answer.unwrap_or_else(|e| panic!("query {i} failed during analysis: {e}"));
                    assert!(
                        answer.analysis_version >= last,
                        "version went back: {last} -> {}",
                        answer.analysis_version
                    );
                    last = answer.analysis_version;
                    assert_eq!(answer.model == PROVISIONAL_MODEL, answer.analysis_version == 0);
                    if i < stable.len() {
                        let ids = answer
                            .items
                            .iter()
                            .map(|x| x.id.to_string())
                            .chain(answer.customers.iter().map(|c| c.id.to_string()))
                            .collect();
                        seen.push((i, answer.analysis_version, ids));
                    }
                    n += 1;
                }
                (seen, n, slowest)
            })
        })
        .collect();

    let mut versions = BTreeSet::from([1u64]);
    for round in 0..rounds {
        block_on(async {
            clerk.apply(RealtimeUpdate::Product(Product::new(format!("rt-p{round}")))).await.expect("product");
            for k in 0..5 {
                let report = clerk.apply(RealtimeUpdate::Order(rt_order(round, k))).await.expect("order");
                assert!(report.fold_in.is_some(), "a new order is folded in at once");
            }
            let run = clerk.run_due(Timestamp(now().secs() + round as i64)).await.expect("run_due");
            let analysis = run.analysis.expect("a full analysis (fold-ins are off in run_due)");
            versions.insert(analysis.version);
        });
    }
    stop.store(true, Ordering::Relaxed);

    let mut by_version: BTreeMap<(usize, u64), BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut total = 0;
    for reader in readers {
        let (seen, n, slowest) = reader.join().expect("reader panicked");
        total += n;
        eprintln!("reader: {n} queries, slowest {slowest:?}");
        for (i, v, ids) in seen {
            assert!(versions.contains(&v), "answer from version {v}, installed {versions:?}");
            by_version.entry((i, v)).or_default().insert(ids);
        }
    }
    for ((i, v), answers) in &by_version {
        assert_eq!(answers.len(), 1, "request {i}: version {v} gave {} different answers: {answers:?}", answers.len());
    }
    let last = *versions.last().expect("versions");
    assert_eq!(last, 1 + rounds as u64);
    assert_eq!(block_on(clerk.store().analysis_version()).expect("store"), last);
    assert_eq!(clerk.engine().version(), last);
    assert_eq!(block_on(clerk.status()).analysis_version, last);
    for (i, request) in stable.iter().enumerate() {
        let alone = clerk.query_now(request).expect("query");
        assert_eq!(alone.analysis_version, last);
        let ids: Vec<String> = alone
            .items
            .iter()
            .map(|x| x.id.to_string())
            .chain(alone.customers.iter().map(|c| c.id.to_string()))
            .collect();
        if let Some(answers) = by_version.get(&(i, last)) {
            assert!(answers.contains(&ids), "request {i}: answers of the last version differ from the one alone");
        }
    }
    eprintln!("{total} queries over {} versions", versions.len());
}

fn small_engine() -> (QueryEngine, Arc<dyn IntentModel>) {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        store.upsert_products((0..20).map(|i| Product::new(format!("p{i}"))).collect()).await.expect("store");
        let model = PopularityModel::new().analyse(&Dataset::from_store(&*store).await.expect("read")).expect("model");
        (QueryEngine::new(store, model.clone()).await.expect("engine"), model)
    })
}

/// Swapping a new analysis in while the host changes the blend weights (`Clerk::engine().set_blend`) or the
/// handle clears caches after a fold-in: no install may be lost (the version never goes back), and no weight
/// change may be lost.
///
/// Regression: the swapping methods (`install`, `install_model`, `refresh_catalog`, `set_blend`,
/// `clear_caches`) used to read the snapshot and swap a changed one in without a lock around both, so a racing
/// `set_blend` could put back the model an install had just replaced. They now change it one at a time.
#[test]
fn engine_swaps_are_not_lost() {
    let (engine, model) = small_engine();
    let n = 200_000u64;
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(2));
    let blender = {
        let (engine, stop, barrier) = (engine.clone(), stop.clone(), barrier.clone());
        std::thread::spawn(move || {
            barrier.wait();
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let blend = Blend { depth: 50 + (k % 2) as usize, ..Blend::default() };
                engine.set_blend(blend);
                k += 1;
            }
        })
    };
    barrier.wait();
    let mut went_back = 0;
    for v in 1..=n {
        engine.install_model(model.clone(), v);
        if engine.version() < v {
            went_back += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    blender.join().expect("blender");
    let final_version = engine.version();
    assert!(went_back == 0 && final_version == n, "{went_back} installs undone; final version {final_version} of {n}");
}

/// Without `set_blend` on the side, the swaps `Clerk` itself makes (installs, cache clears after fold-ins) are
/// serialised: the installed version always equals the handle's status.
#[test]
fn clerk_status_and_engine_agree_after_racing_applies() {
    let clerk = block_on(analysed_clerk());
    let appliers: Vec<_> = (0..2)
        .map(|a| {
            let clerk = clerk.clone();
            std::thread::spawn(move || {
                for k in 0..30 {
                    let mut o = rt_order(100 + a, k);
                    o.id = format!("race-{a}-{k}");
                    block_on(clerk.apply(RealtimeUpdate::Order(o))).expect("apply");
                }
            })
        })
        .collect();
    for round in 0..2 {
        block_on(clerk.run_due(Timestamp(now().secs() + 10 + round))).expect("run_due");
    }
    for a in appliers {
        a.join().expect("applier");
    }
    let status = block_on(clerk.status());
    assert_eq!(clerk.engine().version(), status.analysis_version);
    // Nothing lost: every real-time order is in the store, and after a last analysis in the model.
    let counts = block_on(clerk.store().counts()).expect("counts");
    assert_eq!(counts.orders, shop().orders.len() + 60);
    block_on(clerk.run_due(Timestamp(now().secs() + 100))).expect("run_due");
    let answer = clerk.query_now(&Request::new(Query::Popular { category: None }).limit(1000)).expect("popular");
    assert!(answer.ids().iter().any(|id| id.starts_with("rt-p")), "real-time orders missing from the analysis");
}

/// An importer that reads the same products as the store holds, with a new price, and in the middle of its
/// read lets the shop push real-time updates of one of those products and of a new product.
#[derive(Debug)]
struct RacingFeed {
    core: CoreImporter,
    products: Vec<Product>,
}

#[async_trait]
impl Importer for RacingFeed {
    fn name(&self) -> &str {
        "racing-feed"
    }

    fn kinds(&self) -> Vec<RecordKind> {
        vec![RecordKind::Product]
    }

    async fn read(&mut self, _mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let source: Arc<str> = Arc::from("racing-feed");
        let half = self.products.len() / 2;
        for (i, p) in self.products.iter().enumerate() {
            if i == half {
                // The shop changes product 0 (already read by this sync) and adds a product, while the sync runs.
                let mut changed = self.products[0].clone();
                changed.price = Some(99.0);
                self.core.apply(RealtimeUpdate::Product(changed)).await.expect("apply");
                self.core.apply(RealtimeUpdate::Product(Product::new("created-during-sync"))).await.expect("apply");
            }
            sink.record(Location::item(&source, i as u64), Record::Product(p.clone())).await?;
        }
        Ok(SyncCursor(String::new()))
    }
}

/// Real-time updates racing a full sync of the same products: nothing is lost, and the later change wins.
///
/// Documented in `docs/sync.md`: a real-time update wins over a sync that is running when it arrives. The sync
/// neither overwrites what the update wrote (its buffered, older version of the record is dropped at flush)
/// nor deletes it in the mirror step of a full sync (regression: both happened before).
#[test]
fn realtime_updates_racing_a_full_sync_are_not_lost() {
    let (store, report) = race_a_full_sync();
    let changed = block_on(store.product("p0")).expect("read").expect("p0");
    let created = block_on(store.product("created-during-sync")).expect("read");
    assert!(created.is_some(), "the product created during the sync was deleted by it: {report}");
    assert_eq!(changed.price, Some(99.0), "the real-time change made after the sync read p0 was overwritten");
}

fn race_a_full_sync() -> (Arc<MemoryStore>, clerk::sync::SyncReport) {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let old: Vec<Product> = (0..100)
            .map(|i| {
                let mut p = Product::new(format!("p{i}"));
                p.price = Some(1.0);
                p
            })
            .collect();
        store.upsert_products(old.clone()).await.expect("store");
        let core = CoreImporter::new(store.clone());
        let products = old
            .into_iter()
            .map(|mut p| {
                p.price = Some(2.0);
                p
            })
            .collect();
        let mut feed = RacingFeed { core: core.clone(), products };
        let report = core.sync(&mut feed, SyncMode::Full).await;
        (store, report)
    })
}
