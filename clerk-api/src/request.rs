//! What a caller asks: a [`Query`] kind and the common parameters.
//!
//! In JSON a request is one flat object with a `kind` and the kind's own fields next to the common ones (see
//! `docs/api.md`):
//!
//! ```json
//! {"kind": "complementary", "products": ["p1"], "limit": 5, "filter": "price < 20",
//!  "context": {"basket": ["p7"], "customer": "c42"}}
//! ```
//!
//! Decoding is strict and reports the path of the first offending field: unknown fields, fields the kind does
//! not use, wrong types and out-of-range numbers are [`QueryError::Malformed`].

use std::collections::HashSet;

use clerk_core::domain::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::QueryError;

/// The number of results when a request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// The largest `limit` accepted for product answers.
pub const MAX_LIMIT: usize = 1000;
/// The largest `limit` accepted for audience answers (a campaign may target every customer).
pub const MAX_AUDIENCE_LIMIT: usize = 1_000_000;
/// The largest `offset` accepted.
pub const MAX_OFFSET: usize = 100_000;
/// The most ids in one list (`products`, `exclude`, context lists).
pub const MAX_IDS: usize = 10_000;
/// The longest id or customer accepted, in bytes.
pub const MAX_ID_LEN: usize = 1024;

/// The audience segment asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Likely to buy the product, including due repurchases (the model's audience).
    Interested,
    /// Have bought the product (inside the window, when one is given).
    Purchased,
    /// Have not bought the product (inside the window, when one is given): every known customer else.
    NotPurchased,
}

impl Segment {
    fn as_str(self) -> &'static str {
        match self {
            Segment::Interested => "interested",
            Segment::Purchased => "purchased",
            Segment::NotPurchased => "not_purchased",
        }
    }
}

/// A time window for audience queries. All bounds are optional and combine (the window is their intersection).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// Purchases at or after this time.
    pub since: Option<Timestamp>,
    /// Purchases at or before this time.
    pub until: Option<Timestamp>,
    /// Purchases in the last `n` days before the request's `at` (default: the time of the latest order).
    pub within_days: Option<f64>,
}

impl Window {
    /// Whether no bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.within_days.is_none()
    }
}

/// The kind of question, with its own parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// Substitutes for one or more products.
    Alternatives {
        /// The products to replace.
        products: Vec<String>,
    },
    /// What goes with, or is bought next after, one or more products and the context's basket. `products` may
    /// be empty when the context has a basket ("next purchase given the whole basket").
    Complementary {
        /// The products to complement.
        products: Vec<String>,
    },
    /// What is most often in the same order as these products.
    MostSoldWith {
        /// The products.
        products: Vec<String>,
    },
    /// History-based picks for a customer: repeat and due purchases plus what complements their history.
    /// Repeat purchases are allowed.
    CustomerPicks {
        /// Customer id or email.
        customer: String,
    },
    /// What complements a customer's history, excluding everything they bought (discovery).
    CustomerComplementary {
        /// Customer id or email.
        customer: String,
    },
    /// Substitutes for what a customer bought, excluding everything they bought.
    CustomerAlternatives {
        /// Customer id or email.
        customer: String,
    },
    /// From the real-time context only (viewed, basket, clicks, and the customer when known).
    Visitor,
    /// Best sellers, optionally inside a category (and its sub-categories).
    Popular {
        /// Category id.
        category: Option<String>,
    },
    /// Selling more than usual lately, optionally inside a category.
    Trending {
        /// Category id.
        category: Option<String>,
    },
    /// Newest in the catalog, optionally inside a category.
    New {
        /// Category id.
        category: Option<String>,
    },
    /// Customers for a product: ranked by intent, with scores.
    Audience {
        /// The product.
        product: String,
        /// Which customers.
        segment: Segment,
        /// Restricts `purchased` / `not_purchased` to purchases in this window.
        window: Window,
    },
}

impl Query {
    /// The `kind` name used in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Query::Alternatives { .. } => "alternatives",
            Query::Complementary { .. } => "complementary",
            Query::MostSoldWith { .. } => "most_sold_with",
            Query::CustomerPicks { .. } => "customer_picks",
            Query::CustomerComplementary { .. } => "customer_complementary",
            Query::CustomerAlternatives { .. } => "customer_alternatives",
            Query::Visitor => "visitor",
            Query::Popular { .. } => "popular",
            Query::Trending { .. } => "trending",
            Query::New { .. } => "new",
            Query::Audience { .. } => "audience",
        }
    }

    /// Every `kind` name.
    pub const KINDS: [&'static str; 11] = [
        "alternatives",
        "complementary",
        "most_sold_with",
        "customer_picks",
        "customer_complementary",
        "customer_alternatives",
        "visitor",
        "popular",
        "trending",
        "new",
        "audience",
    ];
}

