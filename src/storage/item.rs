//! Item layout in slab memory (round 2: typed values, millisecond expiry, long keys).
//!
//! ```text
//! offset size field
//!   0     8   meta        AtomicU64  bit 63 EXPLICIT_CAS | 62 FAR_EXPIRY | 61 OBJECT |
//!                                    60..58 value type | 57..48 expiry milliseconds |
//!                                    47..0 write sequence (the CAS unless EXPLICIT_CAS)
//!   8     4   exptime     AtomicU32  expiry: clock-relative whole seconds, 0 = never
//!  12     4   atime_bits  AtomicU32  last access (23 bits, high) | item bits (9, low)
//!  16     4   flags       AtomicU32  client flags
//!  20     4   lens        AtomicU32  key_len (8, high; 255 = long key) | db (4) |
//!                                    value_len (20, low)
//!  24     8   cas         optional   EXPLICIT_CAS: the CAS a client chose (ms/ma E)
//!  +      8   far expiry  optional   FAR_EXPIRY: the expiry as absolute unix ms (u64)
//!  +      8   chain info  optional   CHAINED: total value length u32 | first tail u32
//!  +      4   key length  optional   key_len 255: the key's length (u32)
//!  +      k   key
//!  +      v   value (no trailing \r\n); for an OBJECT item, a 4-byte object handle
//! ```
//!
//! The expiry is `exptime` seconds after the clock's start plus the 10-bit millisecond
//! remainder in `meta`: an absolute unix time in milliseconds without a wider field. Times
//! that do not fit a u32 of seconds from the start (after about 136 years) take the 8-byte
//! far-expiry slot, which then holds the exact time; `exptime` stays `u32::MAX` so that
//! the coarse check (see `Core::dead`) keeps such items alive. Keys of 255 bytes or more
//! (RESP only; memcached's limit is 250) keep their length in a 4-byte field. The sequence
//! keeps 48 bits (2.8e14 writes).
//!
//! The write sequence is what flush_all compares, so it must be the store's own counter: a
//! client-chosen CAS (ms `E`) below the counter at a flush would otherwise make a new item
//! look older than the flush, and one above it would survive the flush. Items with a
//! client-chosen CAS pay 8 bytes for it; every other item's CAS is its sequence.
//!
//! A chained item (bigger than `slab_chunk_max`) keeps `total value length: u32` and the
//! `first tail: ChunkId` in its chain info, then the key and the first part of the value;
//! `value_len` in `lens` is 0. Each tail chunk has a header too, with the `TAIL` bit,
//! `meta` = its head's chunk id, `flags` = next tail (or [`NO_CHUNK`]) and `value_len` =
//! data bytes in this chunk; the data follows the header.
//!
//! Under its class lock every carved chunk is in exactly one state, read from its bits:
//! `FREE` (on the free list), `LINKED` (an item), `TAIL` (part of a chained item) or none of
//! these (taken by a thread that is writing it, or unlinked and about to be freed). Page
//! reassignment relies on this to know when a page can be emptied.

