//! A filter's verdicts remembered per snapshot, so that a filter a host sends again and again is evaluated once
//! per product, and best-seller scans in categories read only the positions that pass.
//!
//! The verdict of a product never changes within a snapshot (the catalog is fixed), so remembering it changes no
//! answer. Evaluations fill the memo lazily: a filter seen once costs what it costs without a memo.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use super::Filter;
use crate::keys::Keys;

/// Verdict not known yet.
const UNKNOWN: u8 = 0;
const PASSES: u8 = 1;
const FAILS: u8 = 2;

/// How many rankings a memo keeps filtered category positions for (popular, trending, new).
pub(crate) const RANKINGS: usize = 3;

/// One filter with what a snapshot learnt of it.
#[derive(Debug)]
pub(crate) struct FilterMemo {
    filter: Filter,
    /// Per catalog product: [`UNKNOWN`], [`PASSES`] or [`FAILS`]. Empty for a memo of one query only.
    verdicts: Box<[AtomicU8]>,
    /// Per ranking, per interned category: the positions of the ranking's products in the category that pass,
    /// ascending (the category index of the ranking, filtered).
    in_category: [OnceLock<ByCategory>; RANKINGS],
}

/// Per interned category, filled on first use: the passing positions of one ranking.
type ByCategory = Box<[OnceLock<Box<[u32]>>]>;

impl FilterMemo {
    /// A memo shared by the queries of a snapshot whose catalog has `products` products.
    pub(crate) fn shared(filter: Filter, products: usize) -> Self {
        FilterMemo {
            filter,
            verdicts: (0..products).map(|_| AtomicU8::new(UNKNOWN)).collect(),
            in_category: Default::default(),
        }
    }

    /// A memo for one query (when a snapshot already remembers as many filters as it keeps): no verdicts kept.
    pub(crate) fn single(filter: Filter) -> Self {
        FilterMemo { filter, verdicts: Box::default(), in_category: Default::default() }
    }

    /// Whether the product of a query key passes.
    pub(crate) fn matches(&self, key: u32, keys: &Keys<'_>) -> bool {
        let Some(verdict) = self.verdicts.get(key as usize) else {
            return self.filter.matches_id(keys.id(key), keys.product(key).map(|p| &**p));
        };
        match verdict.load(Ordering::Relaxed) {
            PASSES => true,
            FAILS => false,
            _ => {
                let pass = self.filter.matches_id(keys.id(key), keys.product(key).map(|p| &**p));
                // Two threads may both evaluate a product: they store the same verdict.
                verdict.store(if pass { PASSES } else { FAILS }, Ordering::Relaxed);
                pass
            }
        }
    }

    /// The positions of `positions` (a category's positions in a ranking, ascending) whose product passes:
    /// remembered per ranking `slot` and `category` when the memo is shared, else `None` (the caller scans
    /// `positions` testing each). `keys_of` gives each position's catalog index: every position of a category
    /// has one (a product the catalog has no record of is in no category).
    pub(crate) fn in_category(
        &self,
        slot: usize,
        category: u32,
        positions: &[u32],
        keys_of: &[u32],
        keys: &Keys<'_>,
    ) -> Option<&[u32]> {
        if self.verdicts.is_empty() {
            return None;
        }
        let categories = keys.catalog.category_count();
        let lists = self.in_category.get(slot)?.get_or_init(|| (0..categories).map(|_| OnceLock::new()).collect());
        let cell = lists.get(category as usize)?;
        let kept = cell.get_or_init(|| {
            positions.iter().copied().filter(|&pos| self.matches(keys_of[pos as usize], keys)).collect()
        });
        Some(kept)
    }
}
