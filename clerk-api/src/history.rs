//! Who bought what and when: the purchase index the engine keeps next to the catalog.
//!
//! The model scores intent; this index answers the exact questions the model need not: which customers have
//! bought a product (in a time window), what a customer has bought (to exclude it from discovery), and which
//! buyer key an email belongs to.

use std::sync::Arc;

use clerk_core::domain::{Customer, Order, Timestamp};
use clerk_core::intern::{FxHashMap, Interner};
use clerk_core::store::{DataStore, DataStoreExt, StoreResult};
use futures::TryStreamExt;

/// One product a customer bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bought {
    /// Product index in [`History::products`].
    pub product: u32,
    /// Last purchase time.
    pub last: Timestamp,
    /// Distinct orders it was in.
    pub orders: u32,
}

/// The purchase index: per customer what they bought, per product who bought it and when.
#[derive(Clone, Debug, Default)]
pub struct History {
    customers: Interner,
    products: Interner,
    emails: FxHashMap<String, u32>,
    /// What each customer bought: `bought[customer_start[c]..customer_start[c + 1]]`, by product.
    customer_start: Vec<u32>,
    bought: Vec<Bought>,
    /// Every purchase of each product: `purchases[product_start[p]..product_start[p + 1]]`, `(customer, time)`
    /// sorted.
    product_start: Vec<u32>,
    purchases: Vec<(u32, Timestamp)>,
    last_time: Option<Timestamp>,
}

impl History {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the index from orders and customer records (for email look-ups).
    pub fn from_parts<'a>(orders: impl IntoIterator<Item = &'a Order>, customers: &[Customer]) -> Self {
        let mut b = Builder::default();
        for o in orders {
            b.add(o);
        }
        for c in customers {
            if let Some(e) = &c.email {
                let k = b.h.customers.intern(&c.id);
                b.h.emails.entry(e.trim().to_lowercase()).or_insert(k);
            }
        }
        b.finish()
    }

    /// Reads every order and customer of `store`.
    pub async fn from_store(store: &dyn DataStore) -> StoreResult<Self> {
        let mut b = Builder::default();
        let mut orders = store.order_stream(4096);
        while let Some(o) = orders.try_next().await? {
            b.add(&o);
        }
        drop(orders);
        let mut after: Option<String> = None;
        loop {
            let page = store.customers_page(after.as_deref(), 4096).await?;
            let done = page.len() < 4096;
            after = page.last().map(|c| c.id.clone());
            for c in &page {
                if let Some(e) = &c.email {
                    let k = b.h.customers.intern(&c.id);
                    b.h.emails.entry(e.trim().to_lowercase()).or_insert(k);
                }
            }
            if done || after.is_none() {
                break;
            }
        }
        Ok(b.finish())
    }

    /// The buyer index for a customer id or email: the key as given, else the lower-cased email's customer.
    pub fn resolve(&self, customer: &str) -> Option<u32> {
        self.customers.get(customer).or_else(|| {
            let e = customer.trim().to_lowercase();
            self.emails.get(&e).copied().or_else(|| self.customers.get(&e))
        })
    }

    /// The index of a buyer key as it is (no email look-up).
    pub fn index_of_key(&self, key: &str) -> Option<u32> {
        self.customers.get(key)
    }

    /// The buyer key ([`Order::buyer_key`]) of a customer index.
    pub fn key(&self, customer: u32) -> Option<&Arc<str>> {
        self.customers.id(customer)
    }

    /// Every buyer key, in index order.
    pub fn customer_keys(&self) -> &[Arc<str>] {
        self.customers.ids()
    }

    /// Product ids, in index order.
    pub fn products(&self) -> &Interner {
        &self.products
    }

    /// Whether any order names this product.
    pub fn knows_product(&self, id: &str) -> bool {
        self.products.get(id).is_some()
    }

    /// What a customer bought, in product index order.
    pub fn bought(&self, customer: u32) -> &[Bought] {
        range(&self.customer_start, customer).map_or(&[], |r| &self.bought[r])
    }

    /// Every purchase of a product as `(customer, time)`, sorted.
    pub fn buyers(&self, product: &str) -> &[(u32, Timestamp)] {
        self.products.get(product).and_then(|p| range(&self.product_start, p)).map_or(&[], |r| &self.purchases[r])
    }

    /// The time of the latest order.
    pub fn last_time(&self) -> Option<Timestamp> {
        self.last_time
    }
}

/// The `i`-th range of a prefix-sum table.
fn range(start: &[u32], i: u32) -> Option<std::ops::Range<usize>> {
    let i = i as usize;
    Some(*start.get(i)? as usize..*start.get(i + 1)? as usize)
}

/// Collects purchases as flat `(customer, product, time)` rows (16 bytes each, one buffer for the products of an
/// order reused across orders), then sorts them once into the two flat indices.
#[derive(Default)]
struct Builder {
    h: History,
    rows: Vec<(u32, u32, Timestamp)>,
    order: Vec<u32>,
}

impl Builder {
    fn add(&mut self, o: &Order) {
        let h = &mut self.h;
        h.last_time = h.last_time.max(Some(o.time));
        let Some(key) = o.buyer_key() else { return };
        let c = h.customers.intern(&key);
        if let (Some(_), Some(e)) = (&o.customer_id, &o.email) {
            h.emails.entry(e.trim().to_lowercase()).or_insert(c);
        }
        self.order.clear();
        self.order.extend(o.lines.iter().map(|l| h.products.intern(&l.product_id)));
        self.order.sort_unstable();
        self.order.dedup();
        self.rows.extend(self.order.iter().map(|&p| (c, p, o.time)));
    }

    fn finish(mut self) -> History {
        let h = &mut self.h;
        let rows = &mut self.rows;
        let (n_c, n_p) = (h.customers.len(), h.products.len());
        let idx = |n: usize| u32::try_from(n).expect("more than 4 billion purchases");
        // By product, then customer, then time.
        rows.sort_unstable_by_key(|&(c, p, t)| (p, c, t));
        h.product_start = Vec::with_capacity(n_p + 1);
        h.purchases = Vec::with_capacity(rows.len());
        for (k, &(c, p, t)) in rows.iter().enumerate() {
            while h.product_start.len() <= p as usize {
                h.product_start.push(idx(k));
            }
            h.purchases.push((c, t));
        }
        while h.product_start.len() <= n_p {
            h.product_start.push(idx(rows.len()));
        }
        // By customer, then product: one `Bought` per run of the same pair.
        rows.sort_unstable_by_key(|&(c, p, _)| (c, p));
        h.customer_start = Vec::with_capacity(n_c + 1);
        for run in rows.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
            let (c, p, _) = run[0];
            while h.customer_start.len() <= c as usize {
                h.customer_start.push(idx(h.bought.len()));
            }
            let last = run.iter().map(|r| r.2).max().unwrap_or(Timestamp::MIN);
            h.bought.push(Bought { product: p, last, orders: idx(run.len()) });
        }
        while h.customer_start.len() <= n_c {
            h.customer_start.push(idx(h.bought.len()));
        }
        h.bought.shrink_to_fit();
        self.h
    }
}
