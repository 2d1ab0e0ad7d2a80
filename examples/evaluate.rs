//! # Evaluate clerk on a shop's own orders, with the offline protocol
//!
//! Implements `../shared/eval/PROTOCOL.md` (v1), side by side with the peers' `peers.py`:
//!
//! ```text
//! cargo run --release --example evaluate -- --orders FILE --cutoff "YYYY-MM-DD HH:MM:SS" [--catalog FILE]
//!     [--customer-col C --order-col O --product-col P --quantity-col Q --time-col T --category-col K --type-col Y]
//!     [--model clerk|popularity|clerk,popularity] [--threads N]
//!     [--until "YYYY-MM-DD HH:MM:SS"] [--settings JSON] [--blend JSON]
//! ```
//!
//! `--threads` sets the analysis' worker threads (default: every core); queries always run on one thread.
//!
//! Tuning without looking at the test part: `--until` drops every order at or after a time, so
//! `--until "2017-12-04 00:00:00" --cutoff "2017-11-06 00:00:00"` runs the protocol on a validation cut inside
//! the train part (its last 28 days are the validation test). `--settings` and `--blend` take JSON objects
//! that override fields of ClerkCore's [`Settings`] and the engine's [`Blend`] (e.g. `--blend
//! '{"history_next": 0.8}'`); unknown fields are refused. docs/evaluation.md describes the procedure.
//!
//! We will:
//! 1. import the order lines (and the catalog) through clerk-sync's CSV importers and Core Importer, which drop
//!    lines with quantity <= 0 (the protocol's preparation 1) and group lines into orders;
//! 2. read the orders back from the store and split them at the cutoff ([`Split`]);
//! 3. for each model: put the catalog and the train orders in a fresh store, analyse them, build the
//!    [`QueryEngine`] a host would serve, and ask it every task ([`EngineRecommender`]);
//! 4. print one JSON line per model with the protocol's keys, and a readable table on stderr.
//!
//! `fit_s` is the time from the train orders in memory to an engine ready to answer: the interned dataset,
//! the analysis and the engine's own indices. CSV parsing and the split are excluded. `analysis_s` is the
//! analysis alone (`IntentModel::analyse` of the interned dataset): the like of the peers' `fit_s`, which
//! times `model.fit` on a train matrix built beforehand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use clerk::api::{Blend, QueryEngine};
use clerk::core::clerk::{ClerkCore, Settings};
use clerk::core::domain::AttributeValue;
use clerk::core::store::DataStoreExt;
use clerk::core::{DataStore, Dataset, IntentModel, MemoryStore, Order, PopularityModel, Product, Timestamp};
use clerk::evaluation::{CatalogFacts, EngineRecommender, Report, Split};
use clerk::sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderField, OrderMapping, ProductField, ProductMapping};
use clerk::sync::{CoreImporter, SyncMode};
use futures::executor::block_on;
use futures::TryStreamExt;

struct Args {
    orders: String,
    catalog: Option<String>,
    cutoff: Timestamp,
    customer: String,
    order: String,
    product: String,
    quantity: String,
    time: String,
    category: String,
    product_type: String,
    models: Vec<String>,
    threads: Option<usize>,
    until: Option<Timestamp>,
    settings: serde_json::Map<String, serde_json::Value>,
    blend: Blend,
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: evaluate --orders FILE --cutoff \"YYYY-MM-DD HH:MM:SS\" [--catalog FILE] \
         [--customer-col C --order-col O --product-col P --quantity-col Q --time-col T --category-col K \
         --type-col Y] [--model clerk|popularity|clerk,popularity] [--threads N] [--until TIME] [--settings JSON] \
         [--blend JSON]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        orders: String::new(),
        catalog: None,
        cutoff: Timestamp::default(),
        customer: "customer_id".into(),
        order: "order_id".into(),
        product: "product_id".into(),
        quantity: "quantity".into(),
        time: "timestamp".into(),
        category: "category".into(),
        product_type: "type".into(),
        models: vec!["clerk".into(), "popularity".into()],
        threads: None,
        until: None,
        settings: serde_json::Map::new(),
        blend: Blend::default(),
    };
    let mut cutoff = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--orders" => a.orders = value,
            "--catalog" => a.catalog = Some(value),
            "--cutoff" => cutoff = Some(Timestamp::parse(&value).unwrap_or_else(|e| usage(&format!("--cutoff: {e}")))),
            "--customer-col" => a.customer = value,
            "--order-col" => a.order = value,
            "--product-col" => a.product = value,
            "--quantity-col" => a.quantity = value,
            "--time-col" => a.time = value,
            "--category-col" => a.category = value,
            "--type-col" => a.product_type = value,
            "--model" => a.models = value.split(',').map(str::to_owned).collect(),
            "--threads" => a.threads = Some(value.parse().unwrap_or_else(|_| usage("--threads needs a number"))),
            "--until" => a.until = Some(Timestamp::parse(&value).unwrap_or_else(|e| usage(&format!("--until: {e}")))),
            "--settings" => {
                a.settings = serde_json::from_str(&value).unwrap_or_else(|e| usage(&format!("--settings: {e}")))
            }
            "--blend" => a.blend = serde_json::from_str(&value).unwrap_or_else(|e| usage(&format!("--blend: {e}"))),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.orders.is_empty() {
        usage("--orders is required");
    }
    a.cutoff = cutoff.unwrap_or_else(|| usage("--cutoff is required"));
    if let Some(m) = a.models.iter().find(|m| !matches!(m.as_str(), "clerk" | "popularity")) {
        usage(&format!("unknown model {m}"));
    }
    a
}

