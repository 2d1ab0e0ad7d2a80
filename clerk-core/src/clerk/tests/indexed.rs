//! The dense-index look-ups answer what the id look-ups answer: same products, same scores, same order.

use super::*;

fn by_id(model: &ClerkCore, v: Vec<(u32, f32)>) -> Vec<Scored> {
    v.into_iter()
        .map(|(p, score)| Scored { id: model.product_id(p).expect("an index the model gave"), score })
        .collect()
}

#[test]
fn indexed_look_ups_match_the_id_look_ups() {
    let model = shop_model();
    let n = model.product_count();
    assert!(n > 0);
    for p in 0..n as u32 {
        let id = model.product_id(p).unwrap();
        assert_eq!(model.product_index(&id), Some(p));
    }
    assert_eq!(model.product_id(n as u32), None);
    assert_eq!(model.product_index("no such product"), None);
    let shop = shop();
    // Seeds of a few sizes, with weights, one unknown index and a weight that is no weight.
    for k in 0..20usize {
        let seeds: Vec<(u32, f32)> =
            (0..(k % 6) + 1).map(|j| (((k * 37 + j * 101) % n) as u32, 1.0 / (j + 1) as f32)).collect();
        let mut with_bad = seeds.clone();
        with_bad.push((n as u32 + 5, 1.0));
        with_bad.push((seeds[0].0, f32::NAN));
        let scored: Vec<Scored> =
            seeds.iter().map(|&(p, w)| Scored { id: model.product_id(p).unwrap(), score: w }).collect();
        for relation in [Relation::BoughtTogether, Relation::BoughtNext, Relation::Alternative, Relation::SameCustomers]
        {
            for (per_seed, limit) in [(10, 100), (100, 5)] {
                let want = model.related_to_set(&scored, relation, per_seed, limit);
                assert_eq!(by_id(model, model.related_to_set_indexed(&seeds, relation, per_seed, limit)), want);
                assert_eq!(by_id(model, model.related_to_set_indexed(&with_bad, relation, per_seed, limit)), want);
            }
        }
    }
    let mut customers_with_affinity = 0;
    for c in shop.customers.iter().take(40) {
        for at in [None, Some(Timestamp(shop.orders[0].time.secs() + 400 * DAY))] {
            let want = model.customer_affinity(&c.id, at, 100);
            customers_with_affinity += usize::from(!want.is_empty());
            assert_eq!(by_id(model, model.customer_affinity_indexed(&c.id, at, 100)), want);
        }
        for new_only in [false, true] {
            let want = model.bought_by_similar(&c.id, new_only, 100);
            assert_eq!(by_id(model, model.bought_by_similar_indexed(&c.id, new_only, 100)), want);
        }
    }
    assert!(customers_with_affinity > 20);
    assert!(model.customer_affinity_indexed("no such customer", None, 10).is_empty());
}
