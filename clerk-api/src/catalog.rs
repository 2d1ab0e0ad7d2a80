//! The in-memory catalog snapshot the engine filters and enriches with, built once from the store.
//!
//! Queries never read the store per candidate: the catalog answers "is it indexable", "does it pass the
//! filter", "is it in this category" and "what is its product data" from memory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use clerk_core::domain::{Category, Product};
use clerk_core::intern::FxHashMap;
use clerk_core::store::{DataStore, DataStoreExt, StoreResult};
use futures::TryStreamExt;

/// Products by id and the category tree, as of one read of the store.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    products: FxHashMap<Arc<str>, Arc<Product>>,
    children: HashMap<String, Vec<String>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog of these products and categories.
    pub fn from_parts(
        products: impl IntoIterator<Item = Product>,
        categories: impl IntoIterator<Item = Category>,
    ) -> Self {
        let mut c = Catalog::new();
        for p in products {
            c.products.insert(Arc::from(p.id.as_str()), Arc::new(p));
        }
        for cat in categories {
            if let Some(parent) = cat.parent {
                if parent != cat.id {
                    c.children.entry(parent).or_default().push(cat.id);
                }
            }
        }
        c
    }

    /// Reads every product and category of `store`.
    pub async fn from_store(store: &dyn DataStore) -> StoreResult<Self> {
        let products: Vec<Product> = store.all_products(4096).try_collect().await?;
        let mut categories = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.categories_page(after.as_deref(), 4096).await?;
            let done = page.len() < 4096;
            after = page.last().map(|c| c.id.clone());
            categories.extend(page);
            if done || after.is_none() {
                break;
            }
        }
        Ok(Catalog::from_parts(products, categories))
    }

    /// The product record with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Product>> {
        self.products.get(id)
    }

    /// Whether the catalog has a record with this id.
    pub fn contains(&self, id: &str) -> bool {
        self.products.contains_key(id)
    }

    /// How many products the catalog holds.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Whether a product may be returned: its record is not marked `index: false`. Products the catalog does not
    /// know (seen only in orders) are recommendable, as in [`clerk_core::Dataset::is_indexable`].
    pub fn is_indexable(&self, id: &str) -> bool {
        self.products.get(id).is_none_or(|p| p.index)
    }

    /// The category `id` and all categories below it in the tree.
    pub fn category_and_descendants(&self, id: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(c) = todo.pop() {
            if out.len() > 100_000 {
                break;
            }
            if out.insert(c.clone()) {
                if let Some(kids) = self.children.get(&c) {
                    todo.extend(kids.iter().cloned());
                }
            }
        }
        out
    }

    /// Whether product `id` sits in one of `categories`.
    pub fn in_categories(&self, id: &str, categories: &HashSet<String>) -> bool {
        self.products.get(id).is_some_and(|p| p.categories.iter().any(|c| categories.contains(c)))
    }
}
