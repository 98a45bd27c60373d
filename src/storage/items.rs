//! Item operations: the core state ([`Core`]), views of items, expiry and liveness, linking
//! and freeing, and building new items (memcached's items.c and the glue to slabs.c /
//! assoc.c). Allocation and eviction are in `evict.rs`; flush and SWAPDB in `flush.rs`.
//!
//! Lock order: stripe lock, then one class lock, then the page pool lock. Functions named
//! `*_locked` take the stripe already locked. Eviction runs while the allocating thread holds
//! its own stripe (passed in as [`Held`]) and a class lock; it reaches every other stripe with
//! `try_lock` and moves on when a stripe is busy.

use super::arena::{Arena, ChunkId};
use super::index::{table_hash, HashSeed, Index, Stripe};
use super::item::{
    atime_age, atime_of, offset_of, prefix_size, Exp, Header, Item, FETCHED, HEADER_SIZE, LINKED,
    NO_CHUNK, STALE,
};
use super::observe::Removal;
use super::slabs::{add, sub, ClassTable, PagePool, SlabClass};
use super::typed::Object;
use super::{Clock, EvictionPolicy, Expiry, ItemType, ItemView, Miss, RewriteError, StoreConfig};
use crossbeam_channel::Sender;
use parking_lot::MutexGuard;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Number of index stripes.
pub const STRIPES: usize = 1024;

/// Seconds past the coarse clock within which an expiry is checked against the real clock.
const EXACT_WINDOW: u32 = 2;

/// Pending and completed flush_all of one database.
#[derive(Default)]
pub(super) struct FlushState {
    /// Items whose write sequence (CAS) is at most this are flushed; 0 = none.
    pub(super) below: AtomicU64,
    /// Clock-relative second a delayed flush takes effect; 0 = none pending.
    pub(super) pending_at: AtomicU32,
}

/// Store-wide counters not kept per class.
#[derive(Default)]
pub struct Counters {
    pub total_items: AtomicU64,
    pub bytes: AtomicU64,
    pub malloc_fails: AtomicU64,
    pub slabs_moved: AtomicU64,
    /// Items moved to another chunk of their class to free a page (memcached's
    /// `slab_reassign_rescues`).
    pub rescues: AtomicU64,
    /// Tails of chained items moved so (`slab_reassign_chunk_rescues`).
    pub chunk_rescues: AtomicU64,
    /// Items a page move evicted for want of a free chunk (`slab_reassign_evictions_nomem`).
    pub evictions_nomem: AtomicU64,
    pub crawler_items_checked: AtomicU64,
    /// Heap bytes charged for objects (`typed.rs`).
    pub object_bytes: AtomicU64,
    /// Items that expired (found by a read, the eviction hand or the expiry cycle): Redis's
    /// `expired_keys`.
    pub expired: AtomicU64,
    /// Smoothed share (per mille) of expired items among those expiry cycles checked.
    pub stale_permille: AtomicU64,
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
    pub exp: Exp,
    /// Write sequence ([`Core::next_cas`]).
    pub seq: u64,
    /// A client-chosen CAS (ms/ma `E`), kept in the item's CAS slot.
    pub explicit_cas: Option<u64>,
    pub bits: u32,
    /// Value type code ([`ItemType::code`]) and whether the value is an object handle.
    pub kind: u8,
    pub object: bool,
    /// No `-I` limit: the item may be as large as memory allows (RESP's values, bounded by
    /// `proto-max-bulk-len` before they reach the store).
    pub large: bool,
}

impl<'k> ItemSpec<'k> {
    /// A string item with no CAS slot and no bits.
    pub fn new(db: u8, key: &'k [u8], value_len: usize, flags: u32, exp: Exp, seq: u64) -> Self {
        ItemSpec {
            db,
            key,
            value_len,
            flags,
            exp,
            seq,
            explicit_cas: None,
            bits: 0,
            kind: 0,
            object: false,
            large: false,
        }
    }

    /// Writes this spec's header fields into a freshly allocated head chunk.
    pub(super) fn init_header(&self, it: Item<'_>, chained: bool) {
        it.init_header(
            &Header {
                seq: self.seq,
                explicit_cas: self.explicit_cas,
                exp: self.exp,
                flags: self.flags,
                db: self.db,
                key_len: self.key.len(),
                kind: self.kind,
                object: self.object,
            },
            chained,
        );
    }

