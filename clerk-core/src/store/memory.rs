//! `MemoryStore`: the reference `DataStore`, thread-safe and without I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{
    ChangeSummary, Counts, DataStore, OrderCursor, OrderPage, SavedAnalysis, StoreError, StoreResult, WriteSummary,
};
use crate::domain::{Category, Customer, Order, Product, RecordKind};

/// The in-memory reference store.
///
/// Records sit in ordered maps, so every listing is deterministic. `Clone` shares the data (a handle);
/// [`fork`](MemoryStore::fork) makes an independent deep copy.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Clone, Debug, Default)]
struct Inner {
    position: u64,
    products: BTreeMap<String, Product>,
    categories: BTreeMap<String, Category>,
    customers: BTreeMap<String, Customer>,
    orders: BTreeMap<u64, Order>,
    orders_by_time: BTreeSet<(crate::domain::Timestamp, u64)>,
    order_seq_by_id: HashMap<String, u64>,
    order_lines: usize,
    log: ChangeLog,
    analysis: Option<SavedAnalysis>,
}

/// The change positions of each kind of write, ascending, so "what changed since N" is a binary search.
#[derive(Clone, Debug, Default)]
struct ChangeLog {
    products: Vec<u64>,
    categories: Vec<u64>,
    customers: Vec<u64>,
    orders_written: Vec<u64>,
    orders_deleted: Vec<u64>,
}

fn count_after(log: &[u64], position: u64) -> u64 {
    (log.len() - log.partition_point(|&p| p <= position)) as u64
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An independent deep copy of the current data.
    pub fn fork(&self) -> Self {
        MemoryStore { inner: Arc::new(RwLock::new(self.read().clone())) }
    }

    // A panic in another thread while it held the lock cannot leave `Inner` half-written (every method
    // validates before it mutates), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn check_ids<'a>(kind: RecordKind, ids: impl Iterator<Item = &'a str>) -> StoreResult<()> {
    for id in ids {
        if id.is_empty() {
            return Err(StoreError::Invalid(format!("{kind} with an empty id")));
        }
    }
    Ok(())
}

fn upsert<T>(
    map: &mut BTreeMap<String, T>,
    log: &mut Vec<u64>,
    position: &mut u64,
    records: Vec<T>,
    id: impl Fn(&T) -> &str,
) -> WriteSummary {
    let mut summary = WriteSummary::default();
    for record in records {
        *position += 1;
        log.push(*position);
        match map.insert(id(&record).to_owned(), record) {
            Some(_) => summary.replaced += 1,
            None => summary.inserted += 1,
        }
    }
    summary
}

fn page<T: Clone>(map: &BTreeMap<String, T>, after: Option<&str>, limit: usize) -> Vec<T> {
    let lower = match after {
        Some(a) => Bound::Excluded(a),
        None => Bound::Unbounded,
    };
    map.range::<str, _>((lower, Bound::Unbounded)).take(limit).map(|(_, v)| v.clone()).collect()
}

impl Inner {
    fn remove_order(&mut self, id: &str) -> bool {
        let Some(seq) = self.order_seq_by_id.remove(id) else { return false };
        if let Some(old) = self.orders.remove(&seq) {
            self.orders_by_time.remove(&(old.time, seq));
            self.order_lines -= old.lines.len();
        }
        true
    }
}