/// Imports the files through clerk-sync into a store and reads back the orders and the catalog.
async fn import(args: &Args) -> (Vec<Order>, Vec<Product>) {
    let store = Arc::new(MemoryStore::new());
    let core = CoreImporter::new(store.clone());
    if let Some(catalog) = &args.catalog {
        let mapping = ProductMapping::new(&args.product)
            .column(&args.category, ProductField::Category)
            .attribute(&args.product_type);
        let report = core.sync(&mut CsvCatalogImporter::from_path("catalog", catalog, mapping), SyncMode::Full).await;
        eprintln!("catalog: {} read, {} stored", report.read.total(), report.stored.total());
    }
    let mapping = OrderMapping::new(&args.order, &args.product, &args.time)
        .customer(&args.customer)
        .column(&args.quantity, OrderField::Quantity);
    let report = core.sync(&mut CsvOrderImporter::from_path("orders", &args.orders, mapping), SyncMode::Full).await;
    eprintln!(
        "orders: {} lines read, {} stored, {} rejected ({:?})",
        report.lines.read,
        report.lines.stored,
        report.lines.read - report.lines.stored,
        report.rejected_by_reason()
    );
    let orders: Vec<Order> = store.order_stream(8192).try_collect().await.unwrap_or_else(|e| fail(&e));
    let products: Vec<Product> = store.all_products(8192).try_collect().await.unwrap_or_else(|e| fail(&e));
    (orders, products)
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("evaluate: {e}");
    std::process::exit(1)
}

fn text(value: Option<&AttributeValue>) -> Option<String> {
    match value {
        Some(AttributeValue::Text(t)) if !t.is_empty() => Some(t.clone()),
        _ => None,
    }
}

