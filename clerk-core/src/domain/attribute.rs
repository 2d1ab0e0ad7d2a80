//! Free product and customer attributes: names of `[A-Za-z0-9_]`, values of a few plain kinds.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One scalar attribute value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A true/false flag.
    Bool(bool),
    /// A number; importers reject NaN and infinities.
    Number(f64),
    /// A text.
    Text(String),
}

/// An attribute value: a scalar or a list of scalars.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    /// A true/false flag.
    Bool(bool),
    /// A number; importers reject NaN and infinities.
    Number(f64),
    /// A text.
    Text(String),
    /// A list of scalars (sizes, colours, tags).
    List(Vec<Scalar>),
}

/// Attributes by name, in name order so that equal records compare and serialise equally.
pub type Attributes = BTreeMap<String, AttributeValue>;

/// Whether `name` is a valid attribute name: non-empty, at most 64 characters of `[A-Za-z0-9_]`.
pub fn is_valid_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl AttributeValue {
    /// Whether every number inside is finite.
    pub fn is_finite(&self) -> bool {
        match self {
            AttributeValue::Number(n) => n.is_finite(),
            AttributeValue::List(items) => items.iter().all(|s| !matches!(s, Scalar::Number(n) if !n.is_finite())),
            _ => true,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Number(n) => write!(f, "{n}"),
            Scalar::Text(t) => write!(f, "{t}"),
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue::Text(v.to_owned())
    }
}

impl From<f64> for AttributeValue {
    fn from(v: f64) -> Self {
        AttributeValue::Number(v)
    }
}

impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue::Bool(v)
    }
}
