//! The error every `DataStore` returns.

/// What went wrong in a [`DataStore`](super::DataStore) call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record named by id does not exist where the operation needs it to.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// The kind of record.
        kind: crate::domain::RecordKind,
        /// Its id.
        id: String,
    },
    /// The input breaks the store's contract (for example an empty id).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The store does not implement this operation.
    #[error("{operation} is not implemented by {implementer}")]
    NotImplemented {
        /// The operation asked for.
        operation: &'static str,
        /// The store's name.
        implementer: &'static str,
    },
    /// A saved analysis could not be written or read.
    #[error("saved analysis: {0}")]
    Analysis(String),
    /// The backend (database, file system, network) failed.
    #[error("{store} failed: {source}")]
    Backend {
        /// The store's name.
        store: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
