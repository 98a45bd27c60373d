//! Item operations: lookup, store, delete, arithmetic, flush, and the allocation and
//! eviction paths under them (memcached's items.c and the glue to slabs.c / assoc.c).
//!
//! Lock order: stripe lock, then one class lock, then the page pool lock. Functions named
//! `*_locked` take the stripe already locked. Eviction runs while the allocating thread holds
//! its own stripe (passed in as [`Held`]) and a class lock; it reaches every other stripe with
//! `try_lock` and moves on when a stripe is busy.

use super::arena::{Arena, ChunkId};
use super::index::{table_hash, HashSeed, Index, Stripe};
use super::item::{
    atime_age, atime_of, cas_slot_len, offset_of, plain_size, Item, ACTIVE, ACTIVE2, BITS_MASK,
    CHAINED, CHAIN_INFO, FETCHED, HEADER_SIZE, LINKED, NO_CHUNK, STALE, TAIL, WIN_SENT,
};
use super::slabs::{add, sub, ClassState, ClassTable, PagePool, SlabClass};
use super::{
    Arith, ArithOutcome, Clock, Delete, DeleteOutcome, EvictionPolicy, Expiry, ItemType, ItemView,
    Lookup, Miss, Mode, ReadOptions, ReassignOutcome, Rewrite, RewriteError, SlabClassStats,
    StoreConfig, StoreOutcome, StoreStats, Write,
};
use parking_lot::MutexGuard;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// Number of index stripes.
pub const STRIPES: usize = 1024;

/// Referenced items the eviction hand passes over in one allocation before it evicts
/// regardless, so that a hot class cannot stall an allocation for a whole pass.
const MAX_PASSED: usize = 4096;

/// How far the eviction hand looks for an expired item when eviction is off (`-M`).
const RECLAIM_SCAN: usize = 64;

/// Pending and completed flush_all of one database.
#[derive(Default)]
struct FlushState {
    /// Items whose write sequence (CAS) is at most this are flushed; 0 = none.
    below: AtomicU64,
    /// Clock-relative second a delayed flush takes effect; 0 = none pending.
    pending_at: AtomicU32,
}

/// Store-wide counters not kept per class.
#[derive(Default)]
pub struct Counters {
    pub total_items: AtomicU64,
    pub bytes: AtomicU64,
    pub malloc_fails: AtomicU64,
    pub slabs_moved: AtomicU64,
    pub crawler_items_checked: AtomicU64,
}

/// The allocating thread's own stripe: eviction may unlink victims in it directly (it is
/// already locked), except the chunk being replaced.
pub struct Held<'g> {
    pub stripe: usize,
    pub guard: &'g mut Stripe,
    pub protect: ChunkId,
}

/// A key's stripe, locked, with what is resolved under the lock: the physical db (see
/// `index.rs` on SWAPDB), the table hash and the time (after any due delayed flush).
pub struct Locked<'a> {
    pub guard: MutexGuard<'a, Stripe>,
    pub stripe: usize,
    pub db: u8,
    pub hash: u64,
    pub now: u32,
}

/// Why an item could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    TooLarge,
    NoMemory,
}

impl From<BuildError> for RewriteError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::TooLarge => RewriteError::TooLarge,
            BuildError::NoMemory => RewriteError::NoMemory,
        }
    }
}

/// Everything a new item is made of except its value bytes.
pub struct ItemSpec<'k> {
    pub db: u8,
    pub key: &'k [u8],
    pub value_len: usize,
    pub flags: u32,
    pub exptime: u32,
    /// Write sequence ([`Core::next_cas`]).
    pub seq: u64,
    /// A client-chosen CAS (ms/ma `E`), kept in the item's CAS slot.
    pub explicit_cas: Option<u64>,
    pub bits: u32,
}

impl ItemSpec<'_> {
    /// Writes this spec's header fields into a freshly allocated head chunk.
    fn init_header(&self, it: Item<'_>) {
        it.init_header(
            self.seq,
            self.explicit_cas,
            self.exptime,
            self.flags,
            self.db,
            self.key.len(),
        );
    }
}

/// Writes a value piece by piece across the head and its tails.
struct ValueWriter<'a> {
    arena: &'a Arena,
    offset: usize,
    room: usize,
    tails: &'a [ChunkId],
}

impl ValueWriter<'_> {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.room == 0 {
                let (&next, rest) = self
                    .tails
                    .split_first()
                    .expect("value longer than its chunks");
                self.tails = rest;
                let tail = Item::new(self.arena, next);
                self.offset = offset_of(next) + HEADER_SIZE;
                self.room = tail.value_len();
            }
            let n = bytes.len().min(self.room);
            self.arena.write(self.offset, &bytes[..n]);
            self.offset += n;
            self.room -= n;
            bytes = &bytes[n..];
        }
    }
}

pub struct Core {
    pub config: StoreConfig,
    pub clock: Arc<Clock>,
    pub arena: Arena,
    pub table: ClassTable,
    pub classes: Vec<SlabClass>,
    pub pool: PagePool,
    /// Class of each arena page (0 = none; else class index + 1).
    pub page_class: Vec<AtomicU8>,
    pub index: Index,
    cas_seq: AtomicU64,
    flush: Vec<FlushState>,
    /// Persistence: a running point-in-time snapshot (see `snapshot.rs`).
    pub snapshot: super::snapshot::Gate,
    pub counters: Counters,
    pub automove: AtomicU8,
    policy: AtomicU8,
}

/// A live item as a read sees it.
pub struct View<'a> {
    item: Item<'a>,
    core: &'a Core,
    now: u32,
    /// The atime and bits word before this read bumped it (one load; the accessors that
    /// need it decode it, so a plain get pays for nothing it does not use).
    before: u32,
    won: bool,
    win_taken: bool,
}

