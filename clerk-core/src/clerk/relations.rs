//! From pair counts to the top related products of each product: bought together, bought next, alternatives.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use sprs::CsMat;

use super::counts::{counted_row, counted_upper_row, map_rows, map_rows_with, PairCounts};
use super::llr::signed_llr;
use super::settings::Settings;
use super::state::{State, NONE};

/// Index of each relation kind in [`State::related`].
pub(crate) const TOGETHER: usize = 0;
pub(crate) const NEXT: usize = 1;
pub(crate) const ALTERNATIVE: usize = 2;
pub(crate) const SAME_CUSTOMERS: usize = 3;

/// Best first, ties by the smaller external id (deterministic whatever the interning order).
pub(crate) fn by_rank<'a>(s: &'a State) -> impl Fn(&(u32, f32), &(u32, f32)) -> Ordering + 'a {
    let rank = &s.id_rank;
    move |a, b| match b.1.total_cmp(&a.1) {
        Ordering::Equal => rank[a.0 as usize].cmp(&rank[b.0 as usize]),
        o => o,
    }
}

/// Sorts best first, ties by the smaller external id.
pub(crate) fn rank(s: &State, v: &mut [(u32, f32)]) {
    v.sort_unstable_by(by_rank(s));
}

/// The best `k` of `v`, ranked.
pub(crate) fn top(s: &State, mut v: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    if v.len() > k {
        // Partial selection first (rows of best sellers hold tens of thousands of partners), with the same
        // order as the final sort so that ties at the cut are decided by id too.
        v.select_nth_unstable_by(k, by_rank(s));
        v.truncate(k);
    }
    rank(s, &mut v);
    v
}

/// The best `k` of `items` (distinct products), ranked: the same answer as [`top`] without collecting them all.
///
/// Set look-ups and affinities score thousands of products to keep a hundred; a bounded heap rejects most with
/// one comparison against the worst kept, and reads a product's id rank only to break a tie or to keep it.
pub(crate) fn top_of(s: &State, items: impl IntoIterator<Item = (u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(k.min(4096));
    let rank = &s.id_rank;
    for (p, score) in items {
        if heap.len() < k {
            heap.push(Kept { score, rank: rank[p as usize], p });
            continue;
        }
        let Some(mut worst) = heap.peek_mut() else { continue };
        let better = match score.total_cmp(&worst.score) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => rank[p as usize] < worst.rank,
        };
        if better {
            *worst = Kept { score, rank: rank[p as usize], p };
        }
    }
    heap.into_sorted_vec().into_iter().map(|e| (e.p, e.score)).collect()
}

