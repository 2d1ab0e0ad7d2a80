//! Places in the sorted lists a fold-in changes (the leads to a product, by source; the buyers of a product; a
//! customer's history): finding one from where its key likely is (the keys are indices spread about evenly over
//! `0..n`, and a binary search of a long list takes a cache miss per halving), and putting several new entries
//! in at once.

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

/// Puts the `new` entries into `list`, each before the entry at its place (places in the list as it is, in
/// order): from the last, each moving only the entries between its place and the next one's, where inserting
/// them one at a time moved the list's tail for each.
pub(super) fn insert_at<T: Copy>(list: &mut Vec<T>, new: &[(usize, T)]) {
    let Some(&(_, filler)) = new.first() else { return };
    let old = list.len();
    list.resize(old + new.len(), filler);
    let mut end = old;
    for (k, &(at, entry)) in new.iter().enumerate().rev() {
        list.copy_within(at..end, at + k + 1);
        list[at + k] = entry;
        end = at;
    }
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

        /// New keys put in at their places (found in the list as it is) leave the list sorted, holding both.
        #[test]
        fn insert_at_merges_in_order(
            keys in prop::collection::btree_set(0..5_000u32, 0..300),
            added in prop::collection::btree_set(0..5_000u32, 0..100),
        ) {
            let mut list: Vec<u32> = keys.iter().copied().collect();
            let new: Vec<(usize, u32)> =
                added.difference(&keys).map(|&x| (list.partition_point(|&k| k < x), x)).collect();
            insert_at(&mut list, &new);
            let expected: Vec<u32> = keys.union(&added).copied().collect();
            prop_assert_eq!(list, expected);
        }
    }
}