/// A query and its common parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The question.
    pub query: Query,
    /// How many results (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: usize,
    /// How many results to skip (at most [`MAX_OFFSET`]). Pages are slices of one ranked list.
    pub offset: usize,
    /// Ids never to return (products, or customers for audience queries).
    pub exclude: Vec<String>,
    /// A filter expression over product fields and attributes ([`crate::filter`]); product queries only.
    pub filter: Option<String>,
    /// The caller's real-time behaviour.
    pub context: Context,
    /// Whether to attach each product's catalog record.
    pub include_product_data: bool,
    /// Whether the query may fall back when its own signal runs out (default `true`). With `false`, unknown
    /// products and customers are errors and the answer may be shorter than `limit`.
    pub allow_fallback: bool,
    /// The time the query is asked at, for due-ness and windows (default: the model's / data's own "now").
    pub at: Option<Timestamp>,
}

impl Request {
    /// A request with default parameters.
    pub fn new(query: Query) -> Self {
        Request {
            query,
            limit: DEFAULT_LIMIT,
            offset: 0,
            exclude: Vec::new(),
            filter: None,
            context: Context::default(),
            include_product_data: false,
            allow_fallback: true,
            at: None,
        }
    }

    /// Sets `limit`.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets `offset`.
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Sets `exclude`.
    pub fn exclude<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.exclude = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the filter expression.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Sets the context.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// Asks for product data.
    pub fn with_product_data(mut self) -> Self {
        self.include_product_data = true;
        self
    }

    /// Sets `allow_fallback`.
    pub fn allow_fallback(mut self, allow: bool) -> Self {
        self.allow_fallback = allow;
        self
    }

    /// Sets `at`.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }

    /// Checks the limits a decoded request must respect (also applied to requests built in Rust).
    pub fn validate(&self) -> Result<(), QueryError> {
        let max = if matches!(self.query, Query::Audience { .. }) { MAX_AUDIENCE_LIMIT } else { MAX_LIMIT };
        if self.limit > max {
            return Err(QueryError::malformed("limit", format!("must be at most {max}")));
        }
        if self.offset > MAX_OFFSET {
            return Err(QueryError::malformed("offset", format!("must be at most {MAX_OFFSET}")));
        }
        let lists: [(&str, &[String]); 4] = [
            ("exclude", &self.exclude),
            ("context.viewed", &self.context.viewed),
            ("context.basket", &self.context.basket),
            ("context.clicks", &self.context.clicks),
        ];
        for (path, ids) in lists {
            check_ids(path, ids)?;
        }
        match &self.query {
            Query::Alternatives { products } | Query::MostSoldWith { products } => {
                check_ids("products", products)?;
                if products.is_empty() {
                    return Err(QueryError::malformed("products", "needs at least one product"));
                }
            }
            Query::Complementary { products } => {
                check_ids("products", products)?;
                if products.is_empty() && self.context.basket.is_empty() {
                    return Err(QueryError::malformed("products", "needs a product or a context basket"));
                }
            }
            Query::CustomerPicks { customer }
            | Query::CustomerComplementary { customer }
            | Query::CustomerAlternatives { customer } => check_id("customer", customer)?,
            Query::Audience { product, segment, window } => {
                check_id("product", product)?;
                if *segment == Segment::Interested && !window.is_unbounded() {
                    return Err(QueryError::malformed("window", "applies to the purchased and not_purchased segments"));
                }
                if let Some(d) = window.within_days {
                    if !(d.is_finite() && d >= 0.0) {
                        return Err(QueryError::malformed("window.within_days", "must be a number >= 0"));
                    }
                }
                if self.filter.is_some() {
                    return Err(QueryError::malformed("filter", "applies to product results, not audiences"));
                }
            }
            Query::Visitor | Query::Popular { .. } | Query::Trending { .. } | Query::New { .. } => {}
        }
        if let Some(c) = &self.context.customer {
            check_id("context.customer", c)?;
        }
        Ok(())
    }

    /// Decodes a request from JSON text, strictly (see the module docs).
    pub fn from_json(text: &str) -> Result<Request, QueryError> {
        // Strict: a repeated key (`{"kind": "popular", "kind": "audience"}`) has no single meaning.
        let value: Value =
            clerk_core::json::from_str(text).map_err(|e| QueryError::malformed("", format!("not valid JSON: {e}")))?;
        Request::from_value(&value)
    }

