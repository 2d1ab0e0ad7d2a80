//! Plain data passed through the `DataStore` seam.

use serde::{Deserialize, Serialize};

use crate::domain::{Order, Timestamp};

/// What a batch write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSummary {
    /// Records that did not exist before.
    pub inserted: usize,
    /// Records that replaced an existing one with the same id.
    pub replaced: usize,
}

impl WriteSummary {
    /// Records written in all.
    pub fn written(&self) -> usize {
        self.inserted + self.replaced
    }
}

/// How many records of each kind a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Products.
    pub products: usize,
    /// Categories.
    pub categories: usize,
    /// Customers.
    pub customers: usize,
    /// Orders.
    pub orders: usize,
    /// Order lines over all orders.
    pub order_lines: usize,
}

/// A place in the `(time, seq)` order of orders; reading continues after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderCursor {
    /// Time of the last order read.
    pub time: Timestamp,
    /// Change position the last order read was written at.
    pub seq: u64,
}

impl OrderCursor {
    /// Before every order.
    pub const START: OrderCursor = OrderCursor { time: Timestamp(i64::MIN), seq: 0 };
}

/// One page of orders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderPage {
    /// The orders, in `(time, seq)` order.
    pub orders: Vec<Order>,
    /// Where the next page starts; `None` when this page reached the end.
    pub next: Option<OrderCursor>,
}

/// What changed in a store after some change position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// The store's current position.
    pub position: u64,
    /// Product writes and deletions.
    pub products: u64,
    /// Category writes and deletions.
    pub categories: u64,
    /// Customer writes and deletions.
    pub customers: u64,
    /// Order appends.
    pub orders_written: u64,
    /// Order deletions (a fold-in cannot undo these: they need a full analysis).
    pub orders_deleted: u64,
}

impl ChangeSummary {
    /// All changes.
    pub fn total(&self) -> u64 {
        self.products + self.categories + self.customers + self.orders_written + self.orders_deleted
    }
}

/// A saved analysis: the intents a model pre-computed, as the model serialised them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedAnalysis {
    /// Version given by the store on save (the value passed in is ignored).
    pub version: u64,
    /// The name of the model that wrote it ([`crate::model::IntentModel::name`]).
    pub model: String,
    /// The model's format version, so a newer build can refuse an old layout clearly.
    pub format: u32,
    /// The store's change position the analysis covers.
    pub data_position: u64,
    /// When it was made.
    pub created_at: Timestamp,
    /// The model's bytes.
    pub bytes: Vec<u8>,
}
