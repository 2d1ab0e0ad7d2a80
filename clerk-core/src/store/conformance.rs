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
//!
//! Two scenarios go beyond [`run_all`], for durable stores:
//! - [`behaves_like_memory`]: a sequence of [`Op`]s (from a property-test generator, say) gives the same
//!   results on the store as on a fresh [`MemoryStore`], the reference.
//! - [`analysis_survives_reopening`]: a shop imported, analysed and saved answers the same questions after the
//!   store is closed and reopened, without analysing again.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::TryStreamExt;

use super::{DataStore, DataStoreExt, MemoryStore, OrderCursor, SavedAnalysis, StoreResult};
use crate::clerk::{ClerkCore, Settings};
use crate::data::Dataset;
use crate::domain::{AttributeValue, Category, Customer, Order, OrderLine, Product, RecordKind, Scalar, Timestamp};
use crate::model::{IntentModel, Relation};
use crate::synthetic::{ShopConfig, SyntheticShop};

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

/// One write in a [`behaves_like_memory`] comparison.
#[derive(Clone, Debug)]
pub enum Op {
    /// [`DataStore::upsert_products`].
    Products(Vec<Product>),
    /// [`DataStore::upsert_customers`].
    Customers(Vec<Customer>),
    /// [`DataStore::append_orders`].
    Orders(Vec<Order>),
    /// [`DataStore::delete`].
    Delete(RecordKind, Vec<String>),
    /// [`DataStore::save_analysis`] of an analysis with these bytes.
    Analysis(Vec<u8>),
}

/// The analysis an [`Op::Analysis`] saves.
fn op_analysis(bytes: Vec<u8>) -> SavedAnalysis {
    SavedAnalysis { version: 0, model: "m".into(), format: 1, data_position: 0, created_at: Timestamp(0), bytes }
}

/// The outcome of `op` on `store`, as text.
async fn apply(store: &dyn DataStore, op: &Op) -> String {
    let out = match op.clone() {
        Op::Products(p) => format!("{:?}", store.upsert_products(p).await.map_err(|e| e.to_string())),
        Op::Customers(c) => format!("{:?}", store.upsert_customers(c).await.map_err(|e| e.to_string())),
        Op::Orders(o) => format!("{:?}", store.append_orders(o).await.map_err(|e| e.to_string())),
        Op::Delete(k, ids) => format!("{:?}", store.delete(k, &ids).await.map_err(|e| e.to_string())),
        Op::Analysis(bytes) => {
            format!("{:?}", store.save_analysis(op_analysis(bytes)).await.map_err(|e| e.to_string()))
        }
    };
    // Only the outcome's shape is compared for errors: the messages name the store.
    if out.starts_with("Err") {
        "Err".into()
    } else {
        out
    }
}

/// Everything the read methods say about `store`, as text: counts, ids, pages, changes after `positions` and a
/// few single records.
async fn observe(store: &dyn DataStore, positions: &[u64]) -> Result<Vec<String>, Failure> {
    const C: &str = "behaves_like_memory";
    let mut seen = vec![
        format!("{:?}", call!(C, store.counts())),
        format!("{:?}", call!(C, store.change_position())),
        format!("{:?}", call!(C, store.load_analysis())),
    ];
    for kind in RecordKind::ALL {
        seen.push(format!("{:?}", call!(C, store.ids(kind))));
    }
    seen.push(format!("{:?}", call!(C, store.products_page(None, 1000))));
    seen.push(format!("{:?}", call!(C, store.products_page(Some("b"), 2))));
    seen.push(format!("{:?}", call!(C, store.customers_page(Some("a"), 3))));
    let mut cursor = OrderCursor::START;
    loop {
        let page = call!(C, store.read_orders(cursor, 3));
        seen.push(format!("{page:?}"));
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    for &p in positions {
        seen.push(format!("{:?}", call!(C, store.changes_since(p))));
        seen.push(format!("{:?}", call!(C, store.orders_written_after(p, 4))));
    }
    for id in ["a", "b", "ab", "zz"] {
        seen.push(format!("{:?}", call!(C, store.product(id))));
        seen.push(format!("{:?}", call!(C, store.order(id))));
        seen.push(format!("{:?}", call!(C, store.customer(id))));
    }
    Ok(seen)
}

/// The differential check: `ops` applied in turn to `store` and to a fresh [`MemoryStore`] give the same
/// outcomes (errors compared by kind only, as their messages name the store), and afterwards every read method
/// gives the same answers, with `changes_since` and `orders_written_after` asked at each of `positions`.
///
/// `store` must start empty. Ids drawn from a small set (`a`–`e` and pairs of them) make replacements and
/// deletes of existing records frequent, and are the ids the final single-record reads ask for.
pub async fn behaves_like_memory(store: &dyn DataStore, ops: &[Op], positions: &[u64]) -> CheckResult {
    const C: &str = "behaves_like_memory";
    let reference = MemoryStore::new();
    for op in ops {
        let expected = apply(&reference, op).await;
        let got = apply(store, op).await;
        ensure!(C, got == expected, "{op:?}: got {got}, the memory store gave {expected}");
    }
    let expected = observe(&reference, positions).await?;
    let got = observe(store, positions).await?;
    for (g, e) in got.iter().zip(&expected) {
        ensure!(C, g == e, "after {ops:?}: read {g}, the memory store read {e}");
    }
    ensure!(C, got.len() == expected.len(), "{} reads, the memory store {}", got.len(), expected.len());
    Ok(())
}

/// The products and customers asked about in [`analysis_survives_reopening`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Questions {
    /// Product ids.
    pub products: Vec<String>,
    /// Customer ids.
    pub customers: Vec<String>,
}

