//! What happens when a query's own signal runs out.
//!
//! A query first answers from its own signal (the *primary* list). When that list is shorter than
//! `offset + limit` after exclusions and the filter (an unknown product, a cold customer, a tiny relation), the
//! engine pads it with the steps of the query's fallback chain, in order, until the page is full. Items already
//! listed are not repeated; every rule (exclude, basket, non-indexable, filter, category) still holds. Fallback
//! items are rescaled below the item before them ([`Blend::fallback_ceiling`](crate::score::Blend)), so scores
//! never increase down the list. The response's `fallback` names the first step that contributed to the list up
//! to the end of the page.
//!
//! | query kind | primary signal | fallback chain |
//! |---|---|---|
//! | `alternatives`, `complementary`, `most_sold_with` | the products' relations (and basket) | `category` (best sellers of the products' categories) -> `popular` |
//! | `customer_picks`, `customer_complementary`, `customer_alternatives` | the customer's history (+ context) | `context` (when the customer is cold and the context has products) -> `category` (of history and context products) -> `popular` |
//! | `visitor` | the context | `category` (of the context products) -> `popular` |
//! | `trending` | trending | `popular` (in the same category) |
//! | `popular`, `new` | the ranking | none |
//! | `audience` | the model's audience / the purchase index | none (unknown product is an error) |
//!
//! With `allow_fallback: false` no step runs, and ids nothing knows are errors
//! ([`QueryError::UnknownProduct`](crate::QueryError), [`QueryError::UnknownCustomer`](crate::QueryError)).

use serde::{Deserialize, Serialize};

/// A fallback step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fallback {
    /// The real-time context (viewed, basket, clicks) answered for a cold customer.
    Context,
    /// Best sellers of the categories of the query's products.
    Category,
    /// Best sellers overall (inside the requested category, for `trending`).
    Popular,
}
