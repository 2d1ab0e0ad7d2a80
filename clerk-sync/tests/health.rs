//! Data health: every check graded from the store and the sync reports.

mod common;

use std::sync::Arc;

use clerk_core::domain::{Product, RecordKind, Timestamp, DAY};
use clerk_core::{DataStore, MemoryStore};
use clerk_sync::{CoreImporter, DataHealth, Grade, Record, SyncMode, VecImporter};
use common::{now, order};
use futures::executor::block_on;

#[test]
fn grades_each_check_and_prints_a_table() {
    block_on(async {
        let store = MemoryStore::new();
        let core = CoreImporter::new(Arc::new(store.clone())).with_clock(Arc::new(now));
        let mut catalog = VecImporter::new("catalog", &[RecordKind::Product]).with([
            Record::Product(Product { price: Some(1.0), categories: vec!["c".into()], ..Product::new("a") }),
            Record::Product(Product { index: false, ..Product::new("b") }),
            Record::Product(Product::new("never")),
        ]);
        let catalog_report = core.sync(&mut catalog, SyncMode::Full).await;
        // Ten weeks of 20 orders, then a week of 2: a sudden drop. Plus a line with an unknown product.
        let mut orders = VecImporter::new("orders", &[RecordKind::Order]);
        let start = Timestamp::parse("2024-03-04 12:00:00").unwrap();
        for week in 0..12i64 {
            let n = if week == 10 { 2 } else { 20 };
            for i in 0..n {
                let mut o = order(&format!("o{week}-{i}"), Some("alice"), &[("a", 1.0), ("b", 0.0)]);
                o.time = Timestamp(start.secs() + week * 7 * DAY + i);
                orders.push(Record::Order(o));
            }
        }
        orders.push(Record::Order(order("guest", None, &[("ghost", 1.0)])));
        let order_report = core.sync(&mut orders, SyncMode::Full).await;
        let health = DataHealth::compute(&store, &[catalog_report, order_report], now()).await.unwrap();
        let grade = |name: &str| health.check(name).unwrap_or_else(|| panic!("no check {name}")).grade;
        assert_eq!(grade("rejected_records"), Grade::Error, "one line in two was rejected");
        assert_eq!(grade("unknown_products"), Grade::Warning);
        assert_eq!(health.facts.unknown_products, 1);
        assert_eq!(grade("products_never_sold"), Grade::Warning, "two of three never sold");
        assert_eq!(health.facts.products_never_sold, 2);
        assert_eq!(grade("products_incomplete"), Grade::Error, "two of three without category");
        assert_eq!(health.facts.orders_without_customer, 1);
        assert_eq!(health.facts.customers_without_record, 1);
        assert_eq!(grade("orders_without_customer"), Grade::Warning);
        let volume = health.check("weekly_order_volume").unwrap();
        assert_eq!(volume.grade, Grade::Warning);
        assert_eq!(volume.details.len(), 1, "{:?}", volume.details);
        assert!(volume.details[0].contains("week of 2024-05-13"), "{:?}", volume.details);
        assert_eq!(grade("last_successful_sync"), Grade::Ok);
        assert_eq!(grade("not_indexable"), Grade::Warning, "one of three not indexable");
        assert_eq!(health.grade, Grade::Error);
        assert_eq!(health.weekly_orders.len(), 12);
        let text = health.to_string();
        assert!(text.contains("unknown_products") && text.contains("ERROR"), "{text}");
        let json = serde_json::to_value(&health).unwrap();
        assert_eq!(json["checks"][0]["grade"], "error");

        // Two weeks later without a sync, the importers are stale.
        let later = DataHealth::compute(&store, &[], Timestamp(now().secs() + 3 * DAY)).await.unwrap();
        assert_eq!(later.check("last_successful_sync").unwrap().grade, Grade::Warning, "no reports at all");
    });
}

#[test]
fn an_importer_without_success_is_an_error_and_a_clean_store_is_ok() {
    block_on(async {
        let store = MemoryStore::new();
        let mut failed = clerk_sync::SyncReport::new("shop", true, now());
        failed.outcome = clerk_sync::Outcome::Failed("store down".into());
        let health = DataHealth::compute(&store, &[failed], now()).await.unwrap();
        assert_eq!(health.check("last_successful_sync").unwrap().grade, Grade::Error);

        let ok = clerk_sync::SyncReport::new("shop", true, now());
        let health = DataHealth::compute(&store, &[ok], now()).await.unwrap();
        assert_eq!(health.grade, Grade::Ok, "{health}");
        assert!(store.counts().await.unwrap().orders == 0);
    });
}
