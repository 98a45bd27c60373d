//! The store's request and reply types: what a caller asks for (reads, writes, deletes,
//! arithmetic, rewrites) and what it gets back, the view of an item it reads through, and
//! the statistics it can ask for. [`super::Store`] takes and returns these.

use super::{Expiry, Pinned};

/// What kind of value an item holds (the type tag in its header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    String,
    List,
    Hash,
    Set,
    ZSet,
}

impl ItemType {
    /// The header code of a string in Redis's `raw` encoding: a string edited in place
    /// (APPEND to an existing key, SETRANGE, SETBIT, BITFIELD, BITOP, the HyperLogLog
    /// commands), which Redis never turns back into `int` or `embstr` until it is written
    /// anew. It reads as [`ItemType::String`] everywhere; only OBJECT ENCODING asks.
    pub const RAW_STRING_CODE: u8 = 7;

    /// The 3-bit code in the item header.
    pub fn code(self) -> u8 {
        match self {
            ItemType::String => 0,
            ItemType::List => 1,
            ItemType::Hash => 2,
            ItemType::Set => 3,
            ItemType::ZSet => 4,
        }
    }

    pub fn from_code(code: u8) -> ItemType {
        match code {
            1 => ItemType::List,
            2 => ItemType::Hash,
            3 => ItemType::Set,
            4 => ItemType::ZSet,
            _ => ItemType::String,
        }
    }

    /// Redis's name for the type (TYPE, SCAN ... TYPE).
    pub fn name(self) -> &'static str {
        match self {
            ItemType::String => "string",
            ItemType::List => "list",
            ItemType::Hash => "hash",
            ItemType::Set => "set",
            ItemType::ZSet => "zset",
        }
    }
}

/// Options for a read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Set a new expiry on a hit of a string (gat, gats, mg T, GETEX); an item of another
    /// type keeps its expiry.
    pub touch: Option<Expiry>,
    /// `false` for mg's `u`: do not mark the item as accessed.
    pub no_bump: bool,
    /// mg's `N`: on a miss create an empty item with this expiry and hand this caller the
    /// win token (the reply is still a miss).
    pub vivify: Option<Expiry>,
    /// mg's `R`: if the remaining TTL is below this many seconds, hand out the win token.
    pub recache_below: Option<u32>,
    /// Count as a fetch for `fetched`/`hit_before` (false for metadata-only peeks).
    pub is_fetch: bool,
    /// The memcached protocol's view: a key holding a collection reads as a miss (and is
    /// neither touched nor bumped).
    pub strings_only: bool,
}

/// A live item, seen under its index lock for the duration of a callback.
pub trait ItemView {
    fn key(&self) -> &[u8];
    fn flags(&self) -> u32;
    fn cas(&self) -> u64;
    fn item_type(&self) -> ItemType;
    /// Length of the value in bytes.
    fn value_len(&self) -> usize;
    /// Appends the value to `out`.
    fn copy_value_to(&self, out: &mut Vec<u8>);
    /// Expiry as set (after any touch by this read).
    fn expiry(&self) -> Expiry;
    /// Seconds since last access, before this read.
    fn last_access(&self) -> u32;
    /// Whether the item had been fetched before this read.
    fn hit_before(&self) -> bool;
    /// Slab class id (1-based, as `stats slabs` numbers them).
    fn slab_class(&self) -> u8;
    /// Bytes the item occupies in slab memory (header + key + value, before rounding).
    fn total_size(&self) -> usize;
    /// Meta protocol: the item was invalidated (md/ms with `I`) and is being served stale.
    fn is_stale(&self) -> bool;
    /// Meta protocol: this read won the right to recache (`W`).
    fn won(&self) -> bool;
    /// Meta protocol: another client already holds the win token (`Z`).
    fn win_taken(&self) -> bool;
    /// Pins the item so that its value can be sent from slab memory after the lock is
    /// released ([`Store::pinned_pieces`], then [`Store::unpin`]); `None` when the view
    /// cannot be pinned (not a slab string).
    fn pin(&self) -> Option<Pinned> {
        None
    }
}

/// Why a read found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No such key.
    Absent,
    /// The key existed but had expired (counts as `get_expired`).
    Expired,
    /// The key existed but was invalidated by flush_all (counts as `get_flushed`).
    Flushed,
}

/// Outcome of a read.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<R> {
    Hit(R),
    Miss(Miss),
    /// `vivify` created a placeholder: the caller got a miss and the win token.
    Vivified,
}

/// How a write treats an existing item (memcached's storage commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Set,
    /// Only if absent.
    Add,
    /// Only if present.
    Replace,
    /// Add to the end of an existing value (flags and expiry stay).
    Append,
    /// Add to the start of an existing value (flags and expiry stay).
    Prepend,
}

/// One write.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    pub db: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub flags: u32,
    pub expiry: Expiry,
    pub mode: Mode,
    /// Store only if the item's CAS equals this (memcached `cas`, ms `C`).
    pub compare_cas: Option<u64>,
    /// Use this CAS for the new item instead of the next counter value (ms `E`).
    pub new_cas: Option<u64>,
    /// ms `I`: with `compare_cas`, a CAS older than the item's stores the item marked stale.
    pub invalidate: bool,
    /// Redis `KEEPTTL`: keep the existing item's expiry instead of `expiry`.
    pub keep_ttl: bool,
    /// No `-I` limit (RESP): the value may be as large as memory allows; a value that
    /// cannot fit is `NoMemory` (Redis's OOM error) rather than `TooLarge`.
    pub large: bool,
}

