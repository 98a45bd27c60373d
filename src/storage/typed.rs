//! Typed values: the read-modify-write that collections are built on, heap objects owned
//! by items, and their share of the memory budget.
//!
//! A small collection is a compact byte encoding stored as an ordinary item value with the
//! type tag in the header. A large one is a heap object (`Box<dyn Object>`) kept in its
//! key's stripe (`Stripe::objects`, a slab of objects beside the stripe's table), and the
//! item's value is the object's 4-byte handle in that slab. So an object is reached, changed
//! and freed only under the stripe lock its key already needs: no extra lock, no pointer in
//! slab memory, no `unsafe`.
//!
//! Each object's `mem_usage()` is charged to the `-m` budget when it is stored and again
//! when a caller says it changed; the page pool hands out `limit - ceil(object bytes /
//! page size)` pages, so slab items and objects share one bound. When objects grow past
//! what is left, pages are emptied (evicting the items in them, whose objects go with them)
//! and, when no page can be emptied, objects are evicted by sampling stripes for the object
//! whose handle was accessed longest ago. With `-M` nothing is evicted: `over_limit()`
//! reports the overrun and writes that need memory fail with `NoMemory`.
//!
//! An object is dropped when its item is deleted, overwritten, expired, flushed or
//! evicted. One larger than [`LAZYFREE_BYTES`] is handed to a background thread to be
//! dropped there (Redis's lazyfree), so freeing a million-element collection never stalls
//! the request or the eviction hand that unlinked it.

use super::arena::ChunkId;
use super::index::{table_hash, Stripe};
use super::item::{atime_age, Exp, Item, LINKED, NO_CHUNK};
use super::items::{BuildError, Core, Held, ItemSpec, Locked};
use super::{Expiry, ItemType, RewriteError};
use crossbeam_channel::Sender;
use std::any::Any;
use std::borrow::Cow;
use std::sync::atomic::Ordering;

/// Objects that free more than this many bytes are dropped on the lazyfree thread.
pub const LAZYFREE_BYTES: usize = 64 << 10;

/// Stripes sampled per object eviction.
const EVICT_SAMPLE_STRIPES: usize = 16;

/// A collection kept on the heap, owned by one item.
pub trait Object: Send + Sync + 'static {
    /// The Redis type this object is (the item's type tag).
    fn value_type(&self) -> ItemType;
    /// Heap bytes the object holds (approximate, but it must grow with the contents: it is
    /// what the memory budget is charged).
    fn mem_usage(&self) -> usize;
    /// A deep copy (Redis COPY).
    fn duplicate(&self) -> Box<dyn Object>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// An object in a stripe's slab, with what it is charged.
pub struct StoredObject {
    pub(super) object: Box<dyn Object>,
    pub(super) charged: usize,
}

/// The expiry a typed write leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// The existing key's expiry (none for a new key).
    Keep,
    Set(Expiry),
}

/// What a typed read-modify-write closure decided.
pub enum Update<R> {
    /// Leave the key as it is.
    Keep(R),
    /// Remove the key (a collection left empty).
    Delete(R),
    /// Store `value` as an item value of type `ty` (a string, or a compact encoding),
    /// replacing whatever the key held.
    Bytes {
        ty: ItemType,
        value: Vec<u8>,
        ttl: Ttl,
        result: R,
    },
    /// Store a heap object, replacing whatever the key held (a conversion from the compact
    /// encoding, or a new large collection).
    Object {
        object: Box<dyn Object>,
        ttl: Ttl,
        result: R,
    },
    /// The closure changed the existing object through [`Current::object_mut`]: re-charge
    /// its size and count it as a write (new CAS, so WATCH sees it).
    Changed(R),
}

/// The live value a typed closure sees, under its stripe lock.
pub struct Current<'a> {
    item: Item<'a>,
    core: &'a Core,
    object: Option<&'a mut StoredObject>,
}

