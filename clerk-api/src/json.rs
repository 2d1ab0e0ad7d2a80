//! The JSON entry point: a request as JSON text in, the response or an error as JSON text out.
//!
//! Any transport is one line of glue around [`QueryEngine::handle_json`]. It never panics and always returns
//! a JSON object: the [`Response`](crate::Response), or `{"error": {"kind", "message", ...}}` (see
//! [`QueryError::to_json`]). The shapes are documented with examples in `docs/api.md`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::Request;

/// The largest request body accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

impl QueryEngine {
    /// Answers a JSON request with a JSON response or a JSON error; never panics.
    pub async fn handle_json(&self, body: &str) -> String {
        self.handle_json_now(body)
    }

    /// [`handle_json`](Self::handle_json) without awaiting (queries never wait on I/O).
    pub fn handle_json_now(&self, body: &str) -> String {
        let result = catch_unwind(AssertUnwindSafe(|| self.json_result(body)))
            .unwrap_or_else(|_| Err(QueryError::Internal("the query panicked".into())));
        match result {
            Ok(text) => text,
            Err(e) => error_json(&e),
        }
    }

    fn json_result(&self, body: &str) -> Result<String, QueryError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(QueryError::malformed("", format!("request larger than {MAX_REQUEST_BYTES} bytes")));
        }
        let request = Request::from_json(body)?;
        let response = self.query_now(&request)?;
        serde_json::to_string(&response).map_err(|e| QueryError::Internal(e.to_string()))
    }
}

/// The JSON text of an error.
pub fn error_json(error: &QueryError) -> String {
    error.to_json().to_string()
}
