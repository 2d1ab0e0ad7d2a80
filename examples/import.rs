//! Imports an order file (one row per order line, optionally gzip) and a catalog into a `MemoryStore` through the
//! CSV importers and the Core Importer, then prints the sync reports, the data health and one JSON line of
//! figures.
//!
//! ```text
//! cargo run --release --example import -- --orders FILE [--catalog FILE] [--customer-col C --order-col O
//!     --product-col P --quantity-col Q --time-col T --price-col V] [--line-total] [--no-health] [--baseline]
//! ```
//!
//! Column flags default to `customer_id, order_id, product_id, quantity, timestamp, price`. `--line-total` says
//! the price column holds the price of the whole line (Complete Journey's `sales_value`). The catalog uses the
//! Complete Journey mapping (`product_id`, `brand`, `product_category`, other columns as attributes).

mod common;

use std::sync::Arc;
use std::time::Instant;

use clerk::core::{DataStore, MemoryStore};
use clerk::sync::csv::{CsvCatalogImporter, CsvOrderImporter, ProductMapping};
use clerk::sync::{CoreImporter, DataHealth, SyncMode};
use common::peak_rss_mb;

struct Args {
    source: common::Source,
    /// The order file (`--orders`, required).
    orders: String,
    health: bool,
    baseline: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: import --orders FILE [--catalog FILE] [--customer-col C --order-col O --product-col P \
         --quantity-col Q --time-col T --price-col V] [--line-total] [--no-health] [--baseline]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args { source: common::Source::default(), orders: String::new(), health: true, baseline: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        if args.source.take(&flag, &mut value) {
            continue;
        }
        match flag.as_str() {
            "--no-health" => args.health = false,
            "--baseline" => args.baseline = true,
            _ => usage(),
        }
    }
    args.orders = args.source.orders.clone().unwrap_or_else(|| usage());
    args
}

fn main() {
    let args = parse_args();
    let mapping = args.source.mapping();
    let orders = args.orders.as_str();
    // The baseline: the same file read through the same gzip + CSV reader without mapping or storing, measured in
    // the same run (the machine is noisy, the ratio is steadier than the absolute figure).
    let baseline = args.baseline.then(|| {
        let started = Instant::now();
        let rows = clerk::sync::csv::count_rows(orders).unwrap_or_else(|e| {
            eprintln!("cannot read {orders}: {e}");
            std::process::exit(1)
        });
        rows as f64 / started.elapsed().as_secs_f64()
    });
    let store = Arc::new(MemoryStore::new());
    let core = CoreImporter::new(store.clone());
    futures::executor::block_on(async {
        let started = Instant::now();
        let mut reports = Vec::new();
        if let Some(catalog) = &args.source.catalog {
            let mut importer = CsvCatalogImporter::from_path("catalog", catalog, ProductMapping::complete_journey());
            let report = core.sync(&mut importer, SyncMode::Full).await;
            println!("{report}");
            reports.push(report);
        }
        let mut importer = CsvOrderImporter::from_path("orders", orders, mapping);
        let report = core.sync(&mut importer, SyncMode::Full).await;
        let seconds = started.elapsed().as_secs_f64();
        println!("{report}");
        let counts = store.counts().await.expect("the memory store does not fail");
        if args.health {
            reports.push(report.clone());
            match DataHealth::compute(store.as_ref(), &reports, report.finished_at).await {
                Ok(health) => println!("{health}"),
                Err(e) => eprintln!("data health failed: {e}"),
            }
        }
        let summary = serde_json::json!({
            "lines_read": report.lines.read,
            "lines_stored": report.lines.stored,
            "orders": counts.orders,
            "customers": report.customers_in_orders,
            "products": counts.products,
            "rejected": report.rejected_by_reason(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "lines_per_s": (report.lines.read as f64 / seconds).round(),
            "peak_rss_mb": peak_rss_mb().map(|m| m.round()),
            "baseline_lines_per_s": baseline.map(f64::round),
            "ratio_to_baseline": baseline.map(|b| ((report.lines.read as f64 / seconds) / b * 1000.0).round() / 1000.0),
        });
        println!("{summary}");
    });
}
