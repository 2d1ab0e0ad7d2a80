//! The embedded default, end to end: a synthetic shop is imported, analysed and asked one query of each kind.
//!
//! ```text
//! cargo run --release --example quickstart                      # in memory
//! cargo run --release --example quickstart -- --sqlite shop.db  # the same on a durable SQLite store
//! ```
//!
//! 1. **Shop.** `SyntheticShop::generate(&ShopConfig::default())` builds a grocery-like shop from a seed (about
//!    3,000 products, 2,000 customers, a year of orders) together with the structure it planted: substitute
//!    groups, complementary pairs, purchase sequences, customer segments, repurchase staples.
//! 2. **Handle.** `Clerk::builder()` wires an in-memory store, the ClerkCore model and one importer (a
//!    `VecImporter` over the shop's records, standing in for a platform's feed) around the query engine.
//! 3. **Run.** `clerk.run_due(now)` is what a host calls from its own loop: the importer is due, so the Core
//!    Importer validates and stores every record; the store changed completely since the last analysis (there
//!    is none), so the analysis policy runs a full analysis, saves it as version 1 and installs it.
//! 4. **Ask.** One query of each kind through `clerk.query`, printed with product names from the catalog. Items
//!    marked `*` are what the generator planted (the partner of a complementary pair, a member of the same
//!    substitute group, the customer's own staple, a member of the product's segment): the answers are the
//!    engine's, the marks only say which of them the shop's answer key confirms.
//! 5. **Health.** The data-health report of the import.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use clerk::api::{Context, Query, Request, Response, Segment, Window};
use clerk::core::domain::RecordKind;
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::sync::{Record, VecImporter};
use clerk::Clerk;
use futures::executor::block_on;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    block_on(run())
}

async fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store: Arc<dyn clerk::DataStore> = match args.as_slice() {
        [] => Arc::new(clerk::MemoryStore::new()),
        [flag, path] if flag == "--sqlite" => Arc::new(clerk_sqlite::SqliteStore::open(path)?),
        _ => return Err("usage: quickstart [--sqlite PATH]".into()),
    };
    let started = Instant::now();
    let shop = SyntheticShop::generate(&ShopConfig::default());
    println!(
        "synthetic shop: {} products, {} customers, {} orders, {} order lines ({:.1} s)",
        shop.products.len(),
        shop.customers.len(),
        shop.orders.len(),
        shop.order_lines(),
        started.elapsed().as_secs_f64()
    );

    // The shop's records, as a platform importer would hand them over.
    let records = shop
        .categories
        .iter()
        .cloned()
        .map(Record::Category)
        .chain(shop.products.iter().cloned().map(Record::Product))
        .chain(shop.customers.iter().cloned().map(Record::Customer))
        .chain(shop.orders.iter().cloned().map(Record::Order));
    let kinds = [RecordKind::Category, RecordKind::Product, RecordKind::Customer, RecordKind::Order];
    // The handle's clock stands at the end of the synthetic year, so times read like the shop's.
    let now = shop.end();
    let clerk = Clerk::builder()
        .store(store)
        .importer(VecImporter::new("synthetic-shop", &kinds).with(records))
        .clock(Arc::new(move || now))
        .build()
        .await?;

    // What a host's loop does: run what is due.
    let run = clerk.run_due(now).await?;
    for sync in &run.syncs {
        print!("\n{sync}");
    }
    println!("analysis policy: {:?} ({})", run.decision.action, run.decision.why);
    if let Some(a) = &run.analysis {
        println!(
            "analysis version {}: {} products, {} customers, {} orders, {} relations; read {:.2} s, analysed {:.2} s, \
             saved and installed {:.2} s",
            a.version,
            a.stats.products,
            a.stats.customers,
            a.stats.orders,
            a.stats.relations,
            a.read_secs,
            a.analyse_secs,
            a.install_secs
        );
    }

    let names: HashMap<&str, &str> = shop.products.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let customer_names: HashMap<&str, &str> = shop.customers.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
    let name = |id: &str| format!("{} ({id})", names.get(id).copied().unwrap_or("?"));
    let truth = &shop.truth;

    // Alternatives: a member of a planted substitute group.
    let group = &truth.substitute_groups[0];
    let marks: HashSet<&str> = group.iter().map(String::as_str).collect();
    let r = clerk.query(Request::new(Query::Alternatives { products: vec![group[0].clone()] }).limit(5)).await?;
    show(&format!("alternatives to {}", name(&group[0])), &r, &marks, &name);

    // Next purchase for a basket: a complementary pair's first product and a sequence's first product.
    let (pair_a, pair_b) = &truth.complementary_pairs[0];
    let (seq_a, seq_b) = &truth.sequences[0];
    let marks: HashSet<&str> = [pair_b.as_str(), seq_b.as_str()].into();
    let basket = Context::new().basket([pair_a.as_str(), seq_a.as_str()]);
    let r = clerk.query(Request::new(Query::Complementary { products: vec![] }).context(basket).limit(5)).await?;
    show(&format!("next purchase for a basket of {} and {}", name(pair_a), name(seq_a)), &r, &marks, &name);

    // Most sold with.
    let marks: HashSet<&str> = [pair_b.as_str()].into();
    let r = clerk.query(Request::new(Query::MostSoldWith { products: vec![pair_a.clone()] }).limit(5)).await?;
    show(&format!("most sold with {}", name(pair_a)), &r, &marks, &name);

    // Customer picks and discovery: a customer with planted staples.
    let (customer, _, _) = &truth.repurchase[0];
    let staples: HashSet<&str> =
        truth.repurchase.iter().filter(|(c, _, _)| c == customer).map(|(_, p, _)| p.as_str()).collect();
    let who = format!("{} ({customer})", customer_names.get(customer.as_str()).copied().unwrap_or("?"));
    let r = clerk.query(Request::new(Query::CustomerPicks { customer: customer.clone() }).limit(8)).await?;
    show(&format!("picks for {who} (* = their planted staples)"), &r, &staples, &name);
    let r = clerk.query(Request::new(Query::CustomerComplementary { customer: customer.clone() }).limit(5)).await?;
    show(&format!("discovery for {who} (nothing they bought)"), &r, &HashSet::new(), &name);

    // An anonymous visitor who viewed a substitute and has a basket.
    let marks: HashSet<&str> = group.iter().map(String::as_str).chain([pair_b.as_str()]).collect();
    let context = Context::new().viewed([group[1].as_str()]).basket([pair_a.as_str()]);
    let r = clerk.query(Request::new(Query::Visitor).context(context).limit(5)).await?;
    show(&format!("visitor who viewed {} with {} in the basket", name(&group[1]), name(pair_a)), &r, &marks, &name);

    // Non-personal rankings.
    let none = HashSet::new();
    let r = clerk.query(Request::new(Query::Popular { category: None }).limit(5)).await?;
    show("popular", &r, &none, &name);
    let r = clerk.query(Request::new(Query::Trending { category: None }).limit(5)).await?;
    show("trending", &r, &none, &name);
    let new: HashSet<&str> = truth.new_products.iter().map(String::as_str).collect();
    let r = clerk.query(Request::new(Query::New { category: None }).limit(5)).await?;
    show("new (* = planted new products)", &r, &new, &name);

    // Audience of a segment's signature product.
    let segment = &truth.segments[0];
    let product = &segment.signature_products[0];
    let members: HashSet<&str> = segment.customers.iter().map(String::as_str).collect();
    let query = Query::Audience { product: product.clone(), segment: Segment::Interested, window: Window::default() };
    let r = clerk.query(Request::new(query).limit(8)).await?;
    println!(
        "\naudience of {} (a signature product of the {:?} segment; * = member) [model {}, version {}]",
        name(product),
        segment.name,
        r.model,
        r.analysis_version
    );
    for c in &r.customers {
        let mark = if members.contains(&*c.id) { "*" } else { " " };
        let who = customer_names.get(&*c.id).copied().unwrap_or("guest");
        let last = c.last_purchase.map_or_else(|| "never".to_owned(), |t| t.to_string());
        println!("  {mark} {:>7.3}  {who} ({}), last bought {last}", c.score, c.id);
    }

    let health = clerk.health(now).await?;
    print!("\n{health}");
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn show(title: &str, r: &Response, marks: &HashSet<&str>, name: &dyn Fn(&str) -> String) {
    let fallback = r.fallback.map(|f| format!(", fallback {f:?}")).unwrap_or_default();
    println!("\n{title} [model {}, version {}{fallback}]", r.model, r.analysis_version);
    for item in &r.items {
        let mark = if marks.contains(&*item.id) { "*" } else { " " };
        println!("  {mark} {:>7.3}  {:<16} {}", item.score, format!("{:?}", item.reason), name(&item.id));
    }
}
