//! What importers hand to the Core Importer: [`Record`]s with their [`Location`], and the sync modes and cursors.

use std::fmt;
use std::sync::Arc;

use clerk_core::domain::{Category, Customer, Order, Product, RecordKind, Timestamp};
use serde::{Deserialize, Serialize};

/// One record in the internal format, as an importer read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A product to insert or replace.
    Product(Product),
    /// A category to insert or replace.
    Category(Category),
    /// A customer to insert or replace.
    Customer(Customer),
    /// A whole order. A second `Order` with the same id in one sync is rejected as a duplicate.
    Order(Order),
    /// Some lines of an order whose lines arrive on several places of the source (row-per-line files). Parts with
    /// the same id in one sync are merged into one order; the order's customer and time come from the first part.
    /// The lines of a part come from consecutive lines of the source starting at the record's
    /// [`Location::line`], so a problem with line `i` is reported at line `line + i`.
    OrderPart(Order),
    /// The record of `kind` with this id was removed at the source.
    Delete {
        /// The kind of record.
        kind: RecordKind,
        /// Its id.
        id: String,
    },
}

impl Record {
    /// The kind of record.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Product(_) => RecordKind::Product,
            Record::Category(_) => RecordKind::Category,
            Record::Customer(_) => RecordKind::Customer,
            Record::Order(_) | Record::OrderPart(_) => RecordKind::Order,
            Record::Delete { kind, .. } => *kind,
        }
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        match self {
            Record::Product(p) => &p.id,
            Record::Category(c) => &c.id,
            Record::Customer(c) => &c.id,
            Record::Order(o) | Record::OrderPart(o) => &o.id,
            Record::Delete { id, .. } => id,
        }
    }
}

/// Where a record or a problem sits in a source: file or feed name, line (1-based, as editors count), item
/// (0-based index in a JSON array) and field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file or feed.
    pub source: Arc<str>,
    /// The 1-based line in the source, when it has lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The 0-based index of the item in a JSON array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u64>,
    /// The field (column or JSON field) concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    /// The whole `source`.
    pub fn source(source: impl Into<Arc<str>>) -> Self {
        Location { source: source.into(), line: None, item: None, field: None }
    }

    /// Line `line` of `source`.
    pub fn line(source: &Arc<str>, line: u64) -> Self {
        Location { source: Arc::clone(source), line: Some(line), item: None, field: None }
    }

    /// Item `item` of the array in `source`.
    pub fn item(source: &Arc<str>, item: u64) -> Self {
        Location { source: Arc::clone(source), line: None, item: Some(item), field: None }
    }

    /// The same place, narrowed to `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(item) = self.item {
            write!(f, "[{item}]")?;
        }
        if let Some(field) = &self.field {
            write!(f, " ({field})")?;
        }
        Ok(())
    }
}

/// Where an incremental sync continues: an opaque text the importer returned from its previous sync.
///
/// The importers that ship keep a [`Timestamp`] in it (see [`SyncCursor::from_time`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SyncCursor(pub String);

impl SyncCursor {
    /// A cursor holding a time.
    pub fn from_time(time: Timestamp) -> Self {
        SyncCursor(time.to_string())
    }

    /// The time in the cursor, when it holds one.
    pub fn as_time(&self) -> Option<Timestamp> {
        Timestamp::parse(&self.0).ok()
    }
}

impl fmt::Display for SyncCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a sync reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Everything. Products, categories and customers of the importer's kinds that the feed does not name are
    /// deleted afterwards (orders are history and kept).
    Full,
    /// Only what changed after the cursor; records are upserted, nothing is deleted unless the feed says so.
    Incremental(SyncCursor),
}

impl SyncMode {
    /// Whether this is a full sync.
    pub fn is_full(&self) -> bool {
        matches!(self, SyncMode::Full)
    }

    /// The time in the cursor of an incremental sync (`None` for a full sync or a cursor without a time).
    pub fn after_time(&self) -> Option<Timestamp> {
        match self {
            SyncMode::Full => None,
            SyncMode::Incremental(c) => c.as_time(),
        }
    }
}