/// An item [`top_of`] keeps, ordered worst last (the heap's top is the first to drop).
struct Kept {
    score: f32,
    rank: u32,
    p: u32,
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then(self.rank.cmp(&other.rank))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Kept {}

/// The counts behind relation `kind`: pair counts, rows holding each product on either side, and all rows.
fn tables(s: &State, kind: usize) -> (&super::counts::PairCounts, &[u32], &[u32], f64) {
    match kind {
        TOGETHER => (&s.together, &s.product_orders, &s.product_orders, s.orders as f64),
        NEXT => (&s.next, &s.product_orders, &s.window_orders, s.orders as f64),
        _ => (&s.regulars, &s.regular_customers, &s.regular_customers, s.customers.len() as f64),
    }
}

/// Whether the pair counts of relation `kind` are symmetric, and so held once per pair, in the row of the
/// smaller product (bought together, same customers; not bought next, which has a direction).
pub(crate) fn symmetric(kind: usize) -> bool {
    kind != NEXT
}

/// The pair count of `(i, j)` in relation `kind`.
pub(crate) fn pair_count(s: &State, kind: usize, i: u32, j: u32) -> u32 {
    let counts = tables(s, kind).0;
    if symmetric(kind) {
        counts.get(i.min(j), i.max(j))
    } else {
        counts.get(i, j)
    }
}

/// The score of `j` in row `i` of relation `kind` (`count / rows with i`), whatever its significance; `None`
/// without a count.
#[cfg(test)]
pub(crate) fn pair_score(s: &State, kind: usize, i: u32, j: u32) -> Option<f32> {
    let left = tables(s, kind).1;
    let c = pair_count(s, kind, i, j);
    let n_i = left[i as usize];
    (c > 0 && n_i > 0).then(|| score(c, n_i))
}

/// The score of a pair counted `c` times in `n_i` rows with its first product.
pub(crate) fn score(c: u32, n_i: u32) -> f32 {
    (f64::from(c) / f64::from(n_i)) as f32
}

/// Rows holding each product on the partner side of relation `kind`.
pub(crate) fn partner_totals(s: &State, kind: usize) -> &[u32] {
    tables(s, kind).2
}

/// Rows holding product `i` in relation `kind`: the denominator of its scores.
pub(crate) fn rows_with(s: &State, kind: usize, i: u32) -> u32 {
    tables(s, kind).1[i as usize]
}

/// The count behind a listed score `x` of row `i` of relation `kind`, whose rows with `i` were `n_i` when it
/// was scored. Read back from the score when that is exact: `x` is `c / n_i` rounded to 24 bits, so `x * n_i`
/// is within `c * 2^-24` of `c`, under one half while `n_i < 2^22` (and `c <= n_i`). Larger rows read the
/// counts, whose pair must not have moved since.
pub(crate) fn listed_count(s: &State, kind: usize, i: u32, j: u32, x: f32, n_i: u32) -> u32 {
    if !listed_count_reads_counts(n_i) {
        (f64::from(x) * f64::from(n_i)).round() as u32
    } else {
        pair_count(s, kind, i, j)
    }
}

/// Whether [`listed_count`] reads the counts for a row scored with `n_i` rows: when its scores cannot give
/// them back exactly.
pub(crate) fn listed_count_reads_counts(n_i: u32) -> bool {
    n_i >= 1 << 22
}

/// The score of `j` in row `i` of relation `kind`, counted `c` times, when the pair is related (indexable,
/// frequent and significant enough), as [`association_row`] decides.
pub(crate) fn significant_pair(s: &State, settings: &Settings, kind: usize, i: u32, j: u32, c: u32) -> Option<f32> {
    let (_, left, right, n) = tables(s, kind);
    if i == j || !s.indexable[j as usize] {
        return None;
    }
    test_pair(settings, c, f64::from(left[i as usize]), f64::from(right[j as usize]), n)
}

/// The significance test of one pair: count, above chance, LLR; the score when it passes.
fn test_pair(settings: &Settings, c: u32, n_i: f64, n_j: f64, n: f64) -> Option<f32> {
    (frequent_above_chance(settings, c, n_i, n_j, n) && passes_llr(settings, c, n_i, n_j, n))
        .then(|| (f64::from(c) / n_i) as f32)
}

/// The cheap part of [`test_pair`]: counted often enough and more than chance would have it. Most pairs fail
/// it, and need no logarithms.
fn frequent_above_chance(settings: &Settings, c: u32, n_i: f64, n_j: f64, n: f64) -> bool {
    c >= settings.min_pair_count && n_i > 0.0 && f64::from(c) * n > n_i * n_j
}

/// The costly part of [`test_pair`]: the pair's LLR reaches `min_llr`.
fn passes_llr(settings: &Settings, c: u32, n_i: f64, n_j: f64, n: f64) -> bool {
    let c = f64::from(c);
    super::llr::may_reach(c, n_i, n_j, n, settings.min_llr) && signed_llr(c, n_i, n_j, n) >= settings.min_llr
}

/// Bought together (`kind == TOGETHER`), bought next (`NEXT`) or same customers (`SAME_CUSTOMERS`) of product
/// `i` from its pair counts `entries` (any order, no `j == i`): partners whose count is significant by LLR and
/// above chance, scored by the conditional probability `count / rows with i` (rows: orders, or customers for
/// whom `i` is a regular).
///
/// The score of a partner grows with its count, so the row's best are its most counted significant partners:
/// the partners that pass the cheap tests are taken best first and the LLR (a dozen logarithms) is computed
/// only until the row is full, not for each of the thousands of partners of a best seller. The answer is the
/// one of testing them all and keeping the best (`top`), ties included.
///
/// `partners` is [`partner_rows`] of `kind`.
pub(crate) fn association_row(
    s: &State,
    settings: &Settings,
    kind: usize,
    partners: &[u32],
    i: u32,
    entries: &[(u32, u32)],
) -> Vec<(u32, f32)> {
    let (_, left, _, n) = tables(s, kind);
    let n_i = f64::from(left[i as usize]);
    if n_i == 0.0 || settings.top_k == 0 {
        return Vec::new();
    }
    let rank = &s.id_rank;
    ASSOCIATION_CANDIDATES.with_borrow_mut(|cands| {
        cands.clear();
        for &(j, c) in entries {
            // The cheap part of `test_pair` for every partner, the count first (most pairs are seen once).
            if c < settings.min_pair_count {
                continue;
            }
            let n_j = partners[j as usize];
            if n_j != UNLISTABLE && frequent_above_chance(settings, c, n_i, f64::from(n_j), n) {
                cands.push((rank_key((f64::from(c) / n_i) as f32, rank[j as usize]), j, c));
            }
        }
        let mut kept: Vec<(u32, f32)> = Vec::with_capacity(settings.top_k.min(cands.len()));
        let mut rest = &mut cands[..];
        while kept.len() < settings.top_k && !rest.is_empty() {
            // The next best few, sorted: usually all a row needs, since most partners this far up pass the LLR.
            let take = (2 * (settings.top_k - kept.len())).max(FIRST_TESTED).min(rest.len());
            if take < rest.len() {
                rest.select_nth_unstable_by_key(take - 1, |e| e.0);
            }
            let (head, tail) = rest.split_at_mut(take);
            head.sort_unstable_by_key(|e| e.0);
            for &(key, j, c) in head.iter() {
                if kept.len() == settings.top_k {
                    break;
                }
                if passes_llr(settings, c, n_i, f64::from(partners[j as usize]), n) {
                    kept.push((j, key_score(key)));
                }
            }
            rest = tail;
        }
        kept
    })
}

thread_local! {
    /// The candidates of one [`association_row`], reused from row to row: allocated and grown per row, they were
    /// a tenth of an analysis' time in the allocator.
    static ASSOCIATION_CANDIDATES: std::cell::RefCell<Vec<(u64, u32, u32)>> = const { std::cell::RefCell::new(Vec::new()) };

    /// The candidates of one [`alternative_row`], reused likewise.
    static ALTERNATIVE_CANDIDATES: std::cell::RefCell<Vec<(u64, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`by_rank`]'s order of a score that is not negative (nor NaN) and an id rank, as one integer, smaller first:
/// the bits of such scores grow with them, so inverted they sort best first, ties by rank. The sorts of an
/// analysis' hundred thousand rows then compare integers, where most comparisons of scores are ties (scores of
/// small counts) that read both ranks.
fn rank_key(score: f32, rank: u32) -> u64 {
    debug_assert!(score.is_sign_positive() && !score.is_nan());
    (u64::from(!score.to_bits()) << 32) | u64::from(rank)
}

/// The score of a [`rank_key`].
fn key_score(key: u64) -> f32 {
    f32::from_bits(!((key >> 32) as u32))
}

/// The best `k` of `v` (keys of [`rank_key`] and their products), ranked: [`top`] of the same scores.
fn top_keyed(v: &mut Vec<(u64, u32)>, k: usize) -> Vec<(u32, f32)> {
    if v.len() > k {
        v.select_nth_unstable_by_key(k, |e| e.0);
        v.truncate(k);
    }
    v.sort_unstable_by_key(|e| e.0);
    v.iter().map(|&(key, p)| (p, key_score(key))).collect()
}

/// The fewest candidates [`association_row`] sorts at a time (few in tests, so that rows take several rounds).
const FIRST_TESTED: usize = if cfg!(test) { 1 } else { 16 };

/// A product [`partner_rows`] marks as never listed.
const UNLISTABLE: u32 = u32::MAX;

/// Rows holding each product on the partner side of relation `kind`, or [`UNLISTABLE`] for a product that is
/// not indexable: an analysis tests tens of millions of pairs, each against both facts of a partner
/// scattered over the catalog, and one vector holding both costs one cache miss instead of two.
fn partner_rows(s: &State, kind: usize) -> Vec<u32> {
    let right = tables(s, kind).2;
    right.iter().zip(&s.indexable).map(|(&n, &listable)| if listable { n } else { UNLISTABLE }).collect()
}

/// Alternatives of product `i`: products serving the same need (catalog type, else category) or bought by the
/// same customers at other times, scored by need match, shared buyers and popularity, and pushed down when
/// bought in the same basket more than chance (complements are not substitutes).
///
/// The candidates are the need's best sellers (its first [`GROUP_CANDIDATES`]) and the partners of `next`
/// (row `i`'s bought-next counts, any order, no `j == i`) counted at least `min_pair_count` times, each with
/// its count in `next` (0 for none); `together(j)` is the count of `(i, j)` bought together. An analysis
/// works out the alternatives of each product while its basket counts are counted, and reads them there.
pub(crate) fn alternative_row(
    s: &State,
    settings: &Settings,
    groups: &Groups,
    i: u32,
    next: impl IntoIterator<Item = (u32, u32)>,
    together: impl Fn(u32) -> u32,
) -> Vec<(u32, f32)> {
    let n = s.orders.max(1) as f64;
    let me = &groups.facts[i as usize];
    let score = |j: u32, other: &Facts, next_count: u32| -> Option<(u64, u32)> {
        if j == i || !other.indexable {
            return None;
        }
        let need = if me.need != NONE && other.need == me.need {
            1.0
        } else if me.category != NONE && other.category == me.category {
            0.3
        } else {
            0.0
        };
        let n_j = other.orders;
        // The next-window counts are near symmetric for products bought by the same customers over time.
        let shared = 2.0 * f64::from(next_count) / (me.orders * n_j).sqrt();
        if need == 0.0 && shared < 0.05 {
            return None;
        }
        let lift = f64::from(together(j)) * n / (me.orders * n_j);
        let basket_penalty = 1.0 / (1.0 + lift);
        let brand_bonus = if me.brand != NONE && other.brand != me.brand { 1.1 } else { 1.0 };
        let score = (need + shared) * basket_penalty * brand_bonus * other.popularity;
        (score > 0.0 && score.is_finite()).then(|| (rank_key(score as f32, s.id_rank[j as usize]), j))
    };
    ALTERNATIVE_CANDIDATES.with_borrow_mut(|v| {
        v.clear();
        // Each candidate once: the need's best sellers met among the partners are marked, the others scored after
        // from their own list (side by side in memory, where each partner's facts are a cache miss).
        let leads = groups.leads(me.need);
        let mut met = [false; GROUP_CANDIDATES];
        for (j, c) in next {
            let lead = groups.lead[j as usize];
            let in_group = me.need != NONE && lead.0 == me.need;
            if in_group {
                met[usize::from(lead.1)] = true;
            }
            if in_group || c >= settings.min_pair_count {
                v.extend(score(j, &groups.facts[j as usize], c));
            }
        }
        // The leads left have no bought-next count: a score of at most `1.1 * popularity` (a basket penalty of 1
        // and another brand), which falls along the list (best sellers first). Once that is below the `top_k`-th
        // best score so far, neither it nor any lead after it can make the row. The `top_k`-th best is looked up
        // again after each `top_k` leads scored; a stale one is lower, so only skips less.
        let k = settings.top_k;
        let mut worst_kept = f32::NEG_INFINITY;
        for (scored, ((g, facts), _)) in leads.iter().zip(met).filter(|(_, met)| !met).enumerate() {
            if k > 0 && v.len() >= k && scored % k == 0 {
                v.select_nth_unstable_by_key(k - 1, |e| e.0);
                worst_kept = key_score(v[k - 1].0);
            }
            if ((1.1 * facts.popularity) as f32) < worst_kept {
                break;
            }
            v.extend(score(*g, facts, 0));
        }
        top_keyed(v, k)
    })
}

/// The need's best sellers that are candidate alternatives of each product.
const GROUP_CANDIDATES: usize = 200;
// A lead's place in its need's list is a `u8` (see `Groups::lead`).
const _: () = assert!(GROUP_CANDIDATES <= 1 << 8);

/// Each need's best sellers, and what [`alternative_row`] reads of each product.
pub(crate) struct Groups {
    /// The first [`GROUP_CANDIDATES`] products of each need key, best sellers first, with their facts.
    leads: Vec<Vec<(u32, Facts)>>,
    facts: Vec<Facts>,
    /// Each product's need and place in [`leads`](Self::leads), or `(NONE, 0)` when it is not in them: all an
    /// alternative reads of most partners, so kept small.
    lead: Vec<(u32, u8)>,
}

/// What an alternative's score reads of a candidate, side by side: an analysis scores tens of millions of
/// candidates scattered over the catalog, and reading each fact from its own per-product vector cost a cache
/// miss per fact.
#[derive(Clone, Copy)]
struct Facts {
    /// Orders holding the product, at least one.
    orders: f64,
    /// `ln(1 + orders)`: the popularity factor, computed once per product rather than per candidate.
    popularity: f64,
    need: u32,
    category: u32,
    brand: u32,
    indexable: bool,
}

impl Groups {
    pub(crate) fn new(s: &State) -> Self {
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); s.keys.len()];
        for (p, &k) in s.need.iter().enumerate() {
            if k != NONE {
                members[k as usize].push(p as u32);
            }
        }
        let ids = s.products.ids();
        for m in &mut members {
            m.sort_unstable_by(|&a, &b| {
                s.product_orders[b as usize]
                    .cmp(&s.product_orders[a as usize])
                    .then_with(|| ids[a as usize].cmp(&ids[b as usize]))
            });
        }
        let facts: Vec<Facts> = (0..s.n_products())
            .map(|p| {
                let orders = f64::from(s.product_orders[p]).max(1.0);
                Facts {
                    orders,
                    popularity: (1.0 + orders).ln(),
                    need: s.need[p],
                    category: s.category[p],
                    brand: s.brand[p],
                    indexable: s.indexable[p],
                }
            })
            .collect();
        let mut lead = vec![(NONE, 0); s.n_products()];
        let leads = members
            .iter()
            .map(|m| {
                let m = &m[..m.len().min(GROUP_CANDIDATES)];
                for (at, &p) in m.iter().enumerate() {
                    lead[p as usize] = (s.need[p as usize], at as u8);
                }
                m.iter().map(|&p| (p, facts[p as usize])).collect()
            })
            .collect();
        Groups { leads, facts, lead }
    }

