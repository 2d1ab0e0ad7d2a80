//! The leads to each product (who lists it, with the pair's count), changed after a fold-in's related lists.
use super::search::{insert_at, likely_place, seek};
use crate::clerk::Lead;

/// A change to the leads: `(product, source, slot in AUDIENCE_KINDS, count)`, applied after all rows are
/// updated (see [`apply`]).
pub(super) type LeadChange = (u32, u32, usize, u32);

/// Products whose leads are read together before they are changed, so that their cache misses overlap.
const LEADS_READ: usize = 32;

/// The working lists of [`apply`], kept from one fold-in to the next.
#[derive(Debug, Default)]
pub(super) struct LeadWork {
    /// The changes to the products of the range.
    mine: Vec<LeadChange>,
    /// Each product's changes: a range of `mine`.
    groups: Vec<(usize, usize)>,
    /// The working lists of one product's leads.
    product: ProductWork,
}

impl LeadWork {
    /// Empties the lists, releasing what a large batch grew beyond `kept` entries.
    pub(super) fn clear(&mut self, kept: usize) {
        self.mine.clear();
        self.mine.shrink_to(kept);
        self.groups.clear();
        self.groups.shrink_to(kept);
        self.product = ProductWork::default();
    }
}

/// Applies the changes of `sources` to the leads of products `lo..` (`incoming`; `n` products in all), a
/// product at a time: sorted by product, the changes to one product's leads are applied in one walk of its
/// list. The list of a best seller holds thousands of sources, and a binary search of it takes a cache miss
/// per halving: each source is found from its likely place instead (see [`seek`]), and the likely places of a
/// window of products are read first, so that their misses overlap.
pub(super) fn apply(incoming: &mut [Vec<Lead>], lo: u32, n: usize, sources: &[&[LeadChange]], work: &mut LeadWork) {
    let hi = u64::from(lo) + incoming.len() as u64;
    let LeadWork { mine, groups, product } = work;
    mine.clear();
    for changes in sources {
        mine.extend(changes.iter().filter(|c| (u64::from(lo)..hi).contains(&u64::from(c.0))));
    }
    mine.sort_unstable_by_key(|&(j, source, slot, _)| (j, source, slot));
    groups.clear();
    let mut from = 0;
    for group in mine.chunk_by(|a, b| a.0 == b.0) {
        groups.push((from, from + group.len()));
        from += group.len();
    }
    for window in groups.chunks(LEADS_READ) {
        let mut sum = 0u32;
        for &(a, _) in window {
            let (j, source, _, _) = mine[a];
            if let Some(list) = incoming.get((j - lo) as usize) {
                sum = sum.wrapping_add(list.get(likely_place(list.len(), source, n)).map_or(0, |l| l.source));
            }
        }
        std::hint::black_box(sum);
        for &(a, b) in window {
            let group = &mine[a..b];
            if let Some(list) = incoming.get_mut((group[0].0 - lo) as usize) {
                apply_product_leads(list, group, n, product);
            }
        }
    }
}

/// Applies the `changes` of one product (sorted by source and slot) to its `list` of leads, in place: a best
/// seller's list holds thousands of leads, and copying it whole for each that comes or goes was much of the
/// time of a large fold-in's leads. Leads left with no count are taken out, then the new ones (noted in `new`
/// with the place each goes) put in from the last: each moves only the leads between it and the next, from the
/// first place that changes.
fn apply_product_leads(list: &mut Vec<Lead>, changes: &[LeadChange], n: usize, work: &mut ProductWork) {
    let ProductWork { new, gone } = work;
    new.clear();
    gone.clear();
    let mut from = 0;
    for &(_, source, slot, count) in changes {
        from = seek(list, |l| l.source, source, from, n);
        match list.get_mut(from) {
            Some(lead) if lead.source == source => {
                lead.counts[slot] = count;
                if lead.counts == [0; 3] && gone.last() != Some(&from) {
                    gone.push(from);
                }
            }
            _ if count > 0 => match new.last_mut() {
                // The same new source in another list of its product.
                Some((_, lead)) if lead.source == source => lead.counts[slot] = count,
                _ => {
                    let mut counts = [0; 3];
                    counts[slot] = count;
                    new.push((from, Lead { source, counts }));
                }
            },
            _ => {}
        }
    }
    // A lead emptied by one of its lists may have been filled again by another.
    gone.retain(|&at| list[at].counts == [0; 3]);
    if let Some(&first) = gone.first() {
        let mut to = first;
        for (k, &at) in gone.iter().enumerate() {
            let next = gone.get(k + 1).copied().unwrap_or(list.len());
            list.copy_within(at + 1..next, to);
            to += next - at - 1;
        }
        list.truncate(to);
        // The new leads' places, past the leads taken out before them.
        for (at, _) in new.iter_mut() {
            *at -= gone.partition_point(|&g| g < *at);
        }
    }
    insert_at(list, new);
}

