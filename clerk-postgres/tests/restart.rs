//! The restart test: import a shop, analyse it, save the analysis, drop the store, reopen it and answer the same
//! queries with the same results, without analysing again. The answers also match a `MemoryStore` holding the
//! same shop.

#[path = "common/pg.rs"]
mod pg;

use std::sync::Arc;

use clerk_api::QueryEngine;
use clerk_core::clerk::{ClerkCore, Settings};
use clerk_core::model::{IntentModel, Relation};
use clerk_core::store::{DataStore, MemoryStore, SavedAnalysis};
use clerk_core::synthetic::{ShopConfig, SyntheticShop};
use clerk_core::{Dataset, Timestamp};
use clerk_postgres::PgStore;
use futures::executor::block_on;

/// The questions asked before and after the restart: model look-ups and engine queries.
struct Questions {
    products: Vec<String>,
    customers: Vec<String>,
}

fn model_answers(model: &dyn IntentModel, q: &Questions) -> Vec<String> {
    let mut out = Vec::new();
    for p in &q.products {
        for relation in [Relation::BoughtTogether, Relation::BoughtNext, Relation::Alternative] {
            out.push(format!("{p} {relation:?}: {:?}", model.related(p, relation, 10)));
        }
        out.push(format!("{p} audience: {:?}", model.audience(p, None, 10)));
    }
    for c in &q.customers {
        out.push(format!("{c} affinity: {:?}", model.customer_affinity(c, None, 10)));
    }
    out
}

async fn engine_answers(engine: &QueryEngine, q: &Questions) -> Vec<String> {
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
    out
}

fn template() -> Arc<dyn IntentModel> {
    Arc::new(ClerkCore::new(Settings::default()))
}

#[test]
fn a_reopened_store_answers_like_before_the_restart() {
    let Some(server) = pg::server_or_skip("a_reopened_store_answers_like_before_the_restart") else { return };
    server.create_database("restart").unwrap();
    let url = server.url("restart");
    let shop = SyntheticShop::generate(&ShopConfig::small());
    let questions = Questions {
        products: shop.products.iter().step_by(37).map(|p| p.id.clone()).collect(),
        customers: shop.customers.iter().step_by(23).map(|c| c.id.clone()).collect(),
    };
    assert!(questions.products.len() >= 5 && questions.customers.len() >= 5);

    let (model_before, engine_before) = block_on(async {
        let store = PgStore::connect(&url).await.unwrap();
        shop.load_into(&store).await.unwrap();
        let data = Dataset::from_store(&store).await.unwrap();
        let model = template().analyse(&data).unwrap();
        let version = store
            .save_analysis(SavedAnalysis {
                version: 0,
                model: model.name().into(),
                format: model.format(),
                data_position: data.position,
                created_at: Timestamp(0),
                bytes: model.save().unwrap(),
            })
            .await
            .unwrap();
        assert_eq!(version, 1);
        let engine = QueryEngine::from_saved(Arc::new(store), template()).await.unwrap();
        assert_eq!(engine.version(), 1);
        let answers = (model_answers(&*model, &questions), engine_answers(&engine, &questions).await);

        // The same shop in the reference store gives the same answers.
        let memory = Arc::new(MemoryStore::new());
        shop.load_into(&*memory).await.unwrap();
        let reference = template().analyse(&Dataset::from_store(&*memory).await.unwrap()).unwrap();
        assert_eq!(model_answers(&*reference, &questions), answers.0, "PostgreSQL and memory analyses differ");
        answers
    });
    assert!(model_before.iter().any(|a| a.contains("score")), "the questions should have non-empty answers");
    for answer in &engine_before {
        assert!(answer.starts_with("{\"items\"") && answer.contains("\"id\""), "{answer}");
    }
    // The engine built above held the only handle: the store's connections are closed now.

    block_on(async {
        let store = PgStore::connect(&url).await.unwrap();
        let saved = store.load_analysis().await.unwrap().expect("the analysis survives the restart");
        assert_eq!(saved.version, 1);
        let model = template().load(&saved.bytes).unwrap();
        assert_eq!(model_answers(&*model, &questions), model_before);
        let engine = QueryEngine::from_saved(Arc::new(store), template()).await.unwrap();
        assert_eq!(engine.version(), 1);
        assert_eq!(engine_answers(&engine, &questions).await, engine_before);
    });
}