    /// The best sellers of need `key` that are candidate alternatives of its products.
    fn leads(&self, key: u32) -> &[(u32, Facts)] {
        self.leads.get(key as usize).map_or(&[], Vec::as_slice)
    }
}

/// Each product's top related products of one relation kind.
pub(crate) type Lists = Vec<Vec<(u32, f32)>>;

/// Each product's top related products, per relation kind.
pub(crate) type RelatedRows = [Lists; 4];

/// The pair counts of relation `kind` (`left_t * right`, see [`map_rows`]) and each product's
/// [`association_row`], worked out as each row is counted, while its entries are in cache, rather than from the
/// stored rows read again afterwards (580 MB of them for the three kinds on the Complete Journey). The totals
/// [`tables`] reads of `kind` must be known.
pub(crate) fn count_related(
    s: &State,
    settings: &Settings,
    kind: usize,
    left_t: &CsMat<u8>,
    right: &CsMat<u8>,
    threads: usize,
) -> (PairCounts, Lists) {
    let partners = partner_rows(s, kind);
    let rows = map_rows(left_t, right, threads, |i, entries| {
        (kept_row(kind, i, entries), association_row(s, settings, kind, &partners, i as u32, entries))
    });
    let (counts, related) = rows.into_iter().unzip();
    (PairCounts { rows: counts }, related)
}

