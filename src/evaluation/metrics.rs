//! Ranking metrics of the offline protocol, over binary relevance.

use std::collections::HashSet;
use std::hash::Hash;

/// `hit@k`, `recall@k` and `ndcg@k` of one ranked list against a truth set, as the protocol defines them:
/// recall and the ideal DCG use `min(k, |truth|)`; a list shorter than `k` counts its empty slots as misses.
pub fn top_k<T: Eq + Hash>(ranked: &[T], truth: &HashSet<T>, k: usize) -> (f64, f64, f64) {
    if truth.is_empty() || k == 0 {
        return (0.0, 0.0, 0.0);
    }
    let mut hits = 0usize;
    let mut dcg = 0.0;
    let mut seen: Vec<&T> = Vec::with_capacity(k);
    for (rank, item) in ranked.iter().take(k).enumerate() {
        // A repeated item is one answer: it cannot hit twice.
        if truth.contains(item) && !seen.contains(&item) {
            seen.push(item);
            hits += 1;
            dcg += 1.0 / ((rank + 2) as f64).log2();
        }
    }
    let ideal_n = k.min(truth.len());
    let idcg: f64 = (0..ideal_n).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
    (f64::from(u8::from(hits > 0)), hits as f64 / ideal_n as f64, dcg / idcg)
}

/// `hit@k` and `mrr@k` of one ranked list for a single hidden item.
pub fn hidden_item<T: Eq>(ranked: &[T], hidden: &T, k: usize) -> (f64, f64) {
    match ranked.iter().take(k).position(|x| x == hidden) {
        Some(rank) => (1.0, 1.0 / (rank + 1) as f64),
        None => (0.0, 0.0),
    }
}

/// Area under the ROC curve of `scores` for the positives `is_positive`, with tied scores counting half
/// (average ranks). `None` when there are no positives or no negatives.
pub fn auc(scores: &[f64], is_positive: &[bool]) -> Option<f64> {
    let n = scores.len();
    let pos = is_positive.iter().filter(|&&p| p).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&r| is_positive[order[r]]).count() as f64 * avg_rank;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// Share of the top `k` (by score, ties by the order of `ids`, which the caller sorts by id) that are positive,
/// with `k` as the denominator.
pub fn precision_at(scores: &[f64], is_positive: &[bool], k: usize) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.iter().take(k).filter(|&&i| is_positive[i]).count() as f64 / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn top_k_matches_hand_computed_values() {
        let truth: HashSet<u32> = [1, 2, 3].into_iter().collect();
        let (hit, recall, ndcg) = top_k(&[9, 1, 8, 2], &truth, 10);
        assert_eq!(hit, 1.0);
        assert!((recall - 2.0 / 3.0).abs() < 1e-12);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((ndcg - dcg / idcg).abs() < 1e-12);
        assert_eq!(hidden_item(&[4, 5, 6], &6, 10), (1.0, 1.0 / 3.0));
        assert_eq!(hidden_item(&[4, 5, 6], &7, 10), (0.0, 0.0));
    }

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), Some(0.5));
        assert_eq!(auc(&[2.0, 1.0, 0.0], &[true, false, false]), Some(1.0));
        assert_eq!(auc(&[0.0, 1.0], &[true, false]), Some(0.0));
        assert_eq!(auc(&[0.0, 1.0], &[true, true]), None);
    }

    proptest! {
        #[test]
        fn auc_equals_pairwise_count(scores in proptest::collection::vec(0u8..5, 2..40), labels in proptest::collection::vec(any::<bool>(), 2..40)) {
            let n = scores.len().min(labels.len());
            let s: Vec<f64> = scores[..n].iter().map(|&x| f64::from(x)).collect();
            let l = &labels[..n];
            let mut wins = 0.0;
            let mut pairs = 0.0;
            for i in 0..n { for j in 0..n {
                if l[i] && !l[j] {
                    pairs += 1.0;
                    wins += if s[i] > s[j] { 1.0 } else if s[i] == s[j] { 0.5 } else { 0.0 };
                }
            }}
            let got = auc(&s, l);
            if pairs == 0.0 { prop_assert!(got.is_none()); } else { prop_assert!((got.unwrap() - wins / pairs).abs() < 1e-9); }
        }

        #[test]
        fn metrics_stay_in_unit_range(ranked in proptest::collection::vec(0u32..30, 0..15), truth in proptest::collection::hash_set(0u32..30, 1..12)) {
            let (h, r, n) = top_k(&ranked, &truth, 10);
            for m in [h, r, n] { prop_assert!((0.0..=1.0 + 1e-12).contains(&m)); }
        }
    }
}
