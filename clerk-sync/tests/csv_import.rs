//! The CSV importers on small fixtures: custom mapping, gzip, rows of one order split across the file, bad rows.

mod common;

use std::io::Write;

use clerk_core::domain::{AttributeValue, RecordKind, Timestamp};
use clerk_core::DataStore;
use clerk_sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderMapping, ProductField, ProductMapping};
use clerk_sync::{RejectReason, SyncCursor, SyncMode};
use common::core;
use futures::executor::block_on;

const ORDERS: &str = "\
basket;shopper;sku;units;paid;at
b1;h1;milk;1;2.00;2024-05-01 10:00:00
b1;h1;bread;2;3.00;2024-05-01 10:00:00
b2;h2;milk;0;0;2024-05-01 11:00:00
b3;h1;eggs;1;1.50;2024-05-02 09:00:00
b1;h1;jam;1;4.00;2024-05-01 10:00:00
b4;h3;milk;x;1;2024-05-03 09:00:00
b5;h3;milk;1;1;not a time
b3;h1;milk;3;6;2024-05-02 09:00:00
";

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

fn mapping() -> OrderMapping {
    OrderMapping::new("basket", "sku", "at").customer("shopper").quantity("units").line_total("paid").delimiter(b';')
}

#[test]
fn imports_gzip_orders_with_a_custom_mapping_and_merges_split_orders() {
    block_on(async {
        let (core, store) = core();
        let mut importer = CsvOrderImporter::from_bytes("orders.csv.gz", gzip(ORDERS), mapping());
        let report = core.sync(&mut importer, SyncMode::Full).await;
        assert!(report.succeeded(), "{report}");
        // b1 comes back on line 6 and b3 on line 9: merged into one order each.
        let b1 = store.order("b1").await.unwrap().unwrap();
        let products: Vec<&str> = b1.lines.iter().map(|l| l.product_id.as_str()).collect();
        assert_eq!(products, ["milk", "bread", "jam"]);
        assert_eq!(b1.customer_id.as_deref(), Some("h1"));
        assert_eq!(b1.lines[1].unit_price, Some(1.5), "line total 3.00 for 2 units");
        assert_eq!(store.order("b3").await.unwrap().unwrap().lines.len(), 2);
        // b2's only line has quantity 0: the line is rejected and the order left empty.
        assert!(store.order("b2").await.unwrap().is_none());
        assert_eq!(report.rejected_for(RejectReason::QuantityNotPositive), 1);
        assert_eq!(report.rejected_for(RejectReason::EmptyOrder), 2, "b2 and b4 (its only row has a bad number)");
        let q = &report.rejections[&RejectReason::QuantityNotPositive].examples[0];
        assert_eq!((q.location.line, q.location.field.as_deref()), (Some(4), Some("quantity")));
        assert_eq!(&*q.location.source, "orders.csv.gz");
        // Unparseable cells are reported with line and field.
        let n = &report.rejections[&RejectReason::BadNumber].examples[0];
        assert_eq!((n.location.line, n.location.field.as_deref(), n.id.as_str()), (Some(7), Some("quantity"), "b4"));
        let t = &report.rejections[&RejectReason::BadTimestamp].examples[0];
        assert_eq!((t.location.line, t.location.field.as_deref()), (Some(8), Some("time")));
        assert_eq!(report.lines.read, 8);
        assert_eq!(report.lines.stored, 5);
        assert_eq!(report.lines.rejected, 3);
        assert_eq!(report.stored.orders, 2);
        assert_eq!(report.customers_in_orders, 1, "{report}");
        assert_eq!(store.counts().await.unwrap().orders, 2);
    });
}

#[test]
fn merges_a_split_order_across_batches() {
    block_on(async {
        let (core, store) = core();
        let core = core.with_config(clerk_sync::CoreConfig { batch_size: 1, ..Default::default() });
        let mut importer = CsvOrderImporter::from_bytes("orders.csv", ORDERS.as_bytes().to_vec(), mapping());
        let report = core.sync(&mut importer, SyncMode::Full).await;
        assert_eq!(store.order("b1").await.unwrap().unwrap().lines.len(), 3, "{report}");
        assert_eq!(report.stored.orders, 2);
        assert_eq!(store.counts().await.unwrap().order_lines, 5);
    });
}

