//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use clerk_core::domain::{Order, OrderLine, Timestamp};
use clerk_core::MemoryStore;
use clerk_sync::CoreImporter;

/// The fixed "now" of the tests.
pub fn now() -> Timestamp {
    Timestamp::from_parts(2024, 6, 1, 0, 0, 0).expect("valid date")
}

/// A Core Importer over a fresh memory store, with the clock fixed at [`now`].
pub fn core() -> (CoreImporter, MemoryStore) {
    let store = MemoryStore::new();
    let core = CoreImporter::new(Arc::new(store.clone())).with_clock(Arc::new(now));
    (core, store)
}

/// An order at `2024-05-01` with one line per `(product, quantity)`.
pub fn order(id: &str, customer: Option<&str>, lines: &[(&str, f64)]) -> Order {
    let mut o =
        Order::new(id, customer.map(str::to_owned), Timestamp::from_parts(2024, 5, 1, 10, 0, 0).expect("valid"));
    o.lines = lines.iter().map(|(p, q)| OrderLine::new(*p, *q)).collect();
    o
}
