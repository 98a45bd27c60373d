//! Whole-keyspace walks for the RESP layer and `stats sizes` / metadumps: scan, random key,
//! rename, per-database counts, iteration. Each visits one stripe at a time under its lock.

use super::arena::ChunkId;
use super::index::table_hash;
use super::item::{Exp, Item, NO_CHUNK};
use super::items::{Core, Held, ItemSpec};
use super::{ItemView, KeyspaceStats, RewriteError};
use std::sync::atomic::{AtomicU64, Ordering};

/// xorshift state for `random_key` (quality does not matter, only spread).
static RANDOM: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);

fn next_random() -> u64 {
    let mut x = RANDOM.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    RANDOM.store(x, Ordering::Relaxed);
    x
}

impl Core {
    /// Calls `f` for the live items of `db` in whole stripes from `cursor` (a stripe number)
    /// until at least `count` were seen; returns the next stripe, or 0 after the last.
    /// Every stripe is visited whole, so a key present for the whole scan is seen.
    pub fn scan(&self, db: u8, cursor: u64, count: usize, mut f: impl FnMut(&dyn ItemView)) -> u64 {
        let stripes = self.index.stripe_count() as u64;
        let mut stripe = cursor;
        let mut seen = 0;
        while stripe < stripes {
            let s = self.index.lock(stripe as usize);
            let db = self.index.physical(db);
            let now = self.now(db);
            for chunk in s.chunks() {
                let it = Item::new(&self.arena, chunk);
                if it.db() == db && self.dead(it, now).is_none() {
                    f(&self.view(chunk, now));
                    seen += 1;
                }
            }
            drop(s);
            stripe += 1;
            if seen >= count.max(1) {
                break;
            }
        }
        if stripe >= stripes {
            0
        } else {
            stripe
        }
    }

    /// A random live key of `db`, every key equally likely: one pass over the stripes
    /// picks one with probability proportional to its key count in `db` (weighted
    /// reservoir sampling: no table of counts), then a uniform key of the db in it. An
    /// expired key drawn that way is rejected and the draw starts over, so live keys stay
    /// equally likely. After a few rejections (a database of mostly expired keys), the
    /// live keys of random stripes answer, as before.
    pub fn random_key(&self, db: u8) -> Option<Vec<u8>> {
        let stripes = self.index.stripe_count();
        for _ in 0..8 {
            let mut total = 0u64;
            let mut chosen = None;
            for k in 0..stripes {
                let n = self.index.lock(k).db_len(self.index.physical(db));
                total += n;
                if n > 0 && next_random() % total < n {
                    chosen = Some(k);
                }
            }
            if let Some(key) = self.uniform_key_in(db, chosen?) {
                return Some(key);
            }
        }
        for _ in 0..stripes {
            if let Some(key) = self.random_key_in(db, next_random() as usize % stripes) {
                return Some(key);
            }
        }
        let start = next_random() as usize;
        (0..stripes).find_map(|k| self.random_key_in(db, (start + k) % stripes))
    }

    /// A uniformly drawn key of `db` in one stripe, expired or not; `None` when it is
    /// expired (or the stripe has none left).
    fn uniform_key_in(&self, db: u8, stripe: usize) -> Option<Vec<u8>> {
        let s = self.index.lock(stripe);
        let db = self.index.physical(db);
        let n = s.db_len(db);
        if n == 0 {
            return None;
        }
        let pick = (next_random() % n) as usize;
        let c = if s.len() as u64 == n {
            // Every key of the stripe is in `db`: no item needs reading to count.
            s.chunks().nth(pick)?
        } else {
            s.chunks()
                .filter(|c| Item::new(&self.arena, *c).db() == db)
                .nth(pick)?
        };
        let it = Item::new(&self.arena, c);
        self.dead(it, self.now(db))
            .is_none()
            .then(|| it.key().to_vec())
    }

    /// A random live key of `db` in one stripe, if it holds any.
    fn random_key_in(&self, db: u8, stripe: usize) -> Option<Vec<u8>> {
        let s = self.index.lock(stripe);
        let db = self.index.physical(db);
        if s.db_len(db) == 0 {
            return None;
        }
        let now = self.now(db);
        let live = |c: &ChunkId| {
            let it = Item::new(&self.arena, *c);
            it.db() == db && self.dead(it, now).is_none()
        };
        let n = s.chunks().filter(live).count();
        if n == 0 {
            return None;
        }
        let pick = next_random() as usize % n;
        let c = s.chunks().filter(live).nth(pick)?;
        Some(Item::new(&self.arena, c).key().to_vec())
    }