fn restart_template() -> Arc<dyn IntentModel> {
    Arc::new(ClerkCore::new(Settings::default()))
}

/// The model's answers to `q`, as text.
fn model_answers(model: &dyn IntentModel, q: &Questions) -> Vec<String> {
    let mut out = Vec::new();
    for p in &q.products {
        for relation in [Relation::BoughtTogether, Relation::BoughtNext, Relation::Alternative] {
            out.push(format!("{p} {relation:?}: {:?}", model.related(p, relation, 10)));
        }
        out.push(format!("{p} audience: {:?}", model.audience(p, None, 10)));
    }
    for c in &q.customers {
        out.push(format!("{c} affinity: {:?}", model.customer_affinity(c, None, 10)));
    }
    out
}

/// The restart scenario: a synthetic shop ([`ShopConfig::small`]) is imported into the store `open` returns,
/// analysed with [`ClerkCore`] and the analysis saved (version 1); the store is dropped and `open`ed again, and
/// the saved analysis (still version 1) loads into a model that answers [`Questions`] about the shop exactly as
/// before, without analysing again. The answers before the restart also match those of the same shop analysed
/// from a [`MemoryStore`].
///
/// `open` must return a handle on the same durable data each time (the first time, an empty store). `probe` is
/// asked the same questions of the store before it is dropped and after it is reopened (a host builds its query
/// layer on the store there, for instance) and must give the same answers; it should not keep the handle.
pub async fn analysis_survives_reopening<O, OF, P, PF>(mut open: O, mut probe: P) -> CheckResult
where
    O: FnMut() -> OF,
    OF: Future<Output = StoreResult<Arc<dyn DataStore>>>,
    P: FnMut(Arc<dyn DataStore>, Questions) -> PF,
    PF: Future<Output = Vec<String>>,
{
    const C: &str = "analysis_survives_reopening";
    let model_error = |e: crate::model::ModelError| Failure { check: C, message: format!("model error: {e}") };
    let shop = SyntheticShop::generate(&ShopConfig::small());
    let questions = Questions {
        products: shop.products.iter().step_by(37).map(|p| p.id.clone()).collect(),
        customers: shop.customers.iter().step_by(23).map(|c| c.id.clone()).collect(),
    };
    ensure!(C, questions.products.len() >= 5 && questions.customers.len() >= 5, "the shop is too small");

    let store = call!(C, open());
    call!(C, shop.load_into(&*store));
    let data = call!(C, Dataset::from_store(&*store));
    let model = restart_template().analyse(&data).map_err(model_error)?;
    let version = call!(
        C,
        store.save_analysis(SavedAnalysis {
            version: 0,
            model: model.name().into(),
            format: model.format(),
            data_position: data.position,
            created_at: Timestamp(0),
            bytes: model.save().map_err(model_error)?,
        })
    );
    ensure!(C, version == 1, "the first analysis saved in an empty store must be version 1, got {version}");
    let model_before = model_answers(&*model, &questions);
    let probed_before = probe(store, questions.clone()).await;
    ensure!(C, model_before.iter().any(|a| a.contains("score")), "the questions should have non-empty answers");

    // The same shop in the reference store gives the same answers.
    let memory = MemoryStore::new();
    call!(C, shop.load_into(&memory));
    let reference = restart_template().analyse(&call!(C, Dataset::from_store(&memory))).map_err(model_error)?;
    ensure!(C, model_answers(&*reference, &questions) == model_before, "the store's and memory's analyses differ");
    // `probe` held the last handle: the store is closed now.

    let store = call!(C, open());
    let saved = call!(C, store.load_analysis());
    let Some(saved) = saved else {
        return Err(Failure { check: C, message: "the analysis did not survive the restart".into() });
    };
    ensure!(C, saved.version == 1, "the reopened store holds analysis version {}, not 1", saved.version);
    let model = restart_template().load(&saved.bytes).map_err(model_error)?;
    ensure!(C, model_answers(&*model, &questions) == model_before, "the reloaded model answers differently");
    ensure!(C, probe(store, questions).await == probed_before, "the probe answers differently after the restart");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn ops() -> Vec<Op> {
        let mut o = Order::new("a", Some("b".into()), Timestamp(3));
        o.lines.push(OrderLine::new("a", 2.0));
        vec![
            Op::Products(vec![sample_product("a"), sample_product("b")]),
            Op::Customers(vec![Customer::new("b")]),
            Op::Orders(vec![o]),
            Op::Products(vec![Product::new("")]),
            Op::Delete(RecordKind::Product, vec!["b".into(), "zz".into()]),
            Op::Analysis(vec![1, 2]),
        ]
    }

    #[test]
    fn the_memory_store_behaves_like_itself() {
        block_on(behaves_like_memory(&MemoryStore::new(), &ops(), &[0, 2, 40])).unwrap();
    }

    #[test]
    fn a_difference_from_the_memory_store_is_a_failure() {
        let store = MemoryStore::new();
        block_on(store.upsert_customers(vec![Customer::new("extra")])).unwrap();
        let failure = block_on(behaves_like_memory(&store, &ops(), &[0])).unwrap_err();
        assert_eq!(failure.check, "behaves_like_memory");
    }

    #[test]
    fn a_memory_store_handle_survives_reopening() {
        let store = MemoryStore::new();
        let open = || async { Ok(Arc::new(store.clone()) as Arc<dyn DataStore>) };
        let probe = |store: Arc<dyn DataStore>, q: Questions| async move {
            vec![format!("{:?}", store.analysis_version().await), format!("{q:?}")]
        };
        block_on(analysis_survives_reopening(open, probe)).unwrap();
    }
}
