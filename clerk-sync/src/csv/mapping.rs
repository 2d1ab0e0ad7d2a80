//! Column mappings: which CSV header feeds which domain field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A domain field an order file's column can feed (one row per order line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderField {
    /// `Order::id` (required). Rows with the same order id are lines of one order.
    OrderId,
    /// `Order::customer_id`.
    CustomerId,
    /// `Order::email`.
    Email,
    /// `Order::time` (required): `YYYY-MM-DD HH:MM:SS`, RFC 3339 or seconds since 1970.
    Time,
    /// `OrderLine::product_id` (required).
    ProductId,
    /// `OrderLine::quantity` (1 when not mapped).
    Quantity,
    /// `OrderLine::unit_price`: the price of one unit.
    UnitPrice,
    /// The price of the whole line; `unit_price` becomes `line_total / quantity`.
    LineTotal,
}

impl OrderField {
    /// Every field, in documentation order.
    pub const ALL: [OrderField; 8] = [
        OrderField::OrderId,
        OrderField::CustomerId,
        OrderField::Email,
        OrderField::Time,
        OrderField::ProductId,
        OrderField::Quantity,
        OrderField::UnitPrice,
        OrderField::LineTotal,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderField::OrderId => "order_id",
            OrderField::CustomerId => "customer_id",
            OrderField::Email => "email",
            OrderField::Time => "time",
            OrderField::ProductId => "product_id",
            OrderField::Quantity => "quantity",
            OrderField::UnitPrice => "unit_price",
            OrderField::LineTotal => "line_total",
        }
    }
}

impl fmt::Display for OrderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown field {0:?}")]
pub struct UnknownField(pub String);

impl FromStr for OrderField {
    type Err = UnknownField;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderField::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| UnknownField(s.to_owned()))
    }
}

/// Which header feeds which [`OrderField`], for a file with one row per order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMapping {
    /// `(header, field)` pairs; a header may appear once per field.
    pub columns: Vec<(String, OrderField)>,
    /// The field delimiter, `,` by default.
    pub delimiter: u8,
}

impl OrderMapping {
    /// A mapping of the three required columns.
    pub fn new(order_id: &str, product_id: &str, time: &str) -> Self {
        OrderMapping { columns: Vec::new(), delimiter: b',' }
            .column(order_id, OrderField::OrderId)
            .column(product_id, OrderField::ProductId)
            .column(time, OrderField::Time)
    }

    /// The default headers: `customer_id, order_id, product_id, quantity, timestamp, price` (unit price).
    pub fn default_headers() -> Self {
        OrderMapping::new("order_id", "product_id", "timestamp")
            .customer("customer_id")
            .quantity("quantity")
            .unit_price("price")
    }

    /// Maps `header` to `field` (replacing an earlier header of that field).
    pub fn column(mut self, header: &str, field: OrderField) -> Self {
        self.columns.retain(|(_, f)| *f != field);
        if matches!(field, OrderField::UnitPrice | OrderField::LineTotal) {
            self.columns.retain(|(_, f)| !matches!(f, OrderField::UnitPrice | OrderField::LineTotal));
        }
        self.columns.push((header.to_owned(), field));
        self
    }

    /// Maps the customer id column.
    pub fn customer(self, header: &str) -> Self {
        self.column(header, OrderField::CustomerId)
    }

    /// Maps the quantity column.
    pub fn quantity(self, header: &str) -> Self {
        self.column(header, OrderField::Quantity)
    }

    /// Maps the unit price column.
    pub fn unit_price(self, header: &str) -> Self {
        self.column(header, OrderField::UnitPrice)
    }

    /// Maps a column holding the price of the whole line.
    pub fn line_total(self, header: &str) -> Self {
        self.column(header, OrderField::LineTotal)
    }

    /// Uses another delimiter (`b';'`, `b'\t'`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The header of `field`, when mapped.
    pub fn header(&self, field: OrderField) -> Option<&str> {
        self.columns.iter().find(|(_, f)| *f == field).map(|(h, _)| h.as_str())
    }
}

/// A domain field a catalog file's column can feed (one row per product).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductField {
    /// `Product::id` (required).
    Id,
    /// `Product::name`.
    Name,
    /// `Product::description`.
    Description,
    /// `Product::price`.
    Price,
    /// `Product::list_price`.
    ListPrice,
    /// One category id (also emitted as a category record named after it, see
    /// [`ProductMapping::emit_categories`]).
    Category,
    /// Several category ids separated by [`ProductMapping::list_separator`].
    Categories,
    /// `Product::brand`.
    Brand,
    /// `Product::created_at`.
    CreatedAt,
    /// `Product::stock` (whole units).
    Stock,
    /// `Product::in_stock` (`true/false`, `1/0`, `yes/no`).
    InStock,
    /// `Product::index` (`true/false`, `1/0`, `yes/no`).
    Index,
    /// A text attribute of this name.
    Attribute(String),
}

impl FromStr for ProductField {
    type Err = UnknownField;
    /// Field names as in the domain model; `attributes.NAME` (or any other valid attribute name) is an
    /// attribute.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "id" => ProductField::Id,
            "name" => ProductField::Name,
            "description" => ProductField::Description,
            "price" => ProductField::Price,
            "list_price" => ProductField::ListPrice,
            "category" => ProductField::Category,
            "categories" => ProductField::Categories,
            "brand" => ProductField::Brand,
            "created_at" => ProductField::CreatedAt,
            "stock" => ProductField::Stock,
            "in_stock" => ProductField::InStock,
            "index" => ProductField::Index,
            other => {
                let name = other.strip_prefix("attributes.").unwrap_or(other);
                if clerk_core::domain::is_valid_attribute_name(name) {
                    ProductField::Attribute(name.to_owned())
                } else {
                    return Err(UnknownField(other.to_owned()));
                }
            }
        })
    }
}

/// Which header feeds which [`ProductField`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductMapping {
    /// `(header, field)` pairs.
    pub columns: Vec<(String, ProductField)>,
    /// The field delimiter, `,` by default.
    pub delimiter: u8,
    /// The separator inside a [`ProductField::Categories`] cell, `|` by default.
    pub list_separator: char,
    /// Whether to emit a category record (id and name = the cell) the first time a category id appears. On by
    /// default; such an importer then also mirrors categories in a full sync.
    pub emit_categories: bool,
}

impl ProductMapping {
    /// A mapping with the id column only.
    pub fn new(id: &str) -> Self {
        ProductMapping { columns: Vec::new(), delimiter: b',', list_separator: '|', emit_categories: true }
            .column(id, ProductField::Id)
    }

    /// Maps `header` to `field`.
    pub fn column(mut self, header: &str, field: ProductField) -> Self {
        self.columns.retain(|(_, f)| *f != field);
        self.columns.push((header.to_owned(), field));
        self
    }

    /// Maps `header` to an attribute of the same name.
    pub fn attribute(self, header: &str) -> Self {
        self.column(header, ProductField::Attribute(header.to_owned()))
    }

    /// Whether to emit category records.
    pub fn emit_categories(mut self, on: bool) -> Self {
        self.emit_categories = on;
        self
    }

    /// Uses another delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The mapping of the Complete Journey `products.csv`: `product_id` -> id, `brand` -> brand,
    /// `product_category` -> category, and `department`, `product_type`, `package_size`, `manufacturer_id` ->
    /// attributes.
    pub fn complete_journey() -> Self {
        ProductMapping::new("product_id")
            .column("brand", ProductField::Brand)
            .column("product_category", ProductField::Category)
            .attribute("department")
            .attribute("product_type")
            .attribute("package_size")
            .attribute("manufacturer_id")
    }
}
