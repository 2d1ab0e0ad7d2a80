//! Dunning's log-likelihood ratio for 2x2 contingency tables (Dunning 1993; Mahout's `LogLikelihood`).

/// Counts below this read `x ln x` from a table: an analysis tests tens of millions of pairs, all of integer
/// counts, and the logarithm would dominate it.
const TABLE: usize = 1 << 20;

fn table() -> &'static [f64] {
    static XLOGX: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    XLOGX.get_or_init(|| (0..TABLE).map(|x| if x == 0 { 0.0 } else { x as f64 * (x as f64).ln() }).collect())
}

fn x_log_x(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    // An integer below the table's end, told by a round trip through an integer (one instruction each way,
    // where `fract` is a call into libm on the baseline x86-64 target).
    let i = x as usize;
    if i < TABLE && i as f64 == x {
        table()[i]
    } else {
        x * x.ln()
    }
}

fn entropy(ks: &[f64]) -> f64 {
    x_log_x(ks.iter().sum()) - ks.iter().map(|&k| x_log_x(k)).sum::<f64>()
}

/// The LLR of the table `k11` (both), `k12` (B without A), `k21` (A without B), `k22` (neither), `>= 0`.
pub fn llr(k11: f64, k12: f64, k21: f64, k22: f64) -> f64 {
    let row = entropy(&[k11 + k12, k21 + k22]);
    let col = entropy(&[k11 + k21, k12 + k22]);
    let mat = entropy(&[k11, k12, k21, k22]);
    (2.0 * (row + col - mat)).max(0.0)
}

/// The LLR of "rows with A also hold B": `both` rows hold both, `a` rows hold A, `b` rows hold B, of `n` rows.
/// Signed: negative when B is rarer among A's rows than among the others (the pair avoids each other).
pub fn signed_llr(both: f64, a: f64, b: f64, n: f64) -> f64 {
    let k11 = both;
    let k12 = (b - both).max(0.0);
    let k21 = (a - both).max(0.0);
    let k22 = (n - a - b + both).max(0.0);
    let value = llr(k11, k12, k21, k22);
    let with_a = k11 / (k11 + k21).max(1.0);
    let without_a = k12 / (k12 + k22).max(1.0);
    if with_a < without_a {
        -value
    } else {
        value
    }
}

/// Whether the LLR of a pair above chance (`both * n > a * b`, arguments as [`signed_llr`]) can reach `min`: a
/// bound with one logarithm, where the LLR takes nine terms whose table look-ups are cache misses. Never
/// false when [`signed_llr`] reaches `min`; most pairs that fail the test fail the bound.
///
/// Above chance, the cells of "B without A" and "A without B" hold fewer than expected, so their terms of
/// `2 * sum(O ln(O / E))` are negative, and `ln x <= x - 1` bounds the term of "neither":
/// `LLR <= 2 * (k11 ln(k11 / E11) + k22 (k11 - E11) / E22)`.
pub(crate) fn may_reach(both: f64, a: f64, b: f64, n: f64, min: f64) -> bool {
    let k22 = n - a - b + both;
    if !(both <= a && both <= b && k22 >= 0.0 && both * n > a * b && n > a && n > b) {
        // Outside the bound's premises: the full test decides.
        return true;
    }
    let e11 = a * b / n;
    let e22 = (n - a) * (n - b) / n;
    let bound = 2.0 * (both * (both / e11).ln() + k22 * (both - e11) / e22);
    // The margin covers the rounding of the nine-term sum (about 1e-9 for a million rows).
    // A bound that is not a number rules nothing out.
    bound.is_nan() || bound >= min - 1e-6
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The bound never rules out a pair whose LLR reaches the threshold.
        #[test]
        fn may_reach_never_rules_out_a_passing_pair(
            n in 2..2_000_000u32,
            a_share in 0.0..1.0f64,
            b_share in 0.0..1.0f64,
            both_share in 0.0..1.0f64,
            min in 0.0..60.0f64,
        ) {
            let n = f64::from(n);
            let a = (a_share * n).floor().max(1.0);
            let b = (b_share * n).floor().max(1.0);
            let low = (a + b - n).max(0.0);
            let both = (low + both_share * (a.min(b) - low)).floor().max(low);
            let value = signed_llr(both, a, b, n);
            if value >= min {
                prop_assert!(may_reach(both, a, b, n, min), "llr {value} >= {min} ruled out: {both} {a} {b} {n}");
            }
        }
    }

    #[test]
    fn matches_reference_values() {
        // Reference values computed independently (Python, the same published formula); the first two are
        // 4 ln 2 and 40 ln 2 in closed form.
        assert!((llr(1.0, 0.0, 0.0, 1.0) - 4.0 * std::f64::consts::LN_2).abs() < 1e-12);
        assert!((llr(10.0, 0.0, 0.0, 10.0) - 40.0 * std::f64::consts::LN_2).abs() < 1e-9);
        assert!((llr(5.0, 1995.0, 0.0, 100_000.0) - 39.33052165573463).abs() < 1e-6);
        assert!((llr(1000.0, 1995.0, 1000.0, 100_000.0) - 4730.736813061871).abs() < 1e-6);
        assert_eq!(llr(1.0, 1.0, 1.0, 1.0), 0.0);
    }

    #[test]
    fn sign_says_whether_the_pair_attracts() {
        assert!(signed_llr(50.0, 100.0, 100.0, 10_000.0) > 0.0);
        assert!(signed_llr(0.0, 1000.0, 1000.0, 2000.0) < 0.0);
    }
}