impl<'a> Write<'a> {
    /// A plain `set` with no CAS and no meta options.
    pub fn new(
        db: u8,
        key: &'a [u8],
        value: &'a [u8],
        flags: u32,
        expiry: Expiry,
        mode: Mode,
    ) -> Self {
        Write {
            db,
            key,
            value,
            flags,
            expiry,
            mode,
            compare_cas: None,
            new_cas: None,
            invalidate: false,
            keep_ttl: false,
            large: false,
        }
    }
}

/// Outcome of a write, as memcached's `store_item_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    Stored {
        cas: u64,
    },
    NotStored,
    /// CAS mismatch.
    Exists,
    /// `compare_cas` given (or append/prepend/replace) and no item.
    NotFound,
    /// Larger than `-I`.
    TooLarge,
    /// No memory and nothing could be evicted (or `-M`).
    NoMemory,
}

/// One delete.
#[derive(Clone, Copy, Debug)]
pub struct Delete<'a> {
    pub db: u8,
    pub key: &'a [u8],
    pub compare_cas: Option<u64>,
    /// md `I`: mark stale (with this expiry, or keep) instead of removing.
    pub invalidate: Option<Option<Expiry>>,
    /// md `x`: drop the value and flags but keep the item.
    pub drop_value: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    Exists,
}

/// One incr/decr on a decimal u64 text value (memcached semantics: incr wraps at 2^64,
/// decr stops at 0).
#[derive(Clone, Copy, Debug)]
pub struct Arith<'a> {
    pub db: u8,
    pub key: &'a [u8],
    pub incr: bool,
    pub delta: u64,
    pub compare_cas: Option<u64>,
    pub new_cas: Option<u64>,
    /// ma `N`/`J`: on a miss create the item with this initial value and expiry.
    pub vivify: Option<(u64, Expiry)>,
    /// ma `T`: set a new expiry on success.
    pub touch: Option<Expiry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOutcome {
    /// New value and CAS; `created` when vivify made the item.
    Value {
        value: u64,
        cas: u64,
        expiry: Expiry,
        created: bool,
    },
    NotFound,
    NonNumeric,
    Exists,
    NoMemory,
}

/// What a read-modify-write closure decided.
pub enum Rewrite<R> {
    /// Leave the item as it is.
    Keep(R),
    /// Remove the item.
    Delete(R),
    /// Replace (or create) the item. `expiry: None` keeps the current expiry. `raw`: a
    /// string edited in place, shown by OBJECT ENCODING as Redis's `raw` whatever its bytes
    /// ([`ItemType::RAW_STRING_CODE`]); otherwise judged by its bytes.
    Write {
        value: Vec<u8>,
        flags: u32,
        expiry: Option<Expiry>,
        raw: bool,
        result: R,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("object too large for cache")]
    TooLarge,
    #[error("out of memory storing object")]
    NoMemory,
}

/// Outcome of `slabs reassign`, printed by the protocol layer as memcached does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReassignOutcome {
    Ok,
    Busy,
    BadClass,
    NoSpare,
    NotFull,
    Same,
    /// slab_reassign is off.
    Unsafe,
}

/// How a slab class picks the item to evict when it needs a chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// CLOCK over the class's chunks in page order: a hit sets the item's reference bit, the
    /// hand clears set bits and evicts the first item whose bit is clear.
    Clock = 0,
    /// The hand evicts in chunk order and ignores hits (for comparison).
    Fifo = 1,
    /// A random chunk of the class (for comparison).
    Random = 2,
    /// CLOCK with two reference levels: a hit while `ACTIVE` is set also sets `ACTIVE2`, and
    /// the hand takes one level per pass, so items hit twice survive two passes (the
    /// default, chosen by the hit-ratio measurement in the module doc).
    #[default]
    Clock2 = 3,
}

/// Store-wide counters for `stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub limit_maxbytes: u64,
    pub total_malloced: u64,
    pub evictions: u64,
    pub reclaimed: u64,
    /// Items that expired, however they were found (Redis's `expired_keys`).
    pub expired_keys: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub evicted_active: u64,
    pub crawler_reclaimed: u64,
    pub crawler_items_checked: u64,
    pub slabs_moved: u64,
    /// Items moved within their class so that a page could return to the global pool.
    pub slab_reassign_rescues: u64,
    pub slab_reassign_chunk_rescues: u64,
    pub slab_reassign_evictions_nomem: u64,
    /// Pages in the global pool (freed by classes, waiting for any class).
    pub slab_global_page_pool: u64,
    /// Pages handed past `-m`, each a class's first (memcached allows that so that a small
    /// `-m` never leaves a size unstorable); at most one per class.
    pub pages_past_limit: u64,
    pub slab_reassign_running: bool,
    pub hash_power_level: u32,
    pub hash_bytes: u64,
    pub hash_is_expanding: bool,
    pub malloc_fails: u64,
    pub curr_slab_classes: u64,
}

/// One slab class for `stats slabs` and `stats items`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlabClassStats {
    pub id: u8,
    pub chunk_size: u64,
    pub chunks_per_page: u64,
    pub total_pages: u64,
    pub total_chunks: u64,
    pub used_chunks: u64,
    pub free_chunks: u64,
    pub free_chunks_end: u64,
    pub mem_requested: u64,
    /// Items linked in this class (`stats items` number).
    pub number: u64,
    /// Seconds since the least recently used item was accessed.
    pub age: u64,
    pub evicted: u64,
    pub evicted_nonzero: u64,
    pub evicted_time: u64,
    pub outofmemory: u64,
    pub reclaimed: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub evicted_active: u64,
    pub crawler_reclaimed: u64,
}

/// Per database key counts for Redis `INFO keyspace`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyspaceStats {
    pub keys: u64,
    pub expires: u64,
}
