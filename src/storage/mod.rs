//! Item storage: slab allocator, hash index, eviction, expiry, CAS.
//!
//! Knows nothing of sockets or wire formats: typed operations in, outcome enums out.
//! Every operation takes a `db` (0..databases) so that Redis's `SELECT` namespaces share one
//! store; the memcached protocol always uses database 0. (A `db` of 16 or more is masked to
//! its low 4 bits; callers validate `SELECT`.)
//!
//! API CONTRACT (written before the implementation so the protocol layers could be built
//! against it): signatures here may gain fields or methods, but changes are additive.
//!
//! ```text
//!   get/store/delete/arith ──▶ Index: 1024 stripes (Mutex<HashTable<ChunkId>>)
//!        │ one stripe lock            │ keys compared in slab memory
//!        ▼                            ▼
//!   SlabClass[i] (Mutex: pages, free list, CLOCK hand) ◀── PagePool (global page budget)
//!        │                                                      │
//!        └──────────────── Arena: one mmap of item memory ◀──────┘
//!   maintain(): crawler (expired items), automove (pages between classes), limit shrink
//! ```
//!
//! # Memory
//!
//! One region is reserved with `mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)` (room
//! for a later `cache_memlimit` raise); pages of it are handed to classes lazily from a
//! budget of `memory_limit / page_size` and carved a chunk at a time, so untouched memory
//! costs no RSS. Chunk ids are `u32` offsets / 8, so `-m` is capped at 32 GiB. `arena.rs` is
//! the only file with `unsafe`.
//!
//! Item layout (see `item.rs`), 24-byte header, all fields atomics so that the eviction hand
//! can read them without the key's lock (round 2: value type, millisecond expiry, long keys):
//!
//! ```text
//!  0  meta       u64  bit 63 EXPLICIT_CAS | 62 FAR_EXPIRY | 61 OBJECT | 60..58 type
//!                     (ItemType::code; 7 is a string in Redis's `raw` encoding,
//!                     ItemType::RAW_STRING_CODE) | 57..48 expiry milliseconds | 47..0 write sequence
//!                     (flush_all compares it; the CAS unless EXPLICIT_CAS)
//!  8  exptime    u32  expiry: clock-relative whole seconds, 0 = never
//! 12  atime|bits u32  last access (23 bits) | LINKED FETCHED ACTIVE STALE WIN_SENT CHAINED
//!                     TAIL FREE ACTIVE2 (9 bits)
//! 16  flags      u32  client flags
//! 20  lens       u32  key_len (8 bits; 255 = long key) | db (4) | value_len (20)
//! 24  [key length u32: keys of 255+ bytes], key,
//!     then 8-aligned and only when present: [client CAS u64] [far expiry u64: exact unix
//!     ms] [chain info: total length u32, first tail u32], then the value (no \r\n); an
//!     OBJECT item's value is the 4-byte handle of its heap object.
//! ```
//!
//! Cost per item: nothing more for the common item (the type, the milliseconds and the flags
//! came out of the 64-bit sequence, which keeps 48 bits: 2.8e14 writes). Only the items
//! that have a rare thing pay for it: a client-chosen CAS 8 bytes, an expiry after ~2162
//! (u32 seconds from the clock's start) 8 bytes, a key of 255 bytes or more 4 bytes, a
//! chained value 8 bytes (plus alignment to 8 when any of the 8-byte fields is present).
//!
//! Expiry is exact: `exptime` + the milliseconds are an absolute unix-millisecond time
//! (Redis's PXAT reads back from PEXPIRETIME to the millisecond; EXPIREAT past 2106 is kept
//! exactly in the far slot). An item is gone from the millisecond the real clock reaches
//! it, never before: `Core::dead` treats an expiry second before the coarse clock's (which
//! is never ahead of the real clock) as past, one within two seconds after it is compared
//! with the real clock (`Clock::now_ms`), and anything later as alive, so items without
//! expiry or far from it cost one compare as before. memcached's exptime keeps its rules
//! (`Clock::memcache_expiry`: whole seconds of the coarse clock).
//!
//! Items larger than `slab_chunk_max` are chained: the head (a largest-class chunk) has the
//! total length and first tail id in its chain info; tails carry a header with `TAIL`. A
//! memcached write is bounded by `-I`; a RESP write (`Write::large`, `Rewrite`, `modify`)
//! only by memory (a value that cannot fit `-m` is `NoMemory`, Redis's OOM error, before it
//! evicts anything), and its key by [`Store::key_max`].
//!
//! Per item for 2,000,000 items with 16-byte keys and 100-byte values (measured with
//! `slabd-memtest store`, VmRSS delta): **163.1 bytes** with the round-2 header, 163.2
//! before it (memcached 1.6.18 `-m 1024` loaded the same way: 202.3 bytes). Byte by byte:
//! 24 header + 16 key + 100 value = 140 bytes, stored in the 152-byte class (`-n 48 -f
//! 1.25`: 72, 96, 120, 152), so 12 bytes of class rounding; index 10.5 bytes (4-byte slot +
//! 1 control byte, at a load factor of 0.48 because each stripe's table doubles at 7/8
//! full); 0.5 bytes of page tail and process overhead. The 140-byte target is not met: the
//! item itself is 140 bytes before any index or rounding, so it would need a smaller header.
//!
//! # Typed values (collections)
//!
//! The API the collection types are built on (`typed.rs`):
//!
//! ```text
//!   store.modify(db, key, |cur: Option<&mut Current>| -> Update<R>)  -> Result<R, RewriteError>
//!   store.inspect(db, key, |cur: Option<&Current>| -> R)             -> R
//!   Current: item_type() expiry() flags() cas() key() is_object()
//!            bytes() -> Option<Cow<[u8]>>       (compact encoding or string)
//!            object()/object_mut()/downcast_ref::<T>()/downcast_mut::<T>()
//!   Update:  Keep(r) | Delete(r)
//!          | Bytes { ty, value, ttl: Ttl::Keep | Ttl::Set(expiry), result }
//!          | Object { object: Box<dyn Object>, ttl, result }
//!          | Changed(r)          (the object was changed in place: re-charge, new CAS)
//!   trait Object: value_type() mem_usage() duplicate() as_any() as_any_mut()
//! ```
//!
//! Both run under the key's stripe lock; an expired key is reclaimed first and reads as
//! `None`. Small collections are `Update::Bytes` with their type (`ItemType::Hash`...):
//! ordinary slab items with the type in the header. Large ones are `Update::Object`: the
//! object lives in the key's stripe (`Stripe::objects`), the item's value is its handle,
//! and `mem_usage()` is charged to `-m` (the page pool keeps back that many pages; `bytes`
//! and `used_memory` include it). When objects outgrow the budget, pages are emptied and then
//! the least recently used objects of sampled stripes are evicted (`Core::make_room`); with
//! `-M` nothing is evicted, `Store::over_limit` turns true and callers answer OOM (Redis
//! checks before running a `denyoom` command). An object is dropped with its item (delete,
//! overwrite, expiry, flush, eviction), on the lazyfree thread when over 64 KiB.
//!
//! Whole-key operations carry any type: `rename` (RENAME, MOVE) moves an object between
//! stripes, `copy` (COPY ... DB ... REPLACE) duplicates it, `swap_db` and the expiry
//! commands (`touch`) never look at the value. `get`'s `ItemView::item_type` gives the type
//! (an object item shows an empty value there: `TYPE`, `WRONGTYPE` checks and the memcached
//! protocol's "a collection reads as a miss" are the callers'). `for_each_value` visits every
//! live item, bytes or object, under its stripe lock (the persistence snapshot's walk).

