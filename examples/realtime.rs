//! Real-time updates through the handle: an order arrives, is folded into the analysis on the fly, and the
//! answers for its customer change at once, without a re-analysis.
//!
//! ```text
//! cargo run --release --example realtime
//! ```
//!
//! 1. A small synthetic shop is loaded into a store and analysed (`run_due`: the first analysis, version 1).
//! 2. A customer, and the best seller they have never bought. Their picks (repeat purchases first) and their
//!    discovery (what complements their history, nothing they bought) are printed.
//! 3. The shop pushes three orders of that product by that customer through `clerk.apply(RealtimeUpdate::Order)`:
//!    the Core Importer validates and stores each, and the handle folds it into the installed analysis.
//! 4. The same two queries again: the product climbs the picks (it is a repeat purchase now) and leaves the
//!    discovery list (they bought it). The analysis version is still 1.
//! 5. The host's next `run_due` sees a few new orders since the analysis: the policy folds in (nothing left to
//!    fold) instead of re-analysing.

use std::collections::HashSet;
use std::sync::Arc;

use clerk::api::{Query, Request, Response};
use clerk::core::domain::{Order, OrderLine, Timestamp, DAY};
use clerk::core::synthetic::{ShopConfig, SyntheticShop};
use clerk::sync::RealtimeUpdate;
use clerk::{Clerk, MemoryStore};
use futures::executor::block_on;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    block_on(run())
}

async fn run() -> Result<(), Error> {
    let shop = SyntheticShop::generate(&ShopConfig::small());
    let store = Arc::new(MemoryStore::new());
    shop.load_into(&*store).await?;
    let now = Timestamp(shop.end().secs() + DAY);
    let clerk = Clerk::builder().store(store).clock(Arc::new(move || now)).build().await?;
    let run = clerk.run_due(now).await?;
    println!(
        "{} orders loaded; run_due: {:?} ({}), analysis version {}",
        shop.orders.len(),
        run.decision.action,
        run.decision.why,
        run.analysis.as_ref().map_or(0, |a| a.version)
    );

    let customer = shop.customers[0].id.clone();
    let bought: HashSet<&str> = shop
        .orders
        .iter()
        .filter(|o| o.customer_id.as_deref() == Some(customer.as_str()))
        .flat_map(|o| o.lines.iter().map(|l| l.product_id.as_str()))
        .collect();
    let popular = clerk.query(Request::new(Query::Popular { category: None }).limit(1000)).await?;
    let Some(product) = popular.ids().into_iter().find(|p| !bought.contains(p)).map(str::to_owned) else {
        return Err("the customer bought every product".into());
    };
    let name = |id: &str| shop.products.iter().find(|p| p.id == id).map_or("?", |p| p.name.as_str()).to_owned();
    println!("customer {customer} has never bought the best seller {} ({product})", name(&product));

    let picks = Request::new(Query::CustomerPicks { customer: customer.clone() }).limit(100);
    let discovery = Request::new(Query::CustomerComplementary { customer: customer.clone() }).limit(5);
    let picks_before = clerk.query(picks.clone()).await?;
    let discovery_before = clerk.query(discovery.clone()).await?;

    // The shop pushes three orders as they happen.
    let last = shop.orders.iter().map(|o| o.time).max().unwrap_or(now);
    for k in 1..=3 {
        let mut order = Order::new(format!("live-{k}"), Some(customer.clone()), Timestamp(last.secs() + k * 8 * 3600));
        order.lines = vec![OrderLine::new(product.as_str(), 1.0)];
        let report = clerk.apply(RealtimeUpdate::Order(order)).await?;
        println!(
            "applied order live-{k}: {:?} at change position {}, folded in {} order(s)",
            report.notice.change,
            report.notice.position,
            report.fold_in.map_or(0, |f| f.orders)
        );
    }

    let picks_after = clerk.query(picks).await?;
    let discovery_after = clerk.query(discovery).await?;
    let rank = |r: &Response| r.ids().iter().position(|id| *id == product).map_or("-".into(), |k| (k + 1).to_string());
    println!(
        "\nrank of {product} in the picks of {customer}: before {}, after {}",
        rank(&picks_before),
        rank(&picks_after)
    );
    println!("(analysis version before {}, after {})", picks_before.analysis_version, picks_after.analysis_version);
    println!("\ndiscovery for {customer}:");
    println!("  {:<50} after", "before");
    for k in 0..discovery_before.items.len().max(discovery_after.items.len()) {
        let cell = |r: &Response| {
            r.items.get(k).map_or(String::new(), |i| {
                let mark = if *i.id == product { "*" } else { " " };
                format!("{mark} {} {}", i.id, name(&i.id))
            })
        };
        println!("  {:<50} {}", cell(&discovery_before), cell(&discovery_after));
    }
    println!("  (* = the product just bought: a discovery before, a repeat purchase after)");

    let run = clerk.run_due(Timestamp(now.secs() + 3600)).await?;
    println!(
        "\nnext run_due: {} order(s) written since the analysis -> {:?} ({}), {} more folded in",
        run.changes.orders_written,
        run.decision.action,
        run.decision.why,
        run.fold_in.map_or(0, |f| f.orders)
    );
    Ok(())
}
