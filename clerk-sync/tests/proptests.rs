//! Properties: valid records round-trip unchanged, invalid ones are rejected with a reason, and no valid record
//! is lost when mixed with invalid ones.

mod common;

use std::collections::BTreeMap;

use clerk_core::domain::{AttributeValue, Order, OrderLine, Product, RecordKind, Timestamp};
use clerk_core::DataStore;
use clerk_sync::{Record, RejectReason, SyncMode, VecImporter};
use common::{core, now};
use futures::executor::block_on;
use proptest::prelude::*;

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_\\-é]{1,10}"
}

fn attribute() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        any::<bool>().prop_map(AttributeValue::Bool),
        (-1e9f64..1e9).prop_map(AttributeValue::Number),
        ".{0,8}".prop_map(AttributeValue::Text),
    ]
}

prop_compose! {
    fn valid_product()(id in id(), name in ".{0,12}", price in proptest::option::of(0.0f64..1e6),
                       cats in proptest::collection::vec(id(), 0..3), index in any::<bool>(),
                       created in proptest::option::of(0i64..1_700_000_000),
                       attrs in proptest::collection::btree_map("[A-Za-z0-9_]{1,8}", attribute(), 0..3)) -> Product {
        Product { id, name, price, categories: cats, index, created_at: created.map(Timestamp),
                  attributes: attrs, ..Product::default() }
    }
}

prop_compose! {
    fn valid_order()(id in id(), customer in proptest::option::of(id()), time in 0i64..1_700_000_000,
                     lines in proptest::collection::vec((id(), 0.001f64..100.0, proptest::option::of(0.0f64..100.0)), 1..5)) -> Order {
        let mut o = Order::new(id, customer, Timestamp(time));
        o.lines = lines.into_iter().map(|(p, q, u)| OrderLine { product_id: p, quantity: q, unit_price: u }).collect();
        o
    }
}

/// A product broken in one of several ways, with the reason expected.
fn invalid_product() -> impl Strategy<Value = (Product, RejectReason)> {
    (valid_product(), 0..5u8, -1e6f64..-0.001).prop_map(|(mut p, how, neg)| {
        let reason = match how {
            0 => {
                p.id = String::new();
                RejectReason::MissingField
            }
            1 => {
                p.price = Some(neg);
                RejectReason::NegativePrice
            }
            2 => {
                p.attributes.insert("not valid!".into(), AttributeValue::Bool(true));
                RejectReason::InvalidAttributeName
            }
            3 => {
                p.created_at = Some(Timestamp(now().secs() + 400 * 86_400));
                RejectReason::TimeInFuture
            }
            _ => {
                p.list_price = Some(f64::NAN);
                RejectReason::NotFinite
            }
        };
        (p, reason)
    })
}

fn invalid_order() -> impl Strategy<Value = (Order, RejectReason)> {
    (valid_order(), 0..3u8).prop_map(|(mut o, how)| {
        let reason = match how {
            0 => {
                o.lines.clear();
                RejectReason::EmptyOrder
            }
            1 => {
                o.id = String::new();
                RejectReason::MissingField
            }
            _ => {
                o.time = Timestamp(now().secs() + 30 * 86_400);
                RejectReason::TimeInFuture
            }
        };
        (o, reason)
    })
}

fn dedup_products(products: Vec<Product>) -> Vec<Product> {
    let mut seen = std::collections::HashSet::new();
    products.into_iter().filter(|p| seen.insert(p.id.clone())).collect()
}

