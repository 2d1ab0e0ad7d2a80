//! [`SyncReport`]: what one sync read, stored, rejected and flagged, with the first examples of each reason.

use std::collections::BTreeMap;
use std::fmt;

use clerk_core::domain::{RecordKind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::record::{Location, SyncCursor};
use crate::validate::{FlagReason, RejectReason};

/// Records per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    /// Products.
    pub products: u64,
    /// Categories.
    pub categories: u64,
    /// Customers.
    pub customers: u64,
    /// Orders.
    pub orders: u64,
}

impl KindCounts {
    /// The count of `kind`, mutably.
    pub fn get_mut(&mut self, kind: RecordKind) -> &mut u64 {
        match kind {
            RecordKind::Product => &mut self.products,
            RecordKind::Category => &mut self.categories,
            RecordKind::Customer => &mut self.customers,
            RecordKind::Order => &mut self.orders,
        }
    }

    /// The count of `kind`.
    pub fn get(&self, kind: RecordKind) -> u64 {
        match kind {
            RecordKind::Product => self.products,
            RecordKind::Category => self.categories,
            RecordKind::Customer => self.customers,
            RecordKind::Order => self.orders,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.products + self.categories + self.customers + self.orders
    }
}

/// Order lines of a sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCounts {
    /// Lines read (rows of a row-per-line file, or lines inside order records), rows that could not be read
    /// included.
    pub read: u64,
    /// Lines stored in orders.
    pub stored: u64,
    /// Lines rejected: by a line rule, with a rejected order, or as unreadable rows.
    pub rejected: u64,
}

/// One example of a rejection or a flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Where.
    pub location: Location,
    /// The id of the record, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// What was wrong.
    pub message: String,
}

/// How often one reason occurred, and its first examples.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonStats {
    /// Occurrences: lines for line-level reasons (see [`RejectReason::is_line_level`]), records otherwise.
    pub count: u64,
    /// The first few occurrences.
    pub examples: Vec<Example>,
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum Outcome {
    /// The importer read its whole source (single records may still have been rejected).
    Completed,
    /// The sync stopped early: the store failed or the importer could not go on. What was stored stays stored.
    Failed(String),
}

/// What one sync of one importer did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The importer's name.
    pub importer: String,
    /// Whether it was a full sync.
    pub full: bool,
    /// When the sync started (the Core Importer's clock).
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Timestamp,
    /// Wall time the sync took, in seconds (a proxy for the load it puts on the shop).
    pub duration_secs: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// The cursor the next incremental sync starts from.
    pub cursor: Option<SyncCursor>,
    /// Records read, per kind (order parts of one order count once).
    pub read: KindCounts,
    /// Records stored (inserted or replaced), per kind.
    pub stored: KindCounts,
    /// Records rejected, per kind.
    pub rejected: KindCounts,
    /// Records deleted, per kind (deletions in the feed, and the mirror of a full sync).
    pub deleted: KindCounts,
    /// Records stored with at least one flag, per kind.
    pub flagged: KindCounts,
    /// Order lines.
    pub lines: LineCounts,
    /// Distinct customers of the orders stored in this sync.
    pub customers_in_orders: u64,
    /// Rejections by reason.
    pub rejections: BTreeMap<RejectReason, ReasonStats>,
    /// Flags by reason.
    pub flags: BTreeMap<FlagReason, ReasonStats>,
    /// Why a full sync deleted nothing, when it did not mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_skipped: Option<String>,
}

impl SyncReport {
    /// An empty report of `importer`, started at `started_at`.
    pub fn new(importer: impl Into<String>, full: bool, started_at: Timestamp) -> Self {
        SyncReport {
            importer: importer.into(),
            full,
            started_at,
            finished_at: started_at,
            duration_secs: 0.0,
            outcome: Outcome::Completed,
            cursor: None,
            read: KindCounts::default(),
            stored: KindCounts::default(),
            rejected: KindCounts::default(),
            deleted: KindCounts::default(),
            flagged: KindCounts::default(),
            lines: LineCounts::default(),
            customers_in_orders: 0,
            rejections: BTreeMap::new(),
            flags: BTreeMap::new(),
            mirror_skipped: None,
        }
    }

    /// Whether the sync read its whole source: it completed and no file or feed was unreadable.
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Completed && self.rejected_for(RejectReason::UnreadableSource) == 0
    }

    /// How many times `reason` occurred.
    pub fn rejected_for(&self, reason: RejectReason) -> u64 {
        self.rejections.get(&reason).map_or(0, |s| s.count)
    }

    /// How many times `reason` was flagged.
    pub fn flagged_for(&self, reason: FlagReason) -> u64 {
        self.flags.get(&reason).map_or(0, |s| s.count)
    }

    /// Records written or deleted: the change this sync brought (drives the scheduler).
    pub fn changes(&self) -> u64 {
        self.stored.total() + self.deleted.total()
    }

    /// Rejection counts by reason name, for JSON summaries.
    pub fn rejected_by_reason(&self) -> BTreeMap<&'static str, u64> {
        self.rejections.iter().map(|(r, s)| (r.as_str(), s.count)).collect()
    }
}

fn kinds_line(f: &mut fmt::Formatter<'_>, label: &str, c: &KindCounts) -> fmt::Result {
    writeln!(
        f,
        "  {label:<10} products {:>9}  categories {:>7}  customers {:>7}  orders {:>9}",
        c.products, c.categories, c.customers, c.orders
    )
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match &self.outcome {
            Outcome::Completed => "completed".to_owned(),
            Outcome::Failed(e) => format!("FAILED: {e}"),
        };
        writeln!(
            f,
            "sync of {} ({}) {status} at {} in {:.2} s",
            self.importer,
            if self.full { "full" } else { "incremental" },
            self.finished_at,
            self.duration_secs
        )?;
        kinds_line(f, "read", &self.read)?;
        kinds_line(f, "stored", &self.stored)?;
        kinds_line(f, "rejected", &self.rejected)?;
        kinds_line(f, "deleted", &self.deleted)?;
        kinds_line(f, "flagged", &self.flagged)?;
        writeln!(
            f,
            "  lines      read {}  stored {}  rejected {}; {} distinct customers in stored orders",
            self.lines.read, self.lines.stored, self.lines.rejected, self.customers_in_orders
        )?;
        if let Some(why) = &self.mirror_skipped {
            writeln!(f, "  full-sync deletion skipped: {why}")?;
        }
        let reasons = self
            .rejections
            .iter()
            .map(|(r, s)| ("rejected", r.as_str(), s))
            .chain(self.flags.iter().map(|(r, s)| ("flagged", r.as_str(), s)));
        for (what, reason, stats) in reasons {
            writeln!(f, "  {what} {reason}: {}", stats.count)?;
            for e in &stats.examples {
                let id = if e.id.is_empty() { String::new() } else { format!(" id {:?}", e.id) };
                writeln!(f, "    e.g. {}{id}: {}", e.location, e.message)?;
            }
        }
        Ok(())
    }
}
