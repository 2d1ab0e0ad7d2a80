//! A host's own importer for a made-up platform, "Bazaarly", written against the public `Importer` trait.
//!
//! Bazaarly's API hands out pages of listings and sales with its own field names and prices in cents. The
//! importer maps them into clerk's records, reports what it cannot map (with a location) instead of failing,
//! and supports incremental syncs through the `updated` time of each item.
//!
//! ```text
//! cargo run --example custom_importer
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use clerk::core::domain::{Order, OrderLine, Product, RecordKind, Timestamp};
use clerk::core::{DataStore, MemoryStore};
use clerk::sync::{
    CoreImporter, DataHealth, ImportError, Importer, Location, Record, RecordSink, RejectReason, SourceError,
    SyncCursor, SyncMode,
};

/// A listing as Bazaarly's API returns it.
#[derive(Clone, Debug)]
struct Listing {
    sku: &'static str,
    title: &'static str,
    cents: i64,
    shelf: &'static str,
    updated: &'static str,
    hidden: bool,
}

/// A sale (one per item sold) as Bazaarly's API returns it.
#[derive(Clone, Debug)]
struct Sale {
    receipt: &'static str,
    buyer: &'static str,
    sku: &'static str,
    count: i64,
    at: &'static str,
}

/// The made-up platform's client: two "endpoints" with pages of two items.
#[derive(Debug, Default)]
struct BazaarlyClient;

impl BazaarlyClient {
    fn listings(&self, page: usize) -> Vec<Listing> {
        let all = [
            Listing {
                sku: "TEA-1",
                title: "Green tea",
                cents: 450,
                shelf: "tea",
                updated: "2024-05-01 09:00:00",
                hidden: false,
            },
            Listing {
                sku: "MUG-7",
                title: "Mug",
                cents: 1200,
                shelf: "kitchen",
                updated: "2024-05-02 09:00:00",
                hidden: false,
            },
            Listing {
                sku: "TEA-2",
                title: "Black tea",
                cents: -5,
                shelf: "tea",
                updated: "2024-05-03 09:00:00",
                hidden: false,
            },
            Listing {
                sku: "GIFT",
                title: "Gift card",
                cents: 2500,
                shelf: "",
                updated: "2024-05-04 09:00:00",
                hidden: true,
            },
        ];
        all.chunks(2).nth(page).map(<[Listing]>::to_vec).unwrap_or_default()
    }

    fn sales(&self) -> Vec<Sale> {
        vec![
            Sale { receipt: "R1", buyer: "u1", sku: "TEA-1", count: 2, at: "2024-05-05 10:00:00" },
            Sale { receipt: "R1", buyer: "u1", sku: "MUG-7", count: 1, at: "2024-05-05 10:00:00" },
            Sale { receipt: "R2", buyer: "u2", sku: "TEA-9", count: 1, at: "2024-05-06 11:00:00" },
            Sale { receipt: "R3", buyer: "u2", sku: "MUG-7", count: 1, at: "last tuesday" },
        ]
    }
}

/// The importer: maps Bazaarly's listings and sales into clerk's records.
#[derive(Debug, Default)]
struct BazaarlyImporter {
    client: BazaarlyClient,
}

#[async_trait]
impl Importer for BazaarlyImporter {
    fn name(&self) -> &str {
        "bazaarly"
    }

    fn kinds(&self) -> Vec<RecordKind> {
        vec![RecordKind::Product, RecordKind::Order]
    }

    async fn read(&mut self, mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let after = mode.after_time();
        let mut latest = after.unwrap_or(Timestamp::MIN);
        let listings: Arc<str> = Arc::from("bazaarly/listings");
        for page in 0.. {
            let items = self.client.listings(page);
            if items.is_empty() {
                break;
            }
            for (i, l) in items.into_iter().enumerate() {
                let location = Location::item(&listings, (page * 2 + i) as u64);
                let updated = match Timestamp::parse(l.updated) {
                    Ok(t) => t,
                    Err(e) => {
                        let e =
                            SourceError::new(location.with_field("updated"), RejectReason::BadTimestamp, e.to_string());
                        sink.source_error(e.of_kind(RecordKind::Product).with_id(l.sku));
                        continue;
                    }
                };
                latest = latest.max(updated);
                if after.is_some_and(|a| updated <= a) {
                    continue;
                }
                let mut product = Product::new(l.sku);
                product.name = l.title.to_owned();
                product.price = Some(l.cents as f64 / 100.0);
                product.index = !l.hidden;
                if !l.shelf.is_empty() {
                    product.categories.push(l.shelf.to_owned());
                }
                // The Core Importer validates (e.g. rejects the negative price of TEA-2).
                sink.record(location, Record::Product(product)).await?;
            }
        }
        let sales: Arc<str> = Arc::from("bazaarly/sales");
        for (i, s) in self.client.sales().into_iter().enumerate() {
            let location = Location::item(&sales, i as u64);
            let Ok(at) = Timestamp::parse(s.at) else {
                let message = format!("{:?} is not a time", s.at);
                let e = SourceError::new(location.with_field("at"), RejectReason::BadTimestamp, message);
                sink.source_error(e.of_kind(RecordKind::Order).with_id(s.receipt).losing_lines(1));
                continue;
            };
            latest = latest.max(at);
            if after.is_some_and(|a| at <= a) {
                continue;
            }
            // One sale per item: parts of one receipt are merged by the Core Importer.
            let mut order = Order::new(s.receipt, Some(s.buyer.to_owned()), at);
            order.lines.push(OrderLine::new(s.sku, s.count as f64));
            sink.record(location, Record::OrderPart(order)).await?;
        }
        Ok(SyncCursor::from_time(latest))
    }
}

fn main() {
    let store = MemoryStore::new();
    // The clock of the example is fixed, so the output is the same on every run.
    let now = Timestamp::parse("2024-05-07 00:00:00").expect("a valid time");
    let core = CoreImporter::new(Arc::new(store.clone())).with_clock(Arc::new(move || now));
    let mut importer = BazaarlyImporter::default();
    futures::executor::block_on(async {
        let report = core.sync(&mut importer, SyncMode::Full).await;
        println!("{report}");
        let cursor = report.cursor.clone().unwrap_or(SyncCursor(String::new()));
        let again = core.sync(&mut importer, SyncMode::Incremental(cursor)).await;
        println!("incremental sync after the cursor: {} records read", again.read.total());
        let counts = store.counts().await.expect("the memory store does not fail");
        println!("stored: {} products, {} orders, {} lines", counts.products, counts.orders, counts.order_lines);
        let r1 = store.order("R1").await.expect("memory store").expect("R1 stored");
        println!("R1 has {} lines (merged from two sales)", r1.lines.len());
        match DataHealth::compute(&store, &[report, again], Timestamp::parse("2024-05-07 00:00:00").expect("time"))
            .await
        {
            Ok(health) => println!("{health}"),
            Err(e) => eprintln!("data health failed: {e}"),
        }
    });
}