impl ItemView for View<'_> {
    fn key(&self) -> &[u8] {
        self.item.key()
    }
    fn flags(&self) -> u32 {
        self.item.flags()
    }
    fn cas(&self) -> u64 {
        if self.core.config.use_cas {
            self.item.cas()
        } else {
            0
        }
    }
    fn item_type(&self) -> ItemType {
        ItemType::String
    }
    fn value_len(&self) -> usize {
        self.item.value_len()
    }
    fn copy_value_to(&self, out: &mut Vec<u8>) {
        if let Some(v) = self.item.plain_value() {
            out.extend_from_slice(v);
            return;
        }
        out.reserve(self.item.value_len());
        self.item
            .for_each_piece(self.core.config.slab_chunk_max, |p| {
                out.extend_from_slice(p)
            });
    }
    fn expiry(&self) -> Expiry {
        self.core.expiry_of(self.item.exptime())
    }
    fn last_access(&self) -> u32 {
        atime_age(self.now, atime_of(self.before))
    }
    fn hit_before(&self) -> bool {
        self.before & FETCHED != 0
    }
    fn slab_class(&self) -> u8 {
        self.core.class_of_chunk(self.item.chunk) as u8 + 1
    }
    fn total_size(&self) -> usize {
        footprint(self.item)
    }
    fn is_stale(&self) -> bool {
        self.item.bits() & STALE != 0
    }
    fn won(&self) -> bool {
        self.won
    }
    fn win_taken(&self) -> bool {
        self.win_taken
    }
}

/// Bytes an item accounts for (`bytes`, `mem_requested`): header, key, value and, when
/// present, the explicit CAS slot and chain information.
pub fn footprint(it: Item<'_>) -> usize {
    HEADER_SIZE + it.extra_len() + it.key_len() + it.value_len()
}

/// memcached's `safe_strtoull` on an item value: leading blanks, digits, then the end or a
/// blank (a decr that shortened the number left trailing spaces).
pub fn parse_counter(v: &[u8]) -> Option<u64> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let start = v.iter().position(|&b| !is_space(b))?;
    let mut rest = &v[start..];
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    if let Some(&b) = rest.get(digits) {
        if !is_space(b) {
            return None;
        }
    }
    let mut n: u64 = 0;
    for &d in &rest[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // strtoull negates; memcached rejects the result only when it looks negative.
        let neg = n.wrapping_neg();
        if (neg as i64) < 0 {
            return None;
        }
        return Some(neg);
    }
    Some(n)
}

