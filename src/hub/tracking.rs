//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidation messages sent when a key changes.
//!
//! - Default mode: a read-only command run by a tracking client records its keys in a
//!   table (64 shards, key → client ids). A write to a key ([`Tracking::invalidate`],
//!   called from `ctx.notify`) takes the key out and sends each client one invalidation.
//! - BCAST mode: clients register prefixes; every written key matching one is sent.
//!
//! Invalidations go to the client itself (RESP3 `>2 invalidate [keys]`) or to its REDIRECT
//! client, which gets a `message` on `__redis__:invalidate` when it speaks RESP2 and is
//! subscribed. NOLOOP skips keys the client changed itself. With no tracking client, a write
//! pays one relaxed atomic load.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::observed::{self, Observed};
use super::pubsub::{Delivery, Kind, Payload, Published};
use super::{Event, Hub, Outbox, Target};
use crate::storage::{key_hash, HashSeed};

const SHARDS: usize = 64;

/// The channel RESP2 redirect clients receive invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A tracking client's options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Where invalidations go instead of the client itself (its id and address).
    pub redirect: Option<Target>,
    pub bcast: bool,
    pub prefixes: Vec<Box<[u8]>>,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

#[derive(Clone, Debug)]
struct Client {
    target: Target,
    options: Options,
    /// Its REDIRECT client is gone: each invalidation becomes a `tracking-redir-broken`
    /// push to the client itself, as Redis sends.
    broken: bool,
}

impl Client {
    /// Sends what an invalidation `msg` turns into for this client.
    fn deliver(&self, out: &mut Outbox<'_>, msg: &Arc<Published>) {
        match self.options.redirect {
            Some(to) if self.broken => {
                let broken = Arc::new(Published {
                    kind: Kind::RedirBroken,
                    channel: Box::default(),
                    payload: Payload::Int(to.id),
                    wire: Box::default(),
                });
                let d = Delivery {
                    msg: broken,
                    pattern: None,
                };
                out.push(self.target, Event::Message(d));
            }
            to => {
                let me = to.unwrap_or(self.target).id;
                let captured = CAPTURE.with(|c| {
                    let mut c = c.borrow_mut();
                    let mine = c.0 == me && me != 0;
                    if mine {
                        c.1.push(msg.clone());
                    }
                    mine
                });
                if captured {
                    return;
                }
                let d = Delivery {
                    msg: msg.clone(),
                    pattern: None,
                };
                out.push(to.unwrap_or(self.target), Event::Message(d));
            }
        }
    }
}

/// Keys handed out, and the clients that may cache each.
type KeyTable = HashMap<Box<[u8]>, Vec<u64>, KeyState>;

/// Hashes the table's keys as the store hashes its own ([`key_hash`]: folded multiplies
/// under the process's random key, so clients cannot choose colliding keys). std's
/// SipHash was about 120 instructions of a SET's 390 with one client tracking (callgrind).
#[derive(Clone, Copy)]
struct KeyState(HashSeed);

impl Default for KeyState {
    fn default() -> Self {
        KeyState(crate::collections::table::seed())
    }
}

impl BuildHasher for KeyState {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            seed: self.0,
            hash: 0,
        }
    }
}

/// [`KeyState`]'s hasher: a key (`[u8]`) is hashed whole by [`Hasher::write`].
struct KeyHasher {
    seed: HashSeed,
    hash: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.hash ^= key_hash(self.seed, bytes);
    }

    /// A slice's length prefix: [`key_hash`] mixes the length in already.
    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Every tracking client and every key handed out.
