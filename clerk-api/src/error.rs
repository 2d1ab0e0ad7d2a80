//! The errors a query returns.

use clerk_core::model::ModelError;
use clerk_core::store::StoreError;
use serde_json::{json, Value};

use crate::filter::FilterError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A product the request depends on is unknown to the catalog, the orders and the model. Returned by
    /// `audience` always, and by product-based queries only when `allow_fallback` is `false` (otherwise they
    /// fall back).
    #[error("unknown product {id:?}")]
    UnknownProduct {
        /// The id asked for.
        id: String,
    },
    /// The customer is unknown to the orders and the model. Returned by customer-based queries only when
    /// `allow_fallback` is `false` (otherwise a cold customer falls back).
    #[error("unknown customer {id:?}")]
    UnknownCustomer {
        /// The id or email asked for.
        id: String,
    },
    /// The request is not valid JSON or not a valid request. `path` names the offending field
    /// (`products[2]`, `context.basket`), empty for the whole document.
    #[error("malformed request at {}: {message}", if path.is_empty() { "the top level" } else { path.as_str() })]
    Malformed {
        /// Where in the request, as `field.sub[index]`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The filter does not parse.
    #[error("invalid filter: expected {expected} at {position}, found {found}")]
    InvalidFilter {
        /// Byte offset in the filter text.
        position: usize,
        /// What was expected there.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The store failed (refresh and install only; queries never read the store).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A saved analysis could not be loaded (refresh only).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A bug: a query panicked. Reported by the JSON entry point instead of unwinding into the host.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<FilterError> for QueryError {
    fn from(e: FilterError) -> Self {
        QueryError::InvalidFilter { position: e.position, expected: e.expected, found: e.found }
    }
}

impl QueryError {
    /// A malformed-request error.
    pub fn malformed(path: impl Into<String>, message: impl Into<String>) -> Self {
        QueryError::Malformed { path: path.into(), message: message.into() }
    }

    /// The error's kind as it appears in JSON: `unknown_product`, `unknown_customer`, `malformed`,
    /// `invalid_filter`, `store`, `model` or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            QueryError::UnknownProduct { .. } => "unknown_product",
            QueryError::UnknownCustomer { .. } => "unknown_customer",
            QueryError::Malformed { .. } => "malformed",
            QueryError::InvalidFilter { .. } => "invalid_filter",
            QueryError::Store(_) => "store",
            QueryError::Model(_) => "model",
            QueryError::Internal(_) => "internal",
        }
    }

    /// The JSON error document: `{"error": {"kind": ..., "message": ..., <details>}}`.
    pub fn to_json(&self) -> Value {
        let mut e = json!({ "kind": self.kind(), "message": self.to_string() });
        match self {
            QueryError::UnknownProduct { id } | QueryError::UnknownCustomer { id } => e["id"] = json!(id),
            QueryError::Malformed { path, .. } => e["path"] = json!(path),
            QueryError::InvalidFilter { position, expected, found } => {
                e["position"] = json!(position);
                e["expected"] = json!(expected);
                e["found"] = json!(found);
            }
            _ => {}
        }
        json!({ "error": e })
    }
}
