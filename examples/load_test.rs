//! The load test: N threads issue a mix of query kinds against a Complete Journey-sized model for a fixed
//! period while another thread folds new orders in through `Clerk::apply` at a fixed rate. Reports throughput,
//! p50 / p99 / p999 latency per kind and overall, and the error count (which must be zero).
//!
//! ```text
//! cargo run --release --example load_test -- [--orders FILE [--catalog FILE] [column flags as in `import`]]
//!     [--scale F] [--seconds S] [--tasks N] [--fold-rate ORDERS_PER_S] [--max-queries N] [--seed N]
//! ```
//!
//! Without `--orders` the data is the synthetic shop `ShopConfig::scaled(F)` (F = 1 by default: 2,469
//! customers, about 68k products, 155k orders, Complete Journey's size). The data goes into a `MemoryStore`,
//! a `Clerk` handle analyses it (`run_due`, a full ClerkCore analysis), and then, for `--seconds` (default 20)
//! or `--max-queries` in all, whichever comes first:
//!
//! - `--tasks` threads (default 4) each issue queries round-robin over six kinds: `alternatives` (a product
//!   weighted by its orders), `complementary` with a basket of three products of a real order, `customer_picks`,
//!   `customer_complementary` (discovery), `popular`, and `audience` (interested, limit 100);
//! - one thread applies `--fold-rate` new orders per second (default 20), copies of real orders under new ids
//!   (so each is validated, stored and folded into the installed analysis at once).
//!
//! Every query's latency is timed with `Instant` around `Clerk::query_now`; any `Err` is counted as an error.
//! A table goes to stderr and one JSON object to stdout. Exit status 1 when there was any error.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::api::{Context, Query, Request, Segment, Window};
use clerk::core::domain::{Order, Timestamp, DAY};
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::core::{DataStore, MemoryStore};
use clerk::sync::RealtimeUpdate;
use clerk::Clerk;
use common::{machine, peak_rss_mb, Latency, Rng, Weighted};
use futures::executor::block_on;
use serde_json::json;

const KINDS: [&str; 6] = ["alternatives", "complementary", "customer_picks", "discovery", "popular", "audience"];

struct Args {
    source: common::Source,
    scale: f64,
    seconds: f64,
    tasks: usize,
    fold_rate: f64,
    max_queries: u64,
    seed: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: load_test [--orders FILE [--catalog FILE] {}] [--scale F] [--seconds S] [--tasks N] \
         [--fold-rate ORDERS_PER_S] [--max-queries N] [--seed N]",
        common::COLUMN_FLAGS
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        source: common::Source::default(),
        scale: 1.0,
        seconds: 20.0,
        tasks: 4,
        fold_rate: 20.0,
        max_queries: 50_000_000,
        seed: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        if a.source.take(&flag, &mut value) {
            continue;
        }
        match flag.as_str() {
            "--scale" => a.scale = value().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage()),
            "--tasks" => a.tasks = value().parse().unwrap_or_else(|_| usage()),
            "--fold-rate" => a.fold_rate = value().parse().unwrap_or_else(|_| usage()),
            "--max-queries" => a.max_queries = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => a.seed = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let valid = (0.0..=3600.0).contains(&a.seconds) && a.seconds > 0.0 && a.fold_rate.is_finite() && a.fold_rate >= 0.0;
    if !valid || a.tasks == 0 || a.tasks > 256 {
        usage();
    }
    a
}

/// What the query threads draw from.
struct Inputs {
    products: Vec<String>,
    by_orders: Weighted,
    customers: Vec<String>,
    /// Orders with at least three distinct products: their product ids.
    baskets: Vec<Vec<String>>,
}

