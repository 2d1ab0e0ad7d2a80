//! Errors of a sync: what stops an importer as a whole ([`ImportError`]) and what is wrong with one record of a
//! source ([`SourceError`], reported per record and never fatal).

use clerk_core::domain::RecordKind;
use clerk_core::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::record::Location;
use crate::validate::RejectReason;

/// An error that stops a sync as a whole: the store failed, or the importer cannot run at all.
///
/// Problems of single records or rows are never an `ImportError`: they are [`SourceError`]s handed to the sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The store failed while records were written.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The importer is configured wrongly (missing column mapping, no source).
    #[error("configuration: {0}")]
    Config(String),
    /// Reading the source failed in a way that stops the importer.
    #[error("{source_name}: {error}")]
    Io {
        /// The file or feed being read.
        source_name: String,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// Any other failure of a host's own importer.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A problem with one record or row of a source: where it is, why it was not taken, and a message for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{location}: {reason}: {message}")]
pub struct SourceError {
    /// Where in the source.
    pub location: Location,
    /// The reason, as counted in the [`SyncReport`](crate::SyncReport).
    pub reason: RejectReason,
    /// The kind of record the row or item was meant to be, when known (it is then counted as read and rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RecordKind>,
    /// The record's id, when it could be read.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Order lines lost with this error (rows of a row-per-line order file); counted as read and rejected lines.
    #[serde(default)]
    pub lines: u64,
    /// What exactly was wrong.
    pub message: String,
}

impl SourceError {
    /// A source error at `location`.
    pub fn new(location: Location, reason: RejectReason, message: impl Into<String>) -> Self {
        SourceError { location, reason, kind: None, id: String::new(), lines: 0, message: message.into() }
    }

    /// The same error, about a record of `kind`.
    pub fn of_kind(mut self, kind: RecordKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The same error, losing `lines` order lines.
    pub fn losing_lines(mut self, lines: u64) -> Self {
        self.lines = lines;
        self
    }

    /// The same error, about the record with this id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
}