    /// RENAME / MOVE (`keep_source` false) and COPY (`keep_source` true): the value of
    /// (db, key), whatever its type, under (to_db, to_key). Ok(false) when the source is
    /// absent, or the destination exists and `only_if_absent`.
    pub fn transfer(
        &self,
        db: u8,
        key: &[u8],
        to_db: u8,
        to_key: &[u8],
        only_if_absent: bool,
        keep_source: bool,
    ) -> Result<bool, RewriteError> {
        let k_src = self.index.key_hash(key);
        let k_dst = self.index.key_hash(to_key);
        let (si, di) = (self.index.stripe_of(k_src), self.index.stripe_of(k_dst));
        // Databases are resolved under the stripe locks (see `index.rs` on SWAPDB).
        let resolve = || {
            let (db, to_db) = (self.index.physical(db), self.index.physical(to_db));
            let now = self.now(db);
            self.now(to_db);
            (
                db,
                to_db,
                now,
                table_hash(k_src, db),
                table_hash(k_dst, to_db),
            )
        };
        if si == di {
            let mut s = self.index.lock(si);
            if self.snapshot.is_active() {
                self.snapshot_visit_locked(si, &mut s);
            }
            let (db, to_db, now, h_src, h_dst) = resolve();
            let Ok(src) = self.find_live_locked(&mut s, h_src, db, key, now) else {
                return Ok(false);
            };
            if db == to_db && key == to_key {
                // The destination exists: it is the source.
                return Ok(!only_if_absent && !keep_source);
            }
            let dst = self
                .find_live_locked(&mut s, h_dst, to_db, to_key, now)
                .ok();
            if only_if_absent && dst.is_some() {
                return Ok(false);
            }
            let mut held = Held {
                stripe: si,
                guard: &mut s,
                protect: src,
            };
            let new = self.carry_item(None, src, to_db, to_key, &mut held, keep_source)?;
            // Our own allocation may have evicted the old destination.
            let dst = dst.filter(|&d| s.find(&self.arena, h_dst, to_db, to_key) == Some(d));
            self.link_locked(&mut s, h_dst, new, dst);
            if !keep_source {
                self.unlink_locked(&mut s, h_src, src);
            }
            return Ok(true);
        }
        // Two stripes are locked in index order.
        let mut lo = self.index.lock(si.min(di));
        let mut hi = self.index.lock(si.max(di));
        if self.snapshot.is_active() {
            self.snapshot_visit_locked(si.min(di), &mut lo);
            self.snapshot_visit_locked(si.max(di), &mut hi);
        }
        let (src_s, dst_s) = if si < di {
            (&mut *lo, &mut *hi)
        } else {
            (&mut *hi, &mut *lo)
        };
        let (db, to_db, now, h_src, h_dst) = resolve();
        let Ok(src) = self.find_live_locked(src_s, h_src, db, key, now) else {
            return Ok(false);
        };
        let dst = self.find_live_locked(dst_s, h_dst, to_db, to_key, now).ok();
        if only_if_absent && dst.is_some() {
            return Ok(false);
        }
        let mut held = Held {
            stripe: di,
            guard: dst_s,
            protect: dst.unwrap_or(NO_CHUNK),
        };
        let new = self.carry_item(
            Some(&mut *src_s),
            src,
            to_db,
            to_key,
            &mut held,
            keep_source,
        )?;
        let dst = dst.filter(|&d| dst_s.find(&self.arena, h_dst, to_db, to_key) == Some(d));
        self.link_locked(dst_s, h_dst, new, dst);
        if !keep_source {
            self.unlink_locked(src_s, h_src, src);
        }
        Ok(true)
    }

    /// A copy of string item `src` under another key (and expiry, if given).
    pub fn copy_item(
        &self,
        src: ChunkId,
        db: u8,
        key: &[u8],
        exp: Option<Exp>,
        held: &mut Held<'_>,
    ) -> Result<ChunkId, RewriteError> {
        let it = Item::new(&self.arena, src);
        let spec = ItemSpec {
            kind: it.kind(),
            large: true,
            ..ItemSpec::new(
                db,
                key,
                it.value_len(),
                it.flags(),
                exp.unwrap_or_else(|| it.exp()),
                self.next_cas(),
            )
        };
        let chunk_max = self.config.slab_chunk_max;
        let new = self.build(&spec, held, |push| it.for_each_piece(chunk_max, &mut *push))?;
        Item::new(&self.arena, new).set_atime(self.clock.now());
        Ok(new)
    }

    pub fn keyspace(&self, databases: usize) -> Vec<KeyspaceStats> {
        let mut out = vec![KeyspaceStats::default(); databases];
        self.for_each(|db, it| {
            if let Some(k) = out.get_mut(usize::from(db)) {
                k.keys += 1;
                if it.expiry() != super::Expiry::Never {
                    k.expires += 1;
                }
            }
        });
        out
    }

    pub fn for_each(&self, mut f: impl FnMut(u8, &dyn ItemView)) {
        let now = self.clock.now();
        for db in 0..16 {
            self.now(db);
        }
        for i in 0..self.index.stripe_count() {
            let s = self.index.lock(i);
            let logical: [u8; 16] = std::array::from_fn(|p| self.index.logical(p as u8));
            for chunk in s.chunks() {
                let it = Item::new(&self.arena, chunk);
                if self.dead(it, now).is_none() {
                    f(logical[usize::from(it.db())], &self.view(chunk, now));
                }
            }
        }
    }

    pub fn size_histogram(&self) -> Vec<(u64, u64)> {
        let mut counts = std::collections::BTreeMap::new();
        self.for_each(|_, it| {
            let size = (it.total_size() as u64).div_ceil(32) * 32;
            *counts.entry(size).or_insert(0u64) += 1;
        });
        counts.into_iter().collect()
    }
}