impl Inputs {
    fn new(orders: &[Order]) -> Self {
        let mut index = std::collections::HashMap::new();
        let mut products: Vec<String> = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        let mut customers = std::collections::BTreeSet::new();
        let mut baskets = Vec::new();
        for o in orders {
            let mut ids: Vec<String> = o.lines.iter().map(|l| l.product_id.clone()).collect();
            ids.sort();
            ids.dedup();
            for id in &ids {
                let i = *index.entry(id.clone()).or_insert_with(|| {
                    products.push(id.clone());
                    counts.push(0.0);
                    products.len() - 1
                });
                counts[i] += 1.0;
            }
            if let Some(c) = &o.customer_id {
                customers.insert(c.clone());
            }
            if ids.len() >= 3 && baskets.len() < 20_000 {
                baskets.push(ids);
            }
        }
        Inputs { products, by_orders: Weighted::new(counts), customers: customers.into_iter().collect(), baskets }
    }

    fn request(&self, kind: usize, r: &mut Rng) -> Request {
        let product = self.products[self.by_orders.sample(r)].clone();
        match kind {
            0 => Request::new(Query::Alternatives { products: vec![product] }),
            1 => {
                let b = &self.baskets[r.below(self.baskets.len())];
                let basket: Vec<String> = b.iter().take(3).cloned().collect();
                Request::new(Query::Complementary { products: vec![] }).context(Context::new().basket(basket))
            }
            2 => Request::new(Query::CustomerPicks { customer: self.customers[r.below(self.customers.len())].clone() }),
            3 => Request::new(Query::CustomerComplementary {
                customer: self.customers[r.below(self.customers.len())].clone(),
            }),
            4 => Request::new(Query::Popular { category: None }),
            _ => Request::new(Query::Audience { product, segment: Segment::Interested, window: Window::default() })
                .limit(100),
        }
    }
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    let store = Arc::new(MemoryStore::new());
    let source = block_on(async {
        match &args.source.orders {
            Some(path) => {
                let mapping = args.source.mapping();
                let reports = common::import(store.clone(), path, args.source.catalog.as_deref(), mapping).await;
                for r in &reports {
                    eprintln!("{r}");
                }
                json!({"orders_file": path})
            }
            None => {
                let config = ShopConfig::scaled(args.scale);
                SyntheticShop::generate(&config).load_into(&*store).await.expect("memory store");
                json!({"synthetic": config})
            }
        }
    });
    let orders: Vec<Order> = block_on(store.orders_written_after(0, usize::MAX)).expect("orders").0;
    let counts = block_on(store.counts()).expect("counts");
    let last = orders.iter().map(|o| o.time).max().unwrap_or(Timestamp(0));
    let now = Timestamp(last.secs() + DAY);
    let clerk = block_on(Clerk::builder().store(store.clone()).clock(Arc::new(move || now)).build()).expect("build");
    let analysis_started = Instant::now();
    let run = block_on(clerk.run_due(now)).expect("analysis");
    let analysis_secs = analysis_started.elapsed().as_secs_f64();
    let version = run.analysis.as_ref().map(|a| a.version).unwrap_or_default();
    eprintln!(
        "data: {} orders, {} products; analysis v{version} in {analysis_secs:.1} s; setup {:.1} s",
        counts.orders,
        counts.products,
        started.elapsed().as_secs_f64()
    );
    let inputs = Arc::new(Inputs::new(&orders));

    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(args.seconds);
    let t0 = Instant::now();

    // The fold-in thread: copies of real orders under new ids, at a fixed rate.
    let folder = {
        let (clerk, stop, seed) = (clerk.clone(), stop.clone(), args.seed);
        let rate = args.fold_rate;
        std::thread::spawn(move || {
            let mut r = Rng::new(seed ^ 0xF01D);
            let (mut applied, mut errors, mut folded) = (0u64, 0u64, 0usize);
            let mut apply_ns = Vec::new();
            while rate > 0.0 && !stop.load(Ordering::Relaxed) {
                let due = t0 + Duration::from_secs_f64(applied as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                    continue;
                }
                let mut o = orders[r.below(orders.len())].clone();
                o.id = format!("load-{applied}");
                let s = Instant::now();
                match block_on(clerk.apply(RealtimeUpdate::Order(o))) {
                    Ok(rep) => folded += rep.fold_in.map_or(0, |f| f.orders),
                    Err(e) => {
                        errors += 1;
                        eprintln!("apply failed: {e}");
                    }
                }
                apply_ns.push(s.elapsed().as_nanos() as u64);
                applied += 1;
            }
            (applied, errors, folded, Latency::of(&mut apply_ns))
        })
    };