    /// Decodes a request from a JSON value, strictly (see the module docs).
    pub fn from_value(value: &Value) -> Result<Request, QueryError> {
        let map = value.as_object().ok_or_else(|| QueryError::malformed("", "expected a JSON object"))?;
        let mut o = Obj::new(map, "");
        let kind = o
            .string("kind")?
            .ok_or_else(|| QueryError::malformed("kind", format!("missing; one of {}", Query::KINDS.join(", "))))?;
        let products = |o: &mut Obj<'_>| o.ids("products").map(Option::unwrap_or_default);
        let customer = |o: &mut Obj<'_>| o.id("customer")?.ok_or_else(|| QueryError::malformed("customer", "missing"));
        let query = match kind.as_str() {
            "alternatives" => Query::Alternatives { products: products(&mut o)? },
            "complementary" => Query::Complementary { products: products(&mut o)? },
            "most_sold_with" => Query::MostSoldWith { products: products(&mut o)? },
            "customer_picks" => Query::CustomerPicks { customer: customer(&mut o)? },
            "customer_complementary" | "customer_discovery" => {
                Query::CustomerComplementary { customer: customer(&mut o)? }
            }
            "customer_alternatives" => Query::CustomerAlternatives { customer: customer(&mut o)? },
            "visitor" => Query::Visitor,
            "popular" => Query::Popular { category: o.id("category")? },
            "trending" => Query::Trending { category: o.id("category")? },
            "new" => Query::New { category: o.id("category")? },
            "audience" => {
                let product = o.id("product")?.ok_or_else(|| QueryError::malformed("product", "missing"))?;
                let segment = match o.string("segment")?.as_deref() {
                    None | Some("interested") => Segment::Interested,
                    Some("purchased") => Segment::Purchased,
                    Some("not_purchased") => Segment::NotPurchased,
                    Some(other) => {
                        return Err(QueryError::malformed(
                            "segment",
                            format!("unknown segment {other:?}; one of interested, purchased, not_purchased"),
                        ))
                    }
                };
                let mut window = Window::default();
                if let Some(mut w) = o.object("window")? {
                    window.since = w.time("since")?;
                    window.until = w.time("until")?;
                    window.within_days = w.number("within_days")?;
                    w.finish("window")?;
                }
                Query::Audience { product, segment, window }
            }
            other => {
                return Err(QueryError::malformed(
                    "kind",
                    format!("unknown kind {other:?}; one of {}", Query::KINDS.join(", ")),
                ))
            }
        };
        let mut r = Request::new(query);
        let max = if matches!(r.query, Query::Audience { .. }) { MAX_AUDIENCE_LIMIT } else { MAX_LIMIT };
        if let Some(n) = o.count("limit", max)? {
            r.limit = n;
        }
        if let Some(n) = o.count("offset", MAX_OFFSET)? {
            r.offset = n;
        }
        r.exclude = o.ids("exclude")?.unwrap_or_default();
        r.filter = o.string("filter")?;
        r.include_product_data = o.boolean("include_product_data")?.unwrap_or(false);
        r.allow_fallback = o.boolean("allow_fallback")?.unwrap_or(true);
        r.at = o.time("at")?;
        if let Some(mut c) = o.object("context")? {
            r.context.customer = c.id("customer")?;
            r.context.viewed = c.ids("viewed")?.unwrap_or_default();
            r.context.basket = c.ids("basket")?.unwrap_or_default();
            r.context.clicks = c.ids("clicks")?.unwrap_or_default();
            c.finish("context")?;
        }
        o.finish(&format!("kind {kind}"))?;
        r.validate()?;
        Ok(r)
    }

    /// The request as the JSON value [`Request::from_value`] reads.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.query.kind().into());
        match &self.query {
            Query::Alternatives { products } | Query::Complementary { products } | Query::MostSoldWith { products } => {
                m.insert("products".into(), products.clone().into());
            }
            Query::CustomerPicks { customer }
            | Query::CustomerComplementary { customer }
            | Query::CustomerAlternatives { customer } => {
                m.insert("customer".into(), customer.clone().into());
            }
            Query::Visitor => {}
            Query::Popular { category } | Query::Trending { category } | Query::New { category } => {
                if let Some(c) = category {
                    m.insert("category".into(), c.clone().into());
                }
            }
            Query::Audience { product, segment, window } => {
                m.insert("product".into(), product.clone().into());
                m.insert("segment".into(), segment.as_str().into());
                if !window.is_unbounded() {
                    let mut w = Map::new();
                    if let Some(t) = window.since {
                        w.insert("since".into(), time_value(t));
                    }
                    if let Some(t) = window.until {
                        w.insert("until".into(), time_value(t));
                    }
                    if let Some(d) = window.within_days {
                        w.insert("within_days".into(), d.into());
                    }
                    m.insert("window".into(), w.into());
                }
            }
        }
        m.insert("limit".into(), self.limit.into());
        if self.offset > 0 {
            m.insert("offset".into(), self.offset.into());
        }
        if !self.exclude.is_empty() {
            m.insert("exclude".into(), self.exclude.clone().into());
        }
        if let Some(f) = &self.filter {
            m.insert("filter".into(), f.clone().into());
        }
        if !self.context.is_empty() {
            m.insert("context".into(), serde_json::to_value(&self.context).unwrap_or(Value::Null));
        }
        if self.include_product_data {
            m.insert("include_product_data".into(), true.into());
        }
        if !self.allow_fallback {
            m.insert("allow_fallback".into(), false.into());
        }
        if let Some(t) = self.at {
            m.insert("at".into(), time_value(t));
        }
        Value::Object(m)
    }
}

