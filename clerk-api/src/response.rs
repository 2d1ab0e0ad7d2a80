//! What a query answers.

use std::sync::Arc;

use clerk_core::domain::{Product, Timestamp};
use serde::{Deserialize, Serialize};

use crate::fallback::Fallback;

/// Which signal put an item in the answer (the one that contributed most to its score).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// A substitute of a query, viewed or bought product.
    Alternative,
    /// Bought in the same order as a query, basket or bought product.
    BoughtTogether,
    /// Bought next after a query, basket or bought product.
    BoughtNext,
    /// Bought again and again by customers who buy what this customer buys.
    SameCustomers,
    /// Bought by the customers whose purchases most resemble this customer's.
    SimilarCustomers,
    /// The customer's own history: a repeat or due purchase.
    History,
    /// Among the best sellers.
    Popular,
    /// Selling more than usual lately.
    Trending,
    /// New in the catalog.
    New,
    /// Audience: likely to buy the product.
    Interested,
    /// Audience: has bought the product (in the window).
    Purchased,
    /// Audience: has not bought the product (in the window).
    NotPurchased,
}

/// One ranked product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The product id.
    pub id: Arc<str>,
    /// The score: higher is better, finite, non-increasing down the list.
    pub score: f32,
    /// The signal that put it here.
    pub reason: Reason,
    /// The catalog record, when the request asked for product data and the catalog has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Arc<Product>>,
}

/// One ranked customer of an audience.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerItem {
    /// The customer's key: the customer id, or the lower-cased email for guests.
    pub id: Arc<str>,
    /// Intent to buy the product (0 when the model has no intent for the customer), finite.
    pub score: f32,
    /// The segment the customer was selected by.
    pub reason: Reason,
    /// The last purchase of the product (inside the window, when one was given), `None` if never.
    pub last_purchase: Option<Timestamp>,
}

/// The answer to a [`Request`](crate::Request).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Ranked products, best first (empty for audience queries).
    pub items: Vec<Item>,
    /// Ranked customers, best first (audience queries only).
    pub customers: Vec<CustomerItem>,
    /// The version of the analysis that answered (0 for a model not loaded from a saved analysis).
    pub analysis_version: u64,
    /// The name of the model that answered.
    pub model: String,
    /// The first fallback step that contributed to the answer up to the end of this page, `None` when the
    /// query's own signal served it all. See [`crate::fallback`].
    pub fallback: Option<Fallback>,
}

impl Response {
    /// The product ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.items.iter().map(|i| &*i.id).collect()
    }

    /// The customer ids, in order.
    pub fn customer_ids(&self) -> Vec<&str> {
        self.customers.iter().map(|c| &*c.id).collect()
    }
}
