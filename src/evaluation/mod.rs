//! Offline evaluation: a time split, the protocol's tasks and metrics, usable on a host's own data.
//!
//! [`Split`] cuts orders at a time into train and test and holds every task's truth; [`Recommender`] is
//! what a model must answer; [`Split::evaluate`] scores it. `examples/evaluate.rs` runs the whole protocol on a
//! CSV file through the importers and the query engine.

mod engine;
pub mod metrics;
mod protocol;

pub use engine::EngineRecommender;

pub use protocol::{
    Alternatives, Audience, CatalogFacts, Hidden, HiddenBasket, ProtocolError, Recommender, Report, Split, TopK, K,
};
