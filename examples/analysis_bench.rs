//! The analysis benchmark: ClerkCore's full analysis of a real train part (1 thread and all threads), its peak
//! memory, save/load, the fold-in latency of single orders, and scaling over synthetic shops of 1x, 2x, 4x
//! the size of a real grocery data set (each scale in its own child process, so peaks are separate).
//!
//! ```text
//! cargo run --release --example analysis_bench -- [--orders FILE [--catalog FILE] [column flags as in `import`]]
//!     [--cutoff '2017-12-04 00:00:00'] [--fold-in N] [--fold-in-runs R] [--scales 1,2,4] [--peers RESULTS.jsonl]
//!     [--repeat N]
//! cargo run --release --example analysis_bench -- --scale N      # one synthetic scale, JSON to stdout
//! ```
//!
//! The train part is the protocol's (`clerk::evaluation::Split`): lines with quantity > 0 of orders with a
//! customer, placed strictly before the cutoff; the catalog is read too. The analysis time excludes parsing: it
//! is `ClerkCore::analysed(&Dataset)` alone, with all threads first (in a process holding only the dataset),
//! then with one thread (with the first model alive, as during a host's re-analysis). Peak memory is `VmHWM`,
//! reset (`/proc/self/clear_refs`) just before each analysis, so it is the analysis' peak on top of what the
//! process already holds (printed as "before"). Fold-in: the first N test orders (time order) are folded one at a time,
//! each timed alone, into the model analysed with all threads, after save/load were measured on it (no clone:
//! the model is modified in place). With `--fold-in-runs R` (R > 1) the same N orders are also folded into R - 1
//! models loaded from the saved bytes, and each order's fastest of the R runs is reported too: on a shared
//! machine, a time slice lost to another process lands on a different order in each run, so the per-order
//! minimum shows the fold-in's own tail. `--peers` reads the peers' JSON lines (`../shared/peers/peers.py --out`)
//! of the same session and compares with the fastest learned peer's `fit_s`. `--repeat N` runs each analysis N
//! times and reports the fastest (the least disturbed on a shared machine). A table goes to stderr, one JSON
//! object to stdout.

mod common;

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use clerk::core::clerk::{ClerkCore, Settings};
use clerk::core::domain::Order;
use clerk::core::store::DataStoreExt;
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::core::{Dataset, IntentModel, MemoryStore, Timestamp};
use clerk::evaluation::Split;
use common::{cpu_seconds, machine, peak_rss_mb, reset_peak_rss, rss_mb, Latency};
use futures::TryStreamExt;
use serde_json::{json, Value};

