//! The internal format every importer maps into: products, categories, customers and orders.
//!
//! These are plain data types with public fields. External ids are strings, as shops export them; the analysis
//! interns them to dense indices ([`crate::intern`]) so that matrices are built without hashing in hot loops.

mod attribute;
mod category;
mod customer;
mod order;
mod product;
mod time;

pub use attribute::{is_valid_attribute_name, AttributeValue, Attributes, Scalar};
pub use category::Category;
pub use customer::Customer;
pub use order::{Order, OrderLine};
pub use product::Product;
pub use time::{ParseTimeError, Timestamp, DAY};

use serde::{Deserialize, Serialize};

/// The kinds of records a shop has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Product`].
    Product,
    /// [`Category`].
    Category,
    /// [`Customer`].
    Customer,
    /// [`Order`].
    Order,
}

impl RecordKind {
    /// All kinds, in the order an import should store them (catalog before history).
    pub const ALL: [RecordKind; 4] =
        [RecordKind::Category, RecordKind::Product, RecordKind::Customer, RecordKind::Order];

    /// The lower-case name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Product => "product",
            RecordKind::Category => "category",
            RecordKind::Customer => "customer",
            RecordKind::Order => "order",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
