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

/// An importer over records held in memory: for tests, replays, and hosts that already have records in the
/// internal format. A full sync hands over every record; an incremental one too (it has no modification times).
#[derive(Clone, Debug, Default)]
pub struct VecImporter {
    name: String,
    kinds: Vec<RecordKind>,
    items: Vec<Result<Record, SourceError>>,
}

impl VecImporter {
    /// An importer called `name` supplying `kinds`, without records yet.
    pub fn new(name: impl Into<String>, kinds: &[RecordKind]) -> Self {
        VecImporter { name: name.into(), kinds: kinds.to_vec(), items: Vec::new() }
    }

    /// Adds a record.
    pub fn push(&mut self, record: Record) -> &mut Self {
        self.items.push(Ok(record));
        self
    }

    /// Adds a problem of the source.
    pub fn push_error(&mut self, error: SourceError) -> &mut Self {
        self.items.push(Err(error));
        self
    }

    /// Adds records.
    pub fn with(mut self, records: impl IntoIterator<Item = Record>) -> Self {
        self.items.extend(records.into_iter().map(Ok));
        self
    }
}

#[async_trait]
impl Importer for VecImporter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<RecordKind> {
        self.kinds.clone()
    }

    async fn read(&mut self, _mode: &SyncMode, sink: &mut dyn RecordSink) -> Result<SyncCursor, ImportError> {
        let source: std::sync::Arc<str> = std::sync::Arc::from(self.name.as_str());
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Ok(record) => sink.record(Location::item(&source, i as u64), record.clone()).await?,
                Err(e) => sink.source_error(e.clone()),
            }
        }
        Ok(SyncCursor(String::new()))
    }
}
