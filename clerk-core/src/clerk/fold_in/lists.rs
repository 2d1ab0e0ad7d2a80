//! A fold-in's updates of the related lists of the products whose pairs or denominators moved.
use std::collections::BTreeMap;

use super::leads::LeadChange;
use crate::clerk::counts::Moved;
use crate::clerk::relations::{self, listed_count, rows_with, significant_pair, SAME_CUSTOMERS};
use crate::clerk::settings::Settings;
use crate::clerk::state::State;

/// The related lists of a range of products, of one kind.
pub(super) type Lists = [Vec<(u32, f32)>];

/// Rows whose related lists are read together before they are updated, so that their cache misses overlap.
const ROWS_READ: usize = 64;

/// The working lists of updating one side's related lists, kept from one fold-in to the next.
#[derive(Debug, Default)]
pub(super) struct Work {
    /// The moved pairs of the side's rows of one kind (a symmetric table's with those mirrored to them).
    pairs: Vec<Moved>,
    /// The mirrored pairs, before they are merged in.
    mirror: Vec<Moved>,
    /// Rows to update.
    rows: Vec<u32>,
    /// The working lists of updating one row.
    row: RowWork,
}

impl Work {
    /// Empties the lists, releasing what a large batch grew beyond `kept` entries.
    pub(super) fn clear(&mut self, kept: usize) {
        for v in [&mut self.pairs, &mut self.mirror] {
            v.clear();
            v.shrink_to(kept);
        }
        self.rows.clear();
        self.rows.shrink_to(kept);
    }
}

/// The rows a moved pair of relation `kind` is updated in: both of a symmetric table's.
pub(super) fn rows_per_pair(kind: usize) -> usize {
    if relations::symmetric(kind) {
        2
    } else {
        1
    }
}

/// Updates the related lists of relation `kind` (`slot` in `AUDIENCE_KINDS`) of products `lo..` (`related`)
/// for the moved pairs of their rows (`own`: sorted; `mirrored`: a symmetric table's
/// pairs mirrored to their rows, in any order) and the denominators that moved (`before`: the products' orders
/// before, for bought together and next; their regular customers before, for same customers), noting the leads
/// that change in `leads` and the rows updated in `touched`. A row whose denominator moved gets its listed
/// scores rescaled (`count / rows with the product`, so they stay exact: the counts are read back from the
/// scores), and each moved pair is tested again and enters, moves or leaves its row. No row is rebuilt from its
/// full counts.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_rows(
    s: &State,
    settings: &Settings,
    (kind, slot): (usize, usize),
    lo: u32,
    related: &mut Lists,
    own: &[Moved],
    mirrored: &[&[Moved]],
    before: [&BTreeMap<u32, u32>; 2],
    work: &mut Work,
    leads: &mut Vec<LeadChange>,
    touched: &mut Vec<u32>,
) {
    let Work { pairs, mirror, rows, row } = work;
    let before = before[usize::from(kind == SAME_CUSTOMERS)];
    let hi = u64::from(lo) + related.len() as u64;
    let pairs = pairs_in(own, mirrored, pairs, mirror);
    rows.clear();
    rows.extend(pairs.chunk_by(|a, b| a.0 == b.0).map(|m| m[0].0));
    rows.extend(before.range(lo..).map(|(&i, _)| i).take_while(|&i| u64::from(i) < hi));
    rows.sort_unstable();
    rows.dedup();
    update_kind(s, settings, (kind, slot), related, lo, rows, pairs, before, row, leads);
    touched.extend_from_slice(rows);
}

