//! The `DataStore` contract as runnable checks, for any implementation.
//!
//! A host that writes its own store runs [`run_all`] against a fresh, empty instance in its tests:
//!
//! ```
//! # futures::executor::block_on(async {
//! let store = clerk_core::store::MemoryStore::new();
//! clerk_core::store::conformance::run_all(&store).await.unwrap();
//! # });
//! ```
//!
//! Each check is one `pub async fn` over `&dyn DataStore` that returns a [`Failure`] naming the broken rule.
//! The checks write and delete records: run them on a throwaway store. The set of checks may grow between
//! minor versions (this module is not semver-stable).

use std::fmt;

use futures::TryStreamExt;

use super::{DataStore, DataStoreExt, OrderCursor, SavedAnalysis};
use crate::domain::{AttributeValue, Category, Customer, Order, OrderLine, Product, RecordKind, Scalar, Timestamp};

/// A broken rule of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check that failed.
    pub check: &'static str,
    /// What was expected and what happened.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.message)
    }
}

impl std::error::Error for Failure {}

/// Result of one check.
pub type CheckResult = Result<(), Failure>;

macro_rules! ensure {
    ($check:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Failure { check: $check, message: format!($($msg)+) });
        }
    };
}

macro_rules! call {
    ($check:expr, $e:expr) => {
        $e.await.map_err(|e| Failure { check: $check, message: format!("unexpected error: {e}") })?
    };
}

/// A product with every field set, for round-trip checks.
pub fn sample_product(id: &str) -> Product {
    let mut p = Product::new(id);
    p.name = format!("Product {id} ✓");
    p.description = "line one\nline two".into();
    p.price = Some(12.5);
    p.list_price = Some(15.0);
    p.categories = vec!["c1".into(), "c2".into()];
    p.brand = Some("Acme".into());
    p.created_at = Some(Timestamp::from_secs(1_500_000_000));
    p.stock = Some(7);
    p.in_stock = true;
    p.index = false;
    p.attributes.insert("size".into(), AttributeValue::Number(1.5));
    p.attributes.insert("organic".into(), AttributeValue::Bool(true));
    p.attributes.insert("colours".into(), AttributeValue::List(vec![Scalar::Text("red".into()), Scalar::Number(2.0)]));
    p
}

fn order(id: &str, customer: &str, secs: i64, products: &[&str]) -> Order {
    let mut o = Order::new(id, Some(customer.to_owned()), Timestamp::from_secs(secs));
    o.lines = products
        .iter()
        .map(|p| OrderLine { product_id: (*p).to_owned(), quantity: 2.0, unit_price: Some(1.25) })
        .collect();
    o
}

/// Products, categories and customers round-trip unchanged; upsert replaces; missing ids are `None`.
pub async fn records_round_trip(store: &dyn DataStore) -> CheckResult {
    const C: &str = "records_round_trip";
    let p = sample_product("rt-p1");
    let s = call!(C, store.upsert_products(vec![p.clone()]));
    ensure!(C, s.inserted == 1 && s.replaced == 0, "first upsert should insert 1, got {s:?}");
    ensure!(C, call!(C, store.product("rt-p1")) == Some(p.clone()), "product did not round-trip");
    let mut changed = p.clone();
    changed.price = Some(3.0);
    let s = call!(C, store.upsert_products(vec![changed.clone()]));
    ensure!(C, s.replaced == 1 && s.inserted == 0, "second upsert should replace 1, got {s:?}");
    ensure!(C, call!(C, store.product("rt-p1")) == Some(changed), "upsert did not replace the product");
    ensure!(C, call!(C, store.product("rt-missing")).is_none(), "a missing product must be None");

    let mut cat = Category::new("rt-c1", "Dairy");
    cat.parent = Some("rt-root".into());
    call!(C, store.upsert_categories(vec![cat.clone()]));
    ensure!(C, call!(C, store.category("rt-c1")) == Some(cat), "category did not round-trip");
    let mut cu = Customer::new("rt-u1");
    cu.email = Some("a@example.com".into());
    cu.attributes.insert("segment".into(), AttributeValue::Text("gold".into()));
    call!(C, store.upsert_customers(vec![cu.clone()]));
    ensure!(C, call!(C, store.customer("rt-u1")) == Some(cu), "customer did not round-trip");
    ensure!(C, call!(C, store.customer("rt-missing")).is_none(), "a missing customer must be None");
    Ok(())
}

