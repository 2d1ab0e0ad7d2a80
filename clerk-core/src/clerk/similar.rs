//! Similar customers: each customer's nearest neighbours by the products they buy, and the products those
//! neighbours bought.
//!
//! Two customers are as similar as the cosine of their sets of products bought (binary: a weekly staple and a
//! one-off purchase count the same, which on real grocery data finds better neighbours than counts or decayed
//! weights). What a customer's neighbours bought and the customer did not is the strongest guess of what the
//! customer discovers next: it carries the customer's whole taste, where item-to-item relations carry one
//! product at a time.
//!
//! The neighbours come from the same row-by-row sparse product as the pair counts (customer x product times
//! its transpose), keeping each row's best few as soon as it is counted. That costs the sum over products of
//! their buyers squared, which is why products bought by very many (a share or a number of customers, see
//! [`max_buyers`]) do not link customers: on the Complete Journey it is 0.3 s of a 4.5 s analysis, on a
//! synthetic shop of 25,000 customers whose thousands of mid-range products each have ~800 buyers, a third of
//! the analysis (docs/benchmarks.md). They are refreshed by full analyses;
//! a fold-in updates the histories they point into but not the neighbours themselves, and a customer first
//! seen in a fold-in gets theirs computed when asked ([`neighbours_of`]). Audiences read the analysis'
//! neighbours only (a customer folded in joins them at the next full analysis).

use sprs::CsMat;

use super::counts::{binary_csr, map_rows};
use super::settings::Settings;
use super::state::{HistItem, State};

/// The most buyers a product may have to count in similarities: products bought by more than
/// `similar_max_share` of the customers, or by more than `similar_max_buyers`, say little of anyone's taste
/// (everyone buys milk) and cost the square of their buyers.
pub(crate) fn max_buyers(settings: &Settings, customers: usize) -> usize {
    ((settings.similar_max_share * customers as f64) as usize).min(settings.similar_max_buyers)
}

/// Each customer's `similar_customers` most similar customers with their cosine similarity, best first (ties by
/// index). Only products with at most [`max_buyers`] buyers link customers; the cosine's norms count every
/// product.
pub(crate) fn neighbours(
    history: &[Vec<HistItem>],
    n_products: usize,
    settings: &Settings,
    threads: usize,
) -> Vec<Vec<(u32, f32)>> {
    let k = settings.similar_customers;
    if k == 0 {
        return vec![Vec::new(); history.len()];
    }
    // Product x customer incidence: the "events" through which two customers meet are the products.
    let mut buyers: Vec<Vec<u32>> = vec![Vec::new(); n_products];
    for (c, hist) in history.iter().enumerate() {
        for h in hist {
            buyers[h.product as usize].push(c as u32);
        }
    }
    let cap = max_buyers(settings, history.len());
    for list in &mut buyers {
        if list.len() > cap {
            *list = Vec::new();
        }
    }
    let by_product: CsMat<u8> = binary_csr(n_products, history.len(), buyers.iter());
    drop(buyers);
    let by_customer = by_product.to_csc();
    let sizes: Vec<f32> = history.iter().map(|h| h.len() as f32).collect();
    map_rows(&by_customer, &by_product, threads, |u, row| {
        let mut best = best_k(row.iter().map(|&(v, shared)| (v, shared, sizes[u] * sizes[v as usize])), k);
        best.shrink_to_fit();
        best
    })
}

/// Customer `c`'s most similar customers, computed from the buyers of each of `c`'s products (what a full
/// analysis computes for every customer at once).
pub(crate) fn neighbours_of(
    history: &[Vec<HistItem>],
    buyers_of: &[Vec<u32>],
    c: u32,
    settings: &Settings,
) -> Vec<(u32, f32)> {
    let k = settings.similar_customers;
    let Some(own) = history.get(c as usize).filter(|h| !h.is_empty() && k > 0) else { return Vec::new() };
    let cap = max_buyers(settings, history.len());
    let mut shared: crate::intern::FxHashMap<u32, u32> = Default::default();
    for h in own {
        let buyers = buyers_of.get(h.product as usize).map_or(&[][..], Vec::as_slice);
        if buyers.len() > cap {
            continue;
        }
        for &v in buyers {
            if v != c {
                *shared.entry(v).or_default() += 1;
            }
        }
    }
    let size = own.len() as f32;
    best_k(shared.into_iter().map(|(v, n)| (v, n, size * history[v as usize].len() as f32)), k)
}

