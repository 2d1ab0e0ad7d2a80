//! The query look-ups answer alike however they are computed: the dense-index look-ups as the id look-ups (same
//! products, same scores, same order), and an affinity that cuts a long history before scoring it as one that
//! scores every item.

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

/// Every history item scored and ranked: what `customer_affinity` must answer, however it cuts the history.
fn affinity_by_scoring_all(model: &ClerkCore, customer: &str, at: Option<Timestamp>, limit: usize) -> Vec<Scored> {
    let inner = model.read();
    let s = &inner.state;
    let Some(c) = s.customers.get(customer) else { return Vec::new() };
    let scorer = super::super::affinity::Scorer::new(s, &model.settings, at.map_or(s.latest, Timestamp::secs));
    let mut v: Vec<(u32, f32)> = s.history[c as usize]
        .iter()
        .filter(|h| s.indexable[h.product as usize])
        .map(|h| (h.product, scorer.score(h)))
        .filter(|&(_, score)| score > 0.0)
        .collect();
    v.sort_by(|a, b| {
        b.1.total_cmp(&a.1).then_with(|| s.products.ids()[a.0 as usize].cmp(&s.products.ids()[b.0 as usize]))
    });
    v.truncate(limit);
    v.into_iter().map(|(p, score)| Scored { id: s.products.ids()[p as usize].clone(), score }).collect()
}

#[test]
fn affinity_cut_by_bounds_is_the_full_ranking() {
    let shop = shop();
    let data = dataset(&shop.products, &shop.orders);
    let first = shop.orders.iter().map(|o| o.time.secs()).min().unwrap();
    let last = shop.orders.iter().map(|o| o.time.secs()).max().unwrap();
    // The defaults (score = recency alone), then both multiplying factors, whose bounds are looser.
    for settings in [
        Settings::default(),
        Settings { repeat_prior_weight: 0.7, due_weight: 2.0, ..Settings::default() },
        Settings { repeat_prior_weight: 1e30, half_life_days: 2.0, ..Settings::default() },
    ] {
        let model = ClerkCore::new(settings).analysed(&data);
        let mut cut = 0;
        for c in shop.customers.iter().take(60) {
            // The model's own time, a time inside the orders (some purchases after it) and one long after.
            for at in [None, Some(Timestamp((first + last) / 2)), Some(Timestamp(last + 300 * DAY))] {
                for limit in [0, 1, 3, 10, 40] {
                    let want = affinity_by_scoring_all(&model, &c.id, at, limit);
                    assert_eq!(model.customer_affinity(&c.id, at, limit), want, "{} at {at:?} limit {limit}", c.id);
                    let inner = model.read();
                    let s = &inner.state;
                    cut += usize::from(
                        s.customers.get(&c.id).is_some_and(|k| s.history[k as usize].len() > 2 * limit && limit > 0),
                    );
                }
            }
        }
        assert!(cut > 100, "the cut must be exercised ({cut})");
    }
}