//! # Index and lock order
//!
//! 1024 stripes, each a `parking_lot::Mutex<hashbrown::HashTable<ChunkId>>`; the hash and
//! equality closures read key and db from slab memory. A get takes exactly one stripe lock.
//!
//! One hash computation serves both the stripe (bits 32..42) and the table (the same hash
//! with the physical db mixed in by one multiply). The hash is a hand-written folded
//! multiply in foldhash's style, keyed by two per-process random words from std's
//! `RandomState` (so clients cannot pick colliding keys): a key of up to 16 bytes is read
//! as two overlapping words and costs two 64×64→128 multiplies. The equality closure
//! compares key length and db with one header load, then the key a word at a time (no
//! `memcmp` call); a hit touches slab memory about once (at most 1.015 item reads per hit
//! in the run below: hashbrown's 7-bit tags rarely match a wrong slot).
//!
//! Get path, instructions per hit (`valgrind --tool=callgrind slabd-memtest gets 100000 N`
//! for N = 1.2M and 0.2M, difference / 1M; 16-byte keys, 100-byte values, value copied):
//!
//! ```text
//! before SWAPDB/flush work           601   (hash was already a fold-multiply: 40; find 112)
//! after SWAPDB map + CAS slot        665   (map load, slot checks, memcmp call)
//! + foldhash-style hash, word compare, one-load key/db check, no eager View fields,
//!   plain-value fast path, inlined lock_key/find   470   (-22%; D1 misses 7.1 → 7.0)
//! ```
//!
//! Wall clock (user time of `slabd-memtest gets`, 7 alternating runs, median / min): with
//! 2,000 keys (cache resident) 10M gets took 0.50 / 0.49 s before and 0.43 / 0.42 s after
//! (50 → 43 ns per get); with 100,000 keys, where about 7 L1 misses per get dominate, 4M
//! gets took 0.93 / 0.80 s before and 0.84 / 0.81 s after, within this shared machine's
//! noise. `cargo bench --bench store` on the same machine varied by ±40 % between runs.
//!
//! Lock order: **stripe → class → page pool**. Nobody holds two class locks. Heap objects
//! live inside their stripe (no lock of their own). Code holding a
//! class lock (eviction, crawler, page moves) reaches stripes only with `try_lock` and skips
//! the item when the stripe is busy; the allocating thread's own stripe is passed down
//! (`Held`) so that victims in it can be unlinked without locking it again. `rename` locks
//! two stripes in index order. Key and value bytes are written only before an item is
//! linked (or, for in-place incr/decr, under the stripe lock that all value readers hold).
//!
//! # Databases (SWAPDB)
//!
//! Item headers hold a *physical* db; a logical → physical map (one `AtomicU64` of 16
//! nibbles) turns the client's db into it. A key's stripe depends on the key only, so an
//! operation locks its stripe first and reads the map under that lock; `swap_db` rewrites
//! the map while holding all 1024 stripe locks (taken in index order, so the usual lock
//! order holds). Every single-key operation, and `rename` across databases, therefore sees
//! the map wholly before or wholly after a swap and cannot file an item under a stale
//! mapping; the hot path pays one relaxed load under a lock it holds anyway (no RwLock and
//! no extra shared cache line). Walks that visit many stripes (`scan`, `db_len`,
//! `for_each`) resolve the map per stripe; `db_len` starts over if it changed mid-walk.
//! flush_all state is per physical db, so a pending delayed flush stays with the data.
//! Redis MOVE is `rename(db, key, to_db, key, true)`: no separate primitive.
//!
//! # Eviction
//!
//! Per class CLOCK over the chunks in page order, with two reference levels: a hit sets
//! `ACTIVE`, or `ACTIVE2` when `ACTIVE` was already set, with one atomic update (none when
//! both are set and atime is current); no list and no class lock on the hit path. The hand,
//! run by the allocating thread under the class lock, reclaims expired or flushed items,
//! takes one level off referenced items and evicts the first item with neither bit. A new
//! item starts unreferenced right behind the hand, so one-hit items go first (as in SIEVE
//! and S3-FIFO's small queue) and items hit twice survive two passes. A class with no page, or
//! whose eviction finds nothing (its few chunks all in a chained value being built), takes one
//! from another class at once (the allocation's own locked stripe passed down, so an item of
//! it does not make every page busy); `maintain()` moves pages to classes that evict (automove 1:
//! from the class whose oldest item is oldest or that has a free page's worth of chunks).
//!
//! Hit ratios measured by `tests/storage_hitratio.rs` (cache-aside: Zipf keys, a value of
//! 50 B–4 KB fixed per key, 2,000,000 requests of which the first fifth warm up, the clock
//! advancing a second and `maintain()` running every 10,000 requests):
//!
//! ```text
//! workload                        Clock2  Clock   FIFO    Random
//! 200k keys, zipf 0.99, -m 8      0.5345  0.5309  0.5081  0.5086
//! 200k keys, zipf 0.80, -m 16     0.6065  0.5976  0.5519  0.5524
//! 1M keys,   zipf 0.99, -m 16     0.6832  0.6770  0.6370  0.6377
//! ```
//!
//! Two-level CLOCK wins every case (4-5 points over FIFO, 0.4-0.9 over one-bit CLOCK) at the
//! same hit-path cost, so it is the default ([`EvictionPolicy`] switches for experiments).
//!
//! # Semantics notes for callers
//!
//! * `compare_cas` with `Set`/`Replace` behaves as memcached's `cas` (NotFound when absent,
//!   Exists on mismatch, stored stale with `invalidate` when older); with `Append`/`Prepend`
//!   it is checked only when the item exists (absent: NotStored); `Add` ignores it.
//! * A `Set` (without `compare_cas`) that fails with TooLarge or NoMemory removes the old
//!   item, as memcached does.
//! * `ReadOptions::no_bump = true` (mg `u`) leaves atime, `ACTIVE` and `FETCHED` alone.
//! * flush_all compares each item's write sequence with the sequence at the flush moment,
//!   so a set right after `flush_all` in the same second is visible; touch does not count as
//!   a write. The sequence is always the store's counter: a client-chosen CAS (`new_cas`)
//!   is kept beside it (8 more bytes for that item), so it neither hides an item written
//!   after a flush (CAS below the counter) nor saves one written before (CAS above).
//!   With `use_cas = false` sequences are still kept, CAS reads as 0.
//! * incr/decr rewrite in place when the new number is not longer, padding with spaces
//!   (`decr` of "10" leaves "9 "), as memcached does; touch keeps the CAS.

