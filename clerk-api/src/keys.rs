//! Dense product keys for one query: every id a query meets is hashed once into a `u32`, and the exclusion,
//! history, filter and category tests work on that key.
//!
//! Keys `0..catalog.len()` are the catalog's own indices; ids only the purchase index knows follow
//! (`catalog.len() + history index`); ids neither knows (a model may return any id) get keys after those, for
//! this query only.

use std::sync::Arc;

use clerk_core::domain::Product;
use clerk_core::intern::FxHashMap;

use crate::catalog::Catalog;
use crate::history::History;

/// No such index.
pub(crate) const NONE: u32 = u32::MAX;

/// The purchase-index product of each catalog product ([`NONE`] when never ordered): built once per catalog
/// and purchase index.
pub(crate) fn history_of_catalog(catalog: &Catalog, history: &History) -> Vec<u32> {
    (0..catalog.len() as u32).map(|i| history.products().get(&catalog.product(i).id).unwrap_or(NONE)).collect()
}

/// The key space of one query.
pub(crate) struct Keys<'a> {
    pub(crate) catalog: &'a Catalog,
    history: &'a History,
    history_of_catalog: &'a [u32],
    n_catalog: u32,
    n_known: u32,
    extra: FxHashMap<Arc<str>, u32>,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(catalog: &'a Catalog, history: &'a History, history_of_catalog: &'a [u32]) -> Self {
        let n_catalog = catalog.len() as u32;
        let n_known = n_catalog.saturating_add(history.products().len() as u32);
        Keys { catalog, history, history_of_catalog, n_catalog, n_known, extra: FxHashMap::default() }
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
        self.extra.insert(Arc::from(id), k);
        k
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
