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
    by_customer: Vec<Vec<Bought>>,
    /// Per product: `(customer, time)` of every purchase, sorted.
    by_product: Vec<Vec<(u32, Timestamp)>>,
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
        self.by_customer.get(customer as usize).map_or(&[], Vec::as_slice)
    }

    /// Every purchase of a product as `(customer, time)`, sorted.
    pub fn buyers(&self, product: &str) -> &[(u32, Timestamp)] {
        self.products.get(product).and_then(|p| self.by_product.get(p as usize)).map_or(&[], Vec::as_slice)
    }

    /// The time of the latest order.
    pub fn last_time(&self) -> Option<Timestamp> {
        self.last_time
    }
}

#[derive(Default)]
struct Builder {
    h: History,
    pairs: FxHashMap<(u32, u32), (Timestamp, u32)>,
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
        let mut ps: Vec<u32> = o.lines.iter().map(|l| h.products.intern(&l.product_id)).collect();
        ps.sort_unstable();
        ps.dedup();
        if h.by_product.len() < h.products.len() {
            h.by_product.resize(h.products.len(), Vec::new());
        }
        for p in ps {
            h.by_product[p as usize].push((c, o.time));
            let e = self.pairs.entry((c, p)).or_insert((o.time, 0));
            e.0 = e.0.max(o.time);
            e.1 += 1;
        }
    }

    fn finish(mut self) -> History {
        let h = &mut self.h;
        h.by_customer = vec![Vec::new(); h.customers.len()];
        for ((c, p), (last, orders)) in self.pairs {
            h.by_customer[c as usize].push(Bought { product: p, last, orders });
        }
        for v in &mut h.by_customer {
            v.sort_unstable_by_key(|b| b.product);
        }
        h.by_product.resize(h.products.len(), Vec::new());
        for v in &mut h.by_product {
            v.sort_unstable();
        }
        self.h
    }
}
