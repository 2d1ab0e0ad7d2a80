//! # clerk-core
//!
//! The heart of clerk: the domain model every importer maps into, the two seams a host plugs
//! ([`store::DataStore`] for storage, [`model::IntentModel`] for the analysis), the in-memory reference store,
//! and ClerkCore, the sparse-matrix analysis of customer intent.
//!
//! ```
//! use clerk_core::domain::{Order, OrderLine, Product, Timestamp};
//! use clerk_core::store::{DataStore, MemoryStore};
//!
//! # futures::executor::block_on(async {
//! let store = MemoryStore::new();
//! store.upsert_products(vec![Product::new("milk"), Product::new("bread")]).await.unwrap();
//! let mut order = Order::new("o1", Some("alice".into()), Timestamp::parse("2024-05-01 10:00:00").unwrap());
//! order.lines = vec![OrderLine::new("milk", 1.0), OrderLine::new("bread", 2.0)];
//! store.append_orders(vec![order]).await.unwrap();
//! assert_eq!(store.counts().await.unwrap().order_lines, 2);
//! # });
//! ```

pub mod clerk;
pub mod data;
pub mod domain;
pub mod intern;
pub mod json;
pub mod model;
pub mod store;
pub mod synthetic;

pub use data::Dataset;
pub use domain::{Category, Customer, Order, OrderLine, Product, Timestamp};
pub use model::{IntentModel, PopularityModel};
pub use store::{DataStore, MemoryStore};
