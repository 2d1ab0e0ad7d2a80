//! The in-memory catalog snapshot the engine filters and enriches with, built once from the store.
//!
//! Queries never read the store per candidate: the catalog answers "is it indexable", "does it pass the
//! filter", "is it in this category" and "what is its product data" from memory.

use std::collections::HashSet;
use std::sync::Arc;

use clerk_core::domain::{Category, Product};
use clerk_core::intern::{ranks_by_id, FxHashMap, Interner};
use clerk_core::store::{DataStore, DataStoreExt, StoreResult};
use futures::TryStreamExt;

/// Products by id and the category tree, as of one read of the store.
///
/// Products and categories are interned to dense indices: a product id is hashed once per candidate
/// ([`index_of`](Self::index_of)), and everything else about it (indexable, categories, record) is an array
/// read. Category ids are interned too, so category tests compare integers.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    index: ProductIndex,
    products: Vec<Arc<Product>>,
    /// Interned category ids of every product (`product_categories[cat_start[i]..cat_start[i + 1]]`).
    cat_start: Vec<u32>,
    product_categories: Vec<u32>,
    categories: Interner,
    /// Sub-categories by category index.
    children: Vec<Vec<u32>>,
    /// Per product: the position of its id among all ids in string order, so that ties between scores break
    /// by id without reading two strings through pointers.
    id_rank: Vec<u32>,
    /// Per product: its id, shared, so that an answer's items clone a pointer instead of allocating a string.
    ids: Vec<Arc<str>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Catalog { cat_start: vec![0], ..Self::default() }
    }

    /// A catalog of these products and categories (a later record of the same id replaces an earlier one).
    pub fn from_parts(
        products: impl IntoIterator<Item = Product>,
        categories: impl IntoIterator<Item = Category>,
    ) -> Self {
        let mut c = Catalog::new();
        for p in products {
            match c.index.get(&p.id) {
                Some(i) => c.products[i as usize] = Arc::new(p),
                None => {
                    let i = u32::try_from(c.products.len()).expect("more than 4 billion products");
                    c.index.insert(&p.id, i);
                    c.products.push(Arc::new(p));
                }
            }
        }
        for p in &c.products {
            for cat in &p.categories {
                let k = c.categories.intern(cat);
                c.product_categories.push(k);
            }
            c.cat_start.push(u32::try_from(c.product_categories.len()).expect("more than 4 billion categories"));
        }
        for cat in categories {
            if let Some(parent) = cat.parent {
                if parent != cat.id {
                    let parent = c.categories.intern(&parent);
                    let child = c.categories.intern(&cat.id);
                    c.children.resize(c.categories.len(), Vec::new());
                    c.children[parent as usize].push(child);
                }
            }
        }
        c.children.resize(c.categories.len(), Vec::new());
        c.ids = c.products.iter().map(|p| Arc::from(p.id.as_str())).collect();
        c.id_rank = ranks_by_id(&c.ids);
        c
    }

    /// The id of the product at a dense index, shared.
    pub(crate) fn id(&self, index: u32) -> &Arc<str> {
        &self.ids[index as usize]
    }

    /// How the ids of two products at dense indices order (as the id strings do).
    pub(crate) fn cmp_ids(&self, a: u32, b: u32) -> std::cmp::Ordering {
        self.id_rank[a as usize].cmp(&self.id_rank[b as usize])
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

    /// The dense index of a product id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(id)
    }

    /// The product record at a dense index.
    pub fn product(&self, index: u32) -> &Arc<Product> {
        &self.products[index as usize]
    }

    /// The product record with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Product>> {
        self.index_of(id).map(|i| self.product(i))
    }

    /// Whether the catalog has a record with this id.
    pub fn contains(&self, id: &str) -> bool {
        self.index.get(id).is_some()
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
        self.get(id).is_none_or(|p| p.index)
    }

    /// How many distinct category ids the catalog knows (from products and the tree).
    pub fn category_count(&self) -> usize {
        self.categories.len()
    }

    /// The dense index of a category id, when a product or the tree names it.
    pub fn category_index(&self, id: &str) -> Option<u32> {
        self.categories.get(id)
    }

    /// The interned categories of the product at a dense index, as its record lists them.
    pub fn categories_of(&self, index: u32) -> &[u32] {
        let (a, b) = (self.cat_start[index as usize] as usize, self.cat_start[index as usize + 1] as usize);
        &self.product_categories[a..b]
    }

    /// The category `id` and all categories below it in the tree.
    pub fn category_and_descendants(&self, id: &str) -> HashSet<String> {
        let mut out: HashSet<String> = self
            .category_closure(id)
            .into_iter()
            .filter_map(|c| self.categories.id(c).map(|s| s.to_string()))
            .collect();
        out.insert(id.to_owned());
        out
    }

    /// The interned category `id` and all categories below it in the tree (empty when no product or tree
    /// names `id`), each once.
    pub fn category_closure(&self, id: &str) -> Vec<u32> {
        let Some(root) = self.categories.get(id) else { return Vec::new() };
        let mut seen = vec![false; self.categories.len()];
        let mut out = Vec::new();
        let mut todo = vec![root];
        while let Some(c) = todo.pop() {
            if !std::mem::replace(&mut seen[c as usize], true) {
                out.push(c);
                todo.extend(self.children[c as usize].iter().copied());
            }
        }
        out
    }

    /// Whether product `id` sits in one of `categories`.
    pub fn in_categories(&self, id: &str, categories: &HashSet<String>) -> bool {
        self.get(id).is_some_and(|p| p.categories.iter().any(|c| categories.contains(c)))
    }
}

/// An id of at most 15 bytes packed with its length into two words: hashed and compared without reading the
/// string through a pointer (the look-up of every candidate of every query; a string key costs a second cache
/// miss per probe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Packed(u64, u64);

impl Packed {
    fn of(id: &str) -> Option<Packed> {
        let b = id.as_bytes();
        if b.len() > 15 {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..b.len()].copy_from_slice(b);
        buf[15] = b.len() as u8;
        let (lo, hi) = buf.split_at(8);
        Some(Packed(u64::from_le_bytes(lo.try_into().ok()?), u64::from_le_bytes(hi.try_into().ok()?)))
    }
}

/// Product id -> dense index: short ids packed, longer ones as strings.
#[derive(Clone, Debug, Default)]
struct ProductIndex {
    short: FxHashMap<Packed, u32>,
    long: FxHashMap<Arc<str>, u32>,
}

impl ProductIndex {
    fn get(&self, id: &str) -> Option<u32> {
        match Packed::of(id) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(id).copied(),
        }
    }

    fn insert(&mut self, id: &str, i: u32) {
        match Packed::of(id) {
            Some(k) => {
                self.short.insert(k, i);
            }
            None => {
                self.long.insert(Arc::from(id), i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_ids_are_found_and_distinct() {
        let ids = ["", "a", "a\0", "123456789012345", "1234567890123456", "x".repeat(40).leak()];
        let c = Catalog::from_parts(ids.iter().map(|id| Product::new(*id)), []);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(c.index_of(id), Some(i as u32), "{id:?}");
            assert_eq!(&c.product(i as u32).id, id);
        }
        assert_eq!(c.index_of("b"), None);
        assert_eq!(c.index_of("123456789012346"), None);
        assert!(!c.contains(&"x".repeat(39)));
    }
}
