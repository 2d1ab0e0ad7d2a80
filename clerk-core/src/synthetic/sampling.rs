//! Small, dependency-free sampling helpers over a seeded `StdRng`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal draw (Box-Muller).
pub(super) fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw with the given median and log-scale spread.
pub(super) fn log_normal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// An exponential draw with mean 1.
pub(super) fn exponential(rng: &mut StdRng) -> f64 {
    -(1.0 - rng.gen::<f64>()).ln()
}

/// A uniform draw in `[lo, hi)`.
pub(super) fn uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `a` and `b`.
pub(super) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` from a hash.
pub(super) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// An independent generator for one stream (`stream`) of a seed.
pub(super) fn stream_rng(seed: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed, stream))
}

/// Weighted sampling of indices in constant time (Walker's alias method, Vose's construction).
#[derive(Clone, Debug, Default)]
pub(super) struct Alias {
    /// Per slot: the chance to keep the slot, and the index taken otherwise.
    slots: Vec<(f32, u32)>,
}

impl Alias {
    /// A sampler over `weights` (non-negative; an all-zero table samples nothing).
    pub(super) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut p: Vec<f64> = weights.into_iter().map(|w| w.max(0.0)).collect();
        let n = p.len();
        let total: f64 = p.iter().sum();
        if n == 0 || total <= 0.0 || !total.is_finite() {
            return Alias::default();
        }
        for x in &mut p {
            *x *= n as f64 / total;
        }
        let mut slots = vec![(1.0f32, 0u32); n];
        let (mut small, mut large): (Vec<u32>, Vec<u32>) = (0..n as u32).partition(|&i| p[i as usize] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            slots[s as usize] = (p[s as usize] as f32, l);
            p[l as usize] += p[s as usize] - 1.0;
            if p[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            slots[i as usize] = (1.0, i);
        }
        Alias { slots }
    }

    /// An index drawn with probability proportional to its weight, `None` when every weight is zero.
    pub(super) fn sample(&self, rng: &mut StdRng) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let i = rng.gen_range(0..self.slots.len());
        let (keep, alias) = self.slots[i];
        Some(if rng.gen::<f32>() < keep { i } else { alias as usize })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_follows_weights() {
        let table = Alias::new([0.0, 1.0, 3.0, 0.0]);
        let mut rng = stream_rng(7, 1);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[table.sample(&mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        assert_eq!(counts[3], 0);
        assert!((2700..3300).contains(&counts[2]), "{counts:?}");
        assert!(Alias::new([0.0, 0.0]).sample(&mut rng).is_none());
        assert!(Alias::default().sample(&mut rng).is_none());
    }

    #[test]
    fn normal_has_unit_spread() {
        let mut rng = stream_rng(1, 2);
        let xs: Vec<f64> = (0..20_000).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }
}