    let workers: Vec<_> = (0..args.tasks)
        .map(|t| {
            let (clerk, inputs, stop, issued) = (clerk.clone(), inputs.clone(), stop.clone(), issued.clone());
            let (seed, max) = (args.seed, args.max_queries);
            std::thread::spawn(move || {
                let mut r = Rng::new(seed.wrapping_add(t as u64 * 7919));
                let mut nanos: Vec<Vec<u64>> = vec![Vec::new(); KINDS.len()];
                let mut errors = vec![0u64; KINDS.len()];
                let mut versions = (u64::MAX, 0u64);
                let mut k = t;
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < period {
                    if issued.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                    let kind = k % KINDS.len();
                    k += 1;
                    let request = inputs.request(kind, &mut r);
                    let s = Instant::now();
                    let answer = clerk.query_now(&request);
                    nanos[kind].push(s.elapsed().as_nanos() as u64);
                    match answer {
                        Ok(a) => versions = (versions.0.min(a.analysis_version), versions.1.max(a.analysis_version)),
                        Err(e) => {
                            errors[kind] += 1;
                            if errors[kind] < 5 {
                                eprintln!("{} failed: {e}", KINDS[kind]);
                            }
                        }
                    }
                }
                (nanos, errors, versions)
            })
        })
        .collect();

    let mut nanos: Vec<Vec<u64>> = vec![Vec::new(); KINDS.len()];
    let mut errors = vec![0u64; KINDS.len()];
    let mut versions = (u64::MAX, 0u64);
    for w in workers {
        let (n, e, v) = w.join().expect("query thread panicked");
        for k in 0..KINDS.len() {
            nanos[k].extend(n[k].iter());
            errors[k] += e[k];
        }
        versions = (versions.0.min(v.0), versions.1.max(v.1));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (applied, apply_errors, folded, apply_latency) = folder.join().expect("fold-in thread panicked");

    let mut all: Vec<u64> = nanos.iter().flatten().copied().collect();
    let total = all.len() as u64;
    let overall = Latency::of(&mut all);
    let mut per_kind = serde_json::Map::new();
    eprintln!(
        "\n{:<14} {:>9} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "kind", "queries", "p50 us", "p99 us", "p999 us", "max us", "errors"
    );
    for (k, name) in KINDS.iter().enumerate() {
        let l = Latency::of(&mut nanos[k]);
        eprintln!(
            "{name:<14} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7}",
            l.n, l.p50_us, l.p99_us, l.p999_us, l.max_us, errors[k]
        );
        per_kind.insert((*name).to_owned(), json!({"latency": l, "errors": errors[k]}));
    }
    let total_errors: u64 = errors.iter().sum::<u64>() + apply_errors;
    eprintln!(
        "{:<14} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7}",
        "all", overall.n, overall.p50_us, overall.p99_us, overall.p999_us, overall.max_us, total_errors
    );
    eprintln!(
        "{:.0} queries/s on {} threads for {elapsed:.1} s; {applied} orders applied ({folded} folded in, apply p50 \
         {:.0} us, p99 {:.0} us); versions {}..{}",
        total as f64 / elapsed,
        args.tasks,
        apply_latency.p50_us,
        apply_latency.p99_us,
        versions.0,
        versions.1
    );
    let out = json!({
        "source": source,
        "orders": counts.orders,
        "products": counts.products,
        "analysis_secs": (analysis_secs * 100.0).round() / 100.0,
        "tasks": args.tasks,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "queries": total,
        "queries_per_s": (total as f64 / elapsed).round(),
        "latency_us": overall,
        "per_kind": per_kind,
        "errors": total_errors,
        "fold_in": {"rate_per_s": args.fold_rate, "applied": applied, "folded": folded, "errors": apply_errors,
                    "apply_latency_us": apply_latency},
        "analysis_versions": [versions.0, versions.1],
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    });
    println!("{out}");
    if total_errors > 0 {
        std::process::exit(1);
    }
}
