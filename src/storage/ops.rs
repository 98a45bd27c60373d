//! Single-key operations: lookup, touch, store, delete, arithmetic and the string
//! read-modify-write (memcached's `do_item_get`, `do_store_item`, `do_add_delta`). Each takes
//! its key's stripe lock once and allocates under it (see the lock order in `items.rs`).

use super::arena::ChunkId;
use super::index::Stripe;
use super::item::{Exp, Item, BITS_MASK, HEADER_SIZE, NO_CHUNK, STALE, WIN_SENT};
use super::items::{format_u64, parse_counter, BuildError, Core, Held, ItemSpec, Locked};
use super::reserve::Reserved;
use super::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Expiry, ItemType, ItemView, Lookup, Miss, Mode,
    ReadOptions, Rewrite, RewriteError, StoreOutcome, Write,
};

impl Core {
    /// Whether the item at `chunk` holds a string (the memcached protocol's only type).
    fn is_string(&self, chunk: ChunkId) -> bool {
        ItemType::from_code(Item::new(&self.arena, chunk).kind()) == ItemType::String
    }

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
        match self.find_live_read_locked(&mut s, hash, db, key, now) {
            Ok(chunk) if opts.strings_only && !self.is_string(chunk) => Lookup::Miss(Miss::Absent),
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
                // Only a string is touched (GETEX answers WRONGTYPE for another type and
                // must leave its expiry, in this same look).
                if let Some(t) = opts.touch.filter(|_| self.is_string(chunk)) {
                    // memcached's times never need the far slot; GETEX's EXAT/PXAT past
                    // the slot-less range do (the old code left such an item without a TTL).
                    let at = (si, hash, db, key);
                    if let Some(new) = self.set_exp_locked(&mut s, at, chunk, self.encode_exp(t)) {
                        if new != chunk {
                            let (won, win_taken) = (v.won, v.win_taken);
                            v = self.view(new, now);
                            v.won = won;
                            v.win_taken = win_taken;
                        }
                    }
                }
                if !opts.no_bump {
                    v.item.bump(now, opts.is_fetch);
                }
                Lookup::Hit(f(&v))
            }
            Err(miss) => {
                if let Some(exp) = opts.vivify {
                    let spec = ItemSpec {
                        bits: WIN_SENT,
                        ..ItemSpec::new(db, key, 0, 0, self.encode_exp(exp), self.next_cas())
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
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(db, key);
        match self.find_live_locked(&mut s, hash, db, key, now) {
            Ok(chunk) => {
                let exp = self.encode_exp(expiry);
                match self.set_exp_locked(&mut s, (si, hash, db, key), chunk, exp) {
                    Some(now_at) => {
                        Item::new(&self.arena, now_at).bump(now, true);
                        true
                    }
                    None => false,
                }
            }
            Err(_) => false,
        }
    }

    /// Sets `chunk`'s expiry under its stripe lock (`at`: stripe, hash, db, key). A
    /// far-future time for an item without the far slot makes a copy with one, linked in
    /// its place. Returns the chunk that now holds the item (`None`: the copy failed and
    /// the old time stays).
    fn set_exp_locked(
        &self,
        s: &mut Stripe,
        at: (usize, u64, u8, &[u8]),
        chunk: ChunkId,
        exp: Exp,
    ) -> Option<ChunkId> {
        if Item::new(&self.arena, chunk).set_exp(exp, self.clock.started()) {
            return Some(chunk);
        }
        let (stripe, hash, db, key) = at;
        let mut held = Held {
            stripe,
            guard: s,
            protect: chunk,
        };
        let new = self.copy_item(chunk, db, key, Some(exp), &mut held).ok()?;
        self.link_locked(s, hash, new, Some(chunk));
        Some(new)
    }

    pub fn store_and<R>(
        &self,
        w: &Write<'_>,
        f: impl FnOnce(Result<&dyn ItemView, Miss>) -> R,
    ) -> (StoreOutcome, R) {
        self.store_from(w, None, f).0
    }

    /// [`Core::store_and`] with the value either in `w.value` or, with `reserved`, already
    /// written into a reserved item (`reserve.rs`; only writes [`Reserved::eligible`]
    /// allows). The bool says whether the reserved item was linked (else the caller frees
    /// it).
    pub(super) fn store_from<R>(
        &self,
        w: &Write<'_>,
        reserved: Option<&Reserved>,
        f: impl FnOnce(Result<&dyn ItemView, Miss>) -> R,
    ) -> ((StoreOutcome, R), bool) {
        let value_len = reserved.map_or(w.value.len(), |r| r.value_len());
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(w.db, w.key);
        let found = self.find_live_locked(&mut s, hash, db, w.key, now);
        let r = match found {
            Ok(c) => f(Ok(&self.view(c, now))),
            Err(miss) => f(Err(miss)),
        };
        let old = found.ok();
        // A plain set that cannot be stored removes the old value rather than leave stale
        // data behind, as memcached does.
        let drop_old = |s: &mut Stripe| {
            if let (Some(c), Mode::Set, None) = (old, w.mode, w.compare_cas) {
                self.unlink_locked(s, hash, c);
            }
        };
        if !w.large && HEADER_SIZE + w.key.len() + value_len > self.config.item_size_max {
            drop_old(&mut s);
            return ((StoreOutcome::TooLarge, r), false);
        }
        let old_item = old.map(|c| Item::new(&self.arena, c));
        // Append, prepend and a CAS compare see strings only: another type is absent to them
        // (memcached's view of a collection), and is left alone.
        if old.is_some_and(|c| !self.is_string(c)) {
            match w.mode {
                Mode::Append | Mode::Prepend => return ((StoreOutcome::NotStored, r), false),
                Mode::Set | Mode::Replace if w.compare_cas.is_some() => {
                    return ((StoreOutcome::NotFound, r), false)
                }
                _ => {}
            }
        }
        // memcached upgrades set and replace with a CAS to its `cas` command; append and
        // prepend check the CAS only when the item exists; add ignores it.
        let mut stale = false;
        match (old_item, w.mode) {
            (Some(o), Mode::Add) => {
                o.bump(now, false);
                return ((StoreOutcome::NotStored, r), false);
            }
            (None, Mode::Replace | Mode::Set) if w.compare_cas.is_some() => {
                return ((StoreOutcome::NotFound, r), false);
            }
            (None, Mode::Replace | Mode::Append | Mode::Prepend) => {
                return ((StoreOutcome::NotStored, r), false);
            }
            (Some(o), _) => {
                if let Some(cas) = w.compare_cas {
                    let cur = o.cas();
                    let cas_mode = matches!(w.mode, Mode::Set | Mode::Replace);
                    if cas != cur {
                        if cas_mode && w.invalidate && cas < cur {
                            stale = true;
                        } else {
                            return ((StoreOutcome::Exists, r), false);
                        }
                    }
                }
            }
            (None, _) => {}
        }
        let appending = matches!(w.mode, Mode::Append | Mode::Prepend);
        let (flags, exp) = match old_item {
            Some(o) if appending || stale => (if appending { o.flags() } else { w.flags }, o.exp()),
            Some(o) if w.keep_ttl => (w.flags, o.exp()),
            _ => (w.flags, self.encode_exp(w.expiry)),
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
            explicit_cas: w.new_cas,
            bits,
            large: w.large,
            ..ItemSpec::new(db, w.key, old_len + value_len, flags, exp, seq)
        };
        let mut held = Held {
            stripe: si,
            guard: &mut s,
            protect: old.unwrap_or(NO_CHUNK),
        };
        let chunk_max = self.config.slab_chunk_max;
        let built = if let Some(res) = reserved {
            Ok(self.finish_reserved(res, &spec))
        } else {
            self.build(&spec, &mut held, |push| match (w.mode, old_item) {
                (Mode::Append, Some(o)) => {
                    o.for_each_piece(chunk_max, &mut *push);
                    push(w.value);
                }
                (Mode::Prepend, Some(o)) => {
                    push(w.value);
                    o.for_each_piece(chunk_max, &mut *push);
                }
                _ => push(w.value),
            })
        };
        match built {
            Ok(chunk) => {
                Item::new(&self.arena, chunk).set_atime(now);
                self.link_locked(&mut s, hash, chunk, old);
                (
                    (
                        StoreOutcome::Stored {
                            cas: self.visible_cas(cas),
                        },
                        r,
                    ),
                    true,
                )
            }
            Err(e) => {
                // Our own allocation may have evicted the old item already.
                if old.is_some() && s.find(&self.arena, hash, db, w.key) == old {
                    drop_old(&mut s);
                }
                match e {
                    BuildError::TooLarge => ((StoreOutcome::TooLarge, r), false),
                    BuildError::NoMemory => ((StoreOutcome::NoMemory, r), false),
                }
            }
        }
    }

    pub fn delete(&self, d: &Delete<'_>) -> (DeleteOutcome, u8) {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(d.db, d.key);
        let Ok(mut chunk) = self.find_live_locked(&mut s, hash, db, d.key, now) else {
            return (DeleteOutcome::NotFound, 0);
        };
        let it = Item::new(&self.arena, chunk);
        let class = self.class_of_chunk(chunk) as u8 + 1;
        if d.compare_cas.is_some_and(|c| c != it.cas()) {
            return (DeleteOutcome::Exists, class);
        }
        if !d.drop_value && d.invalidate.is_none() {
            self.unlink_locked(&mut s, hash, chunk);
            return (DeleteOutcome::Deleted, class);
        }
        if d.drop_value {
            let spec = ItemSpec::new(db, d.key, 0, 0, it.exp(), self.next_cas());
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
                    return (DeleteOutcome::Deleted, class);
                }
            }
        }
        if let Some(exp) = d.invalidate {
            let it = Item::new(&self.arena, chunk);
            if let Some(e) = exp {
                it.set_exp(self.encode_exp(e), self.clock.started());
            }
            it.set_bits(STALE);
            it.clear_bits(WIN_SENT);
            it.set_cas(self.next_cas(), None);
        }
        (DeleteOutcome::Deleted, class)
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
            // incr/decr see strings only: a collection is a missing key to them.
            Ok(c) if !self.is_string(c) => return ArithOutcome::NotFound,
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
                    explicit_cas: a.new_cas,
                    ..ItemSpec::new(db, a.key, digits.len(), 0, self.encode_exp(expiry), seq)
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
        let exp = match a.touch {
            Some(e) => self.encode_exp(e),
            None => it.exp(),
        };
        // A pinned value is being sent: never rewritten in place.
        let in_place = digits.len() <= old_value.len() && !self.pins.is_pinned(chunk);
        let chunk = if in_place && it.set_cas(seq, a.new_cas) {
            // memcached rewrites in place, padding with spaces to the old length. All value
            // readers hold this stripe lock, so the bytes may change under it.
            let off = it.value_offset();
            let old_len = old_value.len();
            self.arena.write(off, digits);
            for i in digits.len()..old_len {
                self.arena.write(off + i, b" ");
            }
            it.set_exp(exp, self.clock.started());
            chunk
        } else {
            let spec = ItemSpec {
                explicit_cas: a.new_cas,
                ..ItemSpec::new(db, a.key, digits.len(), it.flags(), exp, seq)
            };
            let mut held = Held {
                stripe: si,
                guard: &mut s,
                protect: chunk,
            };
            match self.build(&spec, &mut held, |push| push(digits)) {
                Ok(c) => {
                    self.link_locked(&mut s, hash, c, Some(chunk));
                    c
                }
                Err(_) => return ArithOutcome::NoMemory,
            }
        };
        // Arithmetic is no fetch (memcached 1.6.18, `me`/`mg h`): an item rewritten in place
        // keeps its fetched bit, a new one starts unfetched; both get a fresh last access.
        Item::new(&self.arena, chunk).bump(now, false);
        ArithOutcome::Value {
            value,
            cas: self.visible_cas(cas),
            expiry: self.expiry_of(exp),
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
                raw,
                result,
            } => {
                let exp = match (expiry, old) {
                    (Some(e), _) => self.encode_exp(e),
                    (None, Some(c)) => Item::new(&self.arena, c).exp(),
                    (None, None) => Exp::NEVER,
                };
                let spec = ItemSpec {
                    large: true,
                    kind: if raw { ItemType::RAW_STRING_CODE } else { 0 },
                    ..ItemSpec::new(db, key, value.len(), flags, exp, self.next_cas())
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
}