/// The `k` most similar of `(customer, products shared, product of the two set sizes)`, by cosine, best first
/// (ties by index): the one place both the analysis and a single customer's look-up score neighbours.
fn best_k(candidates: impl Iterator<Item = (u32, u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = candidates
        .map(|(v, shared, sizes)| (v, shared as f32 / sizes.sqrt()))
        .filter(|&(_, sim)| sim.is_finite() && sim > 0.0)
        .collect();
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if best.len() > k {
        best.select_nth_unstable_by(k, order);
        best.truncate(k);
    }
    best.sort_unstable_by(order);
    best
}

/// Customer `c`'s lists of what similar customers bought: the best `limit` products by the summed similarity
/// of the `neighbours` who bought them, and the best `limit` of those `c` has not bought. `sums` (all zero, at
/// least a slot per product), `seen` (all zero) and `touched` (empty) are scratch space, left as they were
/// found.
pub(crate) fn bought_by_neighbours(
    s: &State,
    c: u32,
    neighbours: &[(u32, f32)],
    limit: usize,
    sums: &mut Vec<f32>,
    seen: &mut Vec<u64>,
    touched: &mut Vec<u32>,
) -> SimilarLists {
    let history = |v: u32| s.history[v as usize].iter().map(|h| h.product);
    bought_by_neighbours_of(s, c, neighbours, history, limit, sums, seen, touched)
}

/// [`bought_by_neighbours`], reading each neighbour's products from `products_of`.
#[allow(clippy::too_many_arguments)]
fn bought_by_neighbours_of<I: Iterator<Item = u32>>(
    s: &State,
    c: u32,
    neighbours: &[(u32, f32)],
    products_of: impl Fn(u32) -> I,
    limit: usize,
    sums: &mut Vec<f32>,
    seen: &mut Vec<u64>,
    touched: &mut Vec<u32>,
) -> SimilarLists {
    if sums.len() < s.n_products() {
        sums.resize(s.n_products(), 0.0);
    }
    if seen.len() < s.n_products().div_ceil(64) {
        seen.resize(s.n_products().div_ceil(64), 0);
    }
    // The products reached are marked as bits and listed after: testing each sum for its first addition was a
    // branch the processor could not predict: a quarter of the time of an analysis' lists.
    for &(v, sim) in neighbours {
        for p in products_of(v) {
            sums[p as usize] += sim;
            seen[p as usize / 64] |= 1 << (p % 64);
        }
    }
    for (w, word) in seen.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        while bits != 0 {
            touched.push((w * 64) as u32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    let best = |sums: &[f32]| {
        let positive = touched
            .iter()
            .filter(|&&j| s.indexable[j as usize])
            .map(|&j| (j, sums[j as usize]))
            .filter(|&(_, x)| x > 0.0 && x.is_finite());
        super::relations::top_of(s, positive, limit)
    };
    let all = best(sums);
    // The customer's own products turn negative for the second pass.
    for h in s.history.get(c as usize).map_or(&[][..], Vec::as_slice) {
        sums[h.product as usize] = -sums[h.product as usize];
    }
    let new = best(sums);
    for &j in touched.iter() {
        sums[j as usize] = 0.0;
    }
    touched.clear();
    SimilarLists { all, new }
}

/// What a customer's similar customers bought, best first: all of it, and only what the customer has not bought.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SimilarLists {
    pub(crate) all: Vec<(u32, f32)>,
    pub(crate) new: Vec<(u32, f32)>,
}

/// Every customer's [`SimilarLists`] of at most `settings.similar_products` products, on `threads` threads
/// (interleaved blocks of customers, so heavy shoppers spread over them). Identical for any thread count.
pub(crate) fn all_lists(s: &State, settings: &Settings, threads: usize) -> Vec<SimilarLists> {
    let n = s.similar.len();
    let limit = settings.similar_products;
    // Each history is read by some fifty customers: a copy of its products alone is an eighth of the memory
    // to stream.
    let products: Vec<Vec<u32>> = s.history.iter().map(|h| h.iter().map(|x| x.product).collect()).collect();
    let products = &products;
    let one = |c: usize, sums: &mut Vec<f32>, seen: &mut Vec<u64>, touched: &mut Vec<u32>| {
        let of = |v: u32| products[v as usize].iter().copied();
        bought_by_neighbours_of(s, c as u32, &s.similar[c], of, limit, sums, seen, touched)
    };
    if limit == 0 {
        return vec![SimilarLists::default(); n];
    }
    // Blocks of customers, not of products: a customer's lists cost far more than a pair-count row.
    super::parallel::map_indexed(
        n,
        threads,
        64,
        || (Vec::new(), Vec::new(), Vec::new()),
        |c, (sums, seen, touched)| one(c, sums, seen, touched),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(products: &[&[u32]]) -> Vec<Vec<HistItem>> {
        products
            .iter()
            .map(|ps| ps.iter().map(|&p| HistItem { product: p, count: 1, ..HistItem::default() }).collect())
            .collect()
    }

    fn settings(k: usize) -> Settings {
        Settings { similar_customers: k, similar_max_share: 1.0, ..Settings::default() }
    }

    #[test]
    fn neighbours_are_the_customers_with_the_most_products_in_common() {
        let h = history(&[&[0, 1, 2, 3], &[0, 1, 2, 4], &[0, 5, 6, 7], &[8, 9]]);
        let n = neighbours(&h, 10, &settings(2), 1);
        assert_eq!(n[0].iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((n[0][0].1 - 0.75).abs() < 1e-6, "3 shared of 4 and 4: cosine 0.75, got {}", n[0][0].1);
        assert!(n[3].is_empty(), "no shared product, no neighbour");
        assert!(n.iter().enumerate().all(|(u, row)| row.iter().all(|e| e.0 as usize != u)), "never itself");
    }

    #[test]
    fn lists_sum_the_neighbours_and_new_ones_leave_out_the_own_products() {
        let mut s = State::default();
        for p in 0..6 {
            s.products.intern(&format!("p{p}"));
        }
        s.indexable = vec![true, true, true, true, true, false];
        s.rank_ids();
        s.history = history(&[&[0, 1], &[0, 2, 3, 5], &[0, 1, 3], &[4]]);
        s.similar = neighbours(&s.history, 6, &settings(5), 1);
        let (mut sums, mut seen, mut touched) = (Vec::new(), Vec::new(), Vec::new());
        let lists = bought_by_neighbours(&s, 0, &s.similar[0], 10, &mut sums, &mut seen, &mut touched);
        // Customer 0 {0, 1}: 2 shares 0 and 1 (2 / sqrt(2 * 3)), 1 shares 0 (1 / sqrt(2 * 4)); 3 shares nothing.
        let (w2, w1) = (2.0 / 6f32.sqrt(), 1.0 / 8f32.sqrt());
        let ids: Vec<u32> = lists.all.iter().map(|e| e.0).collect();
        // 0 and 3 by both (a tie, by id), 1 by customer 2, 2 by customer 1; 5 is not indexable, 4 nobody's.
        assert_eq!(ids, vec![0, 3, 1, 2]);
        assert!((lists.all[0].1 - (w1 + w2)).abs() < 1e-6 && (lists.all[1].1 - (w1 + w2)).abs() < 1e-6);
        assert!((lists.all[2].1 - w2).abs() < 1e-6 && (lists.all[3].1 - w1).abs() < 1e-6);
        assert_eq!(lists.new.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 2], "without 0 and 1");
        assert!(
            sums.iter().all(|&x| x == 0.0) && seen.iter().all(|&w| w == 0) && touched.is_empty(),
            "scratch left clean"
        );
        let all = all_lists(&s, &Settings { similar_products: 10, ..settings(5) }, 2);
        assert_eq!(all[0], lists);
        assert_eq!(all, all_lists(&s, &Settings { similar_products: 10, ..settings(5) }, 1));
    }

    #[test]
    fn products_bought_by_too_many_link_no_one() {
        // Product 0 is bought by all four: at a share of 0.5 it links no one, and 3 (sharing only 0) has no
        // neighbour; its norm still counts 0.
        let h = history(&[&[0, 1], &[0, 1], &[0, 2], &[0, 3]]);
        let n = neighbours(&h, 4, &Settings { similar_max_share: 0.5, ..settings(3) }, 1);
        assert_eq!(n[0], vec![(1, 0.5)], "one shared product of two each");
        assert!(n[3].is_empty());
        let n = neighbours(&h, 4, &Settings { similar_max_buyers: 2, ..settings(3) }, 1);
        assert_eq!(n[0], vec![(1, 0.5)], "the absolute cap too");
        assert_eq!(neighbours(&h, 4, &settings(3), 1)[3].len(), 3, "without a cap, 0 links everyone");
    }

    #[test]
    fn one_customers_neighbours_are_those_of_the_whole_analysis() {
        let h = history(&[&[0, 1, 2, 3], &[0, 1, 2, 4], &[0, 5, 6, 7], &[8, 9], &[1, 3, 5, 7, 9]]);
        let mut buyers: Vec<Vec<u32>> = vec![Vec::new(); 10];
        for (c, hist) in h.iter().enumerate() {
            for item in hist {
                buyers[item.product as usize].push(c as u32);
            }
        }
        for max_share in [1.0, 0.5] {
            let settings = Settings { similar_max_share: max_share, ..settings(3) };
            let all = neighbours(&h, 10, &settings, 1);
            for c in 0..h.len() as u32 {
                assert_eq!(neighbours_of(&h, &buyers, c, &settings), all[c as usize], "customer {c}");
            }
            assert!(neighbours_of(&h, &buyers, 99, &settings).is_empty(), "an unknown customer has none");
        }
    }

    #[test]
    fn neighbours_do_not_depend_on_the_thread_count() {
        let h: Vec<Vec<HistItem>> = (0..700u32)
            .map(|c| {
                let ps: Vec<u32> = (0..40u32).filter(|p| (c * 7 + p * 13) % 5 < 2).map(|p| (p + c) % 60).collect();
                let mut ps = ps;
                ps.sort_unstable();
                ps.dedup();
                ps.into_iter().map(|p| HistItem { product: p, count: 1, ..HistItem::default() }).collect()
            })
            .collect();
        let one = neighbours(&h, 60, &settings(10), 1);
        assert_eq!(one, neighbours(&h, 60, &settings(10), 2));
        assert!(one.iter().any(|r| r.len() == 10));
    }
}
