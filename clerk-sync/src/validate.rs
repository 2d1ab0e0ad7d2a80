//! The validation rules of the Core Importer, as plain functions over the domain model.
//!
//! A record that breaks a rule is rejected with a [`RejectReason`]; a record that is usable but points at
//! something the store does not know yet is kept and flagged with a [`FlagReason`] (catalogs lag behind orders).

use std::fmt;

use clerk_core::domain::{
    is_valid_attribute_name, Attributes, Category, Customer, Order, OrderLine, Product, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Why a record, an order line or a row was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// A required field is missing or empty (ids, a category's name, an order's time, a line's product).
    MissingField,
    /// An attribute name is not 1 to 64 characters of `[A-Za-z0-9_]`.
    InvalidAttributeName,
    /// A number is NaN or infinite.
    NotFinite,
    /// A price is below zero.
    NegativePrice,
    /// An order line's quantity is zero or below (the rest of the order is kept).
    QuantityNotPositive,
    /// A time lies further in the future than allowed.
    TimeInFuture,
    /// A time could not be parsed.
    BadTimestamp,
    /// A number could not be parsed.
    BadNumber,
    /// The id was already used by another record of the same kind in this sync.
    DuplicateId,
    /// An order has no line left (none given, or all were rejected); it is not stored.
    EmptyOrder,
    /// A category names itself as its parent.
    InvalidParent,
    /// A row or item could not be read as a record (bad CSV row, bad JSON, wrong type).
    Malformed,
    /// A whole file or feed could not be read; a full sync then deletes nothing.
    UnreadableSource,
}

impl RejectReason {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingField => "missing_field",
            RejectReason::InvalidAttributeName => "invalid_attribute_name",
            RejectReason::NotFinite => "not_finite",
            RejectReason::NegativePrice => "negative_price",
            RejectReason::QuantityNotPositive => "quantity_not_positive",
            RejectReason::TimeInFuture => "time_in_future",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadNumber => "bad_number",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::EmptyOrder => "empty_order",
            RejectReason::InvalidParent => "invalid_parent",
            RejectReason::Malformed => "malformed",
            RejectReason::UnreadableSource => "unreadable_source",
        }
    }

    /// Whether this reason is about one order line (the rest of its order is kept) rather than a whole record.
    pub fn is_line_level(self) -> bool {
        matches!(self, RejectReason::QuantityNotPositive)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a stored record was flagged: usable, but pointing at something the store does not (yet) hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// An order line names a product the catalog lacks (counted per line).
    UnknownProduct,
    /// An order names a customer without a customer record (counted per order).
    UnknownCustomer,
    /// A product names a category without a category record (counted per product).
    UnknownCategory,
}

impl FlagReason {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::UnknownProduct => "unknown_product",
            FlagReason::UnknownCustomer => "unknown_customer",
            FlagReason::UnknownCategory => "unknown_category",
        }
    }
}

impl fmt::Display for FlagReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A broken rule: the reason, the field (domain field name, e.g. `price` or `lines[2].quantity`) and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Why.
    pub reason: RejectReason,
    /// The field concerned.
    pub field: String,
    /// What was wrong, for people.
    pub message: String,
}

impl Issue {
    /// An issue with `field`.
    pub fn new(reason: RejectReason, field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue { reason, field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.field, self.message)
    }
}

/// The settings the rules depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// The current time.
    pub now: Timestamp,
    /// How far after `now` a time may lie (clocks of shops drift, time zones differ). Default one day.
    pub max_future_secs: i64,
}

impl Rules {
    /// The rules at `now`, allowing times up to one day ahead.
    pub fn at(now: Timestamp) -> Self {
        Rules { now, max_future_secs: clerk_core::domain::DAY }
    }

    fn check_time(&self, field: &str, t: Timestamp) -> Result<(), Issue> {
        if t.secs() > self.now.secs().saturating_add(self.max_future_secs) {
            return Err(Issue::new(
                RejectReason::TimeInFuture,
                field,
                format!(
                    "{t} is after {} (now {} plus {} s)",
                    Timestamp(self.now.secs() + self.max_future_secs),
                    self.now,
                    self.max_future_secs
                ),
            ));
        }
        if !(Timestamp::MIN..=Timestamp::MAX).contains(&t) {
            return Err(Issue::new(RejectReason::BadTimestamp, field, format!("{} s is out of range", t.secs())));
        }
        Ok(())
    }
}

fn required(field: &str, value: &str) -> Result<(), Issue> {
    if value.trim().is_empty() {
        Err(Issue::new(RejectReason::MissingField, field, format!("{field} is required")))
    } else {
        Ok(())
    }
}