#[async_trait]
impl DataStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn upsert_products(&self, products: Vec<Product>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Product, products.iter().map(|p| p.id.as_str()))?;
        let inner = &mut *self.write();
        Ok(upsert(&mut inner.products, &mut inner.log.products, &mut inner.position, products, |p| &p.id))
    }

    async fn upsert_categories(&self, categories: Vec<Category>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Category, categories.iter().map(|c| c.id.as_str()))?;
        let inner = &mut *self.write();
        Ok(upsert(&mut inner.categories, &mut inner.log.categories, &mut inner.position, categories, |c| &c.id))
    }

    async fn upsert_customers(&self, customers: Vec<Customer>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Customer, customers.iter().map(|c| c.id.as_str()))?;
        let inner = &mut *self.write();
        Ok(upsert(&mut inner.customers, &mut inner.log.customers, &mut inner.position, customers, |c| &c.id))
    }

    async fn append_orders(&self, orders: Vec<Order>) -> StoreResult<WriteSummary> {
        check_ids(RecordKind::Order, orders.iter().map(|o| o.id.as_str()))?;
        let inner = &mut *self.write();
        let mut summary = WriteSummary::default();
        for order in orders {
            if inner.remove_order(&order.id) {
                summary.replaced += 1;
            } else {
                summary.inserted += 1;
            }
            inner.position += 1;
            let seq = inner.position;
            inner.log.orders_written.push(seq);
            inner.order_lines += order.lines.len();
            inner.orders_by_time.insert((order.time, seq));
            inner.order_seq_by_id.insert(order.id.clone(), seq);
            inner.orders.insert(seq, order);
        }
        Ok(summary)
    }

    async fn delete(&self, kind: RecordKind, ids: &[String]) -> StoreResult<usize> {
        let inner = &mut *self.write();
        let mut existed = 0;
        for id in ids {
            let (found, log) = match kind {
                RecordKind::Product => (inner.products.remove(id).is_some(), &mut inner.log.products),
                RecordKind::Category => (inner.categories.remove(id).is_some(), &mut inner.log.categories),
                RecordKind::Customer => (inner.customers.remove(id).is_some(), &mut inner.log.customers),
                RecordKind::Order => (inner.remove_order(id), &mut inner.log.orders_deleted),
            };
            if found {
                existed += 1;
                inner.position += 1;
                log.push(inner.position);
            }
        }
        Ok(existed)
    }

    async fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        Ok(self.read().products.get(id).cloned())
    }

    async fn category(&self, id: &str) -> StoreResult<Option<Category>> {
        Ok(self.read().categories.get(id).cloned())
    }

    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        Ok(self.read().customers.get(id).cloned())
    }

    async fn order(&self, id: &str) -> StoreResult<Option<Order>> {
        let inner = self.read();
        Ok(inner.order_seq_by_id.get(id).and_then(|seq| inner.orders.get(seq)).cloned())
    }

    async fn ids(&self, kind: RecordKind) -> StoreResult<Vec<String>> {
        let inner = self.read();
        Ok(match kind {
            RecordKind::Product => inner.products.keys().cloned().collect(),
            RecordKind::Category => inner.categories.keys().cloned().collect(),
            RecordKind::Customer => inner.customers.keys().cloned().collect(),
            RecordKind::Order => {
                let mut ids: Vec<String> = inner.order_seq_by_id.keys().cloned().collect();
                ids.sort_unstable();
                ids
            }
        })
    }

    async fn products_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Product>> {
        Ok(page(&self.read().products, after, limit))
    }

    async fn categories_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Category>> {
        Ok(page(&self.read().categories, after, limit))
    }

    async fn customers_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Customer>> {
        Ok(page(&self.read().customers, after, limit))
    }

    async fn counts(&self) -> StoreResult<Counts> {
        let inner = self.read();
        Ok(Counts {
            products: inner.products.len(),
            categories: inner.categories.len(),
            customers: inner.customers.len(),
            orders: inner.orders.len(),
            order_lines: inner.order_lines,
        })
    }

    async fn read_orders(&self, cursor: OrderCursor, limit: usize) -> StoreResult<OrderPage> {
        let inner = self.read();
        let mut orders = Vec::with_capacity(limit.min(inner.orders.len()));
        let mut last = None;
        let range = inner.orders_by_time.range((Bound::Excluded((cursor.time, cursor.seq)), Bound::Unbounded));
        for &(time, seq) in range.take(limit) {
            orders.push(inner.orders[&seq].clone());
            last = Some(OrderCursor { time, seq });
        }
        let next = if orders.len() == limit { last } else { None };
        Ok(OrderPage { orders, next })
    }

    async fn orders_written_after(&self, position: u64, limit: usize) -> StoreResult<(Vec<Order>, u64)> {
        let inner = self.read();
        let mut next = position;
        let mut orders = Vec::new();
        for (&seq, order) in inner.orders.range(position + 1..).take(limit) {
            orders.push(order.clone());
            next = seq;
        }
        Ok((orders, next))
    }

    async fn change_position(&self) -> StoreResult<u64> {
        Ok(self.read().position)
    }

    async fn changes_since(&self, position: u64) -> StoreResult<ChangeSummary> {
        let inner = self.read();
        let log = &inner.log;
        Ok(ChangeSummary {
            position: inner.position,
            products: count_after(&log.products, position),
            categories: count_after(&log.categories, position),
            customers: count_after(&log.customers, position),
            orders_written: count_after(&log.orders_written, position),
            orders_deleted: count_after(&log.orders_deleted, position),
        })
    }

    async fn save_analysis(&self, mut analysis: SavedAnalysis) -> StoreResult<u64> {
        let mut inner = self.write();
        analysis.version = inner.analysis.as_ref().map_or(0, |a| a.version) + 1;
        let version = analysis.version;
        inner.analysis = Some(analysis);
        Ok(version)
    }

    async fn load_analysis(&self) -> StoreResult<Option<SavedAnalysis>> {
        Ok(self.read().analysis.clone())
    }

    async fn analysis_version(&self) -> StoreResult<u64> {
        Ok(self.read().analysis.as_ref().map_or(0, |a| a.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttributeValue, OrderLine, Scalar, Timestamp};
    use crate::store::conformance;
    use futures::executor::block_on;
    use proptest::prelude::*;

    #[test]
    fn passes_the_conformance_suite() {
        block_on(conformance::run_all(&MemoryStore::new())).unwrap();
    }

    #[test]
    fn passes_the_conformance_suite_as_a_shared_trait_object() {
        let store: Arc<dyn DataStore> = Arc::new(MemoryStore::new());
        block_on(conformance::run_all(store.as_ref())).unwrap();
    }

    #[test]
    fn fork_is_independent_and_clone_shares() {
        block_on(async {
            let a = MemoryStore::new();
            let shared = a.clone();
            let forked = a.fork();
            a.upsert_products(vec![Product::new("p")]).await.unwrap();
            assert!(shared.product("p").await.unwrap().is_some());
            assert!(forked.product("p").await.unwrap().is_none());
        });
    }

    fn id() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_\\-é✓]{1,12}"
    }

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            any::<bool>().prop_map(Scalar::Bool),
            (-1e9f64..1e9).prop_map(Scalar::Number),
            ".{0,8}".prop_map(Scalar::Text),
        ]
    }

    fn attribute() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            any::<bool>().prop_map(AttributeValue::Bool),
            (-1e9f64..1e9).prop_map(AttributeValue::Number),
            ".{0,8}".prop_map(AttributeValue::Text),
            proptest::collection::vec(scalar(), 0..4).prop_map(AttributeValue::List),
        ]
    }

    prop_compose! {
        fn product()(id in id(), name in ".{0,20}", price in proptest::option::of(0.0f64..1e6),
                     cats in proptest::collection::vec(id(), 0..3), index in any::<bool>(),
                     stock in proptest::option::of(0u64..1000), created in proptest::option::of(0i64..2_000_000_000),
                     attrs in proptest::collection::btree_map("[a-z_]{1,8}", attribute(), 0..4)) -> Product {
            Product { id, name, price, categories: cats, index, stock, created_at: created.map(Timestamp),
                      attributes: attrs, ..Product::default() }
        }
    }

    prop_compose! {
        fn order()(id in id(), customer in proptest::option::of(id()), time in 0i64..2_000_000_000,
                   lines in proptest::collection::vec((id(), 0.001f64..100.0, proptest::option::of(0.0f64..100.0)), 0..5)) -> Order {
            let mut o = Order::new(id, customer, Timestamp(time));
            o.lines = lines.into_iter().map(|(p, q, u)| OrderLine { product_id: p, quantity: q, unit_price: u }).collect();
            o
        }
    }

    proptest! {
        #[test]
        fn products_round_trip_and_upsert_is_idempotent(products in proptest::collection::vec(product(), 1..20)) {
            block_on(async {
                let store = MemoryStore::new();
                store.upsert_products(products.clone()).await.unwrap();
                let counts = store.counts().await.unwrap();
                store.upsert_products(products.clone()).await.unwrap();
                prop_assert_eq!(store.counts().await.unwrap(), counts);
                // The last write of an id wins.
                let mut last = BTreeMap::new();
                for p in &products { last.insert(p.id.clone(), p.clone()); }
                prop_assert_eq!(counts.products, last.len());
                for (id, p) in &last {
                    prop_assert_eq!(store.product(id).await.unwrap(), Some(p.clone()));
                }
                Ok(())
            })?;
        }

        #[test]
        fn orders_round_trip_in_time_order(orders in proptest::collection::vec(order(), 1..20)) {
            block_on(async {
                let store = MemoryStore::new();
                store.append_orders(orders.clone()).await.unwrap();
                let mut last = BTreeMap::new();
                for o in &orders { last.insert(o.id.clone(), o.clone()); }
                for (id, o) in &last {
                    prop_assert_eq!(store.order(id).await.unwrap(), Some(o.clone()));
                }
                let page = store.read_orders(OrderCursor::START, usize::MAX).await.unwrap();
                prop_assert_eq!(page.orders.len(), last.len());
                prop_assert!(page.orders.windows(2).all(|w| w[0].time <= w[1].time));
                Ok(())
            })?;
        }
    }
}
