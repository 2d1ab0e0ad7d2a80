//! The restart test: import a shop, analyse it, save the analysis, drop the store, reopen it and answer the same
//! queries with the same results, without analysing again. The answers also match a `MemoryStore` holding the
//! same shop. The scenario is `clerk_core::store::conformance::analysis_survives_reopening`; the `QueryEngine`
//! built on the store before and after the restart is its probe.

#[path = "common/pg.rs"]
mod pg;

use std::sync::Arc;

use clerk_api::QueryEngine;
use clerk_core::clerk::{ClerkCore, Settings};
use clerk_core::store::conformance::{self, Questions};
use clerk_core::store::DataStore;
use clerk_postgres::PgStore;
use futures::executor::block_on;

/// The engine on `store` (from its saved analysis, version 1) answers queries about `q`.
async fn engine_answers(store: Arc<dyn DataStore>, q: Questions) -> Vec<String> {
    let engine = QueryEngine::from_saved(store, Arc::new(ClerkCore::new(Settings::default()))).await.unwrap();
    assert_eq!(engine.version(), 1);
    let mut out = Vec::new();
    for p in &q.products {
        out.push(engine.handle_json(&format!(r#"{{"kind": "complementary", "products": ["{p}"]}}"#)).await);
        out.push(engine.handle_json(&format!(r#"{{"kind": "alternatives", "products": ["{p}"]}}"#)).await);
        out.push(engine.handle_json(&format!(r#"{{"kind": "audience", "product": "{p}", "limit": 20}}"#)).await);
    }
    for c in &q.customers {
        out.push(engine.handle_json(&format!(r#"{{"kind": "customer_picks", "customer": "{c}"}}"#)).await);
    }
    out.push(engine.handle_json(r#"{"kind": "popular"}"#).await);
    for answer in &out {
        assert!(answer.starts_with("{\"items\"") && answer.contains("\"id\""), "{answer}");
    }
    out
}

#[test]
fn a_reopened_store_answers_like_before_the_restart() {
    let Some(server) = pg::server_or_skip("a_reopened_store_answers_like_before_the_restart") else { return };
    server.create_database("restart").unwrap();
    let url = server.url("restart");
    let url = &url;
    // The probe holds the only handle: dropping it closes the store's connections before the reconnect.
    let open = move || async move { PgStore::connect(url).await.map(|s| Arc::new(s) as Arc<dyn DataStore>) };
    block_on(conformance::analysis_survives_reopening(open, engine_answers)).unwrap();
}