/// Analyses the train part with `model` and builds the engine a host would serve; returns it with `fit_s` and
/// `analysis_s`.
async fn fit(model: Arc<dyn IntentModel>, products: &[Product], split: &Split) -> (QueryEngine, f64, f64) {
    let store = Arc::new(MemoryStore::new());
    store.upsert_products(products.to_vec()).await.unwrap_or_else(|e| fail(&e));
    store.append_orders(split.train.clone()).await.unwrap_or_else(|e| fail(&e));
    let started = Instant::now();
    let mut data = Dataset::new();
    for p in products {
        data.add_product(p.clone());
    }
    for o in &split.train {
        data.add_order(o);
    }
    let analysing = Instant::now();
    let analysed = model.analyse(&data).unwrap_or_else(|e| fail(&e));
    let analysis_s = analysing.elapsed().as_secs_f64();
    let engine = QueryEngine::new(store, analysed).await.unwrap_or_else(|e| fail(&e));
    (engine, started.elapsed().as_secs_f64(), analysis_s)
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    let (mut orders, products) = block_on(import(&args));
    if let Some(until) = args.until {
        orders.retain(|o| o.time < until);
    }
    let split = Split::new(orders, args.cutoff).unwrap_or_else(|e| fail(&e));
    eprintln!(
        "split at {}: {} train orders, {} active customers, {} train products ({:.1} s so far)",
        args.cutoff,
        split.train.len(),
        split.active.len(),
        split.train_products(),
        started.elapsed().as_secs_f64()
    );
    let facts: HashMap<String, CatalogFacts> = products
        .iter()
        .map(|p| {
            let facts = CatalogFacts {
                category: p.categories.first().cloned(),
                product_type: text(p.attributes.get(&args.product_type)),
            };
            (p.id.clone(), facts)
        })
        .collect();
    let dataset = std::path::Path::new(&args.orders)
        .parent()
        .and_then(|d| d.file_name())
        .map_or_else(|| "orders".to_owned(), |d| d.to_string_lossy().into_owned());
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(nproc);
    let mut rows = Vec::new();
    for name in &args.models {
        let model: Arc<dyn IntentModel> = match name.as_str() {
            "clerk" => {
                let mut settings = Settings { threads: args.threads, ..Settings::default() };
                settings.type_attributes.insert(0, args.product_type.clone());
                let settings = overridden(settings, &args.settings);
                Arc::new(ClerkCore::new(settings))
            }
            _ => Arc::new(PopularityModel::new()),
        };
        let (engine, fit_s, analysis_s) = block_on(fit(model, &products, &split));
        engine.set_blend(args.blend.clone());
        let mut asker = EngineRecommender::new(engine, args.cutoff);
        let report = split.evaluate(&mut asker, args.catalog.as_ref().map(|_| &facts));
        if asker.errors > 0 {
            eprintln!("{name}: the engine refused {} queries", asker.errors);
        }
        let mut json = serde_json::to_value(&report).unwrap_or_default();
        if let Some(obj) = json.as_object_mut() {
            let qps = obj.remove("task1_qps").unwrap_or_default();
            let mut out = serde_json::Map::new();
            out.insert("model".into(), name.clone().into());
            out.insert("dataset".into(), dataset.clone().into());
            out.insert("protocol".into(), 1.into());
            for (k, v) in std::mem::take(obj) {
                out.insert(k, v);
            }
            out.insert("fit_s".into(), fit_s.into());
            out.insert("analysis_s".into(), analysis_s.into());
            out.insert("task1_qps".into(), qps);
            // The analysis' worker threads; the queries of every task run on one thread.
            out.insert("threads".into(), threads.into());
            out.insert("nproc".into(), nproc.into());
            *obj = out;
        }
        println!("{json}");
        rows.push((name.clone(), report, fit_s));
    }
    print_table(&rows);
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
}

/// `settings` with the fields of `overrides` replaced; unknown fields are refused.
fn overridden(settings: Settings, overrides: &serde_json::Map<String, serde_json::Value>) -> Settings {
    let serde_json::Value::Object(mut fields) = serde_json::to_value(settings).unwrap_or_else(|e| fail(&e)) else {
        fail(&"settings are not a JSON object")
    };
    for (k, v) in overrides {
        if !fields.contains_key(k) {
            usage(&format!("--settings: unknown field {k}"));
        }
        fields.insert(k.clone(), v.clone());
    }
    serde_json::from_value(serde_json::Value::Object(fields)).unwrap_or_else(|e| usage(&format!("--settings: {e}")))
}

fn print_table(rows: &[(String, Report, f64)]) {
    eprintln!(
        "\n{:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>7} {:>8}",
        "model",
        "t1 ndcg",
        "t1 rec",
        "t2 ndcg",
        "t3 mrr",
        "t3 hit",
        "t3g mrr",
        "t4 auc",
        "t4 p100",
        "t4n auc",
        "t4n p",
        "t5 cat",
        "t5 typ",
        "t5 cob",
        "fit s",
        "t1 qps"
    );
    for (name, r, fit) in rows {
        let t1 = r.task1.clone().unwrap_or_default();
        let t2 = r.task2.clone().unwrap_or_default();
        let t3 = r.task3.clone().unwrap_or_default();
        let t3g = r.task3_guest.clone().unwrap_or_default();
        let t4 = r.task4.clone().unwrap_or_default();
        let t4n = r.task4_new_buyers.clone().unwrap_or_default();
        let t5 = r.task5.clone().unwrap_or_default();
        eprintln!(
            "{:<11} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>6.3} {:>6.3} {:>6.3} {:>7.2} {:>8.0}",
            name, t1.ndcg, t1.recall, t2.ndcg, t3.mrr, t3.hit, t3g.mrr, t4.auc, t4.precision, t4n.auc, t4n.precision,
            t5.same_category, t5.same_type, t5.cobought, fit, r.task1_qps
        );
    }
    if let Some((_, r, _)) = rows.first() {
        eprintln!(
            "counts: task1 users {}, task2 users {}, task3 baskets {}, task4 products {} (new buyers {}), task5 products {}",
            r.task1.as_ref().map_or(0, |t| t.users),
            r.task2.as_ref().map_or(0, |t| t.users),
            r.task3.as_ref().map_or(0, |t| t.baskets),
            r.task4.as_ref().map_or(0, |t| t.products),
            r.task4_new_buyers.as_ref().map_or(0, |t| t.products),
            r.task5.as_ref().map_or(0, |t| t.products),
        );
    }
}
