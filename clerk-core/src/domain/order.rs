//! Orders: the purchase history every intent is learned from.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The product bought.
    pub product_id: String,
    /// Units bought, `> 0` (fractional for goods sold by weight).
    #[serde(default = "one")]
    pub quantity: f64,
    /// Price paid per unit, `>= 0`, when known.
    #[serde(default)]
    pub unit_price: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl OrderLine {
    /// A line of `quantity` units of `product_id` with no price.
    pub fn new(product_id: impl Into<String>, quantity: f64) -> Self {
        OrderLine { product_id: product_id.into(), quantity, unit_price: None }
    }
}

/// A placed order. Orders are history: a full catalog sync never deletes them, only an explicit delete does.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Order {
    /// The shop's own id, unique among orders.
    pub id: String,
    /// The customer who ordered, when logged in.
    pub customer_id: Option<String>,
    /// The email the order was placed with (guests have only this).
    pub email: Option<String>,
    /// When the order was placed.
    pub time: Timestamp,
    /// What was bought.
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// An order with this id, customer and time and no lines.
    pub fn new(id: impl Into<String>, customer_id: Option<String>, time: Timestamp) -> Self {
        Order { id: id.into(), customer_id, email: None, time, lines: Vec::new() }
    }

    /// The key the order's buyer is known by: the customer id, else the lower-cased email, else `None` (an
    /// anonymous guest).
    pub fn buyer_key(&self) -> Option<String> {
        self.customer_id.clone().or_else(|| self.email.as_ref().map(|e| e.trim().to_lowercase()))
    }
}
