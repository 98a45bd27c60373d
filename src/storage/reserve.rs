//! Values received straight into slab memory: a large memcached `set` reserves its item as
//! soon as the command line is parsed, the value is read from the socket into the item's
//! chunks, and the item is linked when the last byte is in (memcached's `conn_nread` into
//! an allocated item). The value is never copied through a read buffer.
//!
//! A reserved item is taken from its classes as [`Core::build`] takes any new item, but is
//! not linked: no reader can see it, the eviction hand passes it by (it is not `LINKED`), a
//! page holding it is busy for page moves, and it is not counted in `curr_items`/`bytes`.
//! Its size is the length the client announced, already bounded by `-I` (a client claiming
//! more is refused before anything is reserved, as memcached does). Whoever holds a
//! [`Reserved`] must end it with [`Store::commit_reserved`] or [`Store::abandon`] (the
//! connection abandons it when the client goes away mid-value).
//!
//! The header is written again at commit with the final write sequence, so a `flush_all`
//! between the command line and the last byte does not hide the new item, and with the
//! database's physical slot resolved under the stripe lock at that moment (SWAPDB).

use std::io;
use std::mem::MaybeUninit;

use super::arena::ChunkId;
use super::item::{Item, NO_CHUNK};
use super::items::{Core, Held, ItemSpec, Locked};
use super::{ItemView, Miss, Mode, StoreOutcome, Write};

/// Most value regions handed to one `readv` (the arena takes up to 16).
const REGIONS: usize = 16;

/// An item whose value is being received (see the module doc).
#[derive(Debug)]
pub struct Reserved {
    head: ChunkId,
    len: usize,
    filled: usize,
}

impl Reserved {
    /// The value's length.
    pub fn value_len(&self) -> usize {
        self.len
    }

    /// Bytes of the value not received yet.
    pub fn remaining(&self) -> usize {
        self.len - self.filled
    }

    /// Whether a write can take its value from a reserved item: a plain string write whose
    /// header does not depend on the item it replaces (no append/prepend, KEEPTTL, stale
    /// invalidation or client-chosen CAS) and is bounded by `-I`.
    pub fn eligible(w: &Write<'_>) -> bool {
        !matches!(w.mode, Mode::Append | Mode::Prepend)
            && !w.keep_ttl
            && !w.invalidate
            && w.new_cas.is_none()
            && !w.large
    }
}

impl Core {
    /// The spec of `w`'s item with a value of `len` bytes (sequence set at commit).
    fn reserved_spec<'k>(&self, w: &Write<'k>, db: u8, len: usize, seq: u64) -> ItemSpec<'k> {
        ItemSpec::new(db, w.key, len, w.flags, self.encode_exp(w.expiry), seq)
    }

    fn reserve(&self, w: &Write<'_>, len: usize) -> Option<Reserved> {
        if !Reserved::eligible(w) {
            return None;
        }
        let Locked {
            guard: mut s,
            stripe,
            db,
            ..
        } = self.lock_key(w.db, w.key);
        let spec = self.reserved_spec(w, db, len, 0);
        let mut held = Held {
            stripe,
            guard: &mut s,
            protect: NO_CHUNK,
        };
        // The value is left as the chunks held it; it is all written before the commit.
        let head = self.build(&spec, &mut held, |_| {}).ok()?;
        Some(Reserved {
            head,
            len,
            filled: 0,
        })
    }

    /// Writes the final header of a reserved item about to be linked (`spec` has the same
    /// key, flags, expiry and length as at reservation, so the layout is unchanged).
    pub(super) fn finish_reserved(&self, r: &Reserved, spec: &ItemSpec<'_>) -> ChunkId {
        debug_assert_eq!(r.filled, r.len);
        let it = Item::new(&self.arena, r.head);
        let chained = it.is_chained();
        spec.init_header(it, chained);
        if !chained {
            it.set_value_len(r.len);
        }
        r.head
    }

    /// The arena regions of the value not yet received, in order; how many were written.
    fn open_regions(&self, r: &Reserved, out: &mut [(usize, usize); REGIONS]) -> usize {
        let mut skip = r.filled;
        let mut n = 0;
        let it = Item::new(&self.arena, r.head);
        it.for_each_region(self.config.slab_chunk_max, |offset, len| {
            if n == REGIONS || len == 0 {
                return;
            }
            if skip >= len {
                skip -= len;
                return;
            }
            out[n] = (offset + skip, len - skip);
            skip = 0;
            n += 1;
        });
        n
    }
}

impl super::Store {
    /// Reserves the item `w` will store, with a value of `len` bytes to be received: `None`
    /// when the write is not [`Reserved::eligible`] or there is no memory for it (the caller
    /// then takes the value whole and stores it as usual, which answers the error).
    pub fn reserve(&self, w: &Write<'_>, len: usize) -> Option<Reserved> {
        self.core.reserve(w, len)
    }

    /// Copies the start of `bytes` into the unreceived part of the value; how many it took.
    pub fn fill_reserved(&self, r: &mut Reserved, bytes: &[u8]) -> usize {
        let core = &self.core;
        let mut regions = [(0, 0); REGIONS];
        let mut used = 0;
        while used < bytes.len() && r.remaining() > 0 {
            let n = core.open_regions(r, &mut regions);
            for &(offset, len) in &regions[..n] {
                let k = len.min(bytes.len() - used);
                core.arena.write(offset, &bytes[used..used + k]);
                used += k;
                r.filled += k;
                if used == bytes.len() {
                    break;
                }
            }
        }
        used
    }

