//! Import speed and restart time of the PostgreSQL and SQLite stores beside the `MemoryStore`, in one run.
//!
//! ```text
//! cargo run --release -p clerk-postgres --example all_stores_bench -- [--orders FILE] [--catalog FILE] \
//!     [--dir FOLDER] [--skip-analysis] [--stores memory,sqlite,postgres] [--pg-url URL]
//! ```
//!
//! Without `--pg-url` the benchmark starts a throwaway PostgreSQL server (as the tests do, with the server's
//! default durability settings) and stops it at the end.
//!
//! Files default to the Complete Journey data in `../shared/data/completejourney/` (Complete Journey column
//! mapping). For each store: the import of catalog + orders through the CSV importers and the Core Importer
//! (lines per second), the analysis (`ClerkCore`) and its save, then a restart: the store is dropped, reopened,
//! the saved analysis loaded into a `QueryEngine` (with the catalog and purchase index) and the first query
//! answered. The `MemoryStore` cannot be reopened: its "restart" builds the engine from the live store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clerk_api::QueryEngine;
use clerk_core::clerk::{ClerkCore, Settings};
use clerk_core::model::IntentModel;
use clerk_core::store::{DataStore, MemoryStore, SavedAnalysis};
use clerk_core::{Dataset, Timestamp};
use clerk_postgres::PgStore;
use clerk_sqlite::SqliteStore;
use clerk_sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderField, OrderMapping, ProductMapping};
use clerk_sync::{CoreImporter, Outcome, SyncMode};

struct Args {
    orders: PathBuf,
    catalog: PathBuf,
    dir: PathBuf,
    analysis: bool,
    stores: Vec<String>,
    pg_url: Option<String>,
}

#[path = "../tests/common/pg.rs"]
mod pg;

fn parse_args() -> Args {
    let data = PathBuf::from("../shared/data/completejourney");
    let mut args = Args {
        orders: data.join("transactions.csv.gz"),
        catalog: data.join("products.csv.gz"),
        dir: std::env::temp_dir(),
        analysis: true,
        stores: vec!["memory".into(), "sqlite".into(), "postgres".into()],
        pg_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().unwrap_or_else(|| {
                eprintln!("{flag} needs a value");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--orders" => args.orders = value().into(),
            "--catalog" => args.catalog = value().into(),
            "--dir" => args.dir = value().into(),
            "--skip-analysis" => args.analysis = false,
            "--pg-url" => args.pg_url = Some(value()),
            "--stores" => args.stores = value().split(',').map(str::to_owned).collect(),
            _ => {
                eprintln!("usage: all_stores_bench [--orders FILE] [--catalog FILE] [--dir FOLDER] [--skip-analysis] [--stores memory,sqlite,postgres] [--pg-url URL]");
                std::process::exit(2)
            }
        }
    }
    for file in [&args.orders, &args.catalog] {
        if !file.is_file() {
            eprintln!("{} is not a file (run from the repository root or pass --orders/--catalog)", file.display());
            std::process::exit(2)
        }
    }
    args
}

fn mapping() -> OrderMapping {
    OrderMapping::new("basket_id", "product_id", "transaction_timestamp")
        .customer("household_id")
        .quantity("quantity")
        .column("sales_value", OrderField::LineTotal)
}

fn template() -> Arc<dyn IntentModel> {
    Arc::new(ClerkCore::new(Settings::default()))
}

/// Imports, analyses and saves; returns the figures as JSON fields.
async fn import_and_analyse(store: Arc<dyn DataStore>, args: &Args) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let core = CoreImporter::new(store.clone());
    let started = Instant::now();
    let mut catalog = CsvCatalogImporter::from_path("catalog", &args.catalog, ProductMapping::complete_journey());
    let catalog_report = core.sync(&mut catalog, SyncMode::Full).await;
    let catalog_secs = started.elapsed().as_secs_f64();
    let mut orders = CsvOrderImporter::from_path("orders", &args.orders, mapping());
    let report = core.sync(&mut orders, SyncMode::Full).await;
    let secs = started.elapsed().as_secs_f64();
    if report.outcome != Outcome::Completed || catalog_report.outcome != Outcome::Completed {
        eprintln!("import failed:\n{catalog_report}\n{report}");
        std::process::exit(1);
    }
    let counts = store.counts().await.expect("counts");
    out.insert("lines_read".into(), report.lines.read.into());
    out.insert("orders".into(), counts.orders.into());
    out.insert("order_lines".into(), counts.order_lines.into());
    out.insert("products".into(), counts.products.into());
    out.insert("import_s".into(), round3(secs).into());
    out.insert("lines_per_s".into(), (report.lines.read as f64 / secs).round().into());
    out.insert("order_import_lines_per_s".into(), (report.lines.read as f64 / (secs - catalog_secs)).round().into());
    if args.analysis {
        let started = Instant::now();
        let data = Dataset::from_store(&*store).await.expect("read the store");
        let read_secs = started.elapsed().as_secs_f64();
        let model = template().analyse(&data).expect("analyse");
        let analyse_secs = started.elapsed().as_secs_f64() - read_secs;
        let bytes = model.save().expect("save the model");
        let size = bytes.len();
        let saving = Instant::now();
        store
            .save_analysis(SavedAnalysis {
                version: 0,
                model: model.name().into(),
                format: model.format(),
                data_position: data.position,
                created_at: Timestamp(0),
                bytes,
            })
            .await
            .expect("save the analysis");
        out.insert("read_dataset_s".into(), round3(read_secs).into());
        out.insert("analyse_s".into(), round3(analyse_secs).into());
        out.insert("save_analysis_s".into(), round3(saving.elapsed().as_secs_f64()).into());
        out.insert("analysis_mb".into(), round3(size as f64 / 1e6).into());
    }
    out
}