mod api;
mod arena;
mod clock;
mod evict;
mod expire;
mod flush;
mod index;
mod item;
mod items;
mod keyspace;
mod observe;
mod ops;
mod pin;
mod rebalance;
pub use pin::Pinned;
mod reserve;
pub use reserve::Reserved;
mod slabs;
pub use slabs::MAX_CLASSES;
mod snapshot;
mod stats;
mod tally;
mod typed;

pub use api::{
    Arith, ArithOutcome, Delete, DeleteOutcome, EvictionPolicy, ItemType, ItemView, KeyspaceStats,
    Lookup, Miss, Mode, ReadOptions, ReassignOutcome, Rewrite, RewriteError, SlabClassStats,
    StoreOutcome, StoreStats, Write,
};
pub use clock::{Clock, Expiry, REALTIME_MAXDELTA};
pub use expire::EXPIRE_PERIOD;
/// The index's seeded key hash and word-wise compare, shared with the collections' tables.
pub use index::{key_hash, same_bytes, HashSeed};
use items::Core;
pub use observe::{Evicted, Observer, Removal};
pub use snapshot::{ChangeLog, SnapshotSink, WALK_SLICE};
pub use tally::take_key_tally;
pub use typed::{Current, Object, Ttl, Update, LAZYFREE_BYTES};

