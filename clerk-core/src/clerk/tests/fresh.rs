//! A fresh (un-analysed) model answers everything with nothing; unknown ids give empty lists everywhere.

use super::*;
use crate::model::ModelStats;
use crate::model::Relation;
use crate::model::Scored;

fn assert_empty(model: &dyn IntentModel, ids: &[&str]) {
    for id in ids {
        for r in RELATIONS {
            assert!(model.related(id, r, 10).is_empty(), "related({id}, {r:?})");
        }
        assert!(model.customer_affinity(id, None, 10).is_empty(), "customer_affinity({id})");
        assert!(model.customer_affinity(id, Some(Timestamp(T0)), 10).is_empty(), "customer_affinity({id}, at)");
        assert!(model.audience(id, None, 10).is_empty(), "audience({id})");
    }
}

#[test]
fn a_fresh_model_answers_nothing() {
    let model = ClerkCore::new(Settings::default());
    assert_empty(&model, &["p000001", "c00001", ""]);
    for r in RANKINGS {
        assert!(model.ranking(r, 10).is_empty(), "{r:?}");
    }
    assert_eq!(model.stats(), ModelStats::default());
    // Its bytes load into a model that answers nothing either.
    let loaded = model.load(&model.save().unwrap()).unwrap();
    assert_eq!(loaded.stats(), ModelStats::default());
    assert!(loaded.ranking(Ranking::Popular, 10).is_empty());
}

#[test]
fn an_analysis_of_nothing_answers_nothing() {
    let model = ClerkCore::default().analysed(&Dataset::new());
    assert_eq!(model.stats(), ModelStats::default());
    for r in RANKINGS {
        assert!(model.ranking(r, 10).is_empty(), "{r:?}");
    }
    // A catalog without orders: no customer, no bought-together or next; alternatives come from the catalog
    // alone (same type); only "new" ranks.
    let model = ClerkCore::default().analysed(&dataset(&shop().products, &[]));
    assert_eq!(model.stats().orders, 0);
    assert_eq!(model.stats().customers, 0);
    for p in &shop().products {
        assert!(model.related(&p.id, Relation::BoughtTogether, 10).is_empty());
        assert!(model.related(&p.id, Relation::BoughtNext, 10).is_empty());
        assert!(model.audience(&p.id, None, 10).is_empty());
        let need =
            |id: &str| shop().products.iter().find(|q| q.id == id).and_then(|q| q.attributes.get("type").cloned());
        for a in model.related(&p.id, Relation::Alternative, 10) {
            assert_eq!(need(&a.id), need(&p.id), "alternative {} of {} without orders", a.id, p.id);
        }
    }
    assert!(model.stats().relations > 0, "catalog alternatives");
    assert!(model.ranking(Ranking::Popular, 10).is_empty());
    assert!(model.ranking(Ranking::Trending, 10).is_empty());
    assert_eq!(model.ranking(Ranking::New, 10).len(), 10);
}

#[test]
fn unknown_ids_and_zero_limits_give_empty_lists() {
    let model = shop_model();
    assert_empty(model, &["no such id", "", "P000001"]);
    let p = &shop().truth.complementary_pairs[0].0;
    let c = &shop().customers[0].id;
    for r in RELATIONS {
        assert!(model.related(p, r, 0).is_empty());
    }
    assert!(!model.related(p, Relation::BoughtTogether, 10).is_empty(), "the known product is related");
    assert!(model.customer_affinity(c, None, 0).is_empty());
    assert!(!model.customer_affinity(c, None, 10).is_empty(), "the known customer has an affinity");
    assert!(model.audience(p, None, 0).is_empty());
    assert!(model.ranking(Ranking::Popular, 0).is_empty());
}

/// Folding orders into a fresh model gives what an analysis of the same orders gives.
#[test]
fn fold_in_into_a_fresh_model_answers_like_an_analysis() {
    let orders = &shop().orders[..500];
    let model = ClerkCore::default();
    let stats = model.fold_in(orders).unwrap();
    assert_eq!(stats.orders, 500);
    let full = ClerkCore::default().analysed(&dataset(&[], orders));
    // Every count but the alternatives, which fold-in leaves to the next full analysis.
    let (a, b) = (model.stats(), full.stats());
    assert_eq!(
        (a.products, a.customers, a.orders, a.reference_time),
        (b.products, b.customers, b.orders, b.reference_time)
    );
    for r in [Relation::BoughtTogether, Relation::BoughtNext, Relation::SameCustomers] {
        for p in orders.iter().flat_map(|o| &o.lines).map(|l| &l.product_id) {
            assert_eq!(model.related(p, r, 100), full.related(p, r, 100), "{p} {r:?}");
        }
    }
    let c = orders.iter().rev().find_map(|o| o.customer_id.clone()).unwrap();
    // Decayed weights are rescaled as the reference time moves: equal within float rounding.
    let close = |a: Vec<Scored>, b: Vec<Scored>| {
        assert_eq!(a.iter().map(|s| &s.id).collect::<Vec<_>>(), b.iter().map(|s| &s.id).collect::<Vec<_>>());
        for (x, y) in a.iter().zip(&b) {
            assert!((x.score - y.score).abs() <= 1e-5 * y.score.abs().max(1.0), "{x:?} vs {y:?}");
        }
    };
    close(model.customer_affinity(&c, None, 10), full.customer_affinity(&c, None, 10));
    close(model.ranking(Ranking::Popular, 10), full.ranking(Ranking::Popular, 10));
}
