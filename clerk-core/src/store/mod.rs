//! The `DataStore` seam: the one place shop data and pre-computed intents are read and written.
//!
//! [`MemoryStore`] is the reference implementation. A host that keeps its data elsewhere (SQL, a key-value
//! store) implements [`DataStore`] and proves it with the `conformance` suite (module `store::conformance`, feature `conformance`).

mod error;
mod memory;
mod types;

#[cfg(feature = "codec")]
pub mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

pub use error::{StoreError, StoreResult};
pub use memory::MemoryStore;
pub use types::{ChangeSummary, Counts, OrderCursor, OrderPage, SavedAnalysis, WriteSummary};

use crate::domain::{Category, Customer, Order, Product, RecordKind};

/// Storage for shop data and the latest analysis.
///
/// # Contract
/// - Writes are upserts by id: writing a record whose id exists replaces it whole. Deleting an absent id is not
///   an error; the count returned says how many existed.
/// - Orders are history. [`append_orders`](Self::append_orders) upserts by order id; only
///   [`delete`](Self::delete) of [`RecordKind::Order`] removes them.
/// - Every record written or deleted advances the change position by one. Positions only grow.
///   [`changes_since`](Self::changes_since) reports what changed after a position, so an analysis can decide
///   between a fold-in and a full re-analysis.
/// - [`read_orders`](Self::read_orders) pages through orders by `(time, seq)`, where `seq` is the change
///   position the order was written at; an order rewritten later moves to its new position. Orders appended
///   during a read with a key after the cursor are seen by later pages.
/// - [`orders_written_after`](Self::orders_written_after) pages through orders by `seq`: the orders an analysis
///   at some position has not seen yet.
/// - [`save_analysis`](Self::save_analysis) keeps the latest analysis only and gives it the next version
///   number (1, 2, ...); [`load_analysis`](Self::load_analysis) returns it, or `None` before the first save.
/// - A missing id is `Ok(None)` or a count of 0, never a panic.
///
/// # Clone
/// Implementations are shared as `Arc<dyn DataStore>`; a clone of a store handle must see the same data.
///
/// # Wrappers
/// A wrapper (caching, metrics) must forward every method, not rely on defaults, or it hides the inner store's
/// own implementation.
#[async_trait]
pub trait DataStore: Send + Sync + Debug + 'static {
    /// A short name of the implementation for errors and reports.
    fn name(&self) -> &'static str;

    /// Inserts or replaces products by id.
    async fn upsert_products(&self, products: Vec<Product>) -> StoreResult<WriteSummary>;
    /// Inserts or replaces categories by id.
    async fn upsert_categories(&self, categories: Vec<Category>) -> StoreResult<WriteSummary>;
    /// Inserts or replaces customers by id.
    async fn upsert_customers(&self, customers: Vec<Customer>) -> StoreResult<WriteSummary>;
    /// Appends orders; an order whose id exists replaces it.
    async fn append_orders(&self, orders: Vec<Order>) -> StoreResult<WriteSummary>;
    /// Deletes records of `kind` by id; returns how many existed.
    async fn delete(&self, kind: RecordKind, ids: &[String]) -> StoreResult<usize>;

    /// The product with this id.
    async fn product(&self, id: &str) -> StoreResult<Option<Product>>;
    /// The category with this id.
    async fn category(&self, id: &str) -> StoreResult<Option<Category>>;
    /// The customer with this id.
    async fn customer(&self, id: &str) -> StoreResult<Option<Customer>>;
    /// The order with this id.
    async fn order(&self, id: &str) -> StoreResult<Option<Order>>;

    /// All ids of `kind`, sorted.
    async fn ids(&self, kind: RecordKind) -> StoreResult<Vec<String>>;
    /// Up to `limit` products with ids after `after` (exclusive), in id order.
    async fn products_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Product>>;
    /// Up to `limit` categories with ids after `after` (exclusive), in id order.
    async fn categories_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Category>>;
    /// Up to `limit` customers with ids after `after` (exclusive), in id order.
    async fn customers_page(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Customer>>;
    /// How many records of each kind are stored.
    async fn counts(&self) -> StoreResult<Counts>;

    /// Up to `limit` orders after `cursor` in `(time, seq)` order, and the cursor to continue from.
    async fn read_orders(&self, cursor: OrderCursor, limit: usize) -> StoreResult<OrderPage>;
    /// Up to `limit` orders written at a change position after `position`, in position order, and the cursor
    /// (position) to continue from.
    async fn orders_written_after(&self, position: u64, limit: usize) -> StoreResult<(Vec<Order>, u64)>;

    /// The current change position: how many record writes and deletions the store has seen.
    async fn change_position(&self) -> StoreResult<u64>;
    /// What changed after `position`, by kind.
    async fn changes_since(&self, position: u64) -> StoreResult<ChangeSummary>;

    /// Saves `analysis` as the latest one, replacing the previous; returns the version given to it.
    async fn save_analysis(&self, analysis: SavedAnalysis) -> StoreResult<u64>;
    /// The latest saved analysis.
    async fn load_analysis(&self) -> StoreResult<Option<SavedAnalysis>>;
    /// The version of the latest saved analysis, without loading it (0 before the first save).
    async fn analysis_version(&self) -> StoreResult<u64>;
}

/// A shared store handle.
pub type DynDataStore = Arc<dyn DataStore>;

/// Helpers over any [`DataStore`].
pub trait DataStoreExt: DataStore {
    /// All orders in `(time, seq)` order as a stream, read `page_size` at a time.
    fn order_stream(&self, page_size: usize) -> BoxStream<'_, StoreResult<Order>> {
        let page_size = page_size.max(1);
        stream::unfold(Some(OrderCursor::START), move |cursor| async move {
            let cursor = cursor?;
            match self.read_orders(cursor, page_size).await {
                Ok(page) if page.orders.is_empty() => None,
                Ok(page) => {
                    let next = page.next;
                    Some((stream::iter(page.orders.into_iter().map(Ok)).left_stream(), next))
                }
                Err(e) => Some((stream::iter(std::iter::once(Err(e))).right_stream(), None)),
            }
        })
        .flatten()
        .boxed()
    }

    /// Every product, read `page_size` at a time.
    fn all_products(&self, page_size: usize) -> BoxStream<'_, StoreResult<Product>> {
        let page_size = page_size.max(1);
        stream::unfold(Some(None::<String>), move |after| async move {
            let after = after?;
            match self.products_page(after.as_deref(), page_size).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = (page.len() == page_size).then(|| page.last().map(|p| p.id.clone()));
                    Some((stream::iter(page.into_iter().map(Ok)).left_stream(), next))
                }
                Err(e) => Some((stream::iter(std::iter::once(Err(e))).right_stream(), None)),
            }
        })
        .flatten()
        .boxed()
    }
}

impl<T: DataStore + ?Sized> DataStoreExt for T {}
