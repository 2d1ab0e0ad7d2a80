//! Finding a place in a sorted list from where its key likely is: the lists a fold-in searches (the leads to a
//! product, by source; the buyers of a product) are sorted by indices spread about evenly over `0..n`, and a
//! binary search of a long one takes a cache miss per halving.

/// Where a key `x` likely is in a list of `len` entries sorted by keys spread about evenly over `0..n`.
pub(super) fn likely_place(len: usize, x: u32, n: usize) -> usize {
    (u64::from(x) * len as u64 / n.max(1) as u64) as usize
}

/// The first position at or after `from` of `list` (sorted by `key`, keys spread over `0..n`) whose key is not
/// below `x`: one probe at its likely place, then steps doubling away from it until `x` is passed, then a binary
/// search between the last two.
pub(super) fn seek<T>(list: &[T], key: impl Fn(&T) -> u32, x: u32, from: usize, n: usize) -> usize {
    let len = list.len();
    if len - from <= 8 {
        return from + list[from..].partition_point(|e| key(e) < x);
    }
    let guess = likely_place(len, x, n).clamp(from, len - 1);
    let (mut lo, mut hi) = (from, len);
    let mut step = 1;
    if key(&list[guess]) < x {
        lo = guess + 1;
        while lo + step <= len {
            let at = lo + step - 1;
            if key(&list[at]) < x {
                lo = at + 1;
                step *= 2;
            } else {
                hi = at;
                break;
            }
        }
    } else {
        hi = guess;
        while hi >= lo + step {
            let at = hi - step;
            if key(&list[at]) < x {
                lo = at + 1;
                break;
            }
            hi = at;
            step *= 2;
        }
    }
    lo + list[lo..hi].partition_point(|e| key(e) < x)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// `seek` finds the first key not below the one sought, from any start and whatever the guide.
        #[test]
        fn seek_is_a_partition_point(
            keys in prop::collection::btree_set(0..5_000u32, 0..400),
            x in 0..5_100u32,
            from in 0..400usize,
            n in 1..6_000usize,
        ) {
            let list: Vec<u32> = keys.into_iter().collect();
            let from = from.min(list.len());
            let expected = from + list[from..].partition_point(|&k| k < x);
            prop_assert_eq!(seek(&list, |&k| k, x, from, n), expected);
        }
    }
}