use std::sync::Arc;

/// Address space reserved for item memory so that the limit can be raised at run time.
const RESERVE_FOR_RAISE: usize = 4 << 30;

/// Longest key either protocol may store.
pub const KEY_MAX: usize = 250;

/// Everything the store is configured with (memcached's flags map onto these).
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// `-m`: bytes of item memory.
    pub memory_limit: usize,
    /// Size of a slab page (1 MiB).
    pub page_size: usize,
    /// `-f`: chunk size growth factor.
    pub growth_factor: f64,
    /// `-n`: key+value+flags bytes the smallest chunk holds, beside the item header.
    pub chunk_size: usize,
    /// `-I`: largest item (key + value + header).
    pub item_size_max: usize,
    /// `-o slab_chunk_max`: largest chunk; bigger items are chained. Default `page_size / 2`.
    pub slab_chunk_max: usize,
    /// `false` with `-M`: return [`StoreOutcome::NoMemory`] instead of evicting.
    pub evict: bool,
    /// `false` with `-C`: CAS values are always 0.
    pub use_cas: bool,
    /// Number of databases (Redis `SELECT`), 1..=16.
    pub databases: u8,
    /// `-o hashpower`: initial index size hint (log2 of expected items).
    pub hashpower: u8,
    /// `-o slab_reassign`: pages may move between classes.
    pub slab_reassign: bool,
    /// `-o slab_automove`: 0 off, 1 conservative, 2 aggressive.
    pub slab_automove: u8,
    /// `-o lru_crawler`: background reclaim of expired items.
    pub lru_crawler: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            memory_limit: 64 << 20,
            page_size: 1 << 20,
            growth_factor: 1.25,
            chunk_size: 48,
            item_size_max: 1 << 20,
            slab_chunk_max: 1 << 19,
            evict: true,
            use_cas: true,
            databases: 16,
            hashpower: 16,
            slab_reassign: true,
            slab_automove: 1,
            lru_crawler: true,
        }
    }
}

/// A configuration the store cannot run with; the message is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The item store. Shared by all worker threads (`Sync`).
pub struct Store {
    core: Core,
}

