//! The compact, interned view of a shop that analyses work on.
//!
//! [`Dataset`] is built in one pass over the store's orders (streamed, never loaded twice) and its catalog, with
//! every external id interned to a dense index so that matrices are built without hashing in hot loops.

use std::sync::Arc;

use futures::TryStreamExt;

use crate::domain::{Order, Product, Timestamp};
use crate::intern::Interner;
use crate::store::{DataStore, DataStoreExt, StoreResult};

/// One order, interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRow {
    /// The buyer's index in [`Dataset::customers`], `None` for an anonymous guest.
    pub customer: Option<u32>,
    /// When it was placed.
    pub time: Timestamp,
    /// Range of its distinct products in [`Dataset::order_products`].
    pub start: u32,
    /// End (exclusive) of that range.
    pub end: u32,
}

/// The interned shop: products, buyers and orders with their distinct products.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Product ids (catalog and ordered) to indices.
    pub products: Interner,
    /// Catalog record per product index (`None` for products known only from orders).
    pub catalog: Vec<Option<Arc<Product>>>,
    /// Buyer keys ([`Order::buyer_key`]) to indices.
    pub customers: Interner,
    /// Orders in time order (ties in store order).
    pub orders: Vec<OrderRow>,
    /// The distinct products of each order, sorted, concatenated.
    pub order_products: Vec<u32>,
    /// The store's change position the data was read at.
    pub position: u64,
}

impl Dataset {
    /// An empty dataset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the whole store: catalog first, then orders in time order.
    pub async fn from_store(store: &dyn DataStore) -> StoreResult<Self> {
        let position = store.change_position().await?;
        let mut data = Dataset::new();
        let mut products = store.all_products(4096);
        while let Some(p) = products.try_next().await? {
            data.add_product(p);
        }
        drop(products);
        let mut orders = store.order_stream(4096);
        while let Some(o) = orders.try_next().await? {
            data.add_order(&o);
        }
        data.position = position;
        Ok(data)
    }

    /// Adds or replaces a catalog record.
    pub fn add_product(&mut self, product: Product) {
        let i = self.products.intern(&product.id) as usize;
        if self.catalog.len() <= i {
            self.catalog.resize(i + 1, None);
        }
        self.catalog[i] = Some(Arc::new(product));
    }

    /// Adds an order. Orders must come in time order; an order's repeated products count once.
    pub fn add_order(&mut self, order: &Order) {
        let customer = order.buyer_key().map(|k| self.customers.intern(&k));
        let ids = order.lines.iter().map(|l| l.product_id.as_str());
        self.add_order_parts(customer, order.time, ids);
    }

    // Products are interned here; each counts once per order.
    fn add_order_parts<'a>(
        &mut self,
        customer: Option<u32>,
        time: Timestamp,
        products: impl IntoIterator<Item = &'a str>,
    ) {
        let start = self.order_products.len();
        for id in products {
            let p = self.products.intern(id);
            self.order_products.push(p);
        }
        let slice = &mut self.order_products[start..];
        slice.sort_unstable();
        let mut n = 0;
        for k in 0..slice.len() {
            if k == 0 || slice[k] != slice[k - 1] {
                slice[n] = slice[k];
                n += 1;
            }
        }
        self.order_products.truncate(start + n);
        if self.catalog.len() < self.products.len() {
            self.catalog.resize(self.products.len(), None);
        }
        self.orders.push(OrderRow { customer, time, start: start as u32, end: (start + n) as u32 });
    }

    /// The distinct products of an order.
    pub fn products_of(&self, order: &OrderRow) -> &[u32] {
        &self.order_products[order.start as usize..order.end as usize]
    }

    /// The time of the last order, or `None` without orders.
    pub fn last_time(&self) -> Option<Timestamp> {
        self.orders.iter().map(|o| o.time).max()
    }

    /// The catalog record of a product index.
    pub fn product(&self, index: u32) -> Option<&Product> {
        self.catalog.get(index as usize).and_then(|p| p.as_deref())
    }

    /// Whether a product may be recommended: not marked `index: false` in the catalog. Products known only
    /// from orders are recommendable.
    pub fn is_indexable(&self, index: u32) -> bool {
        self.product(index).is_none_or(|p| p.index)
    }
}