fn price(field: &str, value: Option<f64>) -> Result<(), Issue> {
    match value {
        Some(v) if !v.is_finite() => Err(Issue::new(RejectReason::NotFinite, field, format!("{field} is {v}"))),
        Some(v) if v < 0.0 => Err(Issue::new(RejectReason::NegativePrice, field, format!("{field} {v} is below 0"))),
        _ => Ok(()),
    }
}

fn attributes(attrs: &Attributes) -> Result<(), Issue> {
    for (name, value) in attrs {
        if !is_valid_attribute_name(name) {
            return Err(Issue::new(
                RejectReason::InvalidAttributeName,
                format!("attributes.{name}"),
                format!("attribute name {name:?} is not 1-64 characters of [A-Za-z0-9_]"),
            ));
        }
        if !value.is_finite() {
            return Err(Issue::new(RejectReason::NotFinite, format!("attributes.{name}"), "NaN or infinite number"));
        }
    }
    Ok(())
}

/// Checks a product: `id` required, prices `>= 0` and finite, attribute names, `created_at` not in the future.
pub fn check_product(p: &Product, rules: &Rules) -> Result<(), Issue> {
    required("id", &p.id)?;
    price("price", p.price)?;
    price("list_price", p.list_price)?;
    if let Some(t) = p.created_at {
        rules.check_time("created_at", t)?;
    }
    if let Some(i) = p.categories.iter().position(|c| c.trim().is_empty()) {
        return Err(Issue::new(RejectReason::MissingField, format!("categories[{i}]"), "empty category id"));
    }
    attributes(&p.attributes)
}

/// Checks a category: `id` and `name` required, not its own parent.
pub fn check_category(c: &Category) -> Result<(), Issue> {
    required("id", &c.id)?;
    required("name", &c.name)?;
    if c.parent.as_deref() == Some(c.id.as_str()) {
        return Err(Issue::new(
            RejectReason::InvalidParent,
            "parent",
            format!("category {:?} is its own parent", c.id),
        ));
    }
    Ok(())
}

/// Checks a customer: `id` required, attribute names.
pub fn check_customer(c: &Customer) -> Result<(), Issue> {
    required("id", &c.id)?;
    attributes(&c.attributes)
}

/// Checks what an order says besides its lines: `id` required, `time` not in the future, a customer id, when
/// given, not empty. Empty orders are checked after the lines (see [`check_line`]).
pub fn check_order_head(o: &Order, rules: &Rules) -> Result<(), Issue> {
    required("id", &o.id)?;
    if let Some(c) = &o.customer_id {
        required("customer_id", c)?;
    }
    rules.check_time("time", o.time)
}

/// Checks one order line: `product_id` required, `quantity > 0` and finite, `unit_price >= 0` and finite.
/// `index` names the line in the field of the issue.
#[inline]
pub fn check_line(l: &OrderLine, index: usize) -> Result<(), Issue> {
    if l.quantity > 0.0
        && l.quantity.is_finite()
        && !l.product_id.is_empty()
        && l.unit_price.is_none_or(|p| p >= 0.0 && p.is_finite())
    {
        return Ok(());
    }
    required(&format!("lines[{index}].product_id"), &l.product_id)?;
    if !l.quantity.is_finite() {
        return Err(Issue::new(
            RejectReason::NotFinite,
            format!("lines[{index}].quantity"),
            "NaN or infinite quantity",
        ));
    }
    if l.quantity <= 0.0 {
        return Err(Issue::new(
            RejectReason::QuantityNotPositive,
            format!("lines[{index}].quantity"),
            format!("quantity {} is not above 0", l.quantity),
        ));
    }
    price(&format!("lines[{index}].unit_price"), l.unit_price)
}

/// Checks a whole order as the Core Importer does: the head, then every line; returns the issues of the
/// rejected lines (by line index) or the issue that rejects the whole order. An order without valid lines is
/// [`RejectReason::EmptyOrder`].
pub fn check_order(o: &Order, rules: &Rules) -> Result<Vec<(usize, Issue)>, Issue> {
    check_order_head(o, rules)?;
    let bad: Vec<(usize, Issue)> =
        o.lines.iter().enumerate().filter_map(|(i, l)| check_line(l, i).err().map(|e| (i, e))).collect();
    if bad.len() == o.lines.len() {
        return Err(Issue::new(
            RejectReason::EmptyOrder,
            "lines",
            if o.lines.is_empty() { "order has no lines".to_owned() } else { "every line was rejected".to_owned() },
        ));
    }
    Ok(bad)
}
