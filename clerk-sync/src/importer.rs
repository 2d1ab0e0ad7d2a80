//! The [`Importer`] trait platform importers implement, and the [`RecordSink`] they feed.

use std::fmt::Debug;

use async_trait::async_trait;
use clerk_core::domain::RecordKind;

use crate::error::{ImportError, SourceError};
use crate::record::{Location, Record, SyncCursor, SyncMode};

/// Where an importer puts what it reads: the Core Importer's side of a sync.
///
/// Records are validated and stored in batches as they arrive, so an importer streams: it never needs to hold
/// its whole source in memory.
#[async_trait]
pub trait RecordSink: Send {
    /// Takes one record read at `location`. An error means the store failed: the importer should stop and return
    /// it.
    async fn record(&mut self, location: Location, record: Record) -> Result<(), ImportError>;

    /// Takes a problem with one record or row of the source (unreadable row, unparseable field). It is counted and
    /// reported; the importer goes on with the next record.
    fn source_error(&mut self, error: SourceError);
}

/// A source of shop data: a platform's API, a file format, a host's own database.
///
/// An importer maps what it reads into [`Record`]s of the internal format and hands them to the sink, with their
/// location. It reports problems with single records through [`RecordSink::source_error`] and goes on; it
/// returns `Err` only when it cannot go on at all (or when the sink says the store failed).
#[async_trait]
pub trait Importer: Send + Sync + Debug + 'static {
    /// A short, stable name, used in reports, data health and the scheduler.
    fn name(&self) -> &str;

    /// The kinds of records this importer supplies. After a full sync the Core Importer deletes stored products,
    /// categories and customers of these kinds that the feed did not name; orders are never deleted that way.
    fn kinds(&self) -> Vec<RecordKind>;

    /// Reads the source: everything for [`SyncMode::Full`], or what changed after the cursor for
    /// [`SyncMode::Incremental`]. Returns the cursor the next incremental sync should start from.
    async fn read(&mut self, mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError>;
}
