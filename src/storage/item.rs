//! Item layout in slab memory.
//!
//! ```text
//! offset size field
//!   0     8   seq         AtomicU64  write sequence (store-wide counter; the CAS unless the
//!                                    top bit, EXPLICIT_CAS, says a CAS slot follows)
//!   8     4   exptime     AtomicU32  clock-relative seconds, 0 = never
//!  12     4   atime_bits  AtomicU32  last access (23 bits, high) | item bits (9, low)
//!  16     4   flags       AtomicU32  client flags
//!  20     4   lens        AtomicU32  key_len (8, high) | db (4) | value_len (20, low)
//!  24     8   cas         AtomicU64  only with EXPLICIT_CAS: the CAS a client chose (ms/ma E)
//!  24(+8) k   key
//!  ...    v   value (no trailing \r\n)
//! ```
//!
//! The write sequence is what flush_all compares, so it must be the store's own counter: a
//! client-chosen CAS (ms `E`) below the counter at a flush would otherwise make a new item
//! look older than the flush, and one above it would survive the flush. Items with a
//! client-chosen CAS pay 8 bytes for it; every other item's CAS is its sequence.
//!
//! A chained item (bigger than `slab_chunk_max`) keeps `total value length: u32` and the
//! `first tail: ChunkId` in the 8 bytes after the header (and CAS slot), then the key and the
//! first part of the value; `value_len` in `lens` is 0. Each tail chunk has a header too,
//! with the `TAIL` bit, `seq` = its head's chunk id, `flags` = next tail (or [`NO_CHUNK`])
//! and `value_len` = data bytes in this chunk; the data follows the header.
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
/// In the sequence field: the item carries a client-chosen CAS in the 8 bytes after the
/// header. Sequences never reach this bit.
pub const EXPLICIT_CAS: u64 = 1 << 63;
/// Bytes of the explicit CAS slot.
pub const CAS_SLOT: usize = 8;

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

/// Size an item of this key and value needs in one chunk (before any explicit CAS slot).
pub fn plain_size(key_len: usize, value_len: usize) -> usize {
    HEADER_SIZE + key_len + value_len
}