    /// One `readv(2)` from `fd` into the unreceived part of the value, and past it into
    /// `spare` (the connection's read buffer: the `\r\n` and next requests). Returns the
    /// bytes read (the first `min(n, remaining)` went into the value, the rest into
    /// `spare`'s first bytes) and the room the read was offered (a read that filled it may
    /// have left bytes in the socket).
    pub fn receive_reserved(
        &self,
        r: &mut Reserved,
        fd: i32,
        spare: &mut [MaybeUninit<u8>],
    ) -> io::Result<(usize, usize)> {
        let mut regions = [(0, 0); REGIONS];
        let n = self.core.open_regions(r, &mut regions);
        // Past the value only when these regions hold all of the rest of it (a value of
        // many small chunks takes several reads).
        let covered: usize = regions[..n].iter().map(|&(_, len)| len).sum();
        let spare = if covered == r.remaining() {
            spare
        } else {
            &mut []
        };
        let offered = covered + spare.len();
        let got = self.core.arena.readv(fd, &regions[..n], spare)?;
        let into_value = got.min(r.remaining());
        r.filled += into_value;
        Ok((got, offered))
    }

    /// Links a fully received item as `w` says (`w.value` is ignored; `w` must be the write
    /// the item was reserved for): the same checks and outcome as [`Store::store_and`].
    /// A write that does not store (add of an existing key, cas mismatch...) frees it.
    pub fn commit_reserved<R>(
        &self,
        w: &Write<'_>,
        r: Reserved,
        f: impl FnOnce(Result<&dyn ItemView, Miss>) -> R,
    ) -> (StoreOutcome, R) {
        debug_assert_eq!(r.remaining(), 0);
        let (result, linked) = self.core.store_from(w, Some(&r), f);
        if !linked {
            self.core.free_item(r.head);
        }
        result
    }

    /// Frees a reserved item whose value will not come (the client went away or sent a bad
    /// data block).
    pub fn abandon(&self, r: Reserved) {
        self.core.free_item(r.head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Clock, Expiry, Lookup, ReadOptions, Store, StoreConfig};
    use std::sync::Arc;

    fn store(chunk_max: usize) -> Store {
        let config = StoreConfig {
            memory_limit: 16 << 20,
            item_size_max: 2 << 20,
            slab_chunk_max: chunk_max,
            ..StoreConfig::default()
        };
        Store::new(config, Arc::new(Clock::manual(1_700_000_000))).unwrap()
    }

    fn read(s: &Store, key: &[u8]) -> Option<Vec<u8>> {
        match s.get(0, key, &ReadOptions::default(), |v| {
            let mut out = Vec::new();
            v.copy_value_to(&mut out);
            out
        }) {
            Lookup::Hit(v) => Some(v),
            _ => None,
        }
    }

    fn value(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn a_value_filled_in_pieces_reads_back_whole_plain_and_chained() {
        for (chunk_max, len) in [
            (512 << 10, 100 << 10),
            (512 << 10, 1 << 20),
            (16 << 10, 300_000),
        ] {
            let s = store(chunk_max);
            let w = Write::new(0, b"big", b"", 5, Expiry::Never, Mode::Set);
            let mut r = s.reserve(&w, len).unwrap();
            let v = value(len);
            // Uneven pieces cross region boundaries.
            let mut at = 0;
            for step in [1, 4095, 70_000].iter().cycle() {
                if at == len {
                    break;
                }
                let end = (at + step).min(len);
                assert_eq!(s.fill_reserved(&mut r, &v[at..end]), end - at);
                at = end;
            }
            assert_eq!(r.remaining(), 0);
            assert_eq!(s.fill_reserved(&mut r, b"more"), 0);
            assert!(read(&s, b"big").is_none(), "not visible before the commit");
            let (out, ()) = s.commit_reserved(&w, r, |_| ());
            assert!(matches!(out, StoreOutcome::Stored { .. }));
            assert_eq!(
                read(&s, b"big").unwrap(),
                v,
                "chunk_max {chunk_max} len {len}"
            );
            assert_eq!(s.stats().curr_items, 1);
        }
    }

    #[test]
    fn add_of_an_existing_key_frees_the_reservation_and_abandon_frees_it_too() {
        let s = store(512 << 10);
        let set = Write::new(0, b"k", b"old", 0, Expiry::Never, Mode::Set);
        s.store(&set);
        let add = Write::new(0, b"k", b"", 0, Expiry::Never, Mode::Add);
        // Over and over: a leak would run the 16 MiB out.
        for _ in 0..200 {
            let mut r = s.reserve(&add, 200_000).unwrap();
            s.fill_reserved(&mut r, &value(200_000));
            let (out, ()) = s.commit_reserved(&add, r, |_| ());
            assert_eq!(out, StoreOutcome::NotStored);
            let r = s.reserve(&set, 900_000).expect("memory came back");
            s.abandon(r);
        }
        assert_eq!(read(&s, b"k").unwrap(), b"old");
        assert_eq!(s.stats().curr_items, 1);
    }

    #[test]
    fn a_flush_between_reserve_and_commit_does_not_hide_the_item() {
        let s = store(512 << 10);
        let w = Write::new(0, b"k", b"", 0, Expiry::Never, Mode::Set);
        let mut r = s.reserve(&w, 50_000).unwrap();
        s.flush(None, 0);
        s.fill_reserved(&mut r, &value(50_000));
        s.commit_reserved(&w, r, |_| ());
        assert_eq!(read(&s, b"k").unwrap(), value(50_000));
    }

    #[test]
    fn appends_and_client_cas_are_not_eligible() {
        let s = store(512 << 10);
        let mut w = Write::new(0, b"k", b"", 0, Expiry::Never, Mode::Append);
        assert!(s.reserve(&w, 100).is_none());
        w.mode = Mode::Set;
        w.new_cas = Some(5);
        assert!(s.reserve(&w, 100).is_none());
    }
}
