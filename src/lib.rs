//! # clerk
//!
//! Learns what a shop's customers intend to buy from its order history and catalog, and answers intent
//! queries on demand. This facade re-exports the three subsystems, arranged around one [`DataStore`]:
//!
//! - [`sync`] (`clerk-sync`): importers and the Core Importer that validate and store shop data;
//! - [`core`] (`clerk-core`): the domain model, the store and model seams, and the ClerkCore analysis;
//! - [`api`] (`clerk-api`): the transport-agnostic query engine;
//! - [`evaluation`]: the offline evaluation protocol, to measure any model on a host's own data;
//! - [`platform`]: [`Clerk`], the platform in one handle: a store, a model and importers wired together, run from
//!   the host's own loop ([`Clerk::run_due`]), fed real-time updates ([`Clerk::apply`]) and asked queries
//!   ([`Clerk::query`], [`Clerk::handle_json`]).
//!
//! ```
//! use clerk::Clerk;
//! use clerk::api::{Query, Request};
//! use clerk::core::domain::{Order, OrderLine, Product, Timestamp};
//! use clerk::sync::RealtimeUpdate;
//!
//! # futures::executor::block_on(async {
//! let clerk = Clerk::in_memory().await.unwrap();
//! clerk.apply(RealtimeUpdate::Product(Product::new("milk"))).await.unwrap();
//! let mut order = Order::new("o1", Some("alice".into()), Timestamp::parse("2024-05-01").unwrap());
//! order.lines = vec![OrderLine::new("milk", 1.0)];
//! clerk.apply(RealtimeUpdate::Order(order)).await.unwrap();
//!
//! // Before the first analysis the answer is provisional, and says so.
//! let answer = clerk.query(Request::new(Query::Popular { category: None })).await.unwrap();
//! assert_eq!((answer.model.as_str(), answer.ids()), ("provisional", vec!["milk"]));
//! assert!(answer.fallback.is_some());
//!
//! clerk.run_due(Timestamp::parse("2024-05-02").unwrap()).await.unwrap(); // the first analysis
//! let answer = clerk.query(Request::new(Query::Popular { category: None })).await.unwrap();
//! assert_eq!((answer.model.as_str(), answer.analysis_version), ("clerk-core", 1));
//! # });
//! ```

#[doc(inline)]
pub use clerk_api as api;
#[doc(inline)]
pub use clerk_core as core;
#[doc(inline)]
pub use clerk_core::{DataStore, IntentModel, MemoryStore};
#[doc(inline)]
pub use clerk_sync as sync;

pub mod evaluation;
pub mod platform;

#[doc(inline)]
pub use platform::{AnalysisPolicy, Clerk, ClerkBuilder, ClerkError, RunReport};