impl<'a> Current<'a> {
    pub fn key(&self) -> &[u8] {
        self.item.key()
    }
    pub fn item_type(&self) -> ItemType {
        ItemType::from_code(self.item.kind())
    }
    pub fn expiry(&self) -> Expiry {
        self.core.expiry_of(self.item.exp())
    }
    /// Client flags (memcached's; 0 for anything RESP wrote).
    pub fn flags(&self) -> u32 {
        self.item.flags()
    }
    /// The CAS / write sequence (changes on every write).
    pub fn cas(&self) -> u64 {
        self.item.cas()
    }
    /// A string in Redis's `raw` encoding whatever its bytes
    /// ([`ItemType::RAW_STRING_CODE`]).
    pub fn is_raw_string(&self) -> bool {
        self.item.kind() == ItemType::RAW_STRING_CODE
    }
    /// Whether the value is a heap object (else bytes).
    pub fn is_object(&self) -> bool {
        self.object.is_some()
    }
    /// The value bytes (borrowed when they sit in one chunk); `None` for an object.
    pub fn bytes(&self) -> Option<Cow<'a, [u8]>> {
        if self.object.is_some() {
            return None;
        }
        if let Some(v) = self.item.plain_value() {
            return Some(Cow::Borrowed(v));
        }
        let mut out = Vec::with_capacity(self.item.value_len());
        self.item
            .for_each_piece(self.core.config.slab_chunk_max, |p| {
                out.extend_from_slice(p)
            });
        Some(Cow::Owned(out))
    }
    /// Length of the value bytes (0 for an object).
    pub fn value_len(&self) -> usize {
        if self.object.is_some() {
            0
        } else {
            self.item.value_len()
        }
    }
    pub fn object(&self) -> Option<&dyn Object> {
        self.object.as_deref().map(|o| &*o.object)
    }
    pub fn object_mut(&mut self) -> Option<&mut dyn Object> {
        self.object.as_deref_mut().map(|o| &mut *o.object)
    }
    /// The object as its concrete type.
    pub fn downcast_ref<T: Object>(&self) -> Option<&T> {
        self.object()?.as_any().downcast_ref()
    }
    pub fn downcast_mut<T: Object>(&mut self) -> Option<&mut T> {
        self.object_mut()?.as_any_mut().downcast_mut()
    }
}

impl<'a> Current<'a> {
    /// The live item `chunk` of stripe `s` as a typed closure sees it (the persistence
    /// snapshot visits stripes with this; the caller holds the stripe's lock).
    pub(super) fn in_stripe(core: &'a Core, s: &'a mut Stripe, chunk: ChunkId) -> Current<'a> {
        let item = Item::new(&core.arena, chunk);
        let object = if item.is_object() {
            s.objects.get_mut(handle_of(item))
        } else {
            None
        };
        Current { item, core, object }
    }
}

/// Reads an object item's handle.
fn handle_of(it: Item<'_>) -> usize {
    let v = it.object_value().unwrap_or(&[0; 4]);
    u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize
}

impl Core {
    /// Bytes charged for objects.
    pub fn object_bytes(&self) -> u64 {
        self.counters.object_bytes.load(Ordering::Relaxed)
    }

    /// Changes the object charge by `delta` bytes and the pages the pool keeps back for it.
    /// Most writes to a large collection leave its size, or at least the number of pages
    /// its bytes round up to, as it was: those skip the shared counter, or at least the
    /// pool's lock, which is taken only when the page count moves.
    fn charge(&self, delta: isize) {
        if delta == 0 {
            return;
        }
        let c = &self.counters.object_bytes;
        let step = delta.unsigned_abs() as u64;
        let (before, after) = if delta > 0 {
            let before = c.fetch_add(step, Ordering::Relaxed);
            (before, before + step)
        } else {
            let before = c.fetch_sub(step, Ordering::Relaxed);
            (before, before - step)
        };
        let pages = |bytes: u64| (bytes as usize).div_ceil(self.config.page_size);
        if pages(before) != pages(after) {
            // Re-read: a concurrent charge may have moved the total since.
            self.pool.set_reserved(pages(c.load(Ordering::Relaxed)));
        }
    }

    /// Whether items and objects together are over the memory limit (`-M` writes fail).
    pub fn over_limit(&self) -> bool {
        self.pool.over()
    }