use super::arena::{Arena, ChunkId, CHUNK_ALIGN};
use super::index::same_bytes;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub const HEADER_SIZE: usize = 24;
/// Chain information after a chained head's header.
pub const CHAIN_INFO: usize = 8;
pub const NO_CHUNK: ChunkId = u32::MAX;
pub const VALUE_LEN_MAX: usize = (1 << 20) - 1;
/// In `meta`: the item carries a client-chosen CAS in the 8 bytes after the header.
pub const EXPLICIT_CAS: u64 = 1 << 63;
/// In `meta`: the item carries its exact expiry (unix ms) in an 8-byte slot.
pub const FAR_EXPIRY: u64 = 1 << 62;
/// In `meta`: the value is a 4-byte handle of a heap object (a large collection).
pub const OBJECT: u64 = 1 << 61;
const TYPE_SHIFT: u32 = 58;
const TYPE_MASK: u64 = 7 << TYPE_SHIFT;
const MS_SHIFT: u32 = 48;
const MS_MASK: u64 = 0x3ff << MS_SHIFT;
/// The write sequence's bits of `meta`.
pub const SEQ_MASK: u64 = (1 << MS_SHIFT) - 1;
/// Bytes of the explicit CAS slot.
pub const CAS_SLOT: usize = 8;
/// Bytes of the far-expiry slot.
pub const FAR_SLOT: usize = 8;
/// `key_len` value meaning "the length follows in a 4-byte field".
pub const LONG_KEY: usize = 255;
/// Bytes of the long key's length field.
pub const LONG_KEY_FIELD: usize = 4;
/// Most bytes of optional fields an item can have.
pub const MAX_EXTRA: usize = CAS_SLOT + FAR_SLOT + CHAIN_INFO + LONG_KEY_FIELD + CHUNK_ALIGN;

/// An expiry as the header keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exp {
    /// Clock-relative seconds (0 = never; `u32::MAX` with `far`).
    pub secs: u32,
    /// Milliseconds past `secs` (0..1000).
    pub ms: u16,
    /// The exact unix ms, when it does not fit `secs` (needs the far-expiry slot).
    pub far: Option<u64>,
}

impl Exp {
    pub const NEVER: Exp = Exp {
        secs: 0,
        ms: 0,
        far: None,
    };
}

/// Everything a fresh head chunk's header says.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub seq: u64,
    pub explicit_cas: Option<u64>,
    pub exp: Exp,
    pub flags: u32,
    pub db: u8,
    pub key_len: usize,
    /// Value type code (see `ItemType::code`) and whether the value is an object handle.
    pub kind: u8,
    pub object: bool,
}

/// In the index (set under the stripe lock before the chunk is reachable, cleared when it is
/// unlinked).
pub const LINKED: u32 = 1;
/// Fetched at least once (`hit_before`, `expired_unfetched`, `evicted_unfetched`).
pub const FETCHED: u32 = 2;
/// Accessed since the eviction hand last passed (CLOCK reference bit).
pub const ACTIVE: u32 = 4;
/// Invalidated by the meta protocol (`md I`, `ms I`): served stale until replaced.
pub const STALE: u32 = 8;
/// A reader already got the recache win token.
pub const WIN_SENT: u32 = 16;
/// The value continues in tail chunks.
pub const CHAINED: u32 = 32;
/// A tail chunk of a chained item (not an item of its own).
pub const TAIL: u32 = 64;
/// On its class's free list.
pub const FREE: u32 = 128;
/// Hit again while `ACTIVE` was set (the second CLOCK level).
pub const ACTIVE2: u32 = 256;
const BITS_SHIFT: u32 = 9;
pub const BITS_MASK: u32 = (1 << BITS_SHIFT) - 1;
pub const ATIME_MASK: u32 = (1 << (32 - BITS_SHIFT)) - 1;

pub fn offset_of(chunk: ChunkId) -> usize {
    chunk as usize * CHUNK_ALIGN
}

pub fn chunk_at(offset: usize) -> ChunkId {
    debug_assert_eq!(offset % CHUNK_ALIGN, 0);
    (offset / CHUNK_ALIGN) as ChunkId
}

/// Offset of the value from the start of an item's chunk: header, long key length, key,
/// then (8-aligned, only when present) CAS slot, far-expiry slot and chain information.
pub fn prefix_size(key_len: usize, explicit_cas: bool, far: bool, chained: bool) -> usize {
    let key_end = HEADER_SIZE + usize::from(key_len >= LONG_KEY) * LONG_KEY_FIELD + key_len;
    let slots = usize::from(explicit_cas) * CAS_SLOT
        + usize::from(far) * FAR_SLOT
        + usize::from(chained) * CHAIN_INFO;
    if slots == 0 {
        key_end
    } else {
        key_end.next_multiple_of(CHUNK_ALIGN) + slots
    }
}