/// Bytes an item with (or without) a client-chosen CAS adds for its CAS slot.
pub fn cas_slot_len(explicit: bool) -> usize {
    if explicit {
        CAS_SLOT
    } else {
        0
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

    fn seq_cell(&self) -> &'a AtomicU64 {
        self.arena.atomic_u64(self.off())
    }
    fn cas_slot_cell(&self) -> &'a AtomicU64 {
        self.arena.atomic_u64(self.off() + HEADER_SIZE)
    }
    pub fn exptime_cell(&self) -> &'a AtomicU32 {
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

    /// The write sequence (what flush_all compares).
    pub fn seq(&self) -> u64 {
        self.seq_cell().load(Ordering::Relaxed) & !EXPLICIT_CAS
    }
    fn has_cas_slot(&self) -> bool {
        self.seq_cell().load(Ordering::Relaxed) & EXPLICIT_CAS != 0
    }
    /// The CAS clients see: the chosen one if any, else the sequence.
    pub fn cas(&self) -> u64 {
        let seq = self.seq_cell().load(Ordering::Relaxed);
        if seq & EXPLICIT_CAS != 0 {
            self.cas_slot_cell().load(Ordering::Relaxed)
        } else {
            seq
        }
    }
    /// Bytes between the header and the chain information or key.
    fn slot_len(&self) -> usize {
        cas_slot_len(self.has_cas_slot())
    }
    /// A new sequence and CAS for a linked item (in-place incr/decr, md `I`), under the
    /// stripe lock. False when a chosen CAS needs a slot this item does not have.
    pub fn set_cas(&self, seq: u64, explicit: Option<u64>) -> bool {
        if self.has_cas_slot() {
            self.cas_slot_cell()
                .store(explicit.unwrap_or(seq), Ordering::Relaxed);
            self.seq_cell().store(seq | EXPLICIT_CAS, Ordering::Relaxed);
            true
        } else if explicit.map_or(true, |c| c == seq) {
            self.seq_cell().store(seq, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
    /// Bytes after the header before the key (CAS slot, chain information).
    pub fn extra_len(&self) -> usize {
        self.slot_len() + if self.is_chained() { CHAIN_INFO } else { 0 }
    }
    pub fn exptime(&self) -> u32 {
        self.exptime_cell().load(Ordering::Relaxed)
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
        ((key_len as u32) << 24) | (u32::from(db) << 20)
    }

    /// Whether this item is `key` in the db of `tag` (one header load before the key bytes).
    pub fn has_key(&self, tag: u32, key: &[u8]) -> bool {
        self.lens_cell().load(Ordering::Relaxed) & !(VALUE_LEN_MAX as u32) == tag
            && same_bytes(self.arena.bytes(self.key_offset(), key.len()), key)
    }

    pub fn key_len(&self) -> usize {
        (self.lens_cell().load(Ordering::Relaxed) >> 24) as usize
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

    fn key_offset(&self) -> usize {
        self.off() + HEADER_SIZE + self.extra_len()
    }
    pub fn key(&self) -> &'a [u8] {
        self.arena.bytes(self.key_offset(), self.key_len())
    }

    fn chain_info(&self) -> (usize, ChunkId) {
        let b = self
            .arena
            .bytes(self.off() + HEADER_SIZE + self.slot_len(), CHAIN_INFO);
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
            chunk_size - HEADER_SIZE - CHAIN_INFO - self.slot_len() - self.key_len()
        } else {
            self.stored_value_len()
        }
    }

    /// The value of a plain item; `None` for a chained one (see [`Item::for_each_piece`]).
    pub fn plain_value(&self) -> Option<&'a [u8]> {
        if self.is_chained() {
            return None;
        }
        let lens = self.lens_cell().load(Ordering::Relaxed);
        let key_len = (lens >> 24) as usize;
        let start = self.off() + HEADER_SIZE + self.slot_len() + key_len;
        Some(
            self.arena
                .bytes(start, (lens & VALUE_LEN_MAX as u32) as usize),
        )
    }

    /// Calls `f` with each piece of the value in order. `head_chunk_size` is the chunk size
    /// of the head's class (only needed for chained items).
    pub fn for_each_piece(&self, head_chunk_size: usize, mut f: impl FnMut(&'a [u8])) {
        let head_len = self.head_value_len(head_chunk_size).min(self.value_len());
        f(self
            .arena
            .bytes(self.key_offset() + self.key_len(), head_len));
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

    /// Tail chunks of a chained item, in order.
    pub fn tails(&self, out: &mut Vec<ChunkId>) {
        if !self.is_chained() {
            return;
        }
        let mut next = self.chain_info().1;
        while next != NO_CHUNK {
            out.push(next);
            next = Item::new(self.arena, next).flags();
        }
    }

    /// Writes the header fields (and the CAS slot when `explicit` is given) of a fresh
    /// (unlinked, exclusively owned) chunk.
    pub fn init_header(
        &self,
        seq: u64,
        explicit: Option<u64>,
        exptime: u32,
        flags: u32,
        db: u8,
        key_len: usize,
    ) {
        debug_assert_eq!(seq & EXPLICIT_CAS, 0);
        match explicit {
            Some(cas) => {
                self.seq_cell().store(seq | EXPLICIT_CAS, Ordering::Relaxed);
                self.cas_slot_cell().store(cas, Ordering::Relaxed);
            }
            None => self.seq_cell().store(seq, Ordering::Relaxed),
        }
        self.exptime_cell().store(exptime, Ordering::Relaxed);
        self.atime_bits_cell().store(0, Ordering::Relaxed);
        self.flags_cell().store(flags, Ordering::Relaxed);
        self.lens_cell().store(
            ((key_len as u32) << 24) | (u32::from(db) << 20),
            Ordering::Relaxed,
        );
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
        self.key_offset() + self.key_len()
    }

    pub fn write_chain_info(&self, total: usize, first_tail: ChunkId) {
        let mut b = [0u8; CHAIN_INFO];
        b[..4].copy_from_slice(&(total as u32).to_le_bytes());
        b[4..].copy_from_slice(&first_tail.to_le_bytes());
        self.arena
            .write(self.off() + HEADER_SIZE + self.slot_len(), &b);
    }

    /// Turns a fresh chunk into a tail holding `len` bytes.
    pub fn init_tail(&self, head: ChunkId, len: usize) {
        self.seq_cell().store(u64::from(head), Ordering::Relaxed);
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
