//! The error a [`Clerk`](super::Clerk) handle returns.

use clerk_api::QueryError;
use clerk_core::model::ModelError;
use clerk_core::store::StoreError;
use clerk_sync::{ApplyError, ImportError};

/// What went wrong in a [`Clerk`](super::Clerk) call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A query failed (bad request, unknown id with `allow_fallback: false`), or the engine could not install
    /// an analysis.
    #[error("query: {0}")]
    Query(#[from] QueryError),
    /// The model failed to analyse, fold in, save or load.
    #[error("model: {0}")]
    Model(#[from] ModelError),
    /// An importer could not run at all (a sync that ran reports its own problems in its
    /// [`SyncReport`](clerk_sync::SyncReport)).
    #[error("import: {0}")]
    Import(#[from] ImportError),
    /// A real-time update was rejected by validation or the store failed.
    #[error("real-time update: {0}")]
    Apply(#[from] ApplyError),
    /// The handle was configured inconsistently (for example two importers with one name).
    #[error("configuration: {0}")]
    Config(String),
}

/// Result of a [`Clerk`](super::Clerk) call.
pub type ClerkResult<T> = Result<T, ClerkError>;