/// The access stamp of an atime-and-bits word.
pub fn atime_of(atime_bits: u32) -> u32 {
    atime_bits >> BITS_SHIFT
}

/// Seconds between two 23-bit access stamps.
pub fn atime_age(now: u32, atime: u32) -> u32 {
    now.wrapping_sub(atime) & ATIME_MASK
}

/// A chunk seen as an item header (and its bytes).
#[derive(Clone, Copy)]
pub struct Item<'a> {
    pub arena: &'a Arena,
    pub chunk: ChunkId,
}

impl<'a> Item<'a> {
    pub fn new(arena: &'a Arena, chunk: ChunkId) -> Self {
        Item { arena, chunk }
    }

    fn off(&self) -> usize {
        offset_of(self.chunk)
    }

    fn meta_cell(&self) -> &'a AtomicU64 {
        self.arena.atomic_u64(self.off())
    }
    /// Where the optional 8-byte fields start (after the key, 8-aligned).
    fn slots_offset(&self) -> usize {
        (self.key_offset() + self.key_len()).next_multiple_of(CHUNK_ALIGN)
    }
    fn cas_slot_cell(&self) -> &'a AtomicU64 {
        self.arena.atomic_u64(self.slots_offset())
    }
    fn far_slot_cell(&self, meta: u64) -> &'a AtomicU64 {
        let at = if meta & EXPLICIT_CAS != 0 {
            CAS_SLOT
        } else {
            0
        };
        self.arena.atomic_u64(self.slots_offset() + at)
    }
    fn exptime_cell(&self) -> &'a AtomicU32 {
        self.arena.atomic_u32(self.off() + 8)
    }
    fn atime_bits_cell(&self) -> &'a AtomicU32 {
        self.arena.atomic_u32(self.off() + 12)
    }
    pub fn flags_cell(&self) -> &'a AtomicU32 {
        self.arena.atomic_u32(self.off() + 16)
    }
    fn lens_cell(&self) -> &'a AtomicU32 {
        self.arena.atomic_u32(self.off() + 20)
    }

    fn meta(&self) -> u64 {
        self.meta_cell().load(Ordering::Relaxed)
    }
    /// The write sequence (what flush_all compares).
    pub fn seq(&self) -> u64 {
        self.meta() & SEQ_MASK
    }
    /// A tail's head chunk (tails keep it in `meta`).
    pub fn tail_head(&self) -> u64 {
        self.meta()
    }
    /// Points a tail at its head's new chunk (a page move rescued the head).
    pub fn set_tail_head(&self, head: ChunkId) {
        self.meta_cell().store(u64::from(head), Ordering::Relaxed);
    }
    /// A chained item's first tail.
    pub fn first_tail(&self) -> ChunkId {
        self.chain_info().1
    }
    /// Points a chained item at a new first tail (a page move rescued it).
    pub fn set_first_tail(&self, tail: ChunkId) {
        let (total, _) = self.chain_info();
        self.write_chain_info(total, tail);
    }
    /// The CAS clients see: the chosen one if any, else the sequence.
    pub fn cas(&self) -> u64 {
        let meta = self.meta();
        if meta & EXPLICIT_CAS != 0 {
            self.cas_slot_cell().load(Ordering::Relaxed)
        } else {
            meta & SEQ_MASK
        }
    }
    /// The value type code (see `ItemType::code`).
    pub fn kind(&self) -> u8 {
        ((self.meta() & TYPE_MASK) >> TYPE_SHIFT) as u8
    }
    /// Whether the value is a handle of a heap object.
    pub fn is_object(&self) -> bool {
        self.meta() & OBJECT != 0
    }
    /// Turns an object item into a plain one whose object moved to another item (so that
    /// unlinking it frees nothing); under the stripe lock.
    pub fn clear_object(&self) {
        self.meta_cell().fetch_and(!OBJECT, Ordering::Relaxed);
    }
    /// A new sequence and CAS for a linked item (in-place incr/decr, md `I`), under the
    /// stripe lock. False when a chosen CAS needs a slot this item does not have.
    pub fn set_cas(&self, seq: u64, explicit: Option<u64>) -> bool {
        debug_assert_eq!(seq & !SEQ_MASK, 0);
        let meta = self.meta();
        let keep = meta & !SEQ_MASK;
        if meta & EXPLICIT_CAS != 0 {
            self.cas_slot_cell()
                .store(explicit.unwrap_or(seq), Ordering::Relaxed);
            self.meta_cell().store(keep | seq, Ordering::Relaxed);
            true
        } else if explicit.map_or(true, |c| c == seq) {
            self.meta_cell().store(keep | seq, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
    /// Bytes before the value: header, key and optional fields.
    pub fn prefix_len(&self) -> usize {
        let meta = self.meta();
        prefix_size(
            self.key_len(),
            meta & EXPLICIT_CAS != 0,
            meta & FAR_EXPIRY != 0,
            self.is_chained(),
        )
    }
    /// The coarse expiry seconds (0 = never); see [`Item::exp`] for the exact time.
    pub fn exptime(&self) -> u32 {
        self.exptime_cell().load(Ordering::Relaxed)
    }
    /// The expiry as stored.
    pub fn exp(&self) -> Exp {
        let secs = self.exptime();
        let meta = self.meta();
        if secs == 0 {
            return Exp::NEVER;
        }
        if meta & FAR_EXPIRY != 0 {
            let at = self.far_slot_cell(meta).load(Ordering::Relaxed);
            return Exp {
                secs,
                ms: 0,
                far: Some(at),
            };
        }
        Exp {
            secs,
            ms: ((meta & MS_MASK) >> MS_SHIFT) as u16,
            far: None,
        }
    }
    /// Sets a new expiry under the stripe lock; false when `exp` needs the far-expiry slot
    /// and the item has none (the caller rebuilds the item). An item with the slot keeps
    /// its exact time there whatever the time is (`started`: the clock's start, to turn
    /// seconds and milliseconds into that time).
    pub fn set_exp(&self, exp: Exp, started: u64) -> bool {
        let meta = self.meta();
        if meta & FAR_EXPIRY != 0 {
            let exact = exp
                .far
                .unwrap_or((started + u64::from(exp.secs)) * 1000 + u64::from(exp.ms));
            self.far_slot_cell(meta).store(exact, Ordering::Relaxed);
        } else if exp.far.is_some() {
            return false;
        } else {
            let ms = u64::from(exp.ms.min(999)) << MS_SHIFT;
            self.meta_cell()
                .store((meta & !MS_MASK) | ms, Ordering::Relaxed);
        }
        self.exptime_cell().store(exp.secs, Ordering::Relaxed);
        true
    }
    pub fn flags(&self) -> u32 {
        self.flags_cell().load(Ordering::Relaxed)
    }
    /// Item bits, with `Acquire` so that a reader that sees `LINKED` also sees the bytes.
    pub fn bits(&self) -> u32 {
        self.atime_bits_cell().load(Ordering::Acquire) & BITS_MASK
    }
    /// The atime and bits word as one load (see [`atime_of`], [`BITS_MASK`]).
    pub fn atime_bits(&self) -> u32 {
        self.atime_bits_cell().load(Ordering::Acquire)
    }
    pub fn atime(&self) -> u32 {
        self.atime_bits_cell().load(Ordering::Relaxed) >> BITS_SHIFT
    }
    pub fn set_bits(&self, bits: u32) {
        self.atime_bits_cell().fetch_or(bits, Ordering::AcqRel);
    }
    pub fn clear_bits(&self, bits: u32) {
        self.atime_bits_cell().fetch_and(!bits, Ordering::AcqRel);
    }
    /// Records an access: new atime and the CLOCK bit (one load when nothing changes).
    pub fn bump(&self, now: u32, fetched: bool) {
        let cell = self.atime_bits_cell();
        let cur = cell.load(Ordering::Relaxed);
        let level = if cur & ACTIVE != 0 {
            ACTIVE | ACTIVE2
        } else {
            ACTIVE
        };
        let want_bits = level | if fetched { FETCHED } else { 0 };
        let stamp = (now & ATIME_MASK) << BITS_SHIFT;
        if cur & want_bits == want_bits && cur & !BITS_MASK == stamp {
            return;
        }
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
            Some(stamp | (v & BITS_MASK) | want_bits)
        });
    }

    /// The key length and db bits of the `lens` word, for [`Item::has_key`].
    pub fn key_tag(key_len: usize, db: u8) -> u32 {
        ((key_len.min(LONG_KEY) as u32) << 24) | (u32::from(db) << 20)
    }

    /// Whether this item is `key` in the db of `tag` (one header load before the key bytes).
    #[inline]
    pub fn has_key(&self, tag: u32, key: &[u8]) -> bool {
        if self.lens_cell().load(Ordering::Relaxed) & !(VALUE_LEN_MAX as u32) != tag {
            return false;
        }
        if key.len() < LONG_KEY {
            // A short key sits right after the header.
            same_bytes(self.arena.bytes(self.off() + HEADER_SIZE, key.len()), key)
        } else {
            self.key_len() == key.len() && self.key() == key
        }
    }

    fn key_len_field(&self) -> usize {
        (self.lens_cell().load(Ordering::Relaxed) >> 24) as usize
    }
    pub fn key_len(&self) -> usize {
        let short = self.key_len_field();
        if short < LONG_KEY {
            return short;
        }
        let b = self.arena.bytes(self.off() + HEADER_SIZE, LONG_KEY_FIELD);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }
    pub fn db(&self) -> u8 {
        ((self.lens_cell().load(Ordering::Relaxed) >> 20) & 0xf) as u8
    }
    fn stored_value_len(&self) -> usize {
        (self.lens_cell().load(Ordering::Relaxed) & VALUE_LEN_MAX as u32) as usize
    }
    pub fn is_chained(&self) -> bool {
        self.bits() & CHAINED != 0
    }

    #[inline]
    fn key_offset(&self) -> usize {
        let long = self.key_len_field() == LONG_KEY;
        self.off() + HEADER_SIZE + usize::from(long) * LONG_KEY_FIELD
    }
    pub fn key(&self) -> &'a [u8] {
        self.arena.bytes(self.key_offset(), self.key_len())
    }

    fn chain_info_offset(&self) -> usize {
        let meta = self.meta();
        self.slots_offset()
            + usize::from(meta & EXPLICIT_CAS != 0) * CAS_SLOT
            + usize::from(meta & FAR_EXPIRY != 0) * FAR_SLOT
    }

    fn chain_info(&self) -> (usize, ChunkId) {
        let b = self.arena.bytes(self.chain_info_offset(), CHAIN_INFO);
        let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let next = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        (total, next)
    }

    pub fn value_len(&self) -> usize {
        if self.is_chained() {
            self.chain_info().0
        } else {
            self.stored_value_len()
        }
    }

    /// Bytes of the item's value held in this (head) chunk, given the head's chunk size.
    fn head_value_len(&self, chunk_size: usize) -> usize {
        if self.is_chained() {
            chunk_size - self.prefix_len()
        } else {
            self.stored_value_len()
        }
    }

    /// The value of a plain item; `None` for a chained one (see [`Item::for_each_piece`]).
    #[inline]
    pub fn plain_value(&self) -> Option<&'a [u8]> {
        if let Some(v) = self.simple_value() {
            return Some(v);
        }
        if self.is_chained() {
            return None;
        }
        Some(
            self.arena
                .bytes(self.value_offset(), self.stored_value_len()),
        )
    }

    /// The value of the commonest item, a string (or compact encoding) with a short key, no
    /// optional field and no chain, with no more work than three header loads; `None` for
    /// any other item (the get path's fast path).
    #[inline]
    pub fn simple_value(&self) -> Option<&'a [u8]> {
        let lens = self.lens_cell().load(Ordering::Relaxed);
        let key_len = (lens >> 24) as usize;
        // Bits 63, 62 and 61 of meta: CAS slot, far expiry, object handle.
        if key_len >= LONG_KEY || self.meta() >> 61 != 0 || self.bits() & CHAINED != 0 {
            return None;
        }
        Some(self.arena.bytes(
            self.off() + HEADER_SIZE + key_len,
            (lens & VALUE_LEN_MAX as u32) as usize,
        ))
    }

    /// The value of an object item (its handle), with the loads of [`Item::simple_value`]
    /// when the item has a short key and no CAS or far-expiry slot (objects are never
    /// chained): every command on a large collection reads it.
    #[inline]
    pub fn object_value(&self) -> Option<&'a [u8]> {
        let lens = self.lens_cell().load(Ordering::Relaxed);
        let key_len = (lens >> 24) as usize;
        // Bits 63 and 62 of meta: CAS slot, far expiry.
        if key_len >= LONG_KEY || self.meta() >> 62 != 0 || self.bits() & CHAINED != 0 {
            return self.plain_value();
        }
        Some(self.arena.bytes(
            self.off() + HEADER_SIZE + key_len,
            (lens & VALUE_LEN_MAX as u32) as usize,
        ))
    }

    /// Calls `f` with each piece of the value in order. `head_chunk_size` is the chunk size
    /// of the head's class (only needed for chained items).
    pub fn for_each_piece(&self, head_chunk_size: usize, mut f: impl FnMut(&'a [u8])) {
        let head_len = self.head_value_len(head_chunk_size).min(self.value_len());
        f(self.arena.bytes(self.value_offset(), head_len));
        if !self.is_chained() {
            return;
        }
        let mut next = self.chain_info().1;
        while next != NO_CHUNK {
            let tail = Item::new(self.arena, next);
            f(self
                .arena
                .bytes(offset_of(next) + HEADER_SIZE, tail.stored_value_len()));
            next = tail.flags();
        }
    }

    /// Calls `f(offset, len)` with each arena region of the value in order (what
    /// [`Item::for_each_piece`] reads), for writing a value into an unlinked item.
    pub fn for_each_region(&self, head_chunk_size: usize, mut f: impl FnMut(usize, usize)) {
        let head_len = self.head_value_len(head_chunk_size).min(self.value_len());
        f(self.value_offset(), head_len);
        if !self.is_chained() {
            return;
        }
        let mut next = self.chain_info().1;
        while next != NO_CHUNK {
            let tail = Item::new(self.arena, next);
            f(offset_of(next) + HEADER_SIZE, tail.stored_value_len());
            next = tail.flags();
        }
    }

    /// Tails of a chained item, in order.
    pub fn tails(&self, out: &mut Vec<ChunkId>) {
        self.for_each_tail(|t| out.push(t));
    }

    /// Calls `f` with each tail chunk of a chained item, in order (none for a plain item).
    /// A tail's link to the next is read before `f` sees it, so `f` may free the tail.
    pub fn for_each_tail(&self, mut f: impl FnMut(ChunkId)) {
        if !self.is_chained() {
            return;
        }
        let mut next = self.chain_info().1;
        while next != NO_CHUNK {
            let after = Item::new(self.arena, next).flags();
            f(next);
            next = after;
        }
    }

    /// Writes the header fields (and the optional fields the header names, except chain
    /// information) of a fresh (unlinked, exclusively owned) chunk. `chained` says whether
    /// chain information will follow (its bit is set by the caller).
    pub fn init_header(&self, h: &Header, chained: bool) {
        debug_assert_eq!(h.seq & !SEQ_MASK, 0);
        let mut meta = h.seq | (u64::from(h.kind & 7) << TYPE_SHIFT);
        if h.object {
            meta |= OBJECT;
        }
        if h.explicit_cas.is_some() {
            meta |= EXPLICIT_CAS;
        }
        if h.exp.far.is_some() {
            meta |= FAR_EXPIRY;
        } else {
            meta |= u64::from(h.exp.ms.min(999)) << MS_SHIFT;
        }
        // The key length first: the optional fields' offsets follow from it.
        self.lens_cell().store(
            ((h.key_len.min(LONG_KEY) as u32) << 24) | (u32::from(h.db) << 20),
            Ordering::Relaxed,
        );
        if h.key_len >= LONG_KEY {
            let at = self.off() + HEADER_SIZE;
            self.arena.write(at, &(h.key_len as u32).to_le_bytes());
        }
        self.meta_cell().store(meta, Ordering::Relaxed);
        if let Some(cas) = h.explicit_cas {
            self.cas_slot_cell().store(cas, Ordering::Relaxed);
        }
        if let Some(at) = h.exp.far {
            self.far_slot_cell(meta).store(at, Ordering::Relaxed);
        }
        self.exptime_cell().store(h.exp.secs, Ordering::Relaxed);
        self.atime_bits_cell()
            .store(if chained { CHAINED } else { 0 }, Ordering::Relaxed);
        self.flags_cell().store(h.flags, Ordering::Relaxed);
    }

    pub fn set_value_len(&self, len: usize) {
        debug_assert!(len <= VALUE_LEN_MAX);
        let cell = self.lens_cell();
        let v = cell.load(Ordering::Relaxed) & !(VALUE_LEN_MAX as u32);
        cell.store(v | len as u32, Ordering::Relaxed);
    }

    pub fn set_atime(&self, now: u32) {
        let cell = self.atime_bits_cell();
        let v = cell.load(Ordering::Relaxed) & BITS_MASK;
        cell.store(((now & ATIME_MASK) << BITS_SHIFT) | v, Ordering::Relaxed);
    }

    pub fn write_key(&self, key: &[u8]) {
        self.arena.write(self.key_offset(), key);
    }

    /// Offset where the value (or its first piece) starts.
    pub fn value_offset(&self) -> usize {
        self.off() + self.prefix_len()
    }

    pub fn write_chain_info(&self, total: usize, first_tail: ChunkId) {
        let mut b = [0u8; CHAIN_INFO];
        b[..4].copy_from_slice(&(total as u32).to_le_bytes());
        b[4..].copy_from_slice(&first_tail.to_le_bytes());
        self.arena.write(self.chain_info_offset(), &b);
    }

    /// Turns a fresh chunk into a tail holding `len` bytes.
    pub fn init_tail(&self, head: ChunkId, len: usize) {
        self.meta_cell().store(u64::from(head), Ordering::Relaxed);
        self.exptime_cell().store(0, Ordering::Relaxed);
        self.atime_bits_cell().store(TAIL, Ordering::Release);
        self.flags_cell().store(NO_CHUNK, Ordering::Relaxed);
        self.lens_cell().store(len as u32, Ordering::Relaxed);
    }

    pub fn set_next_tail(&self, next: ChunkId) {
        self.flags_cell().store(next, Ordering::Relaxed);
    }

    /// Marks a chunk as being on its class's free list.
    pub fn mark_free(&self) {
        self.atime_bits_cell().store(FREE, Ordering::Release);
    }

    /// Marks a chunk as taken but not yet an item (an evicted chunk being reused).
    pub fn mark_taken(&self) {
        self.atime_bits_cell().store(0, Ordering::Release);
    }
}
