//! What a workload asks for: key names, key popularity (uniform or Zipf), value sizes.
//!
//! Keys are `k` followed by the zero-padded key number, so every key has the configured
//! length and a reply's key names map back to numbers without a lookup table.

/// SplitMix64: small, fast, and good enough to pick keys and operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How key numbers are drawn.
pub enum Popularity {
    Uniform,
    /// Cumulative probabilities of ranks 0..n under Zipf(s); rank 0 is the hottest key.
    Zipf(Vec<f64>),
}

pub struct Keyspace {
    pub count: u32,
    pub key_size: usize,
    popularity: Popularity,
    value_min: usize,
    value_max: usize,
}

#[derive(Debug, PartialEq)]
pub enum KeyspaceError {
    KeyTooShort { key_size: usize, needed: usize },
    KeyTooLong(usize),
    NoKeys,
    ValueRange,
}

impl std::fmt::Display for KeyspaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyspaceError::KeyTooShort { key_size, needed } => write!(
                f,
                "--key-size {key_size} cannot name every key: needs at least {needed}"
            ),
            KeyspaceError::KeyTooLong(n) => write!(f, "--key-size {n} exceeds memcached's 250"),
            KeyspaceError::NoKeys => write!(f, "--keys must be at least 1"),
            KeyspaceError::ValueRange => {
                write!(f, "--value-size range must be MIN-MAX, MIN <= MAX")
            }
        }
    }
}

impl Keyspace {
    /// `zipf_s` of `None` draws keys uniformly.
    pub fn new(
        count: u32,
        key_size: usize,
        zipf_s: Option<f64>,
        value_min: usize,
        value_max: usize,
    ) -> Result<Keyspace, KeyspaceError> {
        if count == 0 {
            return Err(KeyspaceError::NoKeys);
        }
        let needed = 1 + digits(count - 1);
        if key_size < needed {
            return Err(KeyspaceError::KeyTooShort { key_size, needed });
        }
        if key_size > 250 {
            return Err(KeyspaceError::KeyTooLong(key_size));
        }
        if value_min > value_max {
            return Err(KeyspaceError::ValueRange);
        }
        let popularity = match zipf_s {
            None => Popularity::Uniform,
            Some(s) => {
                let mut cdf = Vec::with_capacity(count as usize);
                let mut sum = 0.0;
                for rank in 0..count {
                    sum += 1.0 / f64::from(rank + 1).powf(s);
                    cdf.push(sum);
                }
                for p in &mut cdf {
                    *p /= sum;
                }
                Popularity::Zipf(cdf)
            }
        };
        Ok(Keyspace {
            count,
            key_size,
            popularity,
            value_min,
            value_max,
        })
    }

    pub fn draw(&self, rng: &mut Rng) -> u32 {
        match &self.popularity {
            Popularity::Uniform => (rng.next_u64() % u64::from(self.count)) as u32,
            Popularity::Zipf(cdf) => {
                let u = rng.next_f64();
                (cdf.partition_point(|&p| p < u) as u32).min(self.count - 1)
            }
        }
    }

    /// The value size of a key: fixed, or spread log-uniformly over the range (small values
    /// are common, large ones rare, as in real caches), the same every time for one key so
    /// a cache-aside refill stores what a miss fetched.
    pub fn value_size(&self, key: u32) -> usize {
        if self.value_min == self.value_max {
            return self.value_min;
        }
        let u = (mix(u64::from(key) ^ 0x5bd1_e995) >> 11) as f64 / (1u64 << 53) as f64;
        let (lo, hi) = (
            (self.value_min as f64).ln(),
            (self.value_max as f64 + 1.0).ln(),
        );
        ((lo + u * (hi - lo)).exp() as usize).clamp(self.value_min, self.value_max)
    }

    pub fn max_value_size(&self) -> usize {
        self.value_max
    }

    /// Appends the name of `key` to `out`.
    pub fn write_key(&self, key: u32, out: &mut Vec<u8>) {
        out.push(b'k');
        let mut digits_buf = [b'0'; 250];
        let width = self.key_size - 1;
        let mut n = key;
        let mut i = width;
        while n > 0 {
            i -= 1;
            digits_buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&digits_buf[..width]);
    }

    /// The key number of a name written by `write_key`, if it is one.
    pub fn parse_key(name: &[u8]) -> Option<u32> {
        let digits = name.strip_prefix(b"k")?;
        if digits.is_empty() || digits.len() > 250 {
            return None;
        }
        let mut n: u64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u64::from(d - b'0');
            if n > u64::from(u32::MAX) {
                return None;
            }
        }
        Some(n as u32)
    }
}

fn digits(mut n: u32) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_configured_size_and_parse_back() {
        let ks = Keyspace::new(400_000, 16, None, 100, 100).unwrap();
        let mut out = Vec::new();
        ks.write_key(399_999, &mut out);
        assert_eq!(out, b"k000000000399999");
        assert_eq!(Keyspace::parse_key(&out), Some(399_999));
        out.clear();
        ks.write_key(0, &mut out);
        assert_eq!(out.len(), 16);
        assert_eq!(Keyspace::parse_key(&out), Some(0));
        assert_eq!(Keyspace::parse_key(b"x123"), None);
        assert_eq!(Keyspace::parse_key(b"k12a"), None);
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            Keyspace::new(1_000_000, 6, None, 1, 1).err(),
            Some(KeyspaceError::KeyTooShort {
                key_size: 6,
                needed: 7
            })
        );
    }

    #[test]
    fn zipf_favours_low_ranks_in_the_right_proportion() {
        let ks = Keyspace::new(1000, 8, Some(1.0), 1, 1).unwrap();
        let mut rng = Rng::new(7);
        let mut counts = vec![0u32; 1000];
        for _ in 0..200_000 {
            counts[ks.draw(&mut rng) as usize] += 1;
        }
        // Under Zipf(1) rank 1 is drawn half as often as rank 0, rank 9 a tenth as often.
        let ratio1 = f64::from(counts[1]) / f64::from(counts[0]);
        let ratio9 = f64::from(counts[9]) / f64::from(counts[0]);
        assert!((ratio1 - 0.5).abs() < 0.05, "rank1/rank0 {ratio1}");
        assert!((ratio9 - 0.1).abs() < 0.02, "rank9/rank0 {ratio9}");
        assert!(counts[999] < counts[0] / 100);
    }

    #[test]
    fn uniform_draws_cover_the_keyspace() {
        let ks = Keyspace::new(10, 4, None, 1, 1).unwrap();
        let mut rng = Rng::new(1);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[ks.draw(&mut rng) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn value_sizes_stay_in_range_and_are_stable_per_key() {
        let ks = Keyspace::new(100_000, 8, None, 32, 16384).unwrap();
        let sizes: Vec<usize> = (0..100_000).map(|k| ks.value_size(k)).collect();
        assert!(sizes.iter().all(|&s| (32..=16384).contains(&s)));
        assert_eq!(ks.value_size(42), sizes[42]);
        let small = sizes.iter().filter(|&&s| s < 724).count();
        // Log-uniform: half of the keys fall below the geometric middle (sqrt(32*16384)).
        assert!(
            (45_000..55_000).contains(&small),
            "{small} below the middle"
        );
    }
}
