//! # clerk-api
//!
//! The Prediction API: answers customer-intent queries on demand by combining a model's pre-computed intents
//! ([`IntentModel`](clerk_core::IntentModel)), the shop's catalog and orders ([`DataStore`](clerk_core::DataStore))
//! and the caller's real-time behaviour ([`Context`]). It knows nothing of transports: a host wires
//! [`QueryEngine::query`] or the JSON entry point [`QueryEngine::handle_json`] into its own service.
//!
//! ```
//! use std::sync::Arc;
//! use clerk_api::{Context, Query, QueryEngine, Request};
//! use clerk_core::{Dataset, IntentModel, MemoryStore, Order, OrderLine, PopularityModel, Product, Timestamp};
//! use clerk_core::store::DataStore;
//!
//! # futures::executor::block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! store.upsert_products(vec![Product::new("milk"), Product::new("bread"), Product::new("jam")]).await.unwrap();
//! let mut order = Order::new("o1", Some("alice".into()), Timestamp::parse("2024-05-01").unwrap());
//! order.lines = vec![OrderLine::new("milk", 1.0), OrderLine::new("bread", 1.0)];
//! store.append_orders(vec![order]).await.unwrap();
//!
//! let model = PopularityModel::new().analyse(&Dataset::from_store(&*store).await.unwrap()).unwrap();
//! let engine = QueryEngine::new(store, model).await.unwrap();
//!
//! // Next purchase given the basket; the basket itself is never suggested back.
//! let request = Request::new(Query::Complementary { products: vec![] })
//!     .context(Context::new().basket(["milk"]))
//!     .filter("in_stock = true")
//!     .limit(5);
//! let response = engine.query(request).await.unwrap();
//! assert!(!response.ids().contains(&"milk"));
//!
//! let json = engine.handle_json(r#"{"kind": "popular", "limit": 2}"#).await;
//! assert!(json.contains("\"analysis_version\":0"));
//! # });
//! ```
//!
//! Modules: [`engine`] (the [`QueryEngine`] and its [`Snapshot`]), [`request`] and [`response`] (the shapes),
//! [`context`], [`filter`] (the filter language), [`score`] (the [`Blend`] weights), [`fallback`] (the
//! fallback chains), [`catalog`] and [`history`] (the in-memory indexes), [`json`] and [`error`].

pub mod catalog;
pub mod context;
pub mod engine;
pub mod error;
pub mod fallback;
pub mod filter;
pub mod history;
pub mod json;
mod keys;
pub mod request;
pub mod response;
pub mod score;

pub use context::Context;
pub use engine::{QueryEngine, Snapshot};
pub use error::QueryError;
pub use fallback::Fallback;
pub use filter::{Filter, FilterError};
pub use request::{Query, Request, Segment, Window};
pub use response::{CustomerItem, Item, Reason, Response};
pub use score::Blend;