    /// Frees an unlinked object item's object (under the stripe lock that held it).
    pub fn release_object(&self, s: &mut Stripe, it: Item<'_>) {
        if !it.is_object() {
            return;
        }
        if let Some(stored) = s.objects.try_remove(handle_of(it)) {
            self.charge(-(stored.charged as isize));
            self.dispose(stored.object);
        }
    }

    /// Drops an object here, or on the lazyfree thread when it is large.
    fn dispose(&self, object: Box<dyn Object>) {
        if object.mem_usage() <= LAZYFREE_BYTES {
            return;
        }
        let tx = self.lazyfree.get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<Box<dyn Object>>();
            let spawned = std::thread::Builder::new()
                .name("slabd-lazyfree".into())
                .spawn(move || rx.into_iter().for_each(drop));
            spawned.ok().map(|_| tx)
        });
        if let Some(tx) = tx {
            // The thread only ends when the store (and so this sender) is gone.
            let _ = Sender::send(tx, object);
        }
    }

    /// After objects grew: empties pages (evicting their items) and then evicts objects
    /// until the budget fits, unless eviction is off.
    pub fn make_room(&self) {
        if !self.pool.over() || !self.config.evict {
            return;
        }
        self.shrink_to_limit();
        let mut rounds = 64;
        while self.pool.over() && rounds > 0 && self.evict_object() {
            rounds -= 1;
        }
    }

    /// Evicts the object whose item was accessed longest ago among a sample of stripes
    /// (reached with `try_lock`). False when none was found.
    pub fn evict_object(&self) -> bool {
        let stripes = self.index.stripe_count();
        let start = self
            .object_cursor
            .fetch_add(EVICT_SAMPLE_STRIPES, Ordering::Relaxed);
        let now = self.clock.now();
        let mut best: Option<(u32, usize, ChunkId)> = None;
        for k in 0..stripes {
            let si = (start + k) % stripes;
            let Some(s) = self.index.try_lock(si) else {
                continue;
            };
            if s.objects.is_empty() {
                continue;
            }
            for chunk in s.chunks() {
                let it = Item::new(&self.arena, chunk);
                if it.is_object() {
                    let age = atime_age(now, it.atime());
                    if best.map_or(true, |(a, _, _)| age > a) {
                        best = Some((age, si, chunk));
                    }
                }
            }
            if k >= EVICT_SAMPLE_STRIPES && best.is_some() {
                break;
            }
        }
        let Some((_, si, chunk)) = best else {
            return false;
        };
        let Some(mut s) = self.index.try_lock(si) else {
            return false;
        };
        // A running snapshot gets the stripe before the victim leaves it.
        if self.snapshot.is_active() {
            self.snapshot_visit_locked(si, &mut s);
        }
        let it = Item::new(&self.arena, chunk);
        if it.bits() & LINKED == 0 || !it.is_object() {
            return false;
        }
        let hash = table_hash(self.index.key_hash(it.key()), it.db());
        let class = &self.classes[self.class_of_chunk(chunk)];
        self.observers.report(
            super::Removal::Evicted(Default::default()),
            it.db(),
            it.key(),
        );
        self.unlink_locked(&mut s, hash, chunk);
        class.state.lock().evicted += 1;
        true
    }

    /// A typed read-modify-write of `key` under its stripe lock.
    pub fn modify<R>(
        &self,
        db: u8,
        key: &[u8],
        f: impl FnOnce(Option<&mut Current<'_>>) -> Update<R>,
    ) -> Result<R, RewriteError> {
        let Locked {
            guard: mut s,
            stripe: si,
            db,
            hash,
            now,
        } = self.lock_key(db, key);
        let old = self.find_live_locked(&mut s, hash, db, key, now).ok();
        // The object's handle, read once for the edit and the re-charge after it.
        let mut handle = None;
        let decision = match old {
            Some(c) => {
                let item = Item::new(&self.arena, c);
                item.bump(now, true);
                handle = item.is_object().then(|| handle_of(item));
                let object = handle.and_then(|h| s.objects.get_mut(h));
                f(Some(&mut Current {
                    item,
                    core: self,
                    object,
                }))
            }
            None => f(None),
        };
        let exp_for = |ttl: Ttl| match ttl {
            Ttl::Keep => old.map_or(Exp::NEVER, |c| Item::new(&self.arena, c).exp()),
            Ttl::Set(e) => self.encode_exp(e),
        };
        match decision {
            Update::Keep(r) => Ok(r),
            Update::Delete(r) => {
                if let Some(c) = old {
                    self.unlink_locked(&mut s, hash, c);
                    if let Some(log) = self.snapshot.log() {
                        log.modified(key, None);
                    }
                }
                Ok(r)
            }
            Update::Changed(r) => {
                let Some(c) = old else { return Ok(r) };
                let it = Item::new(&self.arena, c);
                if let Some(log) = self.snapshot.log() {
                    log.modified(key, Some(self.expiry_of(it.exp())));
                }
                if let Some(stored) = handle.and_then(|h| s.objects.get_mut(h)) {
                    let usage = stored.object.mem_usage();
                    let delta = usage as isize - stored.charged as isize;
                    stored.charged = usage;
                    it.set_cas(self.next_cas(), None);
                    drop(s);
                    self.charge(delta);
                    if delta > 0 {
                        self.make_room();
                    }
                }
                Ok(r)
            }
            Update::Bytes {
                ty,
                value,
                ttl,
                result,
            } => {
                let spec = ItemSpec {
                    kind: ty.code(),
                    large: true,
                    ..ItemSpec::new(db, key, value.len(), 0, exp_for(ttl), self.next_cas())
                };
                let mut held = Held {
                    stripe: si,
                    guard: &mut s,
                    protect: old.unwrap_or(NO_CHUNK),
                };
                let chunk = self.build(&spec, &mut held, |push| push(&value))?;
                Item::new(&self.arena, chunk).set_atime(now);
                let old = old.filter(|&o| s.find(&self.arena, hash, db, key) == Some(o));
                self.link_locked(&mut s, hash, chunk, old);
                if let Some(log) = self.snapshot.log() {
                    log.modified(key, Some(self.expiry_of(spec.exp)));
                }
                Ok(result)
            }
            Update::Object {
                object,
                ttl,
                result,
            } => {
                let exp = exp_for(ttl);
                let old = self.link_object(&mut s, si, hash, db, key, exp, object, old)?;
                let _ = old;
                if let Some(log) = self.snapshot.log() {
                    log.modified(key, Some(self.expiry_of(exp)));
                }
                drop(s);
                self.make_room();
                Ok(result)
            }
        }
    }

    /// Stores `object` under `key` as a new handle item replacing `old`; charges it. The
    /// stripe `s` (number `si`) is locked by the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn link_object(
        &self,
        s: &mut Stripe,
        si: usize,
        hash: u64,
        db: u8,
        key: &[u8],
        exp: Exp,
        object: Box<dyn Object>,
        old: Option<ChunkId>,
    ) -> Result<ChunkId, RewriteError> {
        let usage = object.mem_usage();
        if !self.config.evict && self.pool.would_exceed(usage, self.config.page_size) {
            return Err(RewriteError::NoMemory);
        }
        if usage > self.config.memory_limit {
            return Err(RewriteError::NoMemory);
        }
        let kind = object.value_type().code();
        let handle = s.objects.insert(StoredObject {
            object,
            charged: usage,
        });
        self.charge(usage as isize);
        let bytes = (handle as u32).to_le_bytes();
        let spec = ItemSpec {
            kind,
            object: true,
            large: true,
            ..ItemSpec::new(db, key, 4, 0, exp, self.next_cas())
        };
        let mut held = Held {
            stripe: si,
            guard: s,
            protect: old.unwrap_or(NO_CHUNK),
        };
        let built = self.build(&spec, &mut held, |push| push(&bytes));
        let chunk = match built {
            Ok(c) => c,
            Err(e) => {
                if let Some(stored) = s.objects.try_remove(handle) {
                    self.charge(-(stored.charged as isize));
                    self.dispose(stored.object);
                }
                return Err(match e {
                    BuildError::TooLarge => RewriteError::TooLarge,
                    BuildError::NoMemory => RewriteError::NoMemory,
                });
            }
        };
        Item::new(&self.arena, chunk).set_atime(self.clock.now());
        let old = old.filter(|&o| s.find(&self.arena, hash, db, key) == Some(o));
        self.link_locked(s, hash, chunk, old);
        Ok(chunk)
    }

    /// A read-only look at `key`'s value under its stripe lock (counts as an access).
    pub fn inspect<R>(&self, db: u8, key: &[u8], f: impl FnOnce(Option<&Current<'_>>) -> R) -> R {
        let Locked {
            guard: mut s,
            db,
            hash,
            now,
            ..
        } = self.lock_key(db, key);
        match self.find_live_read_locked(&mut s, hash, db, key, now) {
            Ok(c) => {
                let item = Item::new(&self.arena, c);
                item.bump(now, true);
                let object = if item.is_object() {
                    s.objects.get_mut(handle_of(item))
                } else {
                    None
                };
                f(Some(&Current {
                    item,
                    core: self,
                    object,
                }))
            }
            Err(_) => f(None),
        }
    }

    /// Calls `f` for every live item with its database (logical), one stripe at a time
    /// under that stripe's lock (the persistence snapshot's walk). `f` must not call back
    /// into the store.
    pub fn for_each_value(&self, mut f: impl FnMut(u8, &Current<'_>)) {
        for db in 0..16 {
            self.now(db);
        }
        for i in 0..self.index.stripe_count() {
            let mut guard = self.index.lock(i);
            let now = self.clock.now();
            let logical: [u8; 16] = std::array::from_fn(|p| self.index.logical(p as u8));
            let s = &mut *guard;
            let chunks: Vec<ChunkId> = s.chunks().collect();
            for chunk in chunks {
                let item = Item::new(&self.arena, chunk);
                if self.dead(item, now).is_some() {
                    continue;
                }
                let object = if item.is_object() {
                    s.objects.get_mut(handle_of(item))
                } else {
                    None
                };
                f(
                    logical[usize::from(item.db())],
                    &Current {
                        item,
                        core: self,
                        object,
                    },
                );
            }
        }
    }

    /// Moves or duplicates the value and expiry of item `src` (in stripe `from`, or the
    /// stripe `held` names when `None`) into a new item for
    /// (db, key) built in the stripe `held` names; the new item is not linked. A moved
    /// object leaves `src` as a plain item (so unlinking it frees nothing).
    pub fn carry_item(
        &self,
        from: Option<&mut Stripe>,
        src: ChunkId,
        db: u8,
        key: &[u8],
        held: &mut Held<'_>,
        duplicate: bool,
    ) -> Result<ChunkId, RewriteError> {
        let it = Item::new(&self.arena, src);
        let exp = it.exp();
        if !it.is_object() {
            return self.copy_item(src, db, key, Some(exp), held);
        }
        let spec = ItemSpec {
            kind: it.kind(),
            object: true,
            large: true,
            ..ItemSpec::new(db, key, 4, 0, exp, self.next_cas())
        };
        // Built first (with a placeholder handle) so that a failure leaves `src` whole.
        let chunk = self.build(&spec, held, |push| push(&[0; 4]))?;
        let handle = handle_of(it);
        let take = |source: &mut Stripe| -> Option<StoredObject> {
            if duplicate {
                let object = source.objects.get(handle)?.object.duplicate();
                let charged = object.mem_usage();
                self.charge(charged as isize);
                Some(StoredObject { object, charged })
            } else {
                let o = source.objects.try_remove(handle)?;
                it.clear_object();
                Some(o)
            }
        };
        let stored = match from {
            Some(f) => take(f),
            None => take(&mut *held.guard),
        };
        let Some(stored) = stored else {
            self.free_item(chunk);
            return Err(RewriteError::NoMemory);
        };
        let new_handle = held.guard.objects.insert(stored) as u32;
        let new = Item::new(&self.arena, chunk);
        self.arena
            .write(new.value_offset(), &new_handle.to_le_bytes());
        new.set_atime(self.clock.now());
        Ok(chunk)
    }
}