    /// Bytes before the value (header, key, optional fields).
    fn prefix(&self, chained: bool) -> usize {
        prefix_size(
            self.key.len(),
            self.explicit_cas.is_some(),
            self.exp.far.is_some(),
            chained,
        )
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

/// The write sequence, alone on its cache line (and the adjacent one, which x86 prefetches
/// in pairs).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(super) struct CasSeq(AtomicU64);

impl std::ops::Deref for CasSeq {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        &self.0
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
    /// Every write bumps it, from every worker: on a cache line of its own, so that it
    /// does not drag read-mostly fields (the index, the arena) between cores' caches.
    pub(super) cas_seq: CasSeq,
    pub(super) flush: Vec<FlushState>,
    /// Persistence: a running point-in-time snapshot (see `snapshot.rs`).
    pub snapshot: super::snapshot::Gate,
    pub counters: Counters,
    pub automove: AtomicU8,
    policy: AtomicU8,
    /// The lazyfree thread's queue, started on the first large object freed.
    pub lazyfree: OnceLock<Option<Sender<Box<dyn Object>>>>,
    /// Where object eviction samples stripes next.
    pub object_cursor: AtomicUsize,
    /// Who hears about expired and evicted items.
    pub observers: super::observe::Observers,
    /// The class an expiry cycle starts with (rotates).
    pub expire_cursor: AtomicUsize,
    /// memcached's `temporary_ttl` (u32::MAX: off): items this close to their expiry are
    /// never evicted (`Store::set_temporary_ttl`).
    pub temporary_ttl: AtomicU32,
    /// Items whose values are being sent from slab memory (`pin.rs`).
    pub pins: super::pin::Pins,
    /// CLIENT PAUSE's end (unix ms; 0: none): until then expired items are misses left in
    /// place, neither reclaimed nor counted, as Redis 7.0 defers expiry during a pause
    /// (`Store::hold_expiry_until`).
    pub expiry_held_until: AtomicU64,
    /// A flush took effect since the last `maintain()`: its items are dead memory that the
    /// next pass reclaims whole, giving the emptied pages back at once (`rebalance.rs`).
    pub(super) flushed: std::sync::atomic::AtomicBool,
}

/// A live item as a read sees it.
pub struct View<'a> {
    pub item: Item<'a>,
    core: &'a Core,
    now: u32,
    /// The atime and bits word before this read bumped it (one load; the accessors that
    /// need it decode it, so a plain get pays for nothing it does not use).
    pub before: u32,
    pub won: bool,
    pub win_taken: bool,
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
        ItemType::from_code(self.item.kind())
    }
    fn value_len(&self) -> usize {
        if self.item.is_object() {
            return 0;
        }
        self.item.value_len()
    }
    fn copy_value_to(&self, out: &mut Vec<u8>) {
        if let Some(v) = self.item.simple_value() {
            out.extend_from_slice(v);
            return;
        }
        if self.item.is_object() {
            return;
        }
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
        self.core.expiry_of(self.item.exp())
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
    fn pin(&self) -> Option<super::pin::Pinned> {
        (!self.item.is_object()).then(|| self.core.pins.pin(self.item))
    }
}

/// Bytes an item accounts for (`bytes`, `mem_requested`): header, key, value and, when
/// present, the explicit CAS slot and chain information.
pub fn footprint(it: Item<'_>) -> usize {
    it.prefix_len() + it.value_len()
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
pub fn format_u64(n: u64, buf: &mut [u8; 20]) -> &[u8] {
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
            temporary_ttl: AtomicU32::new(u32::MAX),
            pins: super::pin::Pins::default(),
            automove: AtomicU8::new(config.slab_automove),
            policy: AtomicU8::new(EvictionPolicy::Clock2 as u8),
            table,
            classes,
            pool,
            page_class: (0..arena_pages).map(|_| AtomicU8::new(0)).collect(),
            index: Index::new(STRIPES, expected, seed),
            cas_seq: CasSeq::default(),
            snapshot: Default::default(),
            flush: (0..16).map(|_| FlushState::default()).collect(),
            counters: Counters::default(),
            lazyfree: OnceLock::new(),
            object_cursor: AtomicUsize::new(0),
            observers: Default::default(),
            expiry_held_until: AtomicU64::new(0),
            flushed: Default::default(),
            expire_cursor: AtomicUsize::new(0),
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

    /// An expiry as the header keeps it (see `item.rs`).
    pub fn encode_exp(&self, e: Expiry) -> Exp {
        let Expiry::AtMs(ms) = e else {
            return Exp::NEVER;
        };
        let secs = ms / 1000;
        if secs <= self.clock.started() {
            // Long ago: expired at any clock reading.
            return Exp {
                secs: 1,
                ms: 0,
                far: None,
            };
        }
        match u32::try_from(secs - self.clock.started()) {
            Ok(rel) if rel != u32::MAX => Exp {
                secs: rel,
                ms: (ms % 1000) as u16,
                far: None,
            },
            _ => Exp {
                secs: u32::MAX,
                ms: 0,
                far: Some(ms),
            },
        }
    }

    pub fn expiry_of(&self, exp: Exp) -> Expiry {
        if exp.secs == 0 {
            Expiry::Never
        } else if let Some(at) = exp.far {
            Expiry::AtMs(at)
        } else {
            Expiry::AtMs(self.clock.to_unix(exp.secs) * 1000 + u64::from(exp.ms))
        }
    }

    /// The current time, after letting a delayed flush of `db` take effect.
    pub fn now(&self, db: u8) -> u32 {
        let now = self.clock.now();
        let f = &self.flush[usize::from(db & 0xf)];
        let at = f.pending_at.load(Ordering::Acquire);
        // With the AOF on, `apply_due_flushes` makes it take effect (and logs it).
        if at != 0
            && now >= at
            && self.snapshot.log().is_none()
            && f.pending_at
                .compare_exchange(at, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.flush_below_now(f);
        }
        now
    }

    /// Makes flush `f` take effect: every item written so far in its database is flushed.
    pub(super) fn flush_below_now(&self, f: &FlushState) {
        f.below
            .fetch_max(self.cas_seq.load(Ordering::Acquire), Ordering::AcqRel);
        self.flushed.store(true, Ordering::Release);
    }

    /// Locks the stripe of `key` and resolves logical `db` under the lock.
    #[inline]
    pub fn lock_key(&self, db: u8, key: &[u8]) -> Locked<'_> {
        let key_hash = self.index.key_hash(key);
        let stripe = self.index.stripe_of(key_hash);
        super::tally::note(stripe);
        let mut guard = self.index.lock(stripe);
        let db = self.index.physical(db);
        let hash = table_hash(key_hash, db);
        if self.snapshot.is_active() {
            self.snapshot_save_key(stripe, &mut guard, hash, db, key);
        }
        Locked {
            guard,
            stripe,
            db,
            hash,
            now: self.now(db),
        }
    }

    /// Why a linked item is no longer visible, if it is not.
    #[inline]
    /// An item memcached's temporary LRU would hold (`-o temporary_ttl`): one that expires
    /// within `temporary_ttl` seconds. Such items are reclaimed when they expire, never
    /// evicted for others.
    pub(super) fn temporary(&self, it: Item<'_>, now: u32) -> bool {
        let ttl = self.temporary_ttl.load(Ordering::Relaxed);
        let secs = it.exptime();
        ttl != u32::MAX && secs != 0 && secs.saturating_sub(now) <= ttl
    }

    pub fn dead(&self, it: Item<'_>, now: u32) -> Option<Miss> {
        let secs = it.exptime();
        // The coarse clock is never ahead of the real one: an expiry second before the
        // current one has passed for sure; one in the next few seconds (the coarse clock
        // may lag its tick) is judged by the real clock in milliseconds.
        if secs != 0
            && (secs < now
                || (secs <= now.saturating_add(EXACT_WINDOW) && self.expired_exactly(it)))
        {
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

    /// Whether the real clock has reached the item's expiry.
    #[cold]
    fn expired_exactly(&self, it: Item<'_>) -> bool {
        match self.expiry_of(it.exp()) {
            Expiry::Never => false,
            Expiry::AtMs(at) => self.clock.now_ms() >= at,
        }
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
                self.release_object(s, old_it);
                self.free_item(o);
            }
            _ => {
                s.insert(&self.arena, self.index.seed(), hash, chunk, it.db());
                self.observers.created(it.db(), it.key());
            }
        }
    }

    /// Unlinks a linked item of this stripe and frees its memory.
    pub fn unlink_locked(&self, s: &mut Stripe, hash: u64, chunk: ChunkId) {
        let it = Item::new(&self.arena, chunk);
        if s.remove(hash, chunk, it.db()) {
            it.clear_bits(LINKED);
            self.account_unlink(it);
            self.release_object(s, it);
            self.free_item(chunk);
        }
    }

    /// Returns an unlinked item's chunks to their classes (when the last pin goes, if it is
    /// pinned: `pin.rs`).
    pub fn free_item(&self, chunk: ChunkId) {
        if self.pins.defer_free(chunk) {
            return;
        }
        self.free_item_now(chunk);
    }

    /// [`Core::free_item`] without the pin check.
    pub fn free_item_now(&self, chunk: ChunkId) {
        // No class lock is held here, so each tail goes to its class's free list at once
        // (no list of tails to allocate).
        Item::new(&self.arena, chunk).for_each_tail(|t| self.free_chunk(t));
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
        self.find_live_as_locked(s, hash, db, key, now, false)
    }

    /// [`Core::find_live_locked`] for a read, which leaves an expired item in place while
    /// expiry is held (CLIENT PAUSE). A write reclaims it as always: the item it links
    /// must not sit beside the old one.
    #[inline]
    pub fn find_live_read_locked(
        &self,
        s: &mut Stripe,
        hash: u64,
        db: u8,
        key: &[u8],
        now: u32,
    ) -> Result<ChunkId, Miss> {
        self.find_live_as_locked(s, hash, db, key, now, true)
    }

    #[inline]
    fn find_live_as_locked(
        &self,
        s: &mut Stripe,
        hash: u64,
        db: u8,
        key: &[u8],
        now: u32,
        read: bool,
    ) -> Result<ChunkId, Miss> {
        let chunk = s.find(&self.arena, hash, db, key).ok_or(Miss::Absent)?;
        let it = Item::new(&self.arena, chunk);
        match self.dead(it, now) {
            None => Ok(chunk),
            Some(Miss::Expired) if read && self.expiry_held() => Err(Miss::Expired),
            Some(miss) => {
                if miss == Miss::Expired {
                    self.counters.expired.fetch_add(1, Ordering::Relaxed);
                    if it.bits() & FETCHED == 0 {
                        let class = &self.classes[self.class_of_chunk(chunk)];
                        class.state.lock().expired_unfetched += 1;
                    }
                }
                if miss == Miss::Expired {
                    self.observers.report(Removal::Expired, db, key);
                }
                self.unlink_locked(s, hash, chunk);
                Err(miss)
            }
        }
    }

    /// Whether a CLIENT PAUSE holds expiry now (one relaxed load when none was set).
    pub fn expiry_held(&self) -> bool {
        let until = self.expiry_held_until.load(Ordering::Relaxed);
        until != 0 && super::clock::system_unix_ms() < until
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

    /// Allocates the chunks of a new item and writes its header and key; `fill` writes the
    /// value. The item is not linked.
    pub fn build(
        &self,
        spec: &ItemSpec<'_>,
        held: &mut Held<'_>,
        fill: impl FnOnce(&mut dyn FnMut(&[u8])),
    ) -> Result<ChunkId, BuildError> {
        let size = spec.prefix(false) + spec.value_len;
        if !spec.large && size > self.config.item_size_max {
            return Err(BuildError::TooLarge);
        }
        let chunk_max = self.config.slab_chunk_max;
        if size <= chunk_max {
            let ci = self.table.class_for(size).ok_or(BuildError::TooLarge)?;
            let chunk = self.alloc_chunk(ci, held).ok_or(BuildError::NoMemory)?;
            let it = Item::new(&self.arena, chunk);
            spec.init_header(it, false);
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
        let head_extra = spec.prefix(true);
        // The key must fit the head; and a value that cannot fit the memory limit at all
        // fails before it evicts everything else.
        if head_extra >= chunk_max || size > self.config.memory_limit {
            return Err(if spec.large {
                BuildError::NoMemory
            } else {
                BuildError::TooLarge
            });
        }
        let head = self
            .alloc_chunk(largest, held)
            .ok_or(BuildError::NoMemory)?;
        let head_room = chunk_max - head_extra;
        let mut tails: Vec<ChunkId> = Vec::new();
        let mut remaining = spec.value_len.saturating_sub(head_room);
        while remaining > 0 {
            let n = remaining.min(chunk_max - HEADER_SIZE);
            let ci = self.table.class_for(HEADER_SIZE + n).unwrap_or(largest);
            // A class that never got a page cannot take one from a largest-class page full
            // of tails (those pages cannot be emptied one chunk at a time), so the last tail
            // falls back to a largest-class chunk, which eviction can always provide (and
            // takes no first page past the limit: tails would spread that over every class).
            let first_page = ci == largest;
            let got = self.alloc_chunk_in(ci, held, first_page).or_else(|| {
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
        spec.init_header(it, true);
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
