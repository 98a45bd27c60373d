//! SHA-1 (FIPS 180-4), for script names: Redis names a script by the SHA-1 of its body in
//! lower-case hex, and `redis.sha1hex` exposes the same function to scripts.

/// The SHA-1 digest of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut tail = data[data.len() / 64 * 64..].to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&bit_len.to_be_bytes());
    for block in data.chunks_exact(64).chain(tail.chunks_exact(64)) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, &wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The SHA-1 of `data` as 40 lower-case hex digits.
pub fn sha1_hex(data: &[u8]) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 40];
    for (i, b) in sha1(data).iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(&sha1_hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            &sha1_hex(b"Pizza & Mandolino"),
            b"74822d82031af7493c20eefa13bd07ec4fada82f"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            &sha1_hex(&long),
            b"291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }
}

/// Hashes the script cache's keys (a SHA-1 in hex) for its map: one folded multiply of
/// the first 32 hex digits (128 of the digest's bits) with two keys drawn at start-up,
/// where the default SipHash took ~290 instructions over all 40 bytes on every EVALSHA.
/// The keys are secret, so script bodies cannot be chosen to fall into one bucket.
#[derive(Clone, Copy, Debug)]
pub struct ShaState([u64; 2]);

impl Default for ShaState {
    fn default() -> ShaState {
        use std::hash::BuildHasher;
        let random = std::collections::hash_map::RandomState::new();
        ShaState([random.hash_one(1u8), random.hash_one(2u8)])
    }
}

impl std::hash::BuildHasher for ShaState {
    type Hasher = ShaHasher;

    fn build_hasher(&self) -> ShaHasher {
        ShaHasher {
            keys: self.0,
            hash: 0,
        }
    }
}

/// See [`ShaState`].
#[derive(Debug)]
pub struct ShaHasher {
    keys: [u64; 2],
    hash: u64,
}

impl std::hash::Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            let part = bytes.get(at..).unwrap_or_default();
            let n = part.len().min(8);
            w[..n].copy_from_slice(&part[..n]);
            u64::from_le_bytes(w)
        };
        let a = word(0) ^ word(16) ^ self.keys[0] ^ self.hash;
        let b = word(8) ^ word(24) ^ self.keys[1];
        let product = u128::from(a) * u128::from(b);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}