struct Args {
    source: common::Source,
    cutoff: String,
    fold_in: usize,
    fold_in_runs: usize,
    scales: Vec<f64>,
    scale: Option<f64>,
    peers: Option<String>,
    repeat: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: analysis_bench [--orders FILE [--catalog FILE] {}] [--cutoff TIME] [--fold-in N] [--fold-in-runs R] \
         [--scales 1,2,4] [--peers RESULTS.jsonl] [--repeat N] | --scale N",
        common::COLUMN_FLAGS
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        source: common::Source::default(),
        cutoff: "2017-12-04 00:00:00".into(),
        fold_in: 1000,
        fold_in_runs: 1,
        scales: vec![1.0, 2.0, 4.0],
        scale: None,
        peers: None,
        repeat: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        if args.source.take(&flag, &mut value) {
            continue;
        }
        match flag.as_str() {
            "--cutoff" => args.cutoff = value(),
            "--fold-in" => args.fold_in = value().parse().unwrap_or_else(|_| usage()),
            "--fold-in-runs" => args.fold_in_runs = value().parse().unwrap_or_else(|_| usage()),
            "--scales" => {
                let v = value();
                args.scales = if v.is_empty() {
                    Vec::new()
                } else {
                    v.split(',').map(|s| s.parse().unwrap_or_else(|_| usage())).collect()
                };
            }
            "--scale" => args.scale = Some(value().parse().unwrap_or_else(|_| usage())),
            "--peers" => args.peers = Some(value()),
            "--repeat" => args.repeat = value().parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    args
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn mb(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |m| json!(m.round()))
}

/// Analyses `data` with `threads`; (model, seconds, analysis peak MiB, RSS before MiB).
fn analyse(data: &Dataset, threads: Option<usize>) -> (ClerkCore, f64, Option<f64>, Option<f64>) {
    let settings = Settings { threads, ..Settings::default() };
    let before = rss_mb();
    let reset = reset_peak_rss();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let model = ClerkCore::new(settings).analysed(data);
    let seconds = started.elapsed().as_secs_f64();
    if let (Some(from), Some(to)) = (cpu, cpu_seconds()) {
        eprintln!("analysis ({threads:?} threads): {seconds:.2}s wall, {:.2}s CPU", to - from);
    }
    (model, seconds, if reset { peak_rss_mb() } else { None }, before)
}

/// One synthetic scale, in this (child) process.
fn run_scale(factor: f64) -> Value {
    let started = Instant::now();
    let shop = SyntheticShop::generate(&ShopConfig::scaled(factor));
    let generate_s = started.elapsed().as_secs_f64();
    let raw_lines = shop.order_lines();
    let started = Instant::now();
    let mut data = Dataset::new();
    for p in &shop.products {
        data.add_product(p.clone());
    }
    for o in &shop.orders {
        data.add_order(o);
    }
    let dataset_s = started.elapsed().as_secs_f64();
    let generation_peak = peak_rss_mb();
    drop(shop);
    let lines = data.order_products.len();
    let (model, seconds, peak, before) = analyse(&data, None);
    let stats = model.stats();
    json!({
        "scale": factor,
        "orders": data.orders.len(),
        "order_lines": raw_lines,
        "distinct_order_lines": lines,
        "customers": data.customers.len(),
        "products": data.products.len(),
        "generate_s": r3(generate_s),
        "dataset_s": r3(dataset_s),
        "analysis_s": r3(seconds),
        "s_per_million_lines": r3(seconds / (raw_lines as f64 / 1e6)),
        "rss_before_analysis_mb": mb(before),
        "analysis_peak_rss_mb": mb(peak),
        "process_peak_before_analysis_mb": mb(generation_peak),
        "model_products": stats.products,
        "model_customers": stats.customers,
    })
}

/// The fastest learned peer (not popularity/repeat) of a peers.py JSON-lines file: (model, fit_s).
fn fastest_peer(path: &str) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["model"].as_str()?.to_owned(), v["fit_s"].as_f64()?)))
        .filter(|(m, _)| m != "popularity" && m != "repeat")
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A fingerprint of saved bytes: two builds that must analyse alike print the same one (with the same
/// toolchain: the standard hasher may change between Rust releases).
fn fingerprint_of(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn real(args: &Args, orders_path: &str) -> Value {
    let cutoff = Timestamp::parse(&args.cutoff).unwrap_or_else(|e| {
        eprintln!("bad --cutoff {}: {e}", args.cutoff);
        std::process::exit(2)
    });
    let store = Arc::new(MemoryStore::new());
    let started = Instant::now();
    let mapping = args.source.mapping();
    futures::executor::block_on(common::import(store.clone(), orders_path, args.source.catalog.as_deref(), mapping));
    let import_s = started.elapsed().as_secs_f64();
    let (products, orders): (Vec<_>, Vec<Order>) = futures::executor::block_on(async {
        let products: Vec<_> = store.all_products(4096).try_collect().await.expect("memory store");
        let orders: Vec<Order> = store.order_stream(4096).try_collect().await.expect("memory store");
        (products, orders)
    });
    drop(store);
    let mut test: Vec<Order> = orders
        .iter()
        .filter(|o| o.time >= cutoff && o.customer_id.is_some())
        .map(|o| {
            let mut o = o.clone();
            o.lines.retain(|l| l.quantity > 0.0);
            o
        })
        .filter(|o| !o.lines.is_empty())
        .collect();
    test.sort_by_key(|o| o.time);
    test.truncate(args.fold_in);
    let split = Split::new(orders, cutoff).unwrap_or_else(|e| {
        eprintln!("cannot split: {e}");
        std::process::exit(1)
    });
    let started = Instant::now();
    let mut data = Dataset::new();
    for p in products {
        data.add_product(p);
    }
    for o in &split.train {
        data.add_order(o);
    }
    let dataset_s = started.elapsed().as_secs_f64();
    let train_orders = split.train.len();
    let train_lines: usize = split.train.iter().map(|o| o.lines.len()).sum();
    drop(split);
    let process_peak_before = peak_rss_mb();
    eprintln!(
        "train part: {train_orders} orders, {train_lines} lines ({} distinct), {} customers, {} products; \
         import {import_s:.1}s, dataset {dataset_s:.1}s",
        data.order_products.len(),
        data.customers.len(),
        data.products.len()
    );

    // The fastest of `--repeat` runs: on a shared machine the minimum is the least disturbed.
    // Earlier runs' models are dropped first, so that each peak is one analysis' own.
    let best_of_repeat = |threads: Option<usize>| {
        let mut best = (f64::INFINITY, None, None);
        for _ in 1..args.repeat {
            let (_, s, peak, before) = analyse(&data, threads);
            if s < best.0 {
                best = (s, peak, before);
            }
        }
        let (model, s, peak, before) = analyse(&data, threads);
        let (s, peak, before) = if best.0 < s { best } else { (s, peak, before) };
        (model, s, peak, before)
    };
    // The default (all threads) first, in a process that holds only the dataset, as a host's first analysis
    // would: memory freed by an earlier analysis stays with the allocator and would count in its peak. The
    // one-thread run follows with that model alive (as during a host's re-analysis); its own share of the peak
    // is what it adds to what was resident before it.
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (model, sn, peakn, beforen) = best_of_repeat(None);
    let (m1, s1, peak1, before1) = best_of_repeat(Some(1));
    drop(m1);
    eprintln!(
        "analysis: {nproc} threads {sn:.2}s (peak {:.0} MiB over {:.0} MiB before); 1 thread {s1:.2}s (x{:.2} \
         slower, peak {:.0} MiB over {:.0} MiB before)",
        peakn.unwrap_or(f64::NAN),
        beforen.unwrap_or(f64::NAN),
        s1 / sn,
        peak1.unwrap_or(f64::NAN),
        before1.unwrap_or(f64::NAN),
    );

    // Save and load.
    let started = Instant::now();
    let bytes = model.save().expect("save");
    let save_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let loaded = ClerkCore::new(Settings::default()).load(&bytes).expect("load");
    let load_s = started.elapsed().as_secs_f64();
    black_box(loaded.stats());
    drop(loaded);
    let fingerprint = fingerprint_of(&bytes);
    eprintln!(
        "save {:.1} MiB in {save_s:.2}s (fingerprint {fingerprint}); load {load_s:.2}s",
        bytes.len() as f64 / 1048576.0
    );

    // Fold-in of single orders, in time order, into the analysed model (modified in place).
    let mut nanos = Vec::with_capacity(test.len());
    let mut touched = 0usize;
    let mut skipped = 0usize;
    for o in &test {
        let t = Instant::now();
        let stats = model.fold_in(std::slice::from_ref(o)).expect("fold-in");
        nanos.push(t.elapsed().as_nanos() as u64);
        touched += stats.products_touched;
        skipped += stats.skipped;
    }
    // The state the fold-ins leave, for builds that must fold in alike.
    let folded = fingerprint_of(&model.save().expect("save"));
    eprintln!("after the fold-ins: fingerprint {folded}");
    // Each order's fastest over runs into freshly loaded models (see the module doc).
    let mut fastest = nanos.clone();
    for _ in 1..args.fold_in_runs {
        let loaded = ClerkCore::new(Settings::default()).load(&bytes).expect("load");
        for (o, best) in test.iter().zip(&mut fastest) {
            let t = Instant::now();
            black_box(loaded.fold_in(std::slice::from_ref(o)).expect("fold-in"));
            *best = (*best).min(t.elapsed().as_nanos() as u64);
        }
    }
    let fold = Latency::of(&mut nanos);
    let fastest = (args.fold_in_runs > 1).then(|| Latency::of(&mut fastest));
    let mean_lines = test.iter().map(|o| o.lines.len()).sum::<usize>() as f64 / test.len().max(1) as f64;
    eprintln!(
        "fold-in of {} single orders (mean {mean_lines:.1} lines): p50 {} us, p99 {} us, p999 {} us, mean {} us, max \
         {} us (target < 1000 us); {skipped} skipped",
        fold.n, fold.p50_us, fold.p99_us, fold.p999_us, fold.mean_us, fold.max_us
    );
    if let Some(f) = &fastest {
        eprintln!(
            "fold-in, each order's fastest of {} runs: p50 {} us, p99 {} us, p999 {} us, mean {} us, max {} us",
            args.fold_in_runs, f.p50_us, f.p99_us, f.p999_us, f.mean_us, f.max_us
        );
    }

    let peer = args.peers.as_deref().and_then(fastest_peer);
    if let Some((name, fit)) = &peer {
        eprintln!(
            "fastest learned peer (same session): {name} fit {fit:.2}s; clerk 1 thread {s1:.2}s (x{:.2}), {nproc} \
             threads {sn:.2}s (x{:.2})",
            fit / s1,
            fit / sn
        );
    }
    json!({
        "dataset": orders_path,
        "cutoff": args.cutoff,
        "train_orders": train_orders,
        "train_lines": train_lines,
        "distinct_order_lines": data.order_products.len(),
        "customers": data.customers.len(),
        "products": data.products.len(),
        "import_s": r3(import_s),
        "dataset_s": r3(dataset_s),
        "process_peak_before_analysis_mb": mb(process_peak_before),
        "analysis_1_thread": {"seconds": r3(s1), "peak_rss_mb": mb(peak1), "rss_before_mb": mb(before1)},
        "analysis_all_threads": {"threads": nproc, "seconds": r3(sn), "peak_rss_mb": mb(peakn), "rss_before_mb": mb(beforen)},
        "speedup_all_over_1": r3(s1 / sn),
        "save": {"bytes": bytes.len(), "seconds": r3(save_s), "fingerprint": fingerprint},
        "load_s": r3(load_s),
        "fold_in_single": {"latency": fold, "mean_lines": r3(mean_lines), "products_touched": touched, "skipped": skipped,
            "runs": args.fold_in_runs, "fastest_of_runs": fastest, "fingerprint": folded},
        "fastest_learned_peer": peer.map(|(m, fit)| json!({
            "model": m, "fit_s": fit, "ratio_peer_over_clerk_1_thread": r3(fit / s1),
            "ratio_peer_over_clerk_all_threads": r3(fit / sn),
        })),
    })
}

fn main() {
    let args = parse_args();
    if let Some(factor) = args.scale {
        println!("{}", run_scale(factor));
        return;
    }
    let real = args.source.orders.as_deref().map(|path| real(&args, path));
    let exe = std::env::current_exe().expect("own path");
    let mut scales = Vec::new();
    if !args.scales.is_empty() {
        eprintln!(
            "\n{:>5} {:>8} {:>10} {:>9} {:>9} {:>10} {:>10} {:>10} {:>12} {:>12}",
            "scale",
            "orders",
            "lines",
            "customers",
            "products",
            "generate s",
            "analysis s",
            "s/M lines",
            "RSS before",
            "peak MiB"
        );
    }
    for &factor in &args.scales {
        let out = Command::new(&exe).arg("--scale").arg(factor.to_string()).output().expect("child process");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| json!({"scale": factor, "error": String::from_utf8_lossy(&out.stderr).into_owned()}));
        eprintln!(
            "{:>5} {:>8} {:>10} {:>9} {:>9} {:>10} {:>10} {:>10} {:>12} {:>12}",
            factor,
            v["orders"],
            v["order_lines"],
            v["customers"],
            v["products"],
            v["generate_s"],
            v["analysis_s"],
            v["s_per_million_lines"],
            v["rss_before_analysis_mb"],
            v["analysis_peak_rss_mb"]
        );
        scales.push(v);
    }
    let out = json!({
        "bench": "analysis",
        "machine": machine(),
        "real": real,
        "scales": scales,
    });
    println!("{out}");
}
