//! A tiny seeded PRNG (xoshiro256++ seeded through SplitMix64).
//!
//! Determinism for a given seed is part of the solver's contract, and the search draws
//! millions of numbers, so it owns a small, fast, portable generator instead of depending
//! on a crate whose stream might change between versions.

/// A chance per trial, for drawing how many trials miss before the next hit (a geometric
/// distribution, sampled by inversion). A scan that skips 1% of its positions at random
/// then draws once per skip instead of once per position, and its loop carries a counter
/// instead of the generator's state.
#[derive(Clone, Copy, Debug)]
pub struct Geometric {
    /// ln(1 - p): 0 when nothing ever hits, -inf when everything does.
    log_miss: f64,
}

impl Geometric {
    pub fn new(probability: f64) -> Self {
        let log_miss = if probability >= 1.0 {
            f64::NEG_INFINITY
        } else if probability > 0.0 {
            libm::log(1.0 - probability)
        } else {
            // p <= 0 or NaN: never.
            0.0
        };
        Self { log_miss }
    }
}

#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3]))
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// How many trials miss before the next hit of `chance`; `usize::MAX` for never.
    #[inline(never)]
    pub fn misses(&mut self, chance: Geometric) -> usize {
        if chance.log_miss == 0.0 {
            return usize::MAX;
        }
        // 1 - unit() is in (0, 1], so the logarithm is finite; `as` saturates.
        (libm::log(1.0 - self.unit()) / chance.log_miss).floor() as usize
    }

    /// Uniform integer in [0, n); n > 0.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform integer in [lo, hi]; lo <= hi.
    #[inline]
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_follow_the_geometric_distribution() {
        for p in [0.01, 0.1, 0.5] {
            let mut rng = Rng::new(7);
            let chance = Geometric::new(p);
            let draws = 200_000;
            let total: f64 = (0..draws).map(|_| rng.misses(chance) as f64).sum();
            let expected = (1.0 - p) / p;
            let mean = total / draws as f64;
            assert!(
                (mean - expected).abs() < 0.02 * expected.max(1.0),
                "p = {p}: mean {mean}, expected {expected}"
            );
        }
        let mut rng = Rng::new(7);
        for _ in 0..1_000 {
            assert_eq!(rng.misses(Geometric::new(1.0)), 0);
            assert_eq!(rng.misses(Geometric::new(0.0)), usize::MAX);
            assert_eq!(rng.misses(Geometric::new(f64::NAN)), usize::MAX);
            assert_eq!(rng.misses(Geometric::new(-1.0)), usize::MAX);
        }
    }
}
