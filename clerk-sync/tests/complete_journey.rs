//! The whole Complete Journey file through the CSV importers and the Core Importer, with the counts the data's
//! README gives. Heavy: run in release with `cargo test --release -p clerk-sync -- --ignored`. Skips with a
//! printed reason when the data is absent.

use std::path::PathBuf;
use std::sync::Arc;

use clerk_core::{DataStore, MemoryStore};
use clerk_sync::csv::{CsvCatalogImporter, CsvOrderImporter, OrderMapping, ProductMapping};
use clerk_sync::{CoreImporter, DataHealth, FlagReason, RejectReason, SyncMode};
use futures::executor::block_on;

fn data_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    ["../../shared/data/completejourney", "../shared/data/completejourney"]
        .iter()
        .map(|rel| manifest.join(rel))
        .find(|dir| dir.join("transactions.csv.gz").is_file())
}

/// The mapping of `transactions.csv`: basket = order, household = customer, `sales_value` = line total.
pub fn transactions_mapping() -> OrderMapping {
    OrderMapping::new("basket_id", "product_id", "transaction_timestamp")
        .customer("household_id")
        .quantity("quantity")
        .line_total("sales_value")
}

#[test]
#[ignore = "reads 110 MB of shared data; run in release with --ignored"]
fn imports_complete_journey_with_the_expected_counts() {
    let Some(dir) = data_dir() else {
        println!("skipped: ../shared/data/completejourney/transactions.csv.gz not found next to the workspace");
        return;
    };
    block_on(async {
        let store = MemoryStore::new();
        let core = CoreImporter::new(Arc::new(store.clone()));
        let mut catalog =
            CsvCatalogImporter::from_path("catalog", dir.join("products.csv.gz"), ProductMapping::complete_journey());
        let catalog_report = core.sync(&mut catalog, SyncMode::Full).await;
        assert!(catalog_report.succeeded(), "{catalog_report}");
        assert_eq!(catalog_report.stored.products, 92_331);
        assert_eq!(catalog_report.stored.categories, 303);

        let mut orders = CsvOrderImporter::from_path("orders", dir.join("transactions.csv.gz"), transactions_mapping());
        let report = core.sync(&mut orders, SyncMode::Full).await;
        println!("{report}");
        assert!(report.succeeded());
        assert_eq!(report.lines.read, 1_469_307);
        assert_eq!(report.rejected_for(RejectReason::QuantityNotPositive), 8_869);
        assert_eq!(report.lines.rejected, 8_869);
        assert_eq!(report.lines.stored, 1_460_438);
        assert_eq!(report.read.orders, 155_848);
        assert_eq!(report.stored.orders, 155_518);
        assert_eq!(report.rejected_for(RejectReason::EmptyOrder), 330);
        assert_eq!(report.customers_in_orders, 2_469);
        assert_eq!(report.rejected_by_reason().len(), 2, "no other rejection: {report}");
        assert!(report.flagged_for(FlagReason::UnknownProduct) > 0);
        let counts = store.counts().await.unwrap();
        assert_eq!((counts.orders, counts.order_lines), (155_518, 1_460_438));

        let health = DataHealth::compute(&store, &[catalog_report, report.clone()], report.finished_at).await.unwrap();
        println!("{health}");
        assert_eq!(health.facts.order_lines, 1_460_438);
        assert_eq!(health.facts.customers_in_orders, 2_469);
        assert_eq!(health.facts.rejected_by_reason["quantity_not_positive"], 8_869);
        assert_eq!(health.facts.rejected_by_reason["empty_order"], 330);
    });
}