/// Decimal digits of `n` in `buf`; returns the used tail.
fn format_u64(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

impl Core {
    pub fn new(config: StoreConfig, clock: Arc<Clock>, arena: Arena) -> Core {
        let table = ClassTable::new(
            config.page_size,
            config.chunk_size,
            config.growth_factor,
            config.slab_chunk_max,
        );
        let classes = table
            .sizes
            .iter()
            .zip(&table.perslab)
            .enumerate()
            .map(|(i, (&size, &per))| SlabClass::new(i as u8 + 1, size, per))
            .collect();
        let arena_pages = arena.len() / config.page_size;
        let pool = PagePool::new(arena_pages, config.memory_limit / config.page_size);
        let expected = 1usize << config.hashpower.min(30);
        let seed = {
            use std::hash::{BuildHasher, Hasher};
            // std's RandomState is keyed from the OS once per process.
            let random = std::collections::hash_map::RandomState::new();
            let word = |i: usize| {
                let mut h = random.build_hasher();
                h.write_usize(i);
                h.finish()
            };
            HashSeed([word(0), word(1)])
        };
        Core {
            automove: AtomicU8::new(config.slab_automove),
            policy: AtomicU8::new(EvictionPolicy::Clock2 as u8),
            table,
            classes,
            pool,
            page_class: (0..arena_pages).map(|_| AtomicU8::new(0)).collect(),
            index: Index::new(STRIPES, expected, seed),
            cas_seq: AtomicU64::new(0),
            snapshot: Default::default(),
            flush: (0..16).map(|_| FlushState::default()).collect(),
            counters: Counters::default(),
            config,
            clock,
            arena,
        }
    }

    pub fn eviction_policy(&self) -> EvictionPolicy {
        match self.policy.load(Ordering::Relaxed) {
            1 => EvictionPolicy::Fifo,
            2 => EvictionPolicy::Random,
            0 => EvictionPolicy::Clock,
            _ => EvictionPolicy::Clock2,
        }
    }

    pub fn set_eviction_policy(&self, p: EvictionPolicy) {
        self.policy.store(p as u8, Ordering::Relaxed);
    }

    /// Writes so far (persistence counts changes since the last save from it).
    pub fn write_seq(&self) -> u64 {
        self.cas_seq.load(Ordering::Relaxed)
    }

    pub fn next_cas(&self) -> u64 {
        self.cas_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The CAS a client sees for a stored sequence number.
    pub fn visible_cas(&self, cas: u64) -> u64 {
        if self.config.use_cas {
            cas
        } else {
            0
        }
    }

    /// Clock-relative expiry for the header (0 = never).
    pub fn rel_exptime(&self, e: Expiry) -> u32 {
        match e {
            Expiry::Never => 0,
            Expiry::At(t) => self.clock.to_rel(t),
        }
    }

    pub fn expiry_of(&self, exptime: u32) -> Expiry {
        if exptime == 0 {
            Expiry::Never
        } else {
            Expiry::At(self.clock.to_unix(exptime))
        }
    }

    /// The current time, after letting a delayed flush of `db` take effect.
    pub fn now(&self, db: u8) -> u32 {
        let now = self.clock.now();
        let f = &self.flush[usize::from(db & 0xf)];
        let at = f.pending_at.load(Ordering::Acquire);
        if at != 0
            && now >= at
            && f.pending_at
                .compare_exchange(at, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            f.below
                .fetch_max(self.cas_seq.load(Ordering::Acquire), Ordering::AcqRel);
        }
        now
    }

    /// Locks the stripe of `key` and resolves logical `db` under the lock.
    #[inline]
    pub fn lock_key(&self, db: u8, key: &[u8]) -> Locked<'_> {
        let key_hash = self.index.key_hash(key);
        let stripe = self.index.stripe_of(key_hash);
        let guard = self.index.lock(stripe);
        if self.snapshot.is_active() {
            self.snapshot_visit_locked(stripe, &guard);
        }
        let db = self.index.physical(db);
        Locked {
            guard,
            stripe,
            db,
            hash: table_hash(key_hash, db),
            now: self.now(db),
        }
    }

    /// Why a linked item is no longer visible, if it is not.
    pub fn dead(&self, it: Item<'_>, now: u32) -> Option<Miss> {
        let exp = it.exptime();
        if exp != 0 && exp <= now {
            return Some(Miss::Expired);
        }
        let below = self.flush[usize::from(it.db())]
            .below
            .load(Ordering::Acquire);
        if below != 0 && it.seq() <= below {
            return Some(Miss::Flushed);
        }
        None
    }

    pub fn class_of_chunk(&self, chunk: ChunkId) -> usize {
        let page = offset_of(chunk) / self.config.page_size;
        usize::from(self.page_class[page].load(Ordering::Relaxed)) - 1
    }

    // ---- linking ----

    pub fn account_link(&self, it: Item<'_>) {
        let class = &self.classes[self.class_of_chunk(it.chunk)];
        let size = footprint(it) as u64;
        add(&class.items, 1);
        add(&class.requested, size);
        add(&self.counters.bytes, size);
        add(&self.counters.total_items, 1);
    }

    pub fn account_unlink(&self, it: Item<'_>) {
        let class = &self.classes[self.class_of_chunk(it.chunk)];
        let size = footprint(it) as u64;
        sub(&class.items, 1);
        sub(&class.requested, size);
        sub(&self.counters.bytes, size);
    }

    /// Links a built item in place of `old` (or as new).
    pub fn link_locked(&self, s: &mut Stripe, hash: u64, chunk: ChunkId, old: Option<ChunkId>) {
        let it = Item::new(&self.arena, chunk);
        it.set_bits(LINKED);
        self.account_link(it);
        match old {
            Some(o) if s.replace(hash, o, chunk) => {
                let old_it = Item::new(&self.arena, o);
                old_it.clear_bits(LINKED);
                self.account_unlink(old_it);
                self.free_item(o);
            }
            _ => s.insert(&self.arena, self.index.seed(), hash, chunk, it.db()),
        }
    }

    /// Unlinks a linked item of this stripe and frees its memory.
    pub fn unlink_locked(&self, s: &mut Stripe, hash: u64, chunk: ChunkId) {
        let it = Item::new(&self.arena, chunk);
        if s.remove(hash, chunk, it.db()) {
            it.clear_bits(LINKED);
            self.account_unlink(it);
            self.free_item(chunk);
        }
    }

    /// Returns an unlinked item's chunks to their classes.
    pub fn free_item(&self, chunk: ChunkId) {
        let it = Item::new(&self.arena, chunk);
        if it.is_chained() {
            let mut tails = Vec::new();
            it.tails(&mut tails);
            for t in tails {
                self.free_chunk(t);
            }
        }
        self.free_chunk(chunk);
    }

    pub fn free_chunk(&self, chunk: ChunkId) {
        let class = &self.classes[self.class_of_chunk(chunk)];
        let mut st = class.state.lock();
        Item::new(&self.arena, chunk).mark_free();
        st.free.push(chunk);
    }

    /// Finds the live item for (db, key), reclaiming it if it expired or was flushed.
    #[inline]
    pub fn find_live_locked(
        &self,
        s: &mut Stripe,
        hash: u64,
        db: u8,
        key: &[u8],
        now: u32,
    ) -> Result<ChunkId, Miss> {
        let chunk = s.find(&self.arena, hash, db, key).ok_or(Miss::Absent)?;
        let it = Item::new(&self.arena, chunk);
        match self.dead(it, now) {
            None => Ok(chunk),
            Some(miss) => {
                if miss == Miss::Expired && it.bits() & FETCHED == 0 {
                    let class = &self.classes[self.class_of_chunk(chunk)];
                    class.state.lock().expired_unfetched += 1;
                }
                self.unlink_locked(s, hash, chunk);
                Err(miss)
            }
        }
    }

    pub fn view(&self, chunk: ChunkId, now: u32) -> View<'_> {
        let item = Item::new(&self.arena, chunk);
        View {
            item,
            core: self,
            now,
            before: item.atime_bits(),
            won: false,
            win_taken: false,
        }
    }

    // ---- allocation and eviction ----

    /// A chunk of class `ci`: from the free list, the carving page, a new page, or by
    /// evicting from the class.
    pub fn alloc_chunk(&self, ci: usize, held: &mut Held<'_>) -> Option<ChunkId> {
        let got = self.alloc_chunk_once(ci, held);
        if got.is_some() || !self.config.evict || !self.config.slab_reassign {
            return got;
        }
        // memcached lets a class with no page at all take one past the limit; we keep the
        // limit and move a page from another class instead.
        let class = &self.classes[ci];
        if class.page_count(&class.state.lock()) > 0 {
            return None;
        }
        if self.move_page(None, ci) != ReassignOutcome::Ok {
            return None;
        }
        self.alloc_chunk_once(ci, held)
    }

    fn alloc_chunk_once(&self, ci: usize, held: &mut Held<'_>) -> Option<ChunkId> {
        let class = &self.classes[ci];
        let mut freed_tails = Vec::new();
        let got = {
            let mut st = class.state.lock();
            if let Some(c) = st.free.pop() {
                Item::new(&self.arena, c).mark_taken();
                Some(c)
            } else if let Some(c) = class.carve(&mut st, self.config.page_size) {
                Some(c)
            } else if let Some(page) = self.pool.take() {
                self.page_class[page as usize].store(ci as u8 + 1, Ordering::Relaxed);
                class.add_page(&mut st, page);
                class.carve(&mut st, self.config.page_size)
            } else {
                let got = self.evict_locked(class, &mut st, held, &mut freed_tails);
                if got.is_none() {
                    st.outofmemory += 1;
                    st.recent_evictions += 1;
                }
                got
            }
        };
        for t in freed_tails {
            self.free_chunk(t);
        }
        if got.is_none() {
            add(&self.counters.malloc_fails, 1);
        }
        got
    }

    /// Walks the class's CLOCK hand for a chunk to reuse: an expired or flushed item, or
    /// (when eviction is on) the first linked item with no reference bit left, taking one
    /// reference level off each item it passes (per the eviction policy). Tails of a chained victim are returned in `freed_tails`.
    pub fn evict_locked(
        &self,
        class: &SlabClass,
        st: &mut ClassState,
        held: &mut Held<'_>,
        freed_tails: &mut Vec<ChunkId>,
    ) -> Option<ChunkId> {
        let slots = class.carved_slots(st);
        if slots == 0 {
            return None;
        }
        let now = self.clock.now();
        let policy = self.eviction_policy();
        // Three passes take every reference level off; the busy-stripe skips need slack.
        let steps = if self.config.evict {
            3 * slots + 1
        } else {
            RECLAIM_SCAN.min(slots)
        };
        let mut passed = 0;
        for _ in 0..steps {
            let slot = match policy {
                EvictionPolicy::Random => {
                    st.hand = st
                        .hand
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (st.hand >> 17) % slots
                }
                _ => st.hand % slots,
            };
            if policy != EvictionPolicy::Random {
                st.hand = slot + 1;
            }
            let chunk = class.slot_chunk(st, self.config.page_size, slot);
            let it = Item::new(&self.arena, chunk);
            let bits = it.bits();
            if bits & LINKED == 0 || bits & TAIL != 0 {
                continue;
            }
            let dead = self.dead(it, now);
            if dead.is_none() {
                if !self.config.evict {
                    continue;
                }
                // Bounded work per allocation: after passing MAX_PASSED referenced items the
                // hand takes the next one regardless (its bits are cleared all the same).
                let spare = passed < MAX_PASSED;
                match policy {
                    EvictionPolicy::Clock2 if bits & ACTIVE2 != 0 && spare => {
                        it.clear_bits(ACTIVE2);
                        passed += 1;
                        continue;
                    }
                    EvictionPolicy::Clock | EvictionPolicy::Clock2
                        if bits & ACTIVE != 0 && spare =>
                    {
                        it.clear_bits(ACTIVE | ACTIVE2);
                        passed += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            // Read everything the stats need before the chunk changes hands.
            let exptime = it.exptime();
            let age = atime_age(now, it.atime());
            if !self.unlink_victim(it, Some(held)) {
                continue;
            }
            let unfetched = bits & FETCHED == 0;
            if dead.is_some() {
                st.reclaimed += 1;
                if unfetched {
                    st.expired_unfetched += 1;
                }
            } else {
                st.evicted += 1;
                st.recent_evictions += 1;
                st.evicted_time = u64::from(age);
                if exptime != 0 {
                    st.evicted_nonzero += 1;
                }
                if unfetched {
                    st.evicted_unfetched += 1;
                }
                if bits & ACTIVE != 0 {
                    st.evicted_active += 1;
                }
            }
            it.tails(freed_tails);
            it.mark_taken();
            return Some(chunk);
        }
        None
    }

    /// Unlinks a victim found by an eviction hand (the caller holds its class lock).
    pub fn unlink_victim(&self, it: Item<'_>, held: Option<&mut Held<'_>>) -> bool {
        let db = it.db();
        let key_hash = self.index.key_hash(it.key());
        let si = self.index.stripe_of(key_hash);
        let hash = table_hash(key_hash, db);
        let removed = if let Some(held) = held.filter(|h| h.stripe == si) {
            if it.chunk == held.protect {
                return false;
            }
            held.guard.remove(hash, it.chunk, db)
        } else {
            match self.index.try_lock(si) {
                Some(mut g) => g.remove(hash, it.chunk, db),
                None => return false,
            }
        };
        if removed {
            it.clear_bits(LINKED);
            self.account_unlink(it);
        }
        removed
    }

    /// Allocates the chunks of a new item and writes its header and key; `fill` writes the
    /// value. The item is not linked.
    pub fn build(
        &self,
        spec: &ItemSpec<'_>,
        held: &mut Held<'_>,
        fill: impl FnOnce(&mut dyn FnMut(&[u8])),
    ) -> Result<ChunkId, BuildError> {
        let slot = cas_slot_len(spec.explicit_cas.is_some());
        let size = plain_size(spec.key.len(), spec.value_len) + slot;
        if size > self.config.item_size_max {
            return Err(BuildError::TooLarge);
        }
        let chunk_max = self.config.slab_chunk_max;
        if size <= chunk_max {
            let ci = self.table.class_for(size).ok_or(BuildError::TooLarge)?;
            let chunk = self.alloc_chunk(ci, held).ok_or(BuildError::NoMemory)?;
            let it = Item::new(&self.arena, chunk);
            spec.init_header(it);
            it.set_value_len(spec.value_len);
            it.write_key(spec.key);
            let mut w = ValueWriter {
                arena: &self.arena,
                offset: it.value_offset(),
                room: spec.value_len,
                tails: &[],
            };
            fill(&mut |b| w.push(b));
            it.set_bits(spec.bits);
            return Ok(chunk);
        }
        // Chained: the head is a largest-class chunk; full tails of the largest class, the
        // last tail from the class that fits what remains.
        let largest = self.table.largest();
        let head = self
            .alloc_chunk(largest, held)
            .ok_or(BuildError::NoMemory)?;
        let head_room = chunk_max - HEADER_SIZE - slot - CHAIN_INFO - spec.key.len();
        let mut tails: Vec<ChunkId> = Vec::new();
        let mut remaining = spec.value_len.saturating_sub(head_room);
        while remaining > 0 {
            let n = remaining.min(chunk_max - HEADER_SIZE);
            let ci = self.table.class_for(HEADER_SIZE + n).unwrap_or(largest);
            // A class that never got a page cannot take one from a largest-class page full
            // of tails (those pages cannot be emptied one chunk at a time), so the last tail
            // falls back to a largest-class chunk, which eviction can always provide.
            let got = self.alloc_chunk(ci, held).or_else(|| {
                (ci != largest)
                    .then(|| self.alloc_chunk(largest, held))
                    .flatten()
            });
            let Some(t) = got else {
                for t in tails {
                    self.free_chunk(t);
                }
                self.free_chunk(head);
                return Err(BuildError::NoMemory);
            };
            Item::new(&self.arena, t).init_tail(head, n);
            if let Some(&prev) = tails.last() {
                Item::new(&self.arena, prev).set_next_tail(t);
            }
            tails.push(t);
            remaining -= n;
        }
        let it = Item::new(&self.arena, head);
        spec.init_header(it);
        it.set_bits(CHAINED);
        it.write_chain_info(spec.value_len, tails.first().copied().unwrap_or(NO_CHUNK));
        it.write_key(spec.key);
        let mut w = ValueWriter {
            arena: &self.arena,
            offset: it.value_offset(),
            room: head_room.min(spec.value_len),
            tails: &tails,
        };
        fill(&mut |b| w.push(b));
        it.set_bits(spec.bits);
        Ok(head)
    }

    // ---- operations ----

    pub fn get<R>(
        &self,
        db: u8,
        key: &[u8],
        opts: &ReadOptions,
        f: impl FnOnce(&dyn ItemView) -> R,
    ) -> Lookup<R> {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(db, key);
        match self.find_live_locked(&mut s, hash, db, key, now) {
            Ok(chunk) => {
                let mut v = self.view(chunk, now);
                let it = v.item;
                let bits = v.before & BITS_MASK;
                if bits & WIN_SENT != 0 {
                    v.win_taken = true;
                } else {
                    let exp = it.exptime();
                    let recache = opts
                        .recache_below
                        .is_some_and(|below| exp != 0 && exp.saturating_sub(now) < below);
                    if bits & STALE != 0 || recache {
                        it.set_bits(WIN_SENT);
                        v.won = true;
                    }
                }
                if let Some(t) = opts.touch {
                    it.exptime_cell()
                        .store(self.rel_exptime(t), Ordering::Relaxed);
                }
                if !opts.no_bump {
                    it.bump(now, opts.is_fetch);
                }
                Lookup::Hit(f(&v))
            }
            Err(miss) => {
                if let Some(exp) = opts.vivify {
                    let spec = ItemSpec {
                        db,
                        key,
                        value_len: 0,
                        flags: 0,
                        exptime: self.rel_exptime(exp),
                        seq: self.next_cas(),
                        explicit_cas: None,
                        bits: WIN_SENT,
                    };
                    let mut held = Held {
                        stripe: si,
                        guard: &mut s,
                        protect: NO_CHUNK,
                    };
                    if let Ok(chunk) = self.build(&spec, &mut held, |_| {}) {
                        Item::new(&self.arena, chunk).set_atime(now);
                        self.link_locked(&mut s, hash, chunk, None);
                        return Lookup::Vivified;
                    }
                }
                Lookup::Miss(miss)
            }
        }
    }

    pub fn touch(&self, db: u8, key: &[u8], expiry: Expiry) -> bool {
        let Locked {
            guard: mut s,
            db,
            hash,
            now,
            ..
        } = self.lock_key(db, key);
        match self.find_live_locked(&mut s, hash, db, key, now) {
            Ok(chunk) => {
                let it = Item::new(&self.arena, chunk);
                it.exptime_cell()
                    .store(self.rel_exptime(expiry), Ordering::Relaxed);
                it.bump(now, true);
                true
            }
            Err(_) => false,
        }
    }

    pub fn store_and<R>(
        &self,
        w: &Write<'_>,
        f: impl FnOnce(Option<&dyn ItemView>) -> R,
    ) -> (StoreOutcome, R) {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(w.db, w.key);
        let old = self.find_live_locked(&mut s, hash, db, w.key, now).ok();
        let r = match old {
            Some(c) => f(Some(&self.view(c, now))),
            None => f(None),
        };
        // A plain set that cannot be stored removes the old value rather than leave stale
        // data behind, as memcached does.
        let drop_old = |s: &mut Stripe| {
            if let (Some(c), Mode::Set, None) = (old, w.mode, w.compare_cas) {
                self.unlink_locked(s, hash, c);
            }
        };
        if plain_size(w.key.len(), w.value.len()) > self.config.item_size_max {
            drop_old(&mut s);
            return (StoreOutcome::TooLarge, r);
        }
        let old_item = old.map(|c| Item::new(&self.arena, c));
        // memcached upgrades set and replace with a CAS to its `cas` command; append and
        // prepend check the CAS only when the item exists; add ignores it.
        let mut stale = false;
        match (old_item, w.mode) {
            (Some(o), Mode::Add) => {
                o.bump(now, false);
                return (StoreOutcome::NotStored, r);
            }
            (None, Mode::Replace | Mode::Set) if w.compare_cas.is_some() => {
                return (StoreOutcome::NotFound, r);
            }
            (None, Mode::Replace | Mode::Append | Mode::Prepend) => {
                return (StoreOutcome::NotStored, r);
            }
            (Some(o), _) => {
                if let Some(cas) = w.compare_cas {
                    let cur = o.cas();
                    let cas_mode = matches!(w.mode, Mode::Set | Mode::Replace);
                    if cas != cur {
                        if cas_mode && w.invalidate && cas < cur {
                            stale = true;
                        } else {
                            return (StoreOutcome::Exists, r);
                        }
                    }
                }
            }
            (None, _) => {}
        }
        let appending = matches!(w.mode, Mode::Append | Mode::Prepend);
        let (flags, exptime) = match old_item {
            Some(o) if appending || stale => {
                (if appending { o.flags() } else { w.flags }, o.exptime())
            }
            Some(o) if w.keep_ttl => (w.flags, o.exptime()),
            _ => (w.flags, self.rel_exptime(w.expiry)),
        };
        let mut bits = 0;
        if stale {
            bits |= STALE;
            if old_item.is_some_and(|o| o.bits() & WIN_SENT != 0) {
                bits |= WIN_SENT;
            }
        }
        let old_len = if appending {
            old_item.map_or(0, |o| o.value_len())
        } else {
            0
        };
        let seq = self.next_cas();
        let cas = w.new_cas.unwrap_or(seq);
        let spec = ItemSpec {
            db,
            key: w.key,
            value_len: old_len + w.value.len(),
            flags,
            exptime,
            seq,
            explicit_cas: w.new_cas,
            bits,
        };
        let mut held = Held {
            stripe: si,
            guard: &mut s,
            protect: old.unwrap_or(NO_CHUNK),
        };
        let chunk_max = self.config.slab_chunk_max;
        let built = self.build(&spec, &mut held, |push| match (w.mode, old_item) {
            (Mode::Append, Some(o)) => {
                o.for_each_piece(chunk_max, &mut *push);
                push(w.value);
            }
            (Mode::Prepend, Some(o)) => {
                push(w.value);
                o.for_each_piece(chunk_max, &mut *push);
            }
            _ => push(w.value),
        });
        match built {
            Ok(chunk) => {
                Item::new(&self.arena, chunk).set_atime(now);
                self.link_locked(&mut s, hash, chunk, old);
                (
                    StoreOutcome::Stored {
                        cas: self.visible_cas(cas),
                    },
                    r,
                )
            }
            Err(e) => {
                // Our own allocation may have evicted the old item already.
                if old.is_some() && s.find(&self.arena, hash, db, w.key) == old {
                    drop_old(&mut s);
                }
                match e {
                    BuildError::TooLarge => (StoreOutcome::TooLarge, r),
                    BuildError::NoMemory => (StoreOutcome::NoMemory, r),
                }
            }
        }
    }

    pub fn delete(&self, d: &Delete<'_>) -> DeleteOutcome {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(d.db, d.key);
        let Ok(mut chunk) = self.find_live_locked(&mut s, hash, db, d.key, now) else {
            return DeleteOutcome::NotFound;
        };
        let it = Item::new(&self.arena, chunk);
        if d.compare_cas.is_some_and(|c| c != it.cas()) {
            return DeleteOutcome::Exists;
        }
        if !d.drop_value && d.invalidate.is_none() {
            self.unlink_locked(&mut s, hash, chunk);
            return DeleteOutcome::Deleted;
        }
        if d.drop_value {
            let spec = ItemSpec {
                db,
                key: d.key,
                value_len: 0,
                flags: 0,
                exptime: it.exptime(),
                seq: self.next_cas(),
                explicit_cas: None,
                bits: 0,
            };
            let mut held = Held {
                stripe: si,
                guard: &mut s,
                protect: chunk,
            };
            match self.build(&spec, &mut held, |_| {}) {
                Ok(new) => {
                    Item::new(&self.arena, new).set_atime(now);
                    self.link_locked(&mut s, hash, new, Some(chunk));
                    chunk = new;
                }
                // Dropping the value cannot fit: dropping the whole item is the closest.
                Err(_) => {
                    self.unlink_locked(&mut s, hash, chunk);
                    return DeleteOutcome::Deleted;
                }
            }
        }
        if let Some(exp) = d.invalidate {
            let it = Item::new(&self.arena, chunk);
            if let Some(e) = exp {
                it.exptime_cell()
                    .store(self.rel_exptime(e), Ordering::Relaxed);
            }
            it.set_bits(STALE);
            it.clear_bits(WIN_SENT);
            it.set_cas(self.next_cas(), None);
        }
        DeleteOutcome::Deleted
    }

    pub fn arith(&self, a: &Arith<'_>) -> ArithOutcome {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(a.db, a.key);
        let chunk = match self.find_live_locked(&mut s, hash, db, a.key, now) {
            Ok(c) => c,
            Err(_) => {
                let Some((initial, expiry)) = a.vivify else {
                    return ArithOutcome::NotFound;
                };
                let mut buf = [0u8; 20];
                let digits = format_u64(initial, &mut buf);
                let seq = self.next_cas();
                let cas = a.new_cas.unwrap_or(seq);
                let spec = ItemSpec {
                    db,
                    key: a.key,
                    value_len: digits.len(),
                    flags: 0,
                    exptime: self.rel_exptime(expiry),
                    seq,
                    explicit_cas: a.new_cas,
                    bits: 0,
                };
                let mut held = Held {
                    stripe: si,
                    guard: &mut s,
                    protect: NO_CHUNK,
                };
                return match self.build(&spec, &mut held, |push| push(digits)) {
                    Ok(c) => {
                        Item::new(&self.arena, c).set_atime(now);
                        self.link_locked(&mut s, hash, c, None);
                        ArithOutcome::Value {
                            value: initial,
                            cas: self.visible_cas(cas),
                            expiry,
                            created: true,
                        }
                    }
                    Err(_) => ArithOutcome::NoMemory,
                };
            }
        };
        let it = Item::new(&self.arena, chunk);
        if a.compare_cas.is_some_and(|c| c != it.cas()) {
            return ArithOutcome::Exists;
        }
        // A chained value is far longer than any number.
        let Some(old_value) = it.plain_value() else {
            return ArithOutcome::NonNumeric;
        };
        let Some(cur) = parse_counter(old_value) else {
            return ArithOutcome::NonNumeric;
        };
        let value = if a.incr {
            cur.wrapping_add(a.delta)
        } else {
            cur.saturating_sub(a.delta)
        };
        let mut buf = [0u8; 20];
        let digits = format_u64(value, &mut buf);
        let seq = self.next_cas();
        let cas = a.new_cas.unwrap_or(seq);
        let exptime = match a.touch {
            Some(e) => self.rel_exptime(e),
            None => it.exptime(),
        };
        let chunk = if digits.len() <= old_value.len() && it.set_cas(seq, a.new_cas) {
            // memcached rewrites in place, padding with spaces to the old length. All value
            // readers hold this stripe lock, so the bytes may change under it.
            let off = it.value_offset();
            let old_len = old_value.len();
            self.arena.write(off, digits);
            for i in digits.len()..old_len {
                self.arena.write(off + i, b" ");
            }
            it.exptime_cell().store(exptime, Ordering::Relaxed);
            chunk
        } else {
            let spec = ItemSpec {
                db,
                key: a.key,
                value_len: digits.len(),
                flags: it.flags(),
                exptime,
                seq,
                explicit_cas: a.new_cas,
                bits: 0,
            };
            let mut held = Held {
                stripe: si,
                guard: &mut s,
                protect: chunk,
            };
            match self.build(&spec, &mut held, |push| push(digits)) {
                Ok(c) => {
                    Item::new(&self.arena, c).set_bits(it.bits() & FETCHED);
                    self.link_locked(&mut s, hash, c, Some(chunk));
                    c
                }
                Err(_) => return ArithOutcome::NoMemory,
            }
        };
        Item::new(&self.arena, chunk).bump(now, true);
        ArithOutcome::Value {
            value,
            cas: self.visible_cas(cas),
            expiry: self.expiry_of(exptime),
            created: false,
        }
    }

    pub fn rewrite<R>(
        &self,
        db: u8,
        key: &[u8],
        f: impl FnOnce(Option<&dyn ItemView>) -> Rewrite<R>,
    ) -> Result<R, RewriteError> {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(db, key);
        let old = self.find_live_locked(&mut s, hash, db, key, now).ok();
        let decision = match old {
            Some(c) => f(Some(&self.view(c, now))),
            None => f(None),
        };
        match decision {
            Rewrite::Keep(r) => Ok(r),
            Rewrite::Delete(r) => {
                if let Some(c) = old {
                    self.unlink_locked(&mut s, hash, c);
                }
                Ok(r)
            }
            Rewrite::Write {
                value,
                flags,
                expiry,
                result,
            } => {
                let exptime = match (expiry, old) {
                    (Some(e), _) => self.rel_exptime(e),
                    (None, Some(c)) => Item::new(&self.arena, c).exptime(),
                    (None, None) => 0,
                };
                let spec = ItemSpec {
                    db,
                    key,
                    value_len: value.len(),
                    flags,
                    exptime,
                    seq: self.next_cas(),
                    explicit_cas: None,
                    bits: 0,
                };
                let mut held = Held {
                    stripe: si,
                    guard: &mut s,
                    protect: old.unwrap_or(NO_CHUNK),
                };
                let chunk = self.build(&spec, &mut held, |push| push(&value))?;
                Item::new(&self.arena, chunk).set_atime(now);
                self.link_locked(&mut s, hash, chunk, old);
                Ok(result)
            }
        }
    }

    pub fn flush(&self, db: Option<u8>, delay: u32) {
        if self.snapshot.is_active() {
            self.snapshot_visit_all();
        }
        // The db map is read and the flush recorded under a stripe lock, so that a
        // concurrent swap_db is wholly before or after it.
        let guard = self.index.lock(0);
        let dbs = match db {
            Some(d) => {
                let p = usize::from(self.index.physical(d));
                p..p + 1
            }
            None => 0..self.flush.len(),
        };
        let now = self.clock.now();
        for db in dbs.clone() {
            // A delayed flush that came due takes effect before it is replaced.
            self.now(db as u8);
        }
        for f in &self.flush[dbs] {
            if delay == 0 {
                f.pending_at.store(0, Ordering::Release);
                f.below
                    .fetch_max(self.cas_seq.load(Ordering::Acquire), Ordering::AcqRel);
            } else {
                f.pending_at
                    .store(now.saturating_add(delay), Ordering::Release);
            }
        }
        drop(guard);
    }

    /// An immediate flush that also unlinks the flushed items at once, stripe by stripe,
    /// so that key counts drop to zero (Redis FLUSHDB/FLUSHALL). A memcached `flush_all`
    /// stays lazy, as memcached's is: its items are reclaimed when touched or crawled and
    /// count as `get_flushed` when asked for.
    pub fn flush_eager(&self, db: Option<u8>) {
        self.flush(db, 0);
        let now = self.clock.now();
        let mut dead = Vec::new();
        for i in 0..self.index.stripe_count() {
            let mut s = self.index.lock(i);
            dead.extend(
                s.chunks()
                    .filter(|&c| self.dead(Item::new(&self.arena, c), now) == Some(Miss::Flushed)),
            );
            for chunk in dead.drain(..) {
                let it = Item::new(&self.arena, chunk);
                let hash = table_hash(self.index.key_hash(it.key()), it.db());
                self.unlink_locked(&mut s, hash, chunk);
            }
        }
    }

    /// Swaps logical databases `a` and `b` (Redis SWAPDB).
    pub fn swap_db(&self, a: u8, b: u8) {
        self.index.swap(a, b)
    }

    pub fn db_len(&self, db: u8) -> u64 {
        // Every stripe must count the same physical db: a swap in between starts over.
        'walk: loop {
            let mut physical = None;
            let mut n = 0;
            for i in 0..self.index.stripe_count() {
                let s = self.index.lock(i);
                let p = self.index.physical(db);
                if *physical.get_or_insert(p) != p {
                    continue 'walk;
                }
                n += s.db_len(p);
            }
            return n;
        }
    }

    pub fn curr_items(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).len() as u64)
            .sum()
    }

    pub fn stats(&self) -> StoreStats {
        let mut st = StoreStats {
            curr_items: self.curr_items(),
            total_items: self.counters.total_items.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
            limit_maxbytes: (self.pool.limit() * self.config.page_size) as u64,
            total_malloced: (self.pool.in_use() * self.config.page_size) as u64,
            slabs_moved: self.counters.slabs_moved.load(Ordering::Relaxed),
            crawler_items_checked: self.counters.crawler_items_checked.load(Ordering::Relaxed),
            hash_power_level: (self.index_slots().max(1)).ilog2(),
            hash_bytes: self.index_bytes(),
            malloc_fails: self.counters.malloc_fails.load(Ordering::Relaxed),
            ..StoreStats::default()
        };
        for c in &self.classes {
            let cs = c.state.lock();
            if c.page_count(&cs) > 0 {
                st.curr_slab_classes += 1;
            }
            st.evictions += cs.evicted;
            st.reclaimed += cs.reclaimed;
            st.expired_unfetched += cs.expired_unfetched;
            st.evicted_unfetched += cs.evicted_unfetched;
            st.evicted_active += cs.evicted_active;
            st.crawler_reclaimed += cs.crawler_reclaimed;
        }
        st
    }

    /// `stats reset`: zeroes the counters memcached resets (its item stats and global
    /// totals); gauges (items, bytes, pages) and the automove demand signal stay.
    pub fn reset_stats(&self) {
        self.counters.total_items.store(0, Ordering::Relaxed);
        self.counters.malloc_fails.store(0, Ordering::Relaxed);
        self.counters.slabs_moved.store(0, Ordering::Relaxed);
        self.counters
            .crawler_items_checked
            .store(0, Ordering::Relaxed);
        for c in &self.classes {
            let mut cs = c.state.lock();
            cs.evicted = 0;
            cs.evicted_nonzero = 0;
            cs.evicted_time = 0;
            cs.evicted_unfetched = 0;
            cs.evicted_active = 0;
            cs.outofmemory = 0;
            cs.reclaimed = 0;
            cs.expired_unfetched = 0;
            cs.crawler_reclaimed = 0;
        }
    }

    pub fn slab_stats(&self) -> Vec<SlabClassStats> {
        let now = self.clock.now();
        self.classes
            .iter()
            .map(|c| {
                let cs = c.state.lock();
                let total_chunks = (c.page_count(&cs) * c.perslab) as u64;
                let free_end = c.uncarved(&cs) as u64;
                let items = c.items.load(Ordering::Relaxed);
                SlabClassStats {
                    id: c.id,
                    chunk_size: c.size as u64,
                    chunks_per_page: c.perslab as u64,
                    total_pages: c.page_count(&cs) as u64,
                    total_chunks,
                    used_chunks: total_chunks - cs.free.len() as u64 - free_end,
                    free_chunks: cs.free.len() as u64,
                    free_chunks_end: free_end,
                    mem_requested: c.requested.load(Ordering::Relaxed),
                    number: items,
                    age: self.oldest_age(c, &cs, now),
                    evicted: cs.evicted,
                    evicted_nonzero: cs.evicted_nonzero,
                    evicted_time: cs.evicted_time,
                    outofmemory: cs.outofmemory,
                    reclaimed: cs.reclaimed,
                    expired_unfetched: cs.expired_unfetched,
                    evicted_unfetched: cs.evicted_unfetched,
                    evicted_active: cs.evicted_active,
                    crawler_reclaimed: cs.crawler_reclaimed,
                }
            })
            .collect()
    }

    /// Seconds since the least recently accessed linked item of the class was used (a
    /// sample of the slots after the hand, which is where the oldest items sit).
    pub fn oldest_age(&self, class: &SlabClass, st: &ClassState, now: u32) -> u64 {
        let slots = class.carved_slots(st);
        let mut oldest = 0;
        for i in 0..slots.min(256) {
            let slot = (st.hand + i) % slots;
            let it = Item::new(
                &self.arena,
                class.slot_chunk(st, self.config.page_size, slot),
            );
            let bits = it.bits();
            if bits & LINKED != 0 && bits & TAIL == 0 {
                oldest = oldest.max(atime_age(now, it.atime()));
            }
        }
        u64::from(oldest)
    }

    pub fn index_slots(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).table_bytes() as u64 / 5)
            .sum()
    }

    pub fn index_bytes(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).table_bytes() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_parsing_follows_strtoull() {
        assert_eq!(parse_counter(b"10"), Some(10));
        assert_eq!(parse_counter(b"9 "), Some(9));
        assert_eq!(parse_counter(b" 12"), Some(12));
        assert_eq!(parse_counter(b"+5"), Some(5));
        assert_eq!(parse_counter(b"12 34"), Some(12));
        assert_eq!(parse_counter(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_counter(b"18446744073709551616"), None);
        assert_eq!(parse_counter(b"-1"), None);
        assert_eq!(parse_counter(b"-0"), Some(0));
        assert_eq!(parse_counter(b""), None);
        assert_eq!(parse_counter(b"  "), None);
        assert_eq!(parse_counter(b"12a"), None);
        assert_eq!(parse_counter(b"abc"), None);
    }

    #[test]
    fn formats_u64() {
        let mut b = [0u8; 20];
        assert_eq!(format_u64(0, &mut b), b"0");
        assert_eq!(format_u64(u64::MAX, &mut b), b"18446744073709551615");
    }
}
