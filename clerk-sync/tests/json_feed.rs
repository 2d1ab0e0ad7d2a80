//! The JSON feed importer end to end: arrays, NDJSON, incremental `modified_after`, deletions, bad items.

mod common;

use clerk_core::domain::{RecordKind, Timestamp};
use clerk_core::DataStore;
use clerk_sync::{JsonFeedImporter, RejectReason, SyncMode};
use common::core;
use futures::executor::block_on;

const CATEGORIES: &str = r#"[{"id": "dairy", "name": "Dairy"}, {"id": "bakery", "name": "Bakery", "parent": null}]"#;

const PRODUCTS: &str = r#"[
  {"id": "milk", "name": "Milk 1l", "price": 1.09, "categories": ["dairy"], "modified_at": "2024-05-01 08:00:00",
   "attributes": {"fat": 3.5, "organic": true}},
  {"id": "bread", "name": "Bread", "price": 2.5, "categories": ["bakery"], "modified_at": "2024-05-03 08:00:00"},
  {"id": "bad", "price": "cheap"},
  {"id": 42, "name": "Numeric id", "modified_at": "2024-05-02 08:00:00"}
]"#;

const ORDERS: &str = r#"
{"id": "o1", "customer_id": "alice", "time": "2024-05-01 10:00:00", "lines": [{"product_id": "milk", "quantity": 2, "unit_price": 1.09}]}
{"id": "o2", "customer_id": "bob", "time": "2024-05-04T10:00:00Z", "lines": [{"product_id": "bread"}, {"product_id": "milk", "quantity": 0}]}
not json
{"id": "o3", "lines": [{"product_id": "milk"}]}
{"id": "o4", "time": "yesterday", "lines": [{"product_id": "milk"}]}

"#;

const CUSTOMERS: &str = "{\"id\": \"alice\", \"email\": \"alice@example.com\"}\n";

fn importer() -> JsonFeedImporter {
    JsonFeedImporter::new("shop").orders(ORDERS).products(PRODUCTS).categories(CATEGORIES).customers(CUSTOMERS)
}

#[test]
fn full_sync_reads_arrays_and_ndjson() {
    block_on(async {
        let (core, store) = core();
        let mut importer = importer();
        let report = core.sync(&mut importer, SyncMode::Full).await;
        assert!(report.succeeded(), "{report}");
        assert_eq!(report.stored.categories, 2);
        assert_eq!(report.stored.products, 3, "{report}");
        assert_eq!(report.stored.customers, 1);
        assert_eq!(report.stored.orders, 2);
        let milk = store.product("milk").await.unwrap().unwrap();
        assert_eq!(milk.price, Some(1.09));
        assert_eq!(milk.attributes.len(), 2);
        assert!(store.product("42").await.unwrap().is_some(), "numeric ids become text");
        let o2 = store.order("o2").await.unwrap().unwrap();
        assert_eq!(o2.lines.len(), 1);
        assert_eq!(o2.lines[0].quantity, 1.0, "quantity defaults to 1");
        // Problems, each with its location.
        let bad = &report.rejections[&RejectReason::Malformed].examples;
        assert_eq!(bad[0].location.item, Some(2));
        assert_eq!(bad[0].id, "bad");
        assert_eq!(bad[1].location.line, Some(4), "NDJSON: line of 'not json'");
        let missing = &report.rejections[&RejectReason::MissingField].examples[0];
        assert_eq!((missing.location.line, missing.location.field.as_deref()), (Some(5), Some("time")));
        let time = &report.rejections[&RejectReason::BadTimestamp].examples[0];
        assert_eq!((time.location.line, time.id.as_str()), (Some(6), "o4"));
        assert_eq!(report.rejected_for(RejectReason::QuantityNotPositive), 1);
        assert_eq!(report.flagged_for(clerk_sync::FlagReason::UnknownCustomer), 1, "bob has no record");
        // The cursor is the latest modification (or order) time.
        assert_eq!(report.cursor.unwrap().as_time(), Timestamp::parse("2024-05-04 10:00:00").ok());
    });
}

#[test]
fn incremental_sync_takes_what_changed_after_the_cursor_and_deletes_on_request() {
    block_on(async {
        let (core, store) = core();
        let first = core.sync(&mut importer(), SyncMode::Full).await;
        let cursor = clerk_sync::SyncCursor::from_time(Timestamp::parse("2024-05-02 12:00:00").unwrap());
        let products = r#"[
          {"id": "milk", "name": "Old change", "modified_at": "2024-05-01 09:00:00"},
          {"id": "bread", "name": "Bread (new recipe)", "modified_at": "2024-05-05 08:00:00"},
          {"id": "42", "deleted": true, "modified_at": "2024-05-05 09:00:00"}
        ]"#;
        let mut changed = JsonFeedImporter::new("shop").products(products);
        let report = core.sync(&mut changed, SyncMode::Incremental(cursor)).await;
        assert!(report.succeeded(), "{report}");
        assert_eq!(report.stored.products, 1, "only bread changed after the cursor");
        assert_eq!(report.deleted.products, 1);
        assert_eq!(store.product("milk").await.unwrap().unwrap().name, "Milk 1l");
        assert_eq!(store.product("bread").await.unwrap().unwrap().name, "Bread (new recipe)");
        assert!(store.product("42").await.unwrap().is_none());
        assert_eq!(report.cursor.unwrap().as_time(), Timestamp::parse("2024-05-05 09:00:00").ok());
        // Incremental syncs never mirror: the orders and categories stay.
        assert_eq!(store.counts().await.unwrap().orders as u64, first.stored.orders);
        assert_eq!(store.ids(RecordKind::Category).await.unwrap().len(), 2);
    });
}

#[test]
fn a_broken_array_is_an_unreadable_source_and_deletes_nothing() {
    block_on(async {
        let (core, store) = core();
        core.sync(&mut importer(), SyncMode::Full).await;
        let mut broken = JsonFeedImporter::new("shop").products("[{\"id\": \"milk\"},");
        let report = core.sync(&mut broken, SyncMode::Full).await;
        assert_eq!(report.rejected_for(RejectReason::UnreadableSource), 1);
        assert!(report.mirror_skipped.is_some());
        assert!(!report.succeeded());
        assert_eq!(store.counts().await.unwrap().products, 3);
    });
}