/// The row of counts an analysis keeps of row `i`'s `entries` of relation `kind`, once they have given its
/// related list: a symmetric table's is held once per pair.
fn kept_row(kind: usize, i: usize, entries: &[(u32, u32)]) -> super::counts::Row {
    if symmetric(kind) {
        counted_upper_row(i, entries)
    } else {
        counted_row(entries)
    }
}

/// The pair counts bought together (`basket_t * basket`, kept once per pair) with each product's related list (as
/// [`count_related`]) and its alternatives, scored while its basket counts are held dense (see
/// [`map_rows_with`]), from its bought-next counts: `s.next` must be counted, and what [`tables`] and
/// [`Groups`] read known.
pub(crate) fn count_together(
    s: &State,
    settings: &Settings,
    basket_t: &CsMat<u8>,
    basket: &CsMat<u8>,
    threads: usize,
) -> (PairCounts, Lists, Lists) {
    let groups = Groups::new(s);
    let partners = partner_rows(s, TOGETHER);
    let rows = map_rows_with(
        basket_t,
        basket,
        threads,
        |i, together| {
            let next = s.next.rows.get(i).into_iter().flat_map(super::counts::Row::iter);
            alternative_row(s, settings, &groups, i as u32, next, |j| together.get(j))
        },
        |i, entries, alternatives| {
            let related = association_row(s, settings, TOGETHER, &partners, i as u32, entries);
            (kept_row(TOGETHER, i, entries), related, alternatives)
        },
    );
    let n = rows.len();
    let (mut counts, mut related, mut alternatives) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (row, list, others) in rows {
        counts.push(row);
        related.push(list);
        alternatives.push(others);
    }
    (PairCounts { rows: counts }, related, alternatives)
}