/// The working lists of [`apply_product_leads`].
#[derive(Debug, Default)]
struct ProductWork {
    /// The leads new to the list, with the place each goes.
    new: Vec<(usize, Lead)>,
    /// The places of the leads left with no count.
    gone: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Leads changed a product at a time, each source found from its likely place, end as changed one at a
        /// time in a map: counts set, leads with no count left removed, new ones inserted in source order.
        #[test]
        fn lead_changes_match_a_map(
            start in prop::collection::btree_map(0..2_000u32, prop::array::uniform3(0..4u32), 0..300),
            changes in prop::collection::btree_map((0..2_000u32, 0..3usize), 0..4u32, 0..200),
            n in 1..3_000usize,
        ) {
            let mut list: Vec<Lead> = start
                .iter()
                .filter(|(_, c)| **c != [0; 3])
                .map(|(&source, &counts)| Lead { source, counts })
                .collect();
            let mut model: BTreeMap<u32, [u32; 3]> = list.iter().map(|l| (l.source, l.counts)).collect();
            let mut batch: Vec<LeadChange> = Vec::new();
            for (&(source, slot), &count) in &changes {
                batch.push((7, source, slot, count));
                let counts = model.entry(source).or_insert([0; 3]);
                counts[slot] = count;
                if *counts == [0; 3] {
                    model.remove(&source);
                }
            }
            apply_product_leads(&mut list, &batch, n, &mut ProductWork::default());
            let expected: Vec<Lead> = model.into_iter().map(|(source, counts)| Lead { source, counts }).collect();
            prop_assert_eq!(list, expected);
        }

        /// Changes from two sources applied to ranges of products, a range at a time, end as all of them
        /// applied to all products at once.
        #[test]
        fn leads_split_between_two_sides_end_as_applied_whole(
            start in prop::collection::vec(prop::collection::btree_map(0..60u32, prop::array::uniform3(0..3u32), 0..8), 1..300),
            changes in prop::collection::btree_map((0..300u32, 0..60u32, 0..3usize), 0..3u32, 0..80),
            halves in prop::collection::vec(any::<bool>(), 80),
            width in 1..400usize,
        ) {
            let n = start.len();
            let lists: Vec<Vec<Lead>> = start
                .iter()
                .map(|m| m.iter().filter(|(_, c)| **c != [0; 3]).map(|(&source, &counts)| Lead { source, counts }).collect())
                .collect();
            let all: Vec<LeadChange> = changes
                .iter()
                .filter(|((j, ..), _)| (*j as usize) < n)
                .map(|(&(j, source, slot), &count)| (j, source, slot, count))
                .collect();
            // Each change comes from one side or the other, in any order.
            let (mut a, mut b): (Vec<LeadChange>, Vec<LeadChange>) = (Vec::new(), Vec::new());
            for (k, &c) in all.iter().enumerate().rev() {
                if halves[k] { a.push(c) } else { b.push(c) }
            }
            let mut whole = lists.clone();
            apply(&mut whole, 0, n, &[&all], &mut LeadWork::default());
            // In ranges of `width` products, each from both sources.
            let mut ranges = lists;
            for (k, range) in ranges.chunks_mut(width).enumerate() {
                apply(range, (k * width) as u32, n, &[&a, &b], &mut LeadWork::default());
            }
            prop_assert_eq!(ranges, whole);
        }
    }
}
