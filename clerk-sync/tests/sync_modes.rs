//! Full-sync mirroring, incremental upserts and real-time updates.

mod common;

use clerk_core::domain::{Category, Customer, Product, RecordKind};
use clerk_core::DataStore;
use clerk_sync::{
    ApplyError, Change, FlagReason, RealtimeUpdate, Record, RejectReason, SyncCursor, SyncMode, VecImporter,
};
use common::{core, order};
use futures::executor::block_on;

fn catalog(products: &[&str]) -> VecImporter {
    VecImporter::new("catalog", &[RecordKind::Product, RecordKind::Category, RecordKind::Customer])
        .with([Record::Category(Category::new("c", "C")), Record::Customer(Customer::new("alice"))])
        .with(products.iter().map(|p| Record::Product(Product::new(*p))))
}

#[test]
fn full_sync_deletes_absent_catalog_records_and_keeps_orders() {
    block_on(async {
        let (core, store) = core();
        core.sync(&mut catalog(&["a", "b", "c"]), SyncMode::Full).await;
        let mut orders = VecImporter::new("orders", &[RecordKind::Order]).with([Record::Order(order(
            "o1",
            Some("alice"),
            &[("a", 1.0), ("b", 1.0)],
        ))]);
        core.sync(&mut orders, SyncMode::Full).await;

        let report = core.sync(&mut catalog(&["a"]), SyncMode::Full).await;
        assert_eq!(report.deleted.products, 2, "{report}");
        assert_eq!(store.ids(RecordKind::Product).await.unwrap(), ["a"]);
        assert!(store.order("o1").await.unwrap().is_some(), "orders are history");

        // An importer of orders only deletes nothing of the catalog, even in a full sync.
        let mut orders = VecImporter::new("orders", &[RecordKind::Order]);
        let report = core.sync(&mut orders, SyncMode::Full).await;
        assert_eq!(report.deleted.products + report.deleted.orders, 0);
        assert_eq!(store.counts().await.unwrap().orders, 1);
    });
}

#[test]
fn a_rejected_record_is_not_deleted_by_the_mirror() {
    block_on(async {
        let (core, store) = core();
        core.sync(&mut catalog(&["a", "b"]), SyncMode::Full).await;
        let mut feed = catalog(&["a"]);
        feed.push(Record::Product(Product { price: Some(-1.0), ..Product::new("b") }));
        let report = core.sync(&mut feed, SyncMode::Full).await;
        assert_eq!(report.rejected_for(RejectReason::NegativePrice), 1);
        assert_eq!(report.deleted.products, 0);
        assert!(store.product("b").await.unwrap().is_some(), "the stored version stays");
    });
}

#[test]
fn incremental_sync_only_upserts() {
    block_on(async {
        let (core, store) = core();
        core.sync(&mut catalog(&["a", "b"]), SyncMode::Full).await;
        let report = core.sync(&mut catalog(&["c"]), SyncMode::Incremental(SyncCursor(String::new()))).await;
        assert_eq!(report.deleted.products, 0);
        assert_eq!(store.ids(RecordKind::Product).await.unwrap(), ["a", "b", "c"]);
    });
}

#[test]
fn realtime_updates_are_validated_and_advance_the_change_position() {
    block_on(async {
        let (core, store) = core();
        let before = store.change_position().await.unwrap();
        let n = core.apply(RealtimeUpdate::Product(Product::new("milk"))).await.unwrap();
        assert_eq!((n.change, n.position), (Change::Inserted, before + 1));
        let n =
            core.apply(RealtimeUpdate::Product(Product { name: "Milk".into(), ..Product::new("milk") })).await.unwrap();
        assert_eq!(n.change, Change::Replaced);

        let err = core.apply(RealtimeUpdate::Product(Product { price: Some(-3.0), ..Product::new("x") })).await;
        assert!(matches!(err, Err(ApplyError::Rejected(ref i)) if i.reason == RejectReason::NegativePrice));

        let n = core
            .apply(RealtimeUpdate::Order(order("o1", Some("bob"), &[("milk", 1.0), ("ghost", 1.0), ("milk", 0.0)])))
            .await
            .unwrap();
        assert_eq!(n.rejected_lines.len(), 1);
        let flags: Vec<FlagReason> = n.flags.iter().map(|(f, _)| *f).collect();
        assert_eq!(flags, [FlagReason::UnknownProduct, FlagReason::UnknownCustomer]);
        assert_eq!(store.order("o1").await.unwrap().unwrap().lines.len(), 2);
        let changes = store.changes_since(before).await.unwrap();
        assert_eq!((changes.products, changes.orders_written), (2, 1), "the analysis sees what changed");

        let err = core.apply(RealtimeUpdate::Order(order("o2", None, &[("milk", 0.0)]))).await;
        assert!(matches!(err, Err(ApplyError::Rejected(ref i)) if i.reason == RejectReason::EmptyOrder));

        let n = core.apply(RealtimeUpdate::Removed { kind: RecordKind::Product, id: "milk".into() }).await.unwrap();
        assert_eq!(n.change, Change::Deleted);
        let n = core.apply(RealtimeUpdate::Removed { kind: RecordKind::Product, id: "milk".into() }).await.unwrap();
        assert_eq!(n.change, Change::Unchanged);
    });
}
