//! Save and load: a loaded analysis answers as the saved one (without re-analysing), re-saves to the same
//! bytes, and garbage never panics.

use super::*;
use crate::model::{ModelError, PopularityModel};

/// Settings other than the defaults: a loaded analysis must answer with the settings it was saved with.
fn other_settings() -> Settings {
    Settings { half_life_days: 3.0, due_weight: 2.0, top_k: 1, threads: Some(1), ..Settings::default() }
}

#[test]
fn a_saved_shop_analysis_loads_and_answers_the_same() {
    let shop = shop();
    let model = shop_model();
    let bytes = model.save().unwrap();
    // A later process: a fresh model with other settings loads the bytes, no data at hand.
    let loaded = ClerkCore::new(other_settings()).load(&bytes).unwrap();
    assert_eq!(loaded.name(), "clerk-core");
    assert_eq!(loaded.stats(), model.stats());
    assert_eq!(loaded.save().unwrap(), bytes, "re-saved bytes are identical");
    let products: Vec<String> = shop.products.iter().map(|p| p.id.clone()).collect();
    let customers: Vec<String> = shop.customers.iter().take(60).map(|c| c.id.clone()).collect();
    let at = Some(Timestamp(shop.end().secs() + 5 * DAY));
    assert_eq!(answers(&*loaded, &products, &customers, None), answers(model, &products, &customers, None));
    assert_eq!(answers(&*loaded, &products, &customers, at), answers(model, &products, &customers, at));
    assert!(model.stats().relations > 0 && !model.customer_affinity(&customers[0], None, 10).is_empty());
}

#[test]
fn loading_garbage_is_an_error() {
    let model = ClerkCore::default();
    assert!(matches!(model.load(&[]), Err(ModelError::Corrupt(_))));
    assert!(matches!(model.load(b"not an analysis"), Err(ModelError::Corrupt(_))));
    let bytes = shop_model().save().unwrap();
    for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(model.load(&bytes[..cut]), Err(ModelError::Corrupt(_))), "cut at {cut}");
    }
}

fn check_round_trip(model: &ClerkCore, shop: &Shop, exact: bool) -> Result<(), TestCaseError> {
    let (ids, keys) = (shop.product_ids(), shop.customer_keys());
    let bytes = model.save().unwrap();
    let loaded = ClerkCore::default().load(&bytes).unwrap();
    prop_assert_eq!(loaded.save().unwrap(), bytes);
    prop_assert_eq!(loaded.stats(), model.stats());
    let (a, b) = (answers(&*loaded, &ids, &keys, None), answers(model, &ids, &keys, None));
    prop_assert_eq!(a.related, b.related);
    prop_assert_eq!(a.affinity, b.affinity);
    prop_assert_eq!(a.rankings, b.rankings);
    if exact {
        prop_assert_eq!(a.audience, b.audience);
    } else {
        for (x, y) in a.audience.iter().zip(&b.audience) {
            let mut x: Vec<_> = x.iter().map(|m| (m.customer.clone(), m.score, m.last_purchase)).collect();
            let mut y: Vec<_> = y.iter().map(|m| (m.customer.clone(), m.score, m.last_purchase)).collect();
            x.sort_by(|a, b| a.0.cmp(&b.0));
            y.sort_by(|a, b| a.0.cmp(&b.0));
            prop_assert_eq!(x.len(), y.len());
            for (m, n) in x.iter().zip(&y) {
                prop_assert!(m.0 == n.0 && m.2 == n.2 && (m.1 - n.1).abs() <= 1e-5 * m.1.abs(), "{:?} vs {:?}", m, n);
            }
        }
    }
    Ok(())
}

/// Every look-up, to see that a loaded model does not panic.
fn ask_everything(model: &dyn IntentModel, products: &[String], customers: &[String]) {
    let _ = answers(model, products, customers, None);
    let _ = model.stats();
    let _ = model.save();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Round trip on random shops: every answer, and the bytes.
    #[test]
    fn save_load_round_trips(shop in shop_strategy(0..40, true), settings in settings_strategy()) {
        let model = ClerkCore::new(settings).analysed(&shop.data());
        check_round_trip(&model, &shop, true)?;
    }

    /// After a fold-in, the state round-trips and every answer but the audience scores is identical; those
    /// agree within float rounding (see `round_trip_after_fold_in_is_exact`).
    #[test]
    fn save_load_round_trips_after_fold_in(shop in shop_strategy(0..40, false), settings in settings_strategy(), k in any::<prop::sample::Index>()) {
        let k = k.index(shop.orders.len() + 1);
        let model = ClerkCore::new(settings).analysed(&dataset(&shop.products, &shop.orders[..k]));
        model.fold_in(&shop.orders[k..]).unwrap();
        check_round_trip(&model, &shop, false)?;
    }

    #[test]
    fn round_trip_after_fold_in_is_exact(shop in shop_strategy(0..40, false), settings in settings_strategy(), k in any::<prop::sample::Index>()) {
        let k = k.index(shop.orders.len() + 1);
        let model = ClerkCore::new(settings).analysed(&dataset(&shop.products, &shop.orders[..k]));
        model.fold_in(&shop.orders[k..]).unwrap();
        check_round_trip(&model, &shop, true)?;
    }

    /// Random bytes: an error, or a model that answers without panicking.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(model) = ClerkCore::default().load(&bytes) {
            ask_everything(&*model, &["p00".into()], &["c0".into()]);
        }
    }

    /// Truncated valid bytes are always an error.
    #[test]
    fn truncated_bytes_are_an_error(shop in shop_strategy(0..20, true), cut in any::<prop::sample::Index>()) {
        let bytes = ClerkCore::default().analysed(&shop.data()).save().unwrap();
        let cut = cut.index(bytes.len());
        prop_assert!(matches!(ClerkCore::default().load(&bytes[..cut]), Err(ModelError::Corrupt(_))));
    }

    /// Valid bytes with one byte changed: an error, or a model that answers without panicking.
    #[test]
    fn corrupted_bytes_never_panic(shop in shop_strategy(0..20, false), at in any::<prop::sample::Index>(), xor in 1..=255u8) {
        let mut bytes = ClerkCore::default().analysed(&shop.data()).save().unwrap();
        let at = at.index(bytes.len());
        bytes[at] ^= xor;
        if let Ok(model) = ClerkCore::default().load(&bytes) {
            ask_everything(&*model, &shop.product_ids(), &shop.customer_keys());
        }
    }
}

/// Bytes of another model are not mistaken for a ClerkCore analysis (and never panic).
#[test]
fn bytes_of_another_model_are_an_error() {
    let data = dataset(&shop().products, &shop().orders);
    let other = PopularityModel::new().analyse(&data).unwrap().save().unwrap();
    assert!(ClerkCore::default().load(&other).is_err());
}
