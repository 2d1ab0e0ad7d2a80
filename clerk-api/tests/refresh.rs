//! The engine picks up a newly saved analysis without a restart, and is shared between threads.

mod common;

use std::sync::Arc;

use clerk_api::{Query, QueryEngine, QueryError, Request};
use clerk_core::domain::Timestamp;
use clerk_core::store::{DataStore, SavedAnalysis};
use clerk_core::{Dataset, IntentModel, PopularityModel, Product};
use futures::executor::block_on;

fn saved(model: &dyn IntentModel) -> SavedAnalysis {
    SavedAnalysis {
        version: 0,
        model: model.name().into(),
        format: model.format(),
        data_position: 0,
        created_at: Timestamp(0),
        bytes: model.save().unwrap(),
    }
}

#[test]
fn refresh_installs_a_newer_saved_analysis() {
    block_on(async {
        let store = common::shop().await;
        let engine = QueryEngine::new(store.clone(), Arc::new(PopularityModel::new())).await.unwrap();
        let popular = || Request::new(Query::Popular { category: None }).allow_fallback(false);
        let r = engine.query(popular()).await.unwrap();
        assert!(r.items.is_empty());
        assert_eq!(r.analysis_version, 0);
        assert!(!engine.refresh().await.unwrap(), "nothing saved yet");

        let analysed = PopularityModel::new().analyse(&Dataset::from_store(&*store).await.unwrap()).unwrap();
        store.save_analysis(saved(&*analysed)).await.unwrap();
        // A new product arrives with the analysis: the catalog is re-read too.
        store.upsert_products(vec![Product::new("fresh")]).await.unwrap();
        let shared = engine.clone();
        assert!(shared.refresh().await.unwrap());
        let r = engine.query(popular()).await.unwrap();
        assert_eq!(r.analysis_version, 1);
        assert_eq!(r.ids(), vec!["x", "a", "y", "z"]);
        assert!(engine.snapshot().catalog.contains("fresh"));
        assert!(!engine.refresh().await.unwrap(), "already current");

        let from_saved = QueryEngine::from_saved(store.clone(), Arc::new(PopularityModel::new())).await.unwrap();
        assert_eq!(from_saved.version(), 1);

        // An analysis of another model is refused clearly.
        let mut other = saved(&*analysed);
        other.model = "other".into();
        store.save_analysis(other).await.unwrap();
        assert!(matches!(engine.refresh().await, Err(QueryError::Model(_))));
        assert_eq!(engine.version(), 1, "the old analysis keeps answering");
    });
}

#[test]
fn the_engine_is_shared_between_threads() {
    let engine = block_on(common::engine());
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let body = format!(r#"{{"kind": "popular", "limit": {}}}"#, i + 1);
                    let out = engine.handle_json_now(&body);
                    assert!(out.starts_with("{\"items\""), "{out}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    engine.install_model(Arc::new(common::fixed()), 7);
    assert_eq!(engine.version(), 7);
    let mut blend = engine.blend();
    blend.next = 0.0;
    engine.set_blend(blend);
    let r = engine
        .query_now(&Request::new(Query::Complementary { products: vec!["a".into()] }).allow_fallback(false))
        .unwrap();
    assert_eq!(r.ids(), vec!["x", "y"], "BoughtNext weighs nothing now");
}

/// A model whose answers can be replaced in place, as a fold-in does.
#[derive(Debug)]
struct Mutable(std::sync::RwLock<common::FixedModel>);

impl IntentModel for Mutable {
    fn name(&self) -> &'static str {
        "mutable"
    }
    fn format(&self) -> u32 {
        1
    }
    fn analyse(&self, data: &Dataset) -> Result<Arc<dyn IntentModel>, clerk_core::model::ModelError> {
        self.0.read().unwrap().analyse(data)
    }
    fn fold_in(
        &self,
        _orders: &[clerk_core::Order],
    ) -> Result<clerk_core::model::FoldInStats, clerk_core::model::ModelError> {
        Ok(Default::default())
    }
    fn related(&self, p: &str, r: clerk_core::model::Relation, limit: usize) -> Vec<clerk_core::model::Scored> {
        self.0.read().unwrap().related(p, r, limit)
    }
    fn customer_affinity(&self, c: &str, at: Option<Timestamp>, limit: usize) -> Vec<clerk_core::model::Scored> {
        self.0.read().unwrap().customer_affinity(c, at, limit)
    }
    fn audience(&self, p: &str, at: Option<Timestamp>, limit: usize) -> Vec<clerk_core::model::AudienceMember> {
        self.0.read().unwrap().audience(p, at, limit)
    }
    fn ranking(&self, r: clerk_core::model::Ranking, limit: usize) -> Vec<clerk_core::model::Scored> {
        self.0.read().unwrap().ranking(r, limit)
    }
    fn stats(&self) -> clerk_core::model::ModelStats {
        self.0.read().unwrap().stats()
    }
    fn save(&self) -> Result<Vec<u8>, clerk_core::model::ModelError> {
        Ok(Vec::new())
    }
    fn load(&self, _bytes: &[u8]) -> Result<Arc<dyn IntentModel>, clerk_core::model::ModelError> {
        Err(clerk_core::model::ModelError::Invalid("not saved".into()))
    }
}

#[test]
fn model_answers_are_cached_per_snapshot_until_clear_caches() {
    use clerk_core::model::Relation::Alternative;
    let model = Arc::new(Mutable(std::sync::RwLock::new(common::fixed())));
    let engine = block_on(QueryEngine::new(block_on(common::shop()), model.clone())).unwrap();
    let alternatives = || {
        let r = Request::new(Query::Alternatives { products: vec!["a".into()] }).allow_fallback(false);
        engine.query_now(&r).unwrap().ids().into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(alternatives(), vec!["b", "c"]);
    // The model changes in place (a fold-in): the snapshot keeps its cached lists until told.
    let changed = common::fixed().rel("a", Alternative, &[("k", 1.0), ("d", 0.5)]);
    *model.0.write().unwrap() = changed;
    assert_eq!(alternatives(), vec!["b", "c"], "cached until clear_caches");
    engine.clear_caches();
    assert_eq!(alternatives(), vec!["k", "d"]);
    // New weights are a new snapshot: a smaller depth is not answered from lists cached at the old one.
    let mut blend = engine.blend();
    blend.depth = 1;
    engine.set_blend(blend);
    assert_eq!(alternatives(), vec!["k"]);
}