/// Upserting the same records twice leaves the same data and counts.
pub async fn upsert_is_idempotent(store: &dyn DataStore) -> CheckResult {
    const C: &str = "upsert_is_idempotent";
    let products: Vec<Product> = (0..5).map(|i| sample_product(&format!("idem-{i}"))).collect();
    call!(C, store.upsert_products(products.clone()));
    let before = call!(C, store.counts());
    call!(C, store.upsert_products(products.clone()));
    let after = call!(C, store.counts());
    ensure!(C, before == after, "counts changed on a repeated upsert: {before:?} -> {after:?}");
    for p in &products {
        ensure!(C, call!(C, store.product(&p.id)).as_ref() == Some(p), "{} changed on a repeated upsert", p.id);
    }
    let o = order("idem-o1", "u", 1000, &["idem-0"]);
    call!(C, store.append_orders(vec![o.clone()]));
    let before = call!(C, store.counts());
    let s = call!(C, store.append_orders(vec![o.clone()]));
    ensure!(C, s.replaced == 1, "re-appending an order id must replace it, got {s:?}");
    ensure!(C, call!(C, store.counts()) == before, "re-appending an order changed the counts");
    ensure!(C, call!(C, store.order("idem-o1")) == Some(o), "order did not round-trip");
    Ok(())
}

/// Deletes remove exactly the named records and report how many existed; orders survive product deletes.
pub async fn deletes(store: &dyn DataStore) -> CheckResult {
    const C: &str = "deletes";
    call!(C, store.upsert_products(vec![sample_product("del-1"), sample_product("del-2")]));
    call!(C, store.append_orders(vec![order("del-o1", "u", 5, &["del-1"])]));
    let n = call!(C, store.delete(RecordKind::Product, &["del-1".into(), "del-nope".into()]));
    ensure!(C, n == 1, "delete should report 1 existing product, got {n}");
    ensure!(C, call!(C, store.product("del-1")).is_none(), "deleted product still there");
    ensure!(C, call!(C, store.product("del-2")).is_some(), "a product not named was deleted");
    ensure!(C, call!(C, store.order("del-o1")).is_some(), "deleting a product must keep orders");
    let n = call!(C, store.delete(RecordKind::Order, &["del-o1".into()]));
    ensure!(C, n == 1 && call!(C, store.order("del-o1")).is_none(), "explicit order delete failed");
    Ok(())
}

