//! # clerk
//!
//! Learns what a shop's customers intend to buy from its order history and catalog, and answers intent
//! queries on demand. This facade re-exports the three subsystems, arranged around one [`DataStore`]:
//!
//! - [`sync`] (`clerk-sync`): importers and the Core Importer that validate and store shop data;
//! - [`core`] (`clerk-core`): the domain model, the store and model seams, and the ClerkCore analysis;
//! - [`api`] (`clerk-api`): the transport-agnostic query engine;
//! - [`evaluation`]: the offline evaluation protocol, to measure any model on a host's own data.

#[doc(inline)]
pub use clerk_api as api;
#[doc(inline)]
pub use clerk_core as core;
#[doc(inline)]
pub use clerk_core::{DataStore, IntentModel, MemoryStore};
#[doc(inline)]
pub use clerk_sync as sync;

pub mod evaluation;
