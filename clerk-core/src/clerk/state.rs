//! The analysed state of ClerkCore: everything it pre-computed, as plain serialisable data.

use serde::{Deserialize, Serialize};

use super::counts::PairCounts;
use crate::intern::Interner;

/// No key (no category, type or brand).
pub(crate) const NONE: u32 = u32::MAX;

/// One product in a customer's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistItem {
    pub(crate) product: u32,
    /// Orders of the customer holding the product.
    pub(crate) count: u32,
    /// Time of the first and last of those orders.
    pub(crate) first: i64,
    pub(crate) last: i64,
    /// Sum over those orders of 0.5^((reference - t) / half-life), short and long half-life.
    pub(crate) decayed: f32,
    pub(crate) decayed_long: f32,
}

/// The whole analysed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) products: Interner,
    pub(crate) customers: Interner,
    pub(crate) indexable: Vec<bool>,
    /// The time decays are relative to: the last order analysed.
    pub(crate) reference: i64,
    /// Orders analysed (with at least one product).
    pub(crate) orders: u64,
    /// Orders holding each product.
    pub(crate) product_orders: Vec<u32>,
    /// Order-level pair counts (bought together).
    pub(crate) together: PairCounts,
    /// Orders whose "next window" (the customer's purchases within the window after it) holds each product.
    pub(crate) window_orders: Vec<u32>,
    /// `next.get(i, j)`: orders holding `i` whose next window holds `j`.
    pub(crate) next: PairCounts,
    /// Top related products per product: bought together, bought next, alternatives.
    pub(crate) related: super::relations::RelatedRows,
    /// Per customer: the products bought, sorted by product.
    pub(crate) history: Vec<Vec<HistItem>>,
    /// Per customer: time-decayed count of orders at `reference` (short half-life).
    pub(crate) activity: Vec<f32>,
    /// Per customer: their orders' times and products, in time order (for bought-next fold-in).
    pub(crate) customer_orders: Vec<Vec<(i64, Vec<u32>)>>,
    /// Per product: buyers who bought it at least twice, and buyers in all.
    pub(crate) repeat_buyers: Vec<u32>,
    pub(crate) buyers: Vec<u32>,
    /// Per product: median days between two purchases by one customer (0 when unknown).
    pub(crate) cycle_days: Vec<f32>,
    /// Per product: decayed distinct orders at `reference`.
    pub(crate) popularity: Vec<f32>,
    /// Per product: orders in the trending recent and baseline windows before `reference`.
    pub(crate) recent: Vec<u32>,
    pub(crate) baseline: Vec<u32>,
    /// Per product: catalog creation time.
    pub(crate) created: Vec<Option<i64>>,
    /// Per product: keys into `keys` for its need (type attribute, else first category), category, brand.
    pub(crate) need: Vec<u32>,
    pub(crate) category: Vec<u32>,
    pub(crate) brand: Vec<u32>,
    pub(crate) keys: Interner,
}

impl State {
    pub(crate) fn n_products(&self) -> usize {
        self.products.len()
    }
}
