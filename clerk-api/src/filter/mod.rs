//! The filter language: a small boolean expression over product fields and attributes.
//!
//! ```text
//! brand = 'Acme' and price > 100 and categories in [12, 14] and in_stock = true
//! not (colour = "red" or attributes.size in ['S', 'M']) and created_at >= '2024-01-01'
//! ```
//!
//! See `docs/filters.md` for the full grammar and semantics. In short:
//!
//! - `field op value` with `op` one of `= != < <= > >=` (`==` and `<>` are accepted too), and
//!   `field in [v1, v2, ...]` / `field not in [...]`; combined with `and`, `or`, `not` and parentheses
//!   (`&&` and `||` are accepted). `and` binds tighter than `or`.
//! - Values: `'text'` or `"text"` (escapes `\\ \' \" \n \t`), numbers, `true`/`false`, lists `[..]` (after `in`).
//! - Fields: `id name description brand price list_price categories in_stock stock created_at index`, and any
//!   attribute as `attributes.name` or bare `name`.
//! - A list field (categories, list attributes) satisfies a comparison when any element does; `in` holds when
//!   any element is in the list. A missing field satisfies nothing, except `!=` and `not in`, which are the
//!   negations of `=` and `in`.
//! - Numbers and texts compare as numbers when the text reads as a number (`categories in [12, 14]` matches the
//!   category id `"12"`). `created_at` compares with times written as text (`'2024-05-01'`) or seconds.
//!
//! Parsing is bounded: at most [`MAX_FILTER_LEN`] bytes and [`MAX_DEPTH`] levels of nesting, so hostile input
//! cannot overflow the stack or take long.

mod eval;
mod lexer;
pub(crate) mod memo;
mod parser;

use std::fmt;

use clerk_core::domain::Product;
use serde::{Deserialize, Serialize};

pub use lexer::CmpOp;

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// The deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 32;
/// The most values in one `in [...]` list.
pub const MAX_LIST: usize = 1000;

/// Why a filter does not parse: where, what was expected there and what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("expected {expected} at {position}, found {found}")]
pub struct FilterError {
    /// Byte offset in the filter text.
    pub position: usize,
    /// What the parser expected there.
    pub expected: String,
    /// What it found.
    pub found: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        FilterError { position, expected: expected.into(), found: found.into() }
    }
}

/// A product field a filter can test.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The product id (text).
    Id,
    /// The name (text).
    Name,
    /// The description (text).
    Description,
    /// The brand (text, may be missing).
    Brand,
    /// The selling price (number, may be missing).
    Price,
    /// The price before discount (number, may be missing).
    ListPrice,
    /// The category ids (list of texts).
    Categories,
    /// Whether it can be bought now (bool).
    InStock,
    /// Units in stock (number, may be missing).
    Stock,
    /// When it entered the catalog (seconds since 1970, may be missing).
    CreatedAt,
    /// Whether it may be recommended (bool).
    Index,
    /// A free attribute by name.
    Attribute(String),
}

impl Field {
    /// The field for a name as written in a filter: a known field, `attributes.x`, or a bare attribute name.
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "id" => Field::Id,
            "name" => Field::Name,
            "description" => Field::Description,
            "brand" => Field::Brand,
            "price" => Field::Price,
            "list_price" => Field::ListPrice,
            "categories" | "category" => Field::Categories,
            "in_stock" => Field::InStock,
            "stock" => Field::Stock,
            "created_at" => Field::CreatedAt,
            "index" => Field::Index,
            other => {
                let attr = other.strip_prefix("attributes.").unwrap_or(other);
                if !clerk_core::domain::is_valid_attribute_name(attr) {
                    return None;
                }
                Field::Attribute(attr.to_owned())
            }
        })
    }

    /// The kind of value the field holds, `None` for attributes (any kind).
    fn kind(&self) -> Option<ValueKind> {
        match self {
            Field::Id | Field::Name | Field::Description | Field::Brand | Field::Categories => Some(ValueKind::Text),
            Field::Price | Field::ListPrice | Field::Stock => Some(ValueKind::Number),
            Field::CreatedAt => Some(ValueKind::Time),
            Field::InStock | Field::Index => Some(ValueKind::Bool),
            Field::Attribute(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Text,
    Number,
    Time,
    Bool,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Description => "description",
            Field::Brand => "brand",
            Field::Price => "price",
            Field::ListPrice => "list_price",
            Field::Categories => "categories",
            Field::InStock => "in_stock",
            Field::Stock => "stock",
            Field::CreatedAt => "created_at",
            Field::Index => "index",
            Field::Attribute(a) => return write!(f, "attributes.{a}"),
        };
        f.write_str(s)
    }
}

/// A literal value in a filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A text.
    Text(String),
    /// A finite number (times are stored as seconds since 1970).
    Number(f64),
    /// A flag.
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => {
                f.write_str("'")?;
                for c in t.chars() {
                    match c {
                        '\'' => f.write_str("\\'")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            Value::Number(n) => write!(f, "{n:?}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// At least one must hold.
    Or(Vec<Expr>),
    /// The negation.
    Not(Box<Expr>),
    /// `field op value`.
    Compare {
        /// The field tested.
        field: Field,
        /// The operator.
        op: CmpOp,
        /// The value compared with.
        value: Value,
    },
    /// `field in [values]`.
    In {
        /// The field tested.
        field: Field,
        /// The values; the test holds when any element of the field equals any of them.
        values: Vec<Value>,
    },
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{e}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::And(items) => join(f, items, " and "),
            Expr::Or(items) => join(f, items, " or "),
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::Compare { field, op, value } => write!(f, "{field} {} {value}", op.as_str()),
            Expr::In { field, values } => {
                write!(f, "{field} in [")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A parsed filter, ready to test products.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Parses a filter expression.
    ///
    /// ```
    /// use clerk_api::filter::Filter;
    /// use clerk_core::domain::Product;
    ///
    /// let f = Filter::parse("brand = 'Acme' and price > 100 and categories in [12, 14]").unwrap();
    /// let mut p = Product::new("p1");
    /// p.brand = Some("Acme".into());
    /// p.price = Some(150.0);
    /// p.categories = vec!["14".into()];
    /// assert!(f.matches(&p));
    ///
    /// let err = Filter::parse("price >").unwrap_err();
    /// assert_eq!(err.to_string(), "expected a value after '>' at 7, found end of input");
    /// ```
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError::new(
                MAX_FILTER_LEN,
                format!("a filter of at most {MAX_FILTER_LEN} bytes"),
                format!("{} bytes", text.len()),
            ));
        }
        let tokens = lexer::lex(text)?;
        let expr = parser::parse(&tokens, text.len())?;
        Ok(Filter { expr })
    }

    /// The parsed tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether `product` satisfies the filter.
    pub fn matches(&self, product: &Product) -> bool {
        eval::eval(&self.expr, &product.id, Some(product))
    }

    /// Whether a product known only by id (no catalog record: every field but `id` missing, `in_stock` and
    /// `index` true) or with its record satisfies the filter.
    pub fn matches_id(&self, id: &str, product: Option<&Product>) -> bool {
        eval::eval(&self.expr, id, product)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}
