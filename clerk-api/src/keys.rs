//! Dense product keys for one query: every id a query meets is hashed once into a `u32`, and the exclusion,
//! history, filter and category tests work on that key.
//!
//! Keys `0..catalog.len()` are the catalog's own indices; ids only the purchase index knows follow
//! (`catalog.len() + history index`); ids neither knows (a model may return any id) get keys after those, for
//! this query only.

use std::sync::Arc;

use clerk_core::domain::Product;
use clerk_core::intern::FxHashMap;
use clerk_core::model::IntentModel;

use crate::catalog::Catalog;
use crate::history::History;

/// No such index.
pub(crate) const NONE: u32 = u32::MAX;

/// The purchase-index product of each catalog product ([`NONE`] when never ordered): built once per catalog
/// and purchase index.
pub(crate) fn history_of_catalog(catalog: &Catalog, history: &History) -> Vec<u32> {
    (0..catalog.len() as u32).map(|i| history.products().get(&catalog.product(i).id).unwrap_or(NONE)).collect()
}

/// The model's dense product indices against the catalog's, built once per model and catalog: a look-up that
/// answers in model indices reaches a catalog key with one array read instead of an id hash.
#[derive(Debug, Default)]
pub(crate) struct ModelKeys {
    /// Per model index: the catalog index ([`NONE`] when the catalog has no such product). Empty when the model
    /// has no dense indices, and then the engine asks by id.
    to_catalog: Vec<u32>,
    /// Per catalog index: the model index ([`NONE`] when the model did not know it when this was built).
    from_catalog: Vec<u32>,
}

impl ModelKeys {
    /// The tables of `model` against `catalog` (empty when the model has no dense indices).
    pub(crate) fn new(model: &dyn IntentModel, catalog: &Catalog) -> Self {
        let n = model.product_count();
        let mut from_catalog = if n > 0 { vec![NONE; catalog.len()] } else { Vec::new() };
        let to_catalog = (0..u32::try_from(n).unwrap_or(u32::MAX))
            .map(|i| {
                let k = model.product_id(i).and_then(|id| catalog.index_of(&id)).unwrap_or(NONE);
                if k != NONE {
                    from_catalog[k as usize] = i;
                }
                k
            })
            .collect();
        ModelKeys { to_catalog, from_catalog }
    }

    /// Whether the model answers in dense indices.
    pub(crate) fn indexed(&self) -> bool {
        !self.to_catalog.is_empty()
    }
}

/// The key space of one query.
pub(crate) struct Keys<'a> {
    pub(crate) catalog: &'a Catalog,
    history: &'a History,
    history_of_catalog: &'a [u32],
    n_catalog: u32,
    n_known: u32,
    extra: FxHashMap<Arc<str>, u32>,
    /// The ids of the extra keys, in key order.
    extra_ids: Vec<Arc<str>>,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(catalog: &'a Catalog, history: &'a History, history_of_catalog: &'a [u32]) -> Self {
        let n_catalog = catalog.len() as u32;
        let n_known = n_catalog.saturating_add(history.products().len() as u32);
        Keys {
            catalog,
            history,
            history_of_catalog,
            n_catalog,
            n_known,
            extra: FxHashMap::default(),
            extra_ids: Vec::new(),
        }
    }

    /// The id of a key, shared (`None` for a key this query never made).
    fn arc_id(&self, key: u32) -> Option<&Arc<str>> {
        if key < self.n_catalog {
            Some(self.catalog.id(key))
        } else if key < self.n_known {
            self.history.products().id(key - self.n_catalog)
        } else {
            self.extra_ids.get((key - self.n_known) as usize)
        }
    }

    /// The id of a key (empty for a key this query never made).
    pub(crate) fn id(&self, key: u32) -> &str {
        self.arc_id(key).map_or("", |id| id)
    }

    /// How the ids of two keys order (as the strings do): catalog products by their rank in the catalog.
    pub(crate) fn cmp_ids(&self, a: u32, b: u32) -> std::cmp::Ordering {
        if a < self.n_catalog && b < self.n_catalog {
            self.catalog.cmp_ids(a, b)
        } else {
            self.id(a).cmp(self.id(b))
        }
    }

    /// The id of a key, shared (empty for a key this query never made).
    pub(crate) fn shared_id(&self, key: u32) -> Arc<str> {
        self.arc_id(key).cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// The key of the product at a model index, `None` when the model has no id for it.
    pub(crate) fn of_model(&mut self, model: &dyn IntentModel, mk: &ModelKeys, index: u32) -> Option<u32> {
        match mk.to_catalog.get(index as usize) {
            Some(&k) if k != NONE => Some(k),
            // Not in the catalog, or added to the model after the tables were built.
            _ => model.product_id(index).map(|id| self.key(&id)),
        }
    }

    /// The model index of a key, `None` when the model does not know the product.
    pub(crate) fn to_model(&self, model: &dyn IntentModel, mk: &ModelKeys, key: u32) -> Option<u32> {
        match mk.from_catalog.get(key as usize) {
            Some(&i) if i != NONE => Some(i),
            _ => model.product_index(self.id(key)),
        }
    }

    /// The key of an id (one hash for catalog products).
    pub(crate) fn key(&mut self, id: &str) -> u32 {
        if let Some(i) = self.catalog.index_of(id) {
            return i;
        }
        if let Some(h) = self.history.products().get(id) {
            return self.n_catalog + h;
        }
        if let Some(&k) = self.extra.get(id) {
            return k;
        }
        let k = self.n_known + self.extra.len() as u32;
        let id: Arc<str> = Arc::from(id);
        self.extra.insert(id.clone(), k);
        self.extra_ids.push(id);
        k
    }

    /// The catalog index of a key, when the catalog has the product.
    pub(crate) fn catalog_index(&self, key: u32) -> Option<u32> {
        (key < self.n_catalog).then_some(key)
    }

    /// The catalog record of a key.
    pub(crate) fn product(&self, key: u32) -> Option<&'a Arc<Product>> {
        (key < self.n_catalog).then(|| self.catalog.product(key))
    }

    /// Whether the product may be returned (not marked `index: false`).
    pub(crate) fn indexable(&self, key: u32) -> bool {
        self.product(key).is_none_or(|p| p.index)
    }

    /// The purchase-index product of a key.
    pub(crate) fn history_index(&self, key: u32) -> Option<u32> {
        if key < self.n_catalog {
            Some(self.history_of_catalog[key as usize]).filter(|&h| h != NONE)
        } else if key < self.n_known {
            Some(key - self.n_catalog)
        } else {
            None
        }
    }
}
