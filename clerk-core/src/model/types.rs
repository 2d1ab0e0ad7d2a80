//! Plain data passed through the `IntentModel` seam.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;

/// How two products relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Bought in the same order more often than chance.
    BoughtTogether,
    /// Bought by the same customer in a later order, more often than chance (directional).
    BoughtNext,
    /// Serves the same need: a substitute.
    Alternative,
    /// Bought again and again by the same customers: the long-term taste two products share (co-occurrence of
    /// repeat purchases across customers), for discovery and audiences.
    SameCustomers,
}

/// Non-personal rankings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    /// Most distinct orders, time-decayed.
    Popular,
    /// Recent sales rate against a longer baseline, smoothed.
    Trending,
    /// Newest in the catalog.
    New,
}

/// A product (or customer) id with a score; higher is better.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The external id.
    pub id: Arc<str>,
    /// The score, finite.
    pub score: f32,
}

/// A customer of a product's audience.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudienceMember {
    /// The customer's key (customer id, or email for guests).
    pub customer: Arc<str>,
    /// Intent to buy the product, finite.
    pub score: f32,
    /// When the customer last bought the product, `None` if never.
    pub last_purchase: Option<Timestamp>,
}

/// What a fold-in did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldInStats {
    /// Orders folded in.
    pub orders: usize,
    /// Products whose relations were updated.
    pub products_touched: usize,
    /// Orders skipped because the model cannot fold them in (for example, no lines).
    pub skipped: usize,
}

/// Counts describing an analysed model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelStats {
    /// Products known.
    pub products: usize,
    /// Customers known.
    pub customers: usize,
    /// Orders analysed (folded-in ones included).
    pub orders: usize,
    /// Stored product-product relations, all kinds.
    pub relations: usize,
    /// The time the analysis treats as "now".
    pub reference_time: Option<Timestamp>,
}

/// What went wrong in a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Saved bytes are of another model or layout version.
    #[error("saved analysis is {found}, this build reads {expected}")]
    Format {
        /// What this build reads.
        expected: String,
        /// What the bytes say.
        found: String,
    },
    /// Saved bytes do not decode.
    #[error("saved analysis is corrupt: {0}")]
    Corrupt(String),
    /// The input cannot be analysed.
    #[error("invalid input: {0}")]
    Invalid(String),
}