/// Checks a configuration as memcached does at start-up (same wording where memcached has
/// a message).
/// Checks a configuration as [`Store::new`] does, without reserving memory (the daemon
/// refuses a bad `-m` before it binds or prints anything).
pub fn validate(c: &StoreConfig) -> Result<(), ConfigError> {
    let err = |m: String| Err(ConfigError(m));
    if c.growth_factor.is_nan() || c.growth_factor <= 1.0 {
        return err("Factor must be greater than 1".into());
    }
    if c.chunk_size == 0 {
        return err("Chunk size must be greater than 0".into());
    }
    if c.item_size_max < 1024 {
        return err("Item max size cannot be less than 1024 bytes.".into());
    }
    if c.item_size_max > 1 << 30 {
        return err("Cannot set item size limit higher than a gigabyte.".into());
    }
    if c.item_size_max > c.memory_limit / 2 {
        return err("Cannot set item size limit higher than 1/2 of memory max.".into());
    }
    if c.memory_limit > arena::ARENA_MAX {
        return err(format!(
            "memory limit {} MB is above the maximum of {} MB",
            c.memory_limit >> 20,
            arena::ARENA_MAX >> 20
        ));
    }
    if c.page_size == 0 || c.page_size % arena::CHUNK_ALIGN != 0 || c.page_size > 1 << 20 {
        return err(format!(
            "slab page size (bytes: {}) must be a multiple of 8 up to 1048576",
            c.page_size
        ));
    }
    if c.slab_chunk_max < 1024 || c.slab_chunk_max % arena::CHUNK_ALIGN != 0 {
        return err(format!(
            "slab_chunk_max (bytes: {}) must be a multiple of 8 and at least 1024",
            c.slab_chunk_max
        ));
    }
    if c.slab_chunk_max > c.item_size_max {
        return err(format!(
            "slab_chunk_max (bytes: {}) cannot be larger than -I (item_size_max {})",
            c.slab_chunk_max, c.item_size_max
        ));
    }
    if c.item_size_max % c.slab_chunk_max != 0 {
        return err(format!(
            "-I (item_size_max: {}) must be evenly divisible by slab_chunk_max (bytes: {})",
            c.item_size_max, c.slab_chunk_max
        ));
    }
    if c.page_size % c.slab_chunk_max != 0 {
        return err(format!(
            "slab_chunk_max (bytes: {}) must divide evenly into {} (slab_page_size)",
            c.slab_chunk_max, c.page_size
        ));
    }
    if item::HEADER_SIZE + c.chunk_size >= c.slab_chunk_max {
        return err(format!(
            "Chunk size (-n {}) must be smaller than slab_chunk_max",
            c.chunk_size
        ));
    }
    if c.databases == 0 || usize::from(c.databases) > index::MAX_DATABASES {
        return err(format!(
            "databases must be between 1 and {}",
            index::MAX_DATABASES
        ));
    }
    Ok(())
}

