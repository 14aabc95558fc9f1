//! [`Rng`]: the one seeded random source of the demo, the load command and the benchmarks.
//! ChaCha8, whose output rand_chacha keeps stable across platforms and versions, so a seed
//! always gives the same stream (the same demo, the same loaded job keys, the same bench data).

/// A seeded random stream.
pub struct Rng(rand_chacha::ChaCha8Rng);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Self(rand_core::SeedableRng::seed_from_u64(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        rand_core::RngCore::next_u64(&mut self.0)
    }

    /// Uniform in `low..high` (`low` when the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.range(0, n)
    }

    /// True with probability `pct`/100.
    pub fn percent(&mut self, pct: u64) -> bool {
        self.range(0, 100) < pct
    }

    /// True with probability `per_mille`/1000.
    pub fn per_mille(&mut self, per_mille: u64) -> bool {
        self.range(0, 1000) < per_mille
    }

    /// `digits` lower-case hex digits.
    pub fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits + 16);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(digits);
        out
    }

    /// One of `items`, uniformly. The callers' tables are constants and never empty (an empty
    /// one would panic here, in the demo's own data, never on input).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = self.below(items.len() as u64) as usize;
        &items[index.min(items.len().saturating_sub(1))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_stream_and_ranges_hold() {
        let (mut a, mut b) = (Rng::seeded(7), Rng::seeded(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            let r = a.range(10, 20);
            assert_eq!(r, b.range(10, 20));
            assert!((10..20).contains(&r));
        }
        assert_eq!(a.range(5, 5), 5);
        assert_eq!(a.below(0), 0);
        assert_eq!(a.hex(40).len(), 40);
        assert_eq!(a.pick(&[3]), &3);
    }
}