/// The moved pairs of some rows, sorted: their `own` pairs (sorted) merged with the `mirrored` pairs (in
/// `pairs`, those mirrored sorted in `mirror`); their own as they are when none is mirrored.
fn pairs_in<'a>(
    own: &'a [Moved],
    mirrored: &[&[Moved]],
    pairs: &'a mut Vec<Moved>,
    mirror: &mut Vec<Moved>,
) -> &'a [Moved] {
    if mirrored.iter().all(|l| l.is_empty()) {
        return own;
    }
    // Sorted on one integer key, and merged with the rows' own pairs (all on the other side of the diagonal).
    let key = |m: &Moved| (u64::from(m.0) << 32) | u64::from(m.1);
    mirror.clear();
    mirror.extend(mirrored.iter().flat_map(|l| l.iter()));
    mirror.sort_unstable_by_key(key);
    pairs.clear();
    pairs.reserve(own.len() + mirror.len());
    let mut r = 0;
    for m in own {
        while r < mirror.len() && key(&mirror[r]) < key(m) {
            pairs.push(mirror[r]);
            r += 1;
        }
        pairs.push(*m);
    }
    pairs.extend_from_slice(&mirror[r..]);
    pairs
}

/// Updates the lists `related` (of products `lo..`) of relation `kind` (`slot` in `AUDIENCE_KINDS`) at
/// `rows` for their `moved` pairs (sorted) and the denominators that moved (`before`), noting the leads that
/// change in `leads`.
#[allow(clippy::too_many_arguments)]
fn update_kind(
    s: &State,
    settings: &Settings,
    (kind, slot): (usize, usize),
    related: &mut Lists,
    lo: u32,
    rows: &[u32],
    moved: &[Moved],
    before: &BTreeMap<u32, u32>,
    work: &mut RowWork,
    leads: &mut Vec<LeadChange>,
) {
    let right = relations::partner_totals(s, kind);
    // Rows and moved pairs both sorted by row: each row's pairs follow the last row's.
    let mut from = 0;
    for window in rows.chunks(ROWS_READ) {
        // What the updates read, read first so that their cache misses overlap (as in `count`): the rows and
        // their denominators, and each moved pair's partner facts (its significance test).
        let mut sum = 0u32;
        let end = from + moved[from..].partition_point(|m| m.0 <= window[window.len() - 1]);
        for &i in window {
            let row = related.get((i - lo) as usize).map_or(&[][..], Vec::as_slice);
            sum = row.iter().step_by(8).fold(sum, |sum, e| sum.wrapping_add(e.0));
            sum = sum.wrapping_add(rows_with(s, kind, i));
        }
        for m in &moved[from..end] {
            sum = sum.wrapping_add(right[m.1 as usize]).wrapping_add(u32::from(s.indexable[m.1 as usize]));
        }
        std::hint::black_box(sum);
        for &i in window {
            let to = from + moved[from..].partition_point(|m| m.0 == i);
            let pairs = &moved[from..to];
            from = to;
            // Every product has a row (`grow` makes them before the changes are counted).
            let Some(row) = related.get_mut((i - lo) as usize) else { continue };
            update_row(s, settings, kind, slot, i, row, pairs, before.get(&i).copied(), work, leads);
        }
    }
}

/// The working lists of [`update_row`], kept from row to row and fold-in to fold-in.
#[derive(Debug, Default)]
pub(super) struct RowWork {
    /// Per moved pair of the row: whether it was listed, and whether it is listed after the update.
    was: Vec<bool>,
    is: Vec<bool>,
    /// The listed entries whose pair did not move (rescaled when the row's denominator moved), ranked.
    kept: Vec<(u32, f32)>,
    /// The listed entries whose pair did not move that score nothing after rescaling (dropped).
    zeroed: Vec<u32>,
    /// The moved pairs that pass the tests, with their score and position in the moved pairs.
    enter: Vec<(u32, f32, usize)>,
    /// The row after the update.
    merged: Vec<(u32, f32)>,
}