impl Store {
    /// Validates `config` and reserves (without touching) `memory_limit` bytes of address
    /// space for item memory.
    pub fn new(config: StoreConfig, clock: Arc<Clock>) -> Result<Store, ConfigError> {
        validate(&config)?;
        // Address space for a later `cache_memlimit` raise is reserved too; untouched
        // pages cost nothing, and a system that refuses the reservation gets exactly -m.
        let pages = config.memory_limit.div_ceil(config.page_size).max(1);
        let room = (RESERVE_FOR_RAISE.max(config.memory_limit) / config.page_size).max(pages);
        let arena = arena::Arena::new(room * config.page_size)
            .or_else(|_| arena::Arena::new(pages * config.page_size))
            .map_err(|e| {
                ConfigError(format!(
                    "cannot reserve {} bytes of item memory: {e}",
                    pages * config.page_size
                ))
            })?;
        Ok(Store {
            core: Core::new(config, clock, arena),
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.core.config
    }

    /// Longest key RESP may store: what fits one largest-class chunk beside the header and
    /// its optional fields (memcached keeps [`KEY_MAX`]).
    pub fn key_max(&self) -> usize {
        self.core.config.slab_chunk_max - item::HEADER_SIZE - item::MAX_EXTRA - 64
    }

    /// Reports expired and evicted items to `hook` from now on (see [`Observer`]).
    pub fn observe(&self, hook: std::sync::Arc<dyn Observer>) {
        self.core.observers.set(hook);
    }

    pub fn clock(&self) -> &Clock {
        &self.core.clock
    }

    /// Chunk sizes of the slab classes, smallest first (class id = index + 1).
    pub fn class_sizes(&self) -> Vec<usize> {
        self.core.table.sizes.clone()
    }

    /// Looks up `key`; on a hit calls `f` with the item while its index lock is held (`f`
    /// must not call back into the store).
    pub fn get<R>(
        &self,
        db: u8,
        key: &[u8],
        opts: &ReadOptions,
        f: impl FnOnce(&dyn ItemView) -> R,
    ) -> Lookup<R> {
        self.core.get(db, key, opts, f)
    }

    /// Sets a new expiry; false when there is no live item.
    pub fn touch(&self, db: u8, key: &[u8], expiry: Expiry) -> bool {
        self.core.touch(db, key, expiry)
    }

    pub fn store(&self, w: &Write<'_>) -> StoreOutcome {
        self.store_and(w, |_| ()).0
    }

    /// A write that also shows `f` the item it replaces, under the same lock, or why there
    /// is none (absent, expired, flushed: memcached's `watch fetchers` line of a store).
    pub fn store_and<R>(
        &self,
        w: &Write<'_>,
        f: impl FnOnce(Result<&dyn ItemView, Miss>) -> R,
    ) -> (StoreOutcome, R) {
        self.core.store_and(w, f)
    }

    pub fn delete(&self, d: &Delete<'_>) -> DeleteOutcome {
        self.core.delete(d).0
    }

    /// [`Store::delete`], also saying the slab class id of the item it found (0: none), for
    /// memcached's per-class `delete_hits`.
    pub fn delete_in_class(&self, d: &Delete<'_>) -> (DeleteOutcome, u8) {
        self.core.delete(d)
    }

    /// The slab class id (1-based) a new string item with this key and value length goes to
    /// (the largest class for a chained item; 0 when it is larger than `-I`), for memcached's
    /// per-class counters and the `clsid` of `watch` lines.
    pub fn class_of(&self, key_len: usize, value_len: usize) -> u8 {
        let size = item::prefix_size(key_len, false, false, false) + value_len;
        if size > self.core.config.item_size_max {
            return 0;
        }
        let ci = self
            .core
            .table
            .class_for(size)
            .unwrap_or(self.core.table.largest());
        ci as u8 + 1
    }

    pub fn arith(&self, a: &Arith<'_>) -> ArithOutcome {
        self.core.arith(a)
    }

    /// Read-modify-write under the key's lock (Redis APPEND, SETRANGE, INCRBYFLOAT, GETDEL…).
    pub fn rewrite<R>(
        &self,
        db: u8,
        key: &[u8],
        f: impl FnOnce(Option<&dyn ItemView>) -> Rewrite<R>,
    ) -> Result<R, RewriteError> {
        self.core.rewrite(db, key, f)
    }

    /// Invalidates every item in `db` (all databases with `None`) stored before now +
    /// `delay` seconds, once that time comes.
    pub fn flush(&self, db: Option<u8>, delay: u32) {
        self.core.flush(db, delay)
    }

    /// An immediate flush of `db` (all databases with `None`) that also unlinks the flushed
    /// items before returning, so `db_len` and `keyspace` read 0 at once (Redis FLUSHDB and
    /// FLUSHALL). `flush` with delay 0 is memcached's lazy `flush_all`.
    pub fn flush_eager(&self, db: Option<u8>) {
        self.core.flush_eager(db)
    }

    /// Redis SWAPDB: exchanges the contents of databases `a` and `b`. Atomic as clients see
    /// it: an operation runs wholly before or wholly after the swap (see "Databases" above).
    pub fn swap_db(&self, a: u8, b: u8) {
        self.core.swap_db(a, b)
    }

    /// Number of live items in `db`.
    pub fn db_len(&self, db: u8) -> u64 {
        self.core.db_len(db)
    }

    /// Key counts per database.
    pub fn keyspace(&self) -> Vec<KeyspaceStats> {
        self.core.keyspace(usize::from(self.core.config.databases))
    }

    /// Calls `f` for some live items of `db` starting at `cursor`; returns the next cursor
    /// (0 when done). A key present for the whole scan is seen at least once. The cursor is
    /// a stripe number and whole stripes are visited, so a call may return more than `count`
    /// items. `f` runs under a stripe lock and must not call back into the store.
    pub fn scan(&self, db: u8, cursor: u64, count: usize, f: impl FnMut(&dyn ItemView)) -> u64 {
        self.core.scan(db, cursor, count, f)
    }

    /// A random live key of `db`.
    pub fn random_key(&self, db: u8) -> Option<Vec<u8>> {
        self.core.random_key(db)
    }

    /// Moves an item to another key or database; false when `key` is absent.
    /// With `only_if_absent`, fails (returns Ok(false)) when the destination exists.
    pub fn rename(
        &self,
        db: u8,
        key: &[u8],
        to_db: u8,
        to_key: &[u8],
        only_if_absent: bool,
    ) -> Result<bool, RewriteError> {
        self.core
            .transfer(db, key, to_db, to_key, only_if_absent, false)
    }

    /// Redis COPY: a copy of `key`'s value (any type; objects are duplicated) and expiry
    /// under `to_key` in `to_db`. Ok(false) when `key` is absent, when the destination
    /// exists and `replace` is false, or when source and destination are the same key.
    pub fn copy(
        &self,
        db: u8,
        key: &[u8],
        to_db: u8,
        to_key: &[u8],
        replace: bool,
    ) -> Result<bool, RewriteError> {
        self.core.transfer(db, key, to_db, to_key, !replace, true)
    }

    /// A typed read-modify-write under the key's stripe lock (see "Typed values" above).
    /// `f` sees the live value, if any (an expired one is reclaimed first and reads as
    /// `None`), and says what to leave. `f` must not call back into the store.
    pub fn modify<R>(
        &self,
        db: u8,
        key: &[u8],
        f: impl FnOnce(Option<&mut Current<'_>>) -> Update<R>,
    ) -> Result<R, RewriteError> {
        self.core.modify(db, key, f)
    }

    /// A read-only look at `key`'s value (bytes or object) under its stripe lock; counts
    /// as an access. `f` must not call back into the store.
    pub fn inspect<R>(&self, db: u8, key: &[u8], f: impl FnOnce(Option<&Current<'_>>) -> R) -> R {
        self.core.inspect(db, key, f)
    }

    /// Calls `f` for every live item, any type, with its logical database, one stripe at a
    /// time under that stripe's lock (the persistence snapshot walk). `f` must not call
    /// back into the store.
    pub fn for_each_value(&self, f: impl FnMut(u8, &Current<'_>)) {
        self.core.for_each_value(f)
    }

    /// Whether items and objects together are over `-m` (with `-M`, Redis's
    /// `denyoom` commands answer OOM when this is true, as Redis checks before running).
    pub fn over_limit(&self) -> bool {
        self.core.over_limit()
    }

    /// Bytes charged for heap objects (part of `bytes` / `used_memory`).
    pub fn object_bytes(&self) -> u64 {
        self.core.object_bytes()
    }

    /// Calls `f` for every live item (lru_crawler metadump), one stripe lock at a time; `f`
    /// must not call back into the store.
    pub fn for_each(&self, f: impl FnMut(u8, &dyn ItemView)) {
        self.core.for_each(f)
    }

    pub fn stats(&self) -> StoreStats {
        self.core.stats()
    }

    /// `stats().bytes` without locking every stripe.
    pub fn data_bytes(&self) -> u64 {
        self.core.data_bytes()
    }

    /// `stats reset`: zeroes counters (evictions, reclaims, totals), not gauges.
    pub fn reset_stats(&self) {
        self.core.reset_stats()
    }

    pub fn slab_stats(&self) -> Vec<SlabClassStats> {
        self.core.slab_stats()
    }

    /// `stats sizes`: item counts by total size rounded up to 32 bytes.
    pub fn size_histogram(&self) -> Vec<(u64, u64)> {
        self.core.size_histogram()
    }

    /// `slabs reassign src dst` (`src` -1: any class).
    pub fn reassign(&self, src: i32, dst: i32) -> ReassignOutcome {
        if !self.core.config.slab_reassign {
            return ReassignOutcome::Unsafe;
        }
        let classes = self.core.classes.len() as i32;
        let valid = |c: i32| (1..=classes).contains(&c);
        if !valid(dst) || (src != -1 && !valid(src)) {
            return ReassignOutcome::BadClass;
        }
        let src = (src != -1).then(|| (src - 1) as usize);
        self.core.move_page(src, (dst - 1) as usize)
    }

    /// Changes the eviction policy (experiments; the default is the measured best).
    pub fn set_eviction_policy(&self, policy: EvictionPolicy) {
        self.core.set_eviction_policy(policy)
    }

    pub fn eviction_policy(&self) -> EvictionPolicy {
        self.core.eviction_policy()
    }

    /// memcached's `temporary_ttl` (`-o temporary_ttl=N`, `lru temp_ttl N`; None: off):
    /// items expiring within that many seconds are never evicted to make room for others
    /// (memcached keeps items stored with such a TTL in an LRU that eviction skips; slabd
    /// judges by the time left, so an item stored with a long TTL is protected in its last
    /// seconds too). A class full of them answers out of memory, as memcached does.
    pub fn set_temporary_ttl(&self, ttl: Option<u32>) {
        self.core.temporary_ttl.store(
            ttl.unwrap_or(u32::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// `slabs automove 0|1|2`.
    pub fn set_automove(&self, mode: u8) {
        self.core
            .automove
            .store(mode.min(2), std::sync::atomic::Ordering::Relaxed);
    }

    /// `cache_memlimit`: change the memory limit at run time.
    pub fn set_memory_limit(&self, bytes: usize) -> Result<(), ConfigError> {
        if bytes < 8 << 20 {
            return Err(ConfigError(
                "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m".into(),
            ));
        }
        if self.core.config.item_size_max > bytes / 2 {
            return Err(ConfigError(
                "Cannot set item size limit higher than 1/2 of memory max.".into(),
            ));
        }
        let pages = bytes / self.core.config.page_size;
        let reserved = self.core.page_class.len();
        if pages > reserved {
            return Err(ConfigError(format!(
                "cannot raise the memory limit above the {} MB reserved at start",
                (reserved * self.core.config.page_size) >> 20
            )));
        }
        self.core.pool.set_limit(pages);
        self.core.shrink_to_limit();
        Ok(())
    }

    /// One pass of background work: reclaim expired items, move pages between classes.
    /// The server calls this about once a second from a maintenance thread.
    /// Persistence: walks every live item as of this call's start into `sink` (from this
    /// thread) while other threads keep reading and writing; a second snapshot waits for
    /// the first to end. See `snapshot.rs`.
    pub fn snapshot(&self, sink: Arc<dyn SnapshotSink>) {
        self.core.snapshot(sink)
    }

    /// [`Store::snapshot`], calling `at_epoch` at its point in time with every stripe
    /// locked (the AOF rewrite's switch to a new file).
    pub fn snapshot_with(&self, sink: Arc<dyn SnapshotSink>, at_epoch: &mut dyn FnMut()) {
        self.core.snapshot_with(sink, at_epoch)
    }

    /// (µs every stripe was locked at the last snapshot's start, snapshots begun): what
    /// INFO reports as Redis's `latest_fork_usec` and `total_forks`.
    pub fn snapshot_pause(&self) -> (u64, u64) {
        self.core.snapshot.epoch_pause()
    }

    /// Installs the append-only file's change log (first call wins) and turns it on/off.
    pub fn set_change_log(&self, log: Option<Arc<dyn ChangeLog>>, on: bool) {
        self.core.snapshot.set_log(log, on)
    }

    /// Items evicted so far (cheap: no walk over the stripes).
    pub fn evictions(&self) -> u64 {
        self.core.evictions()
    }

    /// Grows the index for `keys` more keys (a load that knows how many come).
    pub fn reserve_keys(&self, keys: u64) {
        self.core.reserve_keys(keys)
    }

    /// Makes delayed flushes that came due take effect now, logged to the change log (the
    /// AOF thread calls it while the log is on; see `Core::apply_due_flushes`).
    pub fn apply_due_flushes(&self) {
        self.core.apply_due_flushes()
    }

    /// Writes applied so far (a counter that only grows).
    pub fn write_seq(&self) -> u64 {
        self.core.write_seq()
    }

    pub fn maintain(&self) {
        self.core.maintain()
    }

    /// `lru_crawler crawl`: one crawler pass over every class now, its reclaims counted as
    /// `crawler_reclaimed` (the background passes count `reclaimed`, as memcached's LRU
    /// maintainer does). Runs whether or not background expiry is on (`lru_crawler
    /// enable` at run time turns on the command, not the background work).
    pub fn crawl(&self) {
        self.core.crawl(true)
    }

    /// CLIENT PAUSE (Redis 7.0 defers expiry while clients are paused): until `until_ms`
    /// (unix ms; 0 ends it at once) reads see expired items as misses but leave them in
    /// place, uncounted and unreported, and active expiry and the crawler skip them; the
    /// first look-up after the pause reclaims them. Writes reclaim as always.
    pub fn hold_expiry_until(&self, until_ms: u64) {
        self.core
            .expiry_held_until
            .store(until_ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// One active-expiry cycle (time-bounded, see `expire.rs`); the server calls it every
    /// [`EXPIRE_PERIOD`] when the LRU crawler is on.
    pub fn expire_cycle(&self) {
        if self.core.config.lru_crawler {
            self.core.expire_cycle()
        }
    }

    /// Redis's `expired_stale_perc` (percent).
    pub fn expired_stale_perc(&self) -> f64 {
        self.core.expired_stale_perc()
    }
}