pub struct Tracking {
    /// Tracking clients (the write path's check).
    active: AtomicUsize,
    clients: RwLock<HashMap<u64, Client>>,
    /// BCAST clients among them (changed under `clients`' write lock): a write of a key
    /// nobody cached looks no further when there are none.
    bcast: AtomicUsize,
    keys: Box<[Mutex<KeyTable>]>,
    /// Keys in the table (`tracking_total_keys`).
    total_keys: AtomicUsize,
    /// `tracking-table-max-keys` (0: no limit).
    pub max_keys: Arc<AtomicI64>,
    /// The hub's word: [`observed::TRACKING`] while any client tracks.
    observed: Arc<Observed>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            active: AtomicUsize::new(0),
            clients: RwLock::default(),
            bcast: AtomicUsize::new(0),
            keys: (0..SHARDS).map(|_| Mutex::default()).collect(),
            total_keys: AtomicUsize::new(0),
            max_keys: Arc::new(AtomicI64::new(1_000_000)),
            observed: Arc::default(),
        }
    }
}

fn shard_of(key: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in key {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

thread_local! {
    /// The client whose command is running on this thread (for NOLOOP), 0 outside one.
    static RUNNING: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Keys the running command changed, for BCAST clients: sent when it ends, one
    /// message per client and prefix (as Redis sends them once per event-loop turn).
    static PENDING: std::cell::RefCell<Vec<Box<[u8]>>> = const { std::cell::RefCell::new(Vec::new()) };
    /// While [`Tracking::limit_before_command`] runs: the client about to run a command and
    /// the invalidations addressed to itself, written before its reply instead of posted.
    static CAPTURE: std::cell::RefCell<(u64, Vec<Arc<Published>>)> = const { std::cell::RefCell::new((0, Vec::new())) };
}

/// The command running on this thread, set aside while a busy script's worker serves its
/// other connections (`server::nest`); [`resume`] puts it back.
pub fn suspend() -> (u64, Vec<Box<[u8]>>) {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    (RUNNING.with(|c| c.replace(0)), pending)
}

/// Puts back what [`suspend`] set aside.
pub fn resume((id, pending): (u64, Vec<Box<[u8]>>)) {
    RUNNING.with(|c| c.set(id));
    PENDING.with(|p| *p.borrow_mut() = pending);
}

/// A request of client `id` starts on this thread (set per request by `commands`).
#[inline]
pub fn begin_command(id: u64) {
    RUNNING.with(|c| c.set(id));
}

/// The request ended: BCAST invalidations it caused go out.
#[inline]
pub fn end_command(hub: &Hub) {
    let pending = PENDING.with(|p| !p.borrow().is_empty());
    if pending {
        let keys = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        hub.tracking.broadcast(hub, &keys);
    }
    RUNNING.with(|c| c.set(0));
}

impl Tracking {
    /// Keeping its bits of `observed` (the hub's word).
    pub(super) fn observing(observed: Arc<Observed>) -> Tracking {
        Tracking {
            observed,
            ..Default::default()
        }
    }

    /// Whether any client tracks (the write path's check).
    #[inline]
    pub fn active(&self) -> bool {
        super::OBSERVE && self.active.load(Ordering::Relaxed) > 0
    }

    /// CLIENT TRACKING ON (or a change of options).
    pub fn enable(&self, id: u64, target: Target, options: Options) {
        let mut c = self.clients.write();
        if options.bcast {
            self.bcast.fetch_add(1, Ordering::Relaxed);
        }
        let client = Client {
            target,
            options,
            broken: false,
        };
        match c.insert(id, client) {
            None => {
                self.active.fetch_add(1, Ordering::Relaxed);
            }
            Some(old) if old.options.bcast => {
                self.bcast.fetch_sub(1, Ordering::Relaxed);
            }
            Some(_) => {}
        }
        self.observed.set(observed::TRACKING, true);
    }

    /// CLIENT TRACKING OFF, or the client closed. Its keys stay in the table until written
    /// (an id with no client is skipped then).
    pub fn disable(&self, id: u64) {
        let mut c = self.clients.write();
        if let Some(old) = c.remove(&id) {
            self.active.fetch_sub(1, Ordering::Relaxed);
            if old.options.bcast {
                self.bcast.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.observed.set(observed::TRACKING, !c.is_empty());
    }

    /// Connection `id` is closing: clients redirecting to it are told so from now on.
    pub fn target_gone(&self, id: u64) {
        if !self.active() {
            return;
        }
        for c in self.clients.write().values_mut() {
            if c.options.redirect.is_some_and(|t| t.id == id) {
                c.broken = true;
            }
        }
    }

    /// Whether a tracking client's REDIRECT client is gone (TRACKINGINFO `broken_redirect`).
    pub fn broken(&self, id: u64) -> bool {
        self.clients.read().get(&id).is_some_and(|c| c.broken)
    }

    /// The options of a tracking client.
    pub fn options(&self, id: u64) -> Option<Options> {
        self.clients.read().get(&id).map(|c| c.options.clone())
    }

    /// Tracking clients (`tracking_clients`).
    pub fn clients(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// (key, client) pairs in the table (`tracking_total_items`).
    pub fn total_items(&self) -> usize {
        self.keys
            .iter()
            .map(|s| s.lock().values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Keys in the table.
    pub fn total_keys(&self) -> usize {
        self.total_keys.load(Ordering::Relaxed)
    }

    /// BCAST prefixes registered, all clients.
    pub fn total_prefixes(&self) -> usize {
        self.clients
            .read()
            .values()
            .map(|c| c.options.prefixes.len().max(usize::from(c.options.bcast)))
            .sum()
    }

    /// A tracking client read `key`: it may cache it until told otherwise.
    pub fn remember(&self, hub: &Hub, id: u64, key: &[u8]) {
        let mut shard = self.keys[shard_of(key)].lock();
        match shard.get_mut(key) {
            Some(ids) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            None => {
                shard.insert(Box::from(key), vec![id]);
                let total = self.total_keys.fetch_add(1, Ordering::Relaxed) + 1;
                let max = self.max_keys.load(Ordering::Relaxed);
                drop(shard);
                if max > 0 && total as i64 > max {
                    self.evict_one(hub, key);
                }
            }
        }
    }

    /// FLUSHALL / FLUSHDB: every tracking client is told everything is gone (a null
    /// invalidation), and the table is emptied.
    pub fn flushed(&self, hub: &Hub) {
        if !self.active() && self.total_keys() == 0 {
            return;
        }
        for shard in self.keys.iter() {
            let n = std::mem::take(&mut *shard.lock()).len();
            self.total_keys.fetch_sub(n, Ordering::Relaxed);
        }
        let msg = Arc::new(Published {
            kind: Kind::Invalidate,
            channel: Box::from(CHANNEL),
            payload: Payload::Null,
            wire: Box::default(),
        });
        let clients = self.clients.read();
        let mut out = Outbox::new(hub);
        for c in clients.values() {
            c.deliver(&mut out, &msg);
        }
    }

    /// Invalidates keys until the table is within `tracking-table-max-keys` (run once a
    /// second, so lowering the setting takes effect without new reads).
    pub fn enforce_limit(&self, hub: &Hub) {
        let max = self.max_keys.load(Ordering::Relaxed);
        while max > 0 && self.total_keys() as i64 > max {
            let before = self.total_keys();
            self.evict_one(hub, b"");
            if self.total_keys() == before {
                break;
            }
        }
    }

    /// Whether the table holds more keys than `tracking-table-max-keys` (the check before
    /// every command while some client tracks).
    #[inline]
    pub fn over_limit(&self) -> bool {
        let max = self.max_keys.load(Ordering::Relaxed);
        max > 0 && self.total_keys() as i64 > max
    }

    /// Before client `id` runs a command (Redis checks the limit in `processCommand`, so a
    /// lowered `tracking-table-max-keys` applies at the next command): keys over the limit
    /// are invalidated, not as a write of `id` (no NOLOOP); the invalidations addressed to
    /// `id` itself are returned, for its output ahead of the command's reply.
    pub fn limit_before_command(&self, hub: &Hub, id: u64) -> Vec<Arc<Published>> {
        if !self.over_limit() {
            return Vec::new();
        }
        let running = RUNNING.with(|c| c.replace(0));
        CAPTURE.with(|c| c.borrow_mut().0 = id);
        self.enforce_limit(hub);
        RUNNING.with(|c| c.set(running));
        CAPTURE.with(|c| std::mem::take(&mut *c.borrow_mut()).1)
    }

    /// Over `tracking-table-max-keys`: invalidates some other key, as Redis does.
    fn evict_one(&self, hub: &Hub, except: &[u8]) {
        let victim = self.keys.iter().find_map(|s| {
            s.lock()
                .keys()
                .find(|k| &k[..] != except)
                .map(|k| k.to_vec())
        });
        if let Some(k) = victim {
            self.invalidate(hub, &k);
        }
    }

    /// [`Tracking::invalidate`] for a change no client made (an expiry, also one found by a
    /// client's read): sent at once, NOLOOP hides it from nobody.
    pub fn invalidate_unattributed(&self, hub: &Hub, key: &[u8]) {
        let running = RUNNING.with(|c| c.replace(0));
        self.invalidate(hub, key);
        RUNNING.with(|c| c.set(running));
    }

    /// `key` changed: every client that may cache it (or whose BCAST prefix matches) gets
    /// one invalidation; the key leaves the table.
    pub fn invalidate(&self, hub: &Hub, key: &[u8]) {
        let ids = {
            let mut shard = self.keys[shard_of(key)].lock();
            shard.remove(key)
        };
        match ids {
            Some(_) => {
                self.total_keys.fetch_sub(1, Ordering::Relaxed);
            }
            // Most writes: a key no client cached, and no BCAST client to tell.
            None if self.bcast.load(Ordering::Relaxed) == 0 => return,
            None => {}
        }
        let writer = RUNNING.with(|c| c.get());
        let clients = self.clients.read();
        let mut out = Outbox::new(hub);
        let mut msg: Option<Arc<Published>> = None;
        let mut send = |c: &Client, id: u64| {
            if c.options.noloop && id == writer {
                return;
            }
            let m = msg.get_or_insert_with(|| {
                Arc::new(Published {
                    kind: Kind::Invalidate,
                    channel: Box::from(CHANNEL),
                    payload: Payload::Keys(vec![Box::from(key)]),
                    wire: Box::default(),
                })
            });
            c.deliver(&mut out, m);
        };
        for id in ids.unwrap_or_default() {
            if let Some(c) = clients.get(&id) {
                if !c.options.bcast {
                    send(c, id);
                }
            }
        }
        let bcast = clients.values().any(|c| c.options.bcast);
        drop(out);
        drop(clients);
        if bcast {
            if writer != 0 {
                PENDING.with(|p| p.borrow_mut().push(Box::from(key)));
            } else {
                self.broadcast(hub, &[Box::from(key)]);
            }
        }
    }

    /// Sends BCAST clients the keys of `keys` under each of their prefixes: one message
    /// per client and prefix.
    fn broadcast(&self, hub: &Hub, keys: &[Box<[u8]>]) {
        let writer = RUNNING.with(|c| c.get());
        let clients = self.clients.read();
        let mut out = Outbox::new(hub);
        for (&id, c) in clients.iter() {
            if !c.options.bcast || (c.options.noloop && id == writer) {
                continue;
            }
            let empty: [Box<[u8]>; 1] = [Box::from(&b""[..])];
            let prefixes = if c.options.prefixes.is_empty() {
                &empty[..]
            } else {
                &c.options.prefixes[..]
            };
            for p in prefixes {
                let matched: Vec<Box<[u8]>> =
                    keys.iter().filter(|k| k.starts_with(p)).cloned().collect();
                if matched.is_empty() {
                    continue;
                }
                let msg = Arc::new(Published {
                    kind: Kind::Invalidate,
                    channel: Box::from(CHANNEL),
                    payload: Payload::Keys(matched),
                    wire: Box::default(),
                });
                c.deliver(&mut out, &msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(worker: u32, id: u64) -> Target {
        Target {
            worker,
            slot: id as u32,
            id,
        }
    }

    fn keys_sent(hub: &Hub, worker: usize) -> Vec<(u64, Vec<u8>)> {
        let mut got = Vec::new();
        hub.take(worker, &mut got);
        got.into_iter()
            .filter_map(|p| match p.event {
                Event::Message(d) => match &d.msg.payload {
                    Payload::Keys(k) => Some((p.to.id, k[0].to_vec())),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_read_key_is_invalidated_once_and_forgotten() {
        let hub = Hub::new(2);
        let tr = &hub.tracking;
        assert!(!tr.active());
        tr.enable(1, t(0, 1), Options::default());
        tr.enable(2, t(1, 2), Options::default());
        tr.remember(&hub, 1, b"k");
        tr.remember(&hub, 2, b"k");
        tr.remember(&hub, 1, b"k");
        assert_eq!(tr.total_keys(), 1);
        tr.invalidate(&hub, b"k");
        assert_eq!(keys_sent(&hub, 0), vec![(1, b"k".to_vec())]);
        assert_eq!(keys_sent(&hub, 1), vec![(2, b"k".to_vec())]);
        tr.invalidate(&hub, b"k");
        assert!(keys_sent(&hub, 0).is_empty());
        assert_eq!(tr.total_keys(), 0);
    }

    #[test]
    fn bcast_prefixes_noloop_and_redirect() {
        let hub = Hub::new(1);
        let tr = &hub.tracking;
        let bcast = Options {
            bcast: true,
            prefixes: vec![Box::from(&b"user:"[..])],
            ..Options::default()
        };
        tr.enable(1, t(0, 1), bcast);
        tr.enable(
            2,
            t(0, 2),
            Options {
                redirect: Some(t(0, 1)),
                bcast: true,
                noloop: true,
                ..Options::default()
            },
        );
        begin_command(2);
        tr.invalidate(&hub, b"user:7");
        end_command(&hub);
        // Client 1 by its prefix; client 2 wrote it itself (NOLOOP).
        assert_eq!(keys_sent(&hub, 0), vec![(1, b"user:7".to_vec())]);
        begin_command(3);
        tr.invalidate(&hub, b"other");
        end_command(&hub);
        // Client 2 (no prefix: every key), redirected to client 1's connection.
        assert_eq!(keys_sent(&hub, 0), vec![(1, b"other".to_vec())]);
        tr.disable(1);
        tr.disable(2);
        assert!(!tr.active());
    }

    #[test]
    fn a_write_of_an_uncached_key_reaches_bcast_clients_only_while_there_are_some() {
        let hub = Hub::new(1);
        let tr = &hub.tracking;
        let bcast = Options {
            bcast: true,
            ..Options::default()
        };
        tr.enable(1, t(0, 1), Options::default());
        tr.invalidate(&hub, b"a");
        assert!(keys_sent(&hub, 0).is_empty(), "nobody cached it");
        // Switched to BCAST, then its options changed again (still BCAST), then a second one.
        tr.enable(1, t(0, 1), bcast.clone());
        tr.enable(1, t(0, 1), bcast.clone());
        tr.enable(2, t(0, 2), bcast.clone());
        tr.invalidate(&hub, b"b");
        let mut sent = keys_sent(&hub, 0);
        sent.sort();
        assert_eq!(sent, vec![(1, b"b".to_vec()), (2, b"b".to_vec())]);
        // Back to default mode and gone: nobody hears of uncached keys.
        tr.enable(1, t(0, 1), Options::default());
        tr.invalidate(&hub, b"c");
        assert_eq!(keys_sent(&hub, 0), vec![(2, b"c".to_vec())]);
        tr.disable(2);
        tr.invalidate(&hub, b"d");
        assert!(keys_sent(&hub, 0).is_empty());
        assert_eq!(tr.bcast.load(Ordering::Relaxed), 0);
    }
}