/// The restart path, timed step by step: load the saved analysis, load the model from it, build the engine (catalog
/// and purchase index) around it and answer the first query. `started` is when the restart began (before the
/// store was opened). Adds the figures to `out`.
async fn first_query(
    store: Arc<dyn DataStore>,
    started: Instant,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    let t = Instant::now();
    let saved = store.load_analysis().await.expect("load the analysis").expect("an analysis was saved");
    out.insert("load_analysis_s".into(), round3(t.elapsed().as_secs_f64()).into());
    let t = Instant::now();
    let model = template().load(&saved.bytes).expect("load the model");
    drop(saved.bytes);
    out.insert("model_load_s".into(), round3(t.elapsed().as_secs_f64()).into());
    let t = Instant::now();
    let engine = QueryEngine::new(store.clone(), model.clone()).await.expect("engine");
    engine.install_model(model, saved.version);
    out.insert("engine_catalog_and_history_s".into(), round3(t.elapsed().as_secs_f64()).into());
    let t = Instant::now();
    let answer = engine.handle_json(r#"{"kind": "popular", "limit": 10}"#).await;
    assert!(answer.starts_with("{\"items\""), "{answer}");
    out.insert("first_query_s".into(), round3(t.elapsed().as_secs_f64()).into());
    out.insert("restart_to_first_query_s".into(), round3(started.elapsed().as_secs_f64()).into());
    drop(engine);
    // The same through the one-call constructor (which reads the catalog and purchase index twice today).
    let t = Instant::now();
    let engine = QueryEngine::from_saved(store, template()).await.expect("engine from the saved analysis");
    assert_eq!(engine.version(), saved.version);
    out.insert("from_saved_s".into(), round3(t.elapsed().as_secs_f64()).into());
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn main() {
    let args = parse_args();
    futures::executor::block_on(async {
        if args.stores.iter().any(|s| s == "memory") {
            memory(&args).await;
        }
        if args.stores.iter().any(|s| s == "sqlite") {
            sqlite(&args).await;
        }
        if args.stores.iter().any(|s| s == "postgres") {
            postgres(&args).await;
        }
    });
}

async fn memory(args: &Args) {
    let memory: Arc<dyn DataStore> = Arc::new(MemoryStore::new());
    let mut figures = import_and_analyse(memory.clone(), args).await;
    if args.analysis {
        first_query(memory, Instant::now(), &mut figures).await;
    }
    println!("{}", serde_json::json!({ "store": "memory", "figures": figures }));
}

async fn sqlite(args: &Args) {
    let path = args.dir.join(format!("clerk-store-bench-{}.db", std::process::id()));
    let remove = |p: &PathBuf| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    };
    remove(&path);
    let store: Arc<dyn DataStore> = Arc::new(SqliteStore::open(&path).expect("open the SQLite store"));
    let mut figures = import_and_analyse(store.clone(), args).await;
    drop(store);
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    figures.insert("file_mb".into(), round3(size as f64 / 1e6).into());
    if args.analysis {
        let started = Instant::now();
        let store: Arc<dyn DataStore> = Arc::new(SqliteStore::open(&path).expect("reopen"));
        figures.insert("reopen_s".into(), round3(started.elapsed().as_secs_f64()).into());
        first_query(store, started, &mut figures).await;
    }
    println!("{}", serde_json::json!({ "store": "sqlite", "figures": figures }));
    remove(&path);
}

async fn postgres(args: &Args) {
    let (_server, url) = match &args.pg_url {
        Some(url) => (None, url.clone()),
        None => {
            let server = pg::PgServer::start(pg::Durability::Default).unwrap_or_else(|e| {
                eprintln!("cannot start PostgreSQL: {e}");
                std::process::exit(1)
            });
            server.create_database("bench").expect("create the database");
            let url = server.url("bench");
            (Some(server), url)
        }
    };
    let store = PgStore::connect(&url).await.expect("connect");
    store.clone().drop_all().await.expect("start from an empty store");
    let store: Arc<dyn DataStore> = Arc::new(PgStore::connect(&url).await.expect("connect"));
    let mut figures = import_and_analyse(store.clone(), args).await;
    drop(store);
    if args.analysis {
        let started = Instant::now();
        let store: Arc<dyn DataStore> = Arc::new(PgStore::connect(&url).await.expect("reconnect"));
        figures.insert("reopen_s".into(), round3(started.elapsed().as_secs_f64()).into());
        first_query(store, started, &mut figures).await;
    }
    println!("{}", serde_json::json!({ "store": "postgres", "figures": figures }));
}