/// Updates row `i` of relation `kind` (`slot` in `AUDIENCE_KINDS`) for its `moved` pairs and, when its
/// denominator moved, the denominator it had before; notes the leads that change in `leads`.
///
/// The result is the row [`relations::top`] would rank from the listed entries that stay and the moved pairs
/// that pass, without sorting it whole: the entries that stay keep their order (their scores are all divided
/// by the same denominator, and a score grows with its count), so the few that enter are ranked and merged
/// in. Most rows of a fold-in change nothing (a new regular's pairs with the customer's other regulars rarely
/// enter a full row): they are left as they are, without a copy.
#[allow(clippy::too_many_arguments)]
fn update_row(
    s: &State,
    settings: &Settings,
    kind: usize,
    slot: usize,
    i: u32,
    row: &mut Vec<(u32, f32)>,
    moved: &[Moved],
    denominator_before: Option<u32>,
    work: &mut RowWork,
    leads: &mut Vec<LeadChange>,
) {
    let n_i = rows_with(s, kind, i);
    let rescale = denominator_before.filter(|&n| n != n_i);
    let old = &*row;
    work.was.clear();
    work.was.resize(moved.len(), false);
    work.kept.clear();
    work.zeroed.clear();
    for &(j, x) in old {
        match moved.binary_search_by_key(&j, |m| m.1) {
            Ok(k) => work.was[k] = true,
            Err(_) => {
                let x = match rescale {
                    Some(n) => relations::score(listed_count(s, kind, i, j, x, n), n_i),
                    None => x,
                };
                if x > 0.0 {
                    work.kept.push((j, x));
                } else {
                    work.zeroed.push(j);
                }
            }
        }
    }
    let dropped = work.was.contains(&true);
    if work.kept.windows(2).any(|w| w[0].1 < w[1].1) {
        // Rows written by an analysis or a fold-in are ranked: only a foreign or corrupt state's can be out
        // of order (the ties' order by id is not checked, it would read the ranks of most entries).
        relations::rank(s, &mut work.kept);
    }
    // When the entries that stay fill the row, a moved pair scoring below all of them cannot enter it: most
    // (a new regular's pairs with each of the customer's other regulars) need no significance test then.
    let floor = if work.kept.len() >= settings.top_k { work.kept.last().map_or(0.0, |e| e.1) } else { 0.0 };
    work.enter.clear();
    for (k, &(_, j, _, after)) in moved.iter().enumerate() {
        if after >= settings.min_pair_count && relations::score(after, n_i) >= floor {
            if let Some(x) = significant_pair(s, settings, kind, i, j, after) {
                work.enter.push((j, x, k));
            }
        }
    }
    if !dropped && work.enter.is_empty() && rescale.is_none() {
        return;
    }
    let a = merge(s, settings.top_k, moved.len(), work);
    row.clear();
    row.extend_from_slice(&work.merged);
    if !dropped && work.enter.is_empty() {
        // Rescaled only: the same pairs with the same counts, so the same leads.
        return;
    }
    for (k, &(_, j, before, after)) in moved.iter().enumerate() {
        let (was, is) = (work.was[k], work.is[k]);
        if (was, was.then_some(before)) != (is, is.then_some(after)) {
            leads.push((j, i, slot, if is { after } else { 0 }));
        }
    }
    // Pushed out of the row by pairs that entered it (or scored nothing).
    leads.extend(work.kept[a..].iter().map(|&(j, _)| (j, i, slot, 0)));
    leads.extend(work.zeroed.iter().map(|&j| (j, i, slot, 0)));
}

/// Ranks `work.enter` and merges it with `work.kept` into `work.merged`, keeping the best `top_k`; marks in
/// `work.is` the moved pairs (of `moved` in all) that made it. Returns how many kept entries made it.
fn merge(s: &State, top_k: usize, moved: usize, work: &mut RowWork) -> usize {
    let by_rank = relations::by_rank(s);
    work.enter.sort_unstable_by(|a, b| by_rank(&(a.0, a.1), &(b.0, b.1)));
    work.is.clear();
    work.is.resize(moved, false);
    work.merged.clear();
    let (mut a, mut b) = (0, 0);
    while work.merged.len() < top_k && (a < work.kept.len() || b < work.enter.len()) {
        let take_kept = match (work.kept.get(a), work.enter.get(b)) {
            (Some(k), Some(e)) => by_rank(k, &(e.0, e.1)) != std::cmp::Ordering::Greater,
            (Some(_), None) => true,
            _ => false,
        };
        if take_kept {
            work.merged.push(work.kept[a]);
            a += 1;
        } else {
            let (j, x, k) = work.enter[b];
            work.merged.push((j, x));
            work.is[k] = true;
            b += 1;
        }
    }
    a
}