/// Every product's related lists recomputed from the stored counts, one product at a time: what the analysis
/// works out as it counts, for tests to compare with.
#[cfg(test)]
pub(crate) fn rebuild_all(s: &State, settings: &Settings) -> RelatedRows {
    let groups = Groups::new(s);
    let mut related: RelatedRows = Default::default();
    // Whole rows: the symmetric tables are kept once per pair.
    let rows = [TOGETHER, NEXT, SAME_CUSTOMERS].map(|kind| {
        let counts = tables(s, kind).0;
        let rows: Vec<Vec<(u32, u32)>> = if symmetric(kind) {
            counts.mirrored()
        } else {
            counts.rows.iter().map(|row| row.iter().collect()).collect()
        };
        (kind, rows, partner_rows(s, kind))
    });
    for i in 0..s.n_products() as u32 {
        let entries = |rows: &[Vec<(u32, u32)>]| rows.get(i as usize).cloned().unwrap_or_default();
        for (kind, rows, partners) in &rows {
            related[*kind].push(association_row(s, settings, *kind, partners, i, &entries(rows)));
        }
        let next = entries(&rows[1].1);
        let alternatives = alternative_row(s, settings, &groups, i, next, |j| pair_count(s, TOGETHER, i, j));
        related[ALTERNATIVE].push(alternatives);
    }
    related
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The heap selection keeps exactly what sorting everything keeps, in the same order, ties included.
        #[test]
        fn top_of_is_top(scores in proptest::collection::vec(0u8..6, 0..300), seed in any::<u64>(), k in 0usize..40) {
            let n = scores.len();
            let mut s = State::default();
            // Any permutation of ranks: ties must be broken by it, not by position.
            let mut rank: Vec<u32> = (0..n as u32).collect();
            let mut x = seed | 1;
            for i in (1..n).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                rank.swap(i, (x % (i as u64 + 1)) as usize);
            }
            s.id_rank = rank;
            let v: Vec<(u32, f32)> = scores.iter().enumerate().map(|(p, &c)| (p as u32, f32::from(c) / 4.0)).collect();
            prop_assert_eq!(top_of(&s, v.iter().copied(), k), top(&s, v, k));
        }
    }
}
