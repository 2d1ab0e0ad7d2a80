//! Customers with an account.

use serde::{Deserialize, Serialize};

use super::Attributes;

/// A customer with an account. Guests have no `Customer` record: their orders carry only an email, or nothing.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Customer {
    /// The shop's own id, unique among customers.
    pub id: String,
    /// Email address, when known.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// Free attributes (segment, age band, ...).
    pub attributes: Attributes,
}

impl Customer {
    /// A customer with this id and defaults elsewhere.
    pub fn new(id: impl Into<String>) -> Self {
        Customer { id: id.into(), ..Customer::default() }
    }
}