fn time_value(t: Timestamp) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        Request::from_value(&v).map_err(serde::de::Error::custom)
    }
}

fn check_id(path: &str, id: &str) -> Result<(), QueryError> {
    if id.is_empty() {
        return Err(QueryError::malformed(path, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(QueryError::malformed(path, format!("longer than {MAX_ID_LEN} bytes")));
    }
    Ok(())
}

fn check_ids(path: &str, ids: &[String]) -> Result<(), QueryError> {
    if ids.len() > MAX_IDS {
        return Err(QueryError::malformed(path, format!("more than {MAX_IDS} ids")));
    }
    for (i, id) in ids.iter().enumerate() {
        check_id(&format!("{path}[{i}]"), id)?;
    }
    Ok(())
}

/// A JSON object being decoded: remembers which fields were read, to reject the others.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    used: HashSet<&'a str>,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, prefix: &str) -> Self {
        Obj { map, prefix: prefix.to_owned(), used: HashSet::new() }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The field's value; `null` counts as absent.
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        let (k, v) = self.map.get_key_value(name)?;
        self.used.insert(k.as_str());
        (!v.is_null()).then_some(v)
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => {
                Err(QueryError::malformed(self.path(name), format!("expected a string, found {}", type_name(v))))
            }
        }
    }

    /// An id: a string, or an integer written as a number.
    fn id(&mut self, name: &str) -> Result<Option<String>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => id_of(v).map(Some).ok_or_else(|| {
                QueryError::malformed(self.path(name), format!("expected an id (string), found {}", type_name(v)))
            }),
        }
    }

    fn ids(&mut self, name: &str) -> Result<Option<Vec<String>>, QueryError> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > MAX_IDS {
                    return Err(QueryError::malformed(path, format!("more than {MAX_IDS} ids")));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        id_of(v).ok_or_else(|| {
                            QueryError::malformed(
                                format!("{path}[{i}]"),
                                format!("expected an id (string), found {}", type_name(v)),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            }
            Some(v) => Err(QueryError::malformed(path, format!("expected an array of ids, found {}", type_name(v)))),
        }
    }

    fn count(&mut self, name: &str, max: usize) -> Result<Option<usize>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max as u64 => Ok(Some(n as usize)),
                Some(_) => Err(QueryError::malformed(self.path(name), format!("must be at most {max}"))),
                None => Err(QueryError::malformed(
                    self.path(name),
                    format!("expected a whole number >= 0, found {}", type_name(v)),
                )),
            },
        }
    }

    fn number(&mut self, name: &str) -> Result<Option<f64>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
                _ => Err(QueryError::malformed(
                    self.path(name),
                    format!("expected a number >= 0, found {}", type_name(v)),
                )),
            },
        }
    }

    fn boolean(&mut self, name: &str) -> Result<Option<bool>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => {
                Err(QueryError::malformed(self.path(name), format!("expected true or false, found {}", type_name(v))))
            }
        }
    }

    fn time(&mut self, name: &str) -> Result<Option<Timestamp>, QueryError> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                Timestamp::parse(s).map(Some).map_err(|e| QueryError::malformed(path, e.to_string()))
            }
            Some(Value::Number(n)) => match n.as_i64().map(Timestamp) {
                Some(t) if (Timestamp::MIN..=Timestamp::MAX).contains(&t) => Ok(Some(t)),
                _ => Err(QueryError::malformed(path, "expected seconds since 1970 between 1900 and 9999")),
            },
            Some(v) => Err(QueryError::malformed(path, format!("expected a time, found {}", type_name(v)))),
        }
    }

    fn object(&mut self, name: &str) -> Result<Option<Obj<'a>>, QueryError> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj::new(m, &format!("{path}.")))),
            Some(v) => Err(QueryError::malformed(path, format!("expected an object, found {}", type_name(v)))),
        }
    }

    /// Rejects any field not read.
    fn finish(self, what: &str) -> Result<(), QueryError> {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !self.used.contains(k.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(QueryError::malformed(self.path(k), format!("unknown field for {what}"))),
        }
    }
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
