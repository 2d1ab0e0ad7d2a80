//! Products of the catalog.

use serde::{Deserialize, Serialize};

use super::{Attributes, Timestamp};

/// A product of the catalog, in the internal format every importer maps into.
///
/// Only `id` is required. A product with `index == false` is kept for history and analysis (its sales still
/// teach what goes with what) but is never returned as a recommendation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Product {
    /// The shop's own id, unique among products.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text description.
    pub description: String,
    /// Current selling price, `>= 0`.
    pub price: Option<f64>,
    /// Price before discount, `>= 0`.
    pub list_price: Option<f64>,
    /// Ids of the categories the product sits in.
    pub categories: Vec<String>,
    /// Brand or manufacturer.
    pub brand: Option<String>,
    /// When the product entered the catalog (drives "new" queries).
    pub created_at: Option<Timestamp>,
    /// Units in stock, when the shop tracks it.
    pub stock: Option<u64>,
    /// Whether the product can be bought now.
    pub in_stock: bool,
    /// Whether the product may be recommended. `false` keeps it for analysis only.
    pub index: bool,
    /// Free attributes (size, colour, type, ...).
    pub attributes: Attributes,
}

impl Default for Product {
    fn default() -> Self {
        Product {
            id: String::new(),
            name: String::new(),
            description: String::new(),
            price: None,
            list_price: None,
            categories: Vec::new(),
            brand: None,
            created_at: None,
            stock: None,
            in_stock: true,
            index: true,
            attributes: Attributes::new(),
        }
    }
}

impl Product {
    /// A product with this id and defaults elsewhere.
    pub fn new(id: impl Into<String>) -> Self {
        Product { id: id.into(), ..Product::default() }
    }
}