#[test]
fn incremental_sync_takes_orders_after_the_cursor() {
    block_on(async {
        let (core, store) = core();
        let mut importer = CsvOrderImporter::from_bytes("orders.csv", ORDERS.as_bytes().to_vec(), mapping());
        let cursor = SyncCursor::from_time(Timestamp::parse("2024-05-01 12:00:00").unwrap());
        let report = core.sync(&mut importer, SyncMode::Incremental(cursor)).await;
        assert!(store.order("b1").await.unwrap().is_none());
        assert_eq!(store.order("b3").await.unwrap().unwrap().lines.len(), 2);
        assert_eq!(
            report.cursor.and_then(|c| c.as_time()),
            Timestamp::parse("2024-05-03 09:00:00").ok(),
            "the latest order time seen"
        );
    });
}

#[test]
fn a_missing_column_or_file_is_reported_not_a_panic() {
    block_on(async {
        let (core, _) = core();
        let mut importer =
            CsvOrderImporter::from_bytes("orders.csv", ORDERS.as_bytes().to_vec(), mapping().customer("nobody"));
        let report = core.sync(&mut importer, SyncMode::Full).await;
        let e = &report.rejections[&RejectReason::UnreadableSource].examples[0];
        assert!(e.message.contains("\"nobody\""), "{}", e.message);
        let mut importer = CsvOrderImporter::from_path("orders", "/nonexistent/orders.csv", mapping());
        let report = core.sync(&mut importer, SyncMode::Full).await;
        assert_eq!(report.rejected_for(RejectReason::UnreadableSource), 1);
        assert!(report.mirror_skipped.is_some());
    });
}

#[test]
fn imports_a_catalog_with_categories_and_attributes() {
    let catalog = "\
product_id,manufacturer_id,department,brand,product_category,product_type,package_size
1,2,GROCERY,National,FRZN ICE,ICE - CRUSHED/CUBED,22 LB
2,2,MISCELLANEOUS,National,,,
3,69,PASTRY,Private,FRZN ICE,ICE,
1,2,GROCERY,National,FRZN ICE,dup,
";
    block_on(async {
        let (core, store) = core();
        let mut importer =
            CsvCatalogImporter::from_bytes("products.csv", gzip(catalog), ProductMapping::complete_journey());
        assert_eq!(clerk_sync::Importer::kinds(&importer), vec![RecordKind::Category, RecordKind::Product]);
        let report = core.sync(&mut importer, SyncMode::Full).await;
        assert_eq!(report.stored.products, 3, "{report}");
        assert_eq!(report.stored.categories, 1);
        assert_eq!(report.rejected_for(RejectReason::DuplicateId), 1);
        let p1 = store.product("1").await.unwrap().unwrap();
        assert_eq!(p1.brand.as_deref(), Some("National"));
        assert_eq!(p1.categories, ["FRZN ICE"]);
        assert_eq!(p1.attributes["package_size"], AttributeValue::from("22 LB"));
        assert_eq!(p1.attributes["manufacturer_id"], AttributeValue::from("2"));
        let p2 = store.product("2").await.unwrap().unwrap();
        assert!(p2.categories.is_empty() && !p2.attributes.contains_key("product_type"), "empty cells are absent");
        assert_eq!(store.category("FRZN ICE").await.unwrap().unwrap().name, "FRZN ICE");
    });
}

#[test]
fn catalog_cells_are_parsed_by_field() {
    let catalog =
        "id,title,cost,tags,stock,visible\na,Apple,1.5,fruit|red,3,yes\nb,Bad,cheap,,1,no\nc,Cherry,,fruit,,0\n";
    let mapping = ProductMapping::new("id")
        .column("title", ProductField::Name)
        .column("cost", ProductField::Price)
        .column("tags", ProductField::Categories)
        .column("stock", ProductField::Stock)
        .column("visible", ProductField::Index);
    block_on(async {
        let (core, store) = core();
        let mut importer = CsvCatalogImporter::from_bytes("catalog", catalog.as_bytes().to_vec(), mapping);
        let report = core.sync(&mut importer, SyncMode::Full).await;
        let a = store.product("a").await.unwrap().unwrap();
        assert_eq!((a.name.as_str(), a.price, a.stock, a.index), ("Apple", Some(1.5), Some(3), true));
        assert_eq!(a.categories, ["fruit", "red"]);
        assert!(!store.product("c").await.unwrap().unwrap().index);
        let bad = &report.rejections[&RejectReason::BadNumber].examples[0];
        assert_eq!((bad.location.line, bad.location.field.as_deref(), bad.id.as_str()), (Some(3), Some("cost"), "b"));
        assert_eq!(report.rejected.products, 1);
    });
}
