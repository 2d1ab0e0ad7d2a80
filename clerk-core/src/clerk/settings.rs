//! The settings of a ClerkCore analysis, with defaults chosen on a validation cut of real data.

use serde::{Deserialize, Serialize};

/// Settings of [`ClerkCore`](super::ClerkCore). The defaults were chosen on a validation cut inside the train
/// part of a real grocery data set (see `docs/evaluation.md`) and favour settings that hold across shops over
/// ones fitted to one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Half-life of a purchase's weight in a customer's affinity, in days.
    pub half_life_days: f64,
    /// Half-life of a long memory of the customer's habits, in days; blended with the short one.
    pub long_half_life_days: f64,
    /// Weight of the long memory against the short one in the affinity.
    pub long_weight: f64,
    /// How much a product's share of repeat buyers in the population lifts a customer's affinity to it.
    pub repeat_prior_weight: f64,
    /// How much being due (time since the last purchase near the customer's usual interval) lifts affinity.
    pub due_weight: f64,
    /// Weight, in an audience, of leading to the product (having bought what is bought with or before it)
    /// against buying the product itself.
    pub audience_related_weight: f64,
    /// Weight, in an audience, of buying the product itself (repeat and due-ness). Large by default: a past
    /// buyer is the likeliest next buyer, so past buyers rank first (by affinity), then the rest by what leads
    /// to the product.
    pub audience_own_weight: f64,
    /// Weight, in an audience, of the product being bought by the customer's most similar customers (the sum
    /// of their similarities).
    pub audience_similar_weight: f64,
    /// Weight, in an audience, of how much the customer shops at all (time-decayed orders): active customers
    /// buy more of everything.
    pub audience_activity_weight: f64,
    /// Related products kept per product and relation.
    pub top_k: usize,
    /// Minimum log-likelihood ratio for a pair to count as related. The default 15 is p < 0.0001: strict, since
    /// every row tests thousands of partners (3.84 would be p < 0.05 for a single test).
    pub min_llr: f64,
    /// Minimum count of a pair (orders together, or orders followed by the other within the window) to relate
    /// them: single co-occurrences are noise however rare the products.
    pub min_pair_count: u32,
    /// Window after an order in which a customer's later purchases count as "bought next", in days.
    pub next_window_days: f64,
    /// How many of a customer's next orders (within the window) count as "bought next". A cap on orders, not
    /// only days, keeps frequent shoppers' weekly staples from relating to everything.
    pub next_orders: usize,
    /// Catalog attributes that name the need a product serves (alternatives share them).
    pub type_attributes: Vec<String>,
    /// Half-life of popularity, in days.
    pub popularity_half_life_days: f64,
    /// Recent window of trending, in days.
    pub trending_recent_days: f64,
    /// Baseline window of trending, in days (ending where the recent window starts).
    pub trending_baseline_days: f64,
    /// Pseudo-count that keeps products with few sales from topping trending.
    pub trending_prior: f64,
    /// How many most similar customers (cosine of the sets of products bought) each customer keeps, for the
    /// products customers like them buy. 0 turns the signal off.
    pub similar_customers: usize,
    /// How many products of what similar customers bought are kept per customer (all of it, and what the
    /// customer has not bought), ready for queries.
    pub similar_products: usize,
    /// Products bought by more than this share of the customers do not link customers in similarities (their
    /// cost is the square of their buyers, and everyone buys them).
    pub similar_max_share: f64,
    /// Products bought by more customers than this do not link customers in similarities either: it bounds the
    /// cost of similarities by this times the number of (customer, product) pairs, however large the shop.
    pub similar_max_buyers: usize,
    /// Worker threads of the analysis, and of a fold-in whose orders move thousands of pair counts (it uses two
    /// when this allows more than one); `None` uses every core. Results are identical for any count.
    pub threads: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            half_life_days: 30.0,
            long_half_life_days: 180.0,
            long_weight: 0.3,
            repeat_prior_weight: 0.0,
            due_weight: 0.0,
            audience_related_weight: 1.0,
            audience_own_weight: 30.0,
            audience_activity_weight: 0.6,
            audience_similar_weight: 1.0,
            top_k: 50,
            min_llr: 15.0,
            min_pair_count: 2,
            next_window_days: 60.0,
            next_orders: 3,
            type_attributes: vec!["type".into(), "product_type".into()],
            popularity_half_life_days: 30.0,
            trending_recent_days: 7.0,
            trending_baseline_days: 56.0,
            trending_prior: 5.0,
            similar_customers: 50,
            similar_products: 100,
            similar_max_share: 0.3,
            similar_max_buyers: 5_000,
            threads: None,
        }
    }
}
