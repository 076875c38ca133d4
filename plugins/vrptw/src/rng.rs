//! A tiny seeded PRNG (xoshiro256++ seeded through SplitMix64).
//!
//! Determinism for a given seed is part of the solver's contract, and the search draws
//! millions of numbers, so it owns a small, fast, portable generator instead of depending
//! on a crate whose stream might change between versions.

/// A probability as a bound on `unit()`'s 53-bit numerator k: `k / 2^53 < p` holds exactly
/// when `k < ceil(p * 2^53)` (the product is exact, a power-of-two scaling), so
/// [`Rng::hit`] keeps the random stream and the decisions of `unit() < p`.
#[derive(Clone, Copy, Debug)]
pub struct Chance(u64);

impl Chance {
    pub fn new(probability: f64) -> Self {
        // `as` saturates: p <= 0 or NaN never hits, p >= 1 always does.
        Self((probability * (1u64 << 53) as f64).ceil() as u64)
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

    /// True with probability `chance`: exactly the draw `self.unit() < p` would make, in
    /// integer arithmetic (the search's inner loops make one per candidate position).
    #[inline]
    pub fn hit(&mut self, chance: Chance) -> bool {
        (self.next_u64() >> 11) < chance.0
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
    fn hit_draws_exactly_what_unit_below_p_draws() {
        for p in [
            0.0,
            1e-9,
            0.01,
            0.25,
            0.5,
            0.999_999,
            1.0,
            -1.0,
            2.0,
            f64::NAN,
        ] {
            let (mut a, mut b) = (Rng::new(7), Rng::new(7));
            let chance = Chance::new(p);
            for _ in 0..100_000 {
                assert_eq!(a.hit(chance), b.unit() < p, "p = {p}");
            }
        }
        // The boundary itself: k / 2^53 == p must not hit.
        let p = 12_345.0 / (1u64 << 53) as f64;
        assert_eq!(Chance::new(p).0, 12_345);
    }
}