fn dedup_orders(orders: Vec<Order>) -> Vec<Order> {
    let mut seen = std::collections::HashSet::new();
    orders.into_iter().filter(|o| seen.insert(o.id.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn valid_records_round_trip_unchanged(products in proptest::collection::vec(valid_product(), 0..15),
                                          orders in proptest::collection::vec(valid_order(), 0..15)) {
        let (products, orders) = (dedup_products(products), dedup_orders(orders));
        block_on(async {
            let (core, store) = core();
            let records = products.iter().cloned().map(Record::Product).chain(orders.iter().cloned().map(Record::Order));
            let mut importer = VecImporter::new("feed", &[RecordKind::Product, RecordKind::Order]).with(records);
            let report = core.sync(&mut importer, SyncMode::Full).await;
            prop_assert!(report.rejections.is_empty(), "{}", report);
            prop_assert_eq!(report.stored.products as usize, products.len());
            prop_assert_eq!(report.stored.orders as usize, orders.len());
            for p in &products {
                prop_assert_eq!(store.product(&p.id).await.unwrap(), Some(p.clone()));
            }
            for o in &orders {
                prop_assert_eq!(store.order(&o.id).await.unwrap(), Some(o.clone()));
            }
            Ok(())
        })?;
    }

    #[test]
    fn invalid_records_are_rejected_with_their_reason(bad_p in invalid_product(), bad_o in invalid_order()) {
        block_on(async {
            let (core, store) = core();
            let mut importer = VecImporter::new("feed", &[RecordKind::Product, RecordKind::Order])
                .with([Record::Product(bad_p.0.clone()), Record::Order(bad_o.0.clone())]);
            let report = core.sync(&mut importer, SyncMode::Full).await;
            prop_assert_eq!(report.rejected_for(bad_p.1), 1 + u64::from(bad_p.1 == bad_o.1), "{}", report);
            prop_assert!(report.rejected_for(bad_o.1) >= 1, "{}", report);
            prop_assert_eq!(report.rejected.products, 1);
            prop_assert_eq!(report.rejected.orders, 1);
            let counts = store.counts().await.unwrap();
            prop_assert_eq!(counts.products + counts.orders, 0);
            Ok(())
        })?;
    }

    #[test]
    fn no_valid_record_is_lost_among_invalid_ones(
        good_p in proptest::collection::vec(valid_product(), 0..12),
        good_o in proptest::collection::vec(valid_order(), 0..12),
        bad_p in proptest::collection::vec(invalid_product(), 0..8),
        bad_o in proptest::collection::vec(invalid_order(), 0..8),
        seed in any::<u64>(),
    ) {
        let (good_p, good_o) = (dedup_products(good_p), dedup_orders(good_o));
        // Invalid records must not reuse a valid id (that would be a duplicate, rejected on purpose).
        let good_ids: std::collections::HashSet<String> =
            good_p.iter().map(|p| p.id.clone()).chain(good_o.iter().map(|o| o.id.clone())).collect();
        let mut records: Vec<Record> = good_p.iter().cloned().map(Record::Product)
            .chain(good_o.iter().cloned().map(Record::Order))
            .chain(bad_p.into_iter().map(|(mut p, _)| { if good_ids.contains(&p.id) { p.id.push('#'); } Record::Product(p) }))
            .chain(bad_o.into_iter().map(|(mut o, _)| { if good_ids.contains(&o.id) { o.id.push('#'); } Record::Order(o) }))
            .collect();
        // A deterministic shuffle.
        let mut state = seed | 1;
        for i in (1..records.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            records.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let n_bad = records.len() - good_p.len() - good_o.len();
        block_on(async {
            let (core, store) = core();
            let mut importer = VecImporter::new("feed", &[RecordKind::Product, RecordKind::Order]).with(records);
            let report = core.sync(&mut importer, SyncMode::Full).await;
            let by_reason: u64 = report.rejections.values().map(|s| s.count).sum();
            prop_assert!(by_reason >= n_bad as u64 - (report.rejected_for(RejectReason::DuplicateId)), "{}", report);
            prop_assert_eq!((report.rejected.products + report.rejected.orders) as usize, n_bad, "{}", report);
            for p in &good_p {
                prop_assert_eq!(store.product(&p.id).await.unwrap(), Some(p.clone()));
            }
            for o in &good_o {
                prop_assert_eq!(store.order(&o.id).await.unwrap(), Some(o.clone()));
            }
            let stored: BTreeMap<_, _> = [("products", store.counts().await.unwrap().products), ("orders", store.counts().await.unwrap().orders)].into();
            prop_assert_eq!(stored["products"], good_p.len());
            prop_assert_eq!(stored["orders"], good_o.len());
            Ok(())
        })?;
    }
}