/// Orders read back in `(time, write)` order through pages and the stream, with nothing lost or repeated.
pub async fn orders_in_time_order(store: &dyn DataStore) -> CheckResult {
    const C: &str = "orders_in_time_order";
    let base = 2_000_000_000;
    // Written out of time order on purpose.
    let orders: Vec<Order> = [5, 1, 3, 3, 2, 9, 0]
        .iter()
        .enumerate()
        .map(|(i, &t)| order(&format!("tord-{i}"), "u", base + t, &["p"]))
        .collect();
    call!(C, store.append_orders(orders.clone()));
    let mut paged = Vec::new();
    let mut cursor = OrderCursor::START;
    loop {
        let page = call!(C, store.read_orders(cursor, 2));
        ensure!(C, page.orders.len() <= 2, "page larger than its limit");
        paged.extend(page.orders.into_iter().filter(|o| o.id.starts_with("tord-")));
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let streamed: Vec<Order> = store
        .order_stream(3)
        .try_collect()
        .await
        .map_err(|e| Failure { check: C, message: format!("stream failed: {e}") })?;
    let streamed: Vec<Order> = streamed.into_iter().filter(|o| o.id.starts_with("tord-")).collect();
    let mut expected = orders.clone();
    expected.sort_by_key(|o| o.time); // stable: equal times keep write order
    let ids = |v: &[Order]| v.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
    ensure!(C, ids(&paged) == ids(&expected), "paged order {:?}, expected {:?}", ids(&paged), ids(&expected));
    ensure!(C, ids(&streamed) == ids(&expected), "streamed order {:?}, expected {:?}", ids(&streamed), ids(&expected));
    ensure!(C, paged == expected, "orders did not round-trip");
    Ok(())
}

/// The change position grows with every write and `changes_since` counts them by kind.
pub async fn change_tracking(store: &dyn DataStore) -> CheckResult {
    const C: &str = "change_tracking";
    let start = call!(C, store.change_position());
    call!(C, store.upsert_products(vec![sample_product("chg-1"), sample_product("chg-2")]));
    call!(C, store.append_orders(vec![order("chg-o1", "u", 7, &["chg-1"])]));
    call!(C, store.delete(RecordKind::Order, &["chg-o1".into()]));
    let s = call!(C, store.changes_since(start));
    ensure!(C, s.position >= start + 4, "position must grow by one per record: {start} -> {}", s.position);
    ensure!(C, s.products == 2 && s.orders_written == 1 && s.orders_deleted == 1, "changes_since miscounted: {s:?}");
    ensure!(C, call!(C, store.changes_since(s.position)).total() == 0, "nothing changed after the current position");
    let mid = call!(C, store.change_position());
    call!(C, store.append_orders(vec![order("chg-o2", "u", 8, &["chg-2"])]));
    let (new, next) = call!(C, store.orders_written_after(mid, 10));
    ensure!(C, new.len() == 1 && new[0].id == "chg-o2", "orders_written_after must return only the new order");
    ensure!(C, call!(C, store.orders_written_after(next, 10)).0.is_empty(), "nothing after the returned cursor");
    Ok(())
}

/// The latest analysis is saved with growing versions and loads back unchanged.
pub async fn analysis_round_trip(store: &dyn DataStore) -> CheckResult {
    const C: &str = "analysis_round_trip";
    let v0 = call!(C, store.analysis_version());
    let a = SavedAnalysis {
        version: 0,
        model: "conformance".into(),
        format: 3,
        data_position: 42,
        created_at: Timestamp::from_secs(99),
        bytes: (0..=255u8).cycle().take(10_000).collect(),
    };
    let v1 = call!(C, store.save_analysis(a.clone()));
    ensure!(C, v1 == v0 + 1, "first save after version {v0} must be {}, got {v1}", v0 + 1);
    ensure!(C, call!(C, store.analysis_version()) == v1, "analysis_version disagrees with save");
    let loaded = call!(C, store.load_analysis());
    ensure!(C, loaded == Some(SavedAnalysis { version: v1, ..a.clone() }), "saved analysis did not round-trip");
    let v2 = call!(C, store.save_analysis(SavedAnalysis { bytes: vec![1, 2, 3], ..a }));
    ensure!(C, v2 == v1 + 1, "versions must grow by one");
    ensure!(C, call!(C, store.load_analysis()).map(|a| a.bytes) == Some(vec![1, 2, 3]), "latest analysis not returned");
    Ok(())
}

/// Empty ids are refused with an error, and nothing of the batch is written.
pub async fn rejects_empty_ids(store: &dyn DataStore) -> CheckResult {
    const C: &str = "rejects_empty_ids";
    let before = call!(C, store.counts());
    let r = store.upsert_products(vec![sample_product("ok-id"), Product::new("")]).await;
    ensure!(C, r.is_err(), "an empty product id must be an error");
    ensure!(C, call!(C, store.counts()) == before, "a refused batch must write nothing");
    Ok(())
}

/// Every check, in order; stops at the first failure.
pub async fn run_all(store: &dyn DataStore) -> CheckResult {
    records_round_trip(store).await?;
    upsert_is_idempotent(store).await?;
    deletes(store).await?;
    orders_in_time_order(store).await?;
    change_tracking(store).await?;
    analysis_round_trip(store).await?;
    rejects_empty_ids(store).await?;
    Ok(())
}
