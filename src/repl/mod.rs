//! Replication as a master: the stream of write commands that SYNC / PSYNC readers
//! (redis-server started with `--replicaof`, `redis-cli --replica`, Redis's test helper
//! `attach_to_replication_stream`) receive after the RDB of a full resync.
//!
//! ```text
//!  worker: execute_as ── handler ── (observed & REPLICA) ── propagate::after_command
//!                                     │ rewrites (SET EX → PXAT, EXPIRE → PEXPIREAT, ...)
//!                                     │ collected per client command; MULTI/EXEC around
//!                                     ▼ more than one
//!          Replication::feed ── Mutex<Feed>: SELECT when the db changes, offset += bytes
//!                                     │ Event::Line per replica (hub mailbox, FIFO)
//!                                     ▼
//!          replica connection (on any worker): bytes appended to its output, bounded
//!          by client-output-buffer-limit replica (Redis's default 256mb 64mb 60)
//! ```
//!
//! Only while at least one replica is attached does any of it run: the hub's observed word
//! carries [`crate::hub::observed::REPLICA`], which `execute_as` already loads once per
//! command for MONITOR and the rest, so with no replica the request path pays one branch
//! on a register.
//!
//! The order of the stream is the order in which commands reach [`Replication::feed`] (its
//! mutex), not the order their stripe locks were taken: two workers writing one key at the
//! same instant may feed in the other order (see docs/architecture.md, "Replication").
//!
//! Lock order: every stripe (a snapshot's point in time) → the feed mutex → the expired
//! keys' queue; the feed mutex is never held while a stripe is taken.

pub mod propagate;
pub mod sync;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::commands::ClientInfo;
use crate::hub::observed::{self, Observed};
use crate::hub::{flag, Event, Hub};
use crate::persist::aof::encode;

/// One attached replica.
struct Replica {
    info: Arc<ClientInfo>,
    /// REPLCONF listening-port (0 until told).
    port: u16,
    /// The last REPLCONF ACK offset.
    ack: u64,
    /// When the last REPLCONF ACK came.
    ack_at: Instant,
}

/// What the feed mutex guards.
#[derive(Default)]
struct Feed {
    replicas: Vec<Replica>,
    /// Database of the last SELECT in the stream (None: write one before the next command).
    db: Option<u8>,
}

/// Replication state (the master side).
pub struct Replication {
    /// `master_replid`: 40 hex digits, fixed for the life of the process.
    replid: String,
    /// `master_repl_offset`: bytes of stream produced so far.
    offset: AtomicU64,
    feed: Mutex<Feed>,
    /// Keys the store expired or evicted while a replica was attached, to be sent as DEL
    /// (taken under a stripe lock, so nothing here may take the feed mutex).
    removed: Mutex<Vec<(u8, Box<[u8]>)>>,
    /// The `slabd-repl` thread runs (PINGs, expired keys found by background expiry).
    ticking: AtomicBool,
    /// `repl-ping-replica-period` in seconds (its directive's listener keeps it current).
    pub ping_period: Arc<AtomicU64>,
    /// The hub's word: [`observed::REPLICA`] while a replica is attached.
    observed: Arc<Observed>,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("replid", &self.replid)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A replica as INFO replication and ROLE show it.
pub struct ReplicaView {
    pub addr: String,
    pub port: u16,
    pub ack: u64,
    pub lag_secs: u64,
}

impl Replication {
    /// `seed` makes the replication id (the clock's start and the pid: different for
    /// every run, the same for the life of the process).
    pub fn new(observed: Arc<Observed>, seed: u128) -> Replication {
        let replid = format!(
            "{:032x}{:08x}",
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
            std::process::id()
        );
        Replication {
            replid,
            offset: AtomicU64::new(0),
            feed: Mutex::default(),
            removed: Mutex::default(),
            ticking: AtomicBool::new(false),
            ping_period: Arc::new(AtomicU64::new(10)),
            observed,
        }
    }

    pub fn replid(&self) -> &str {
        &self.replid
    }

    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Attaches `info`'s connection: from now on it gets every command fed. Returns the
    /// offset it starts at. Called at a snapshot's point in time (every stripe locked).
    pub fn attach(&self, info: &Arc<ClientInfo>) -> u64 {
        let mut feed = self.feed.lock();
        info.set_flag(flag::REPLICA, true);
        feed.replicas.push(Replica {
            info: info.clone(),
            port: 0,
            ack: 0,
            ack_at: Instant::now(),
        });
        // Redis's `slaveseldb = -1`: the next command is preceded by a SELECT.
        feed.db = None;
        self.observed.set(observed::REPLICA, true);
        self.offset()
    }

    /// The connection `id` closed (or never finished its sync).
    pub fn detach(&self, id: u64) {
        let mut feed = self.feed.lock();
        feed.replicas.retain(|r| r.info.id != id);
        if feed.replicas.is_empty() {
            self.observed.set(observed::REPLICA, false);
            self.removed.lock().clear();
        }
    }

    /// REPLCONF listening-port / ACK from replica `id`.
    pub fn replconf(&self, id: u64, port: Option<u16>, ack: Option<u64>) {
        let mut feed = self.feed.lock();
        if let Some(r) = feed.replicas.iter_mut().find(|r| r.info.id == id) {
            if let Some(p) = port {
                r.port = p;
            }
            if let Some(a) = ack {
                r.ack = a;
                r.ack_at = Instant::now();
            }
        }
    }

    /// Attached replicas, oldest first.
    pub fn replicas(&self) -> Vec<ReplicaView> {
        let feed = self.feed.lock();
        feed.replicas
            .iter()
            .map(|r| ReplicaView {
                addr: r.info.addr.clone(),
                port: r.port,
                ack: r.ack,
                lag_secs: r.ack_at.elapsed().as_secs(),
            })
            .collect()
    }

    /// Replicas whose last ACK covers `offset` (WAIT).
    pub fn acked(&self, offset: u64) -> usize {
        self.feed
            .lock()
            .replicas
            .iter()
            .filter(|r| r.ack >= offset)
            .count()
    }

    /// The store expired or evicted `key` (under its stripe lock): queued for a DEL.
    pub fn removed(&self, db: u8, key: &[u8]) {
        self.removed.lock().push((db, Box::from(key)));
    }

    /// Sends what waits: DELs of removed keys, then `commands` (`(db, encoded command)`),
    /// inside MULTI/EXEC when there is more than one.
    pub fn feed(&self, hub: &Hub, commands: &[(u8, Vec<u8>)]) {
        if commands.is_empty() && self.removed.lock().is_empty() {
            return;
        }
        let mut feed = self.feed.lock();
        if feed.replicas.is_empty() {
            return;
        }
        let mut out = Vec::new();
        let removed = std::mem::take(&mut *self.removed.lock());
        for (db, key) in &removed {
            select(&mut feed, &mut out, *db);
            encode(&mut out, &[b"DEL", key]);
        }
        let wrap = commands.len() > 1;
        for (i, (db, cmd)) in commands.iter().enumerate() {
            select(&mut feed, &mut out, *db);
            if wrap && i == 0 {
                encode(&mut out, &[b"MULTI"]);
            }
            out.extend_from_slice(cmd);
        }
        if wrap {
            encode(&mut out, &[b"EXEC"]);
        }
        self.send(hub, &feed, out);
    }

    /// A command that belongs to no database (PING).
    fn feed_raw(&self, hub: &Hub, args: &[&[u8]]) {
        let feed = self.feed.lock();
        if feed.replicas.is_empty() {
            return;
        }
        let mut out = Vec::new();
        encode(&mut out, args);
        self.send(hub, &feed, out);
    }

    /// Posts `out` to every replica (the feed mutex held, so all get one order).
    fn send(&self, hub: &Hub, feed: &Feed, out: Vec<u8>) {
        if out.is_empty() {
            return;
        }
        self.offset.fetch_add(out.len() as u64, Ordering::Relaxed);
        let line = Arc::new(out);
        for r in &feed.replicas {
            hub.post(r.info.target(), Event::Line(line.clone(), 0));
        }
    }

    /// Starts the `slabd-repl` thread unless it runs: every 100 ms it sends the DELs of
    /// keys background expiry removed, and a PING every `repl-ping-replica-period`
    /// seconds (as Redis's replicationCron, so a replica's `repl-timeout` never fires on
    /// an idle master). It ends when no replica is left.
    pub fn start_ticking(hub: &Arc<Hub>) {
        let repl = &hub.repl;
        if repl.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        let hub = hub.clone();
        let spawned = std::thread::Builder::new()
            .name("slabd-repl".into())
            .spawn(move || {
                let repl = &hub.repl;
                let mut last_ping = Instant::now();
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    if repl.feed.lock().replicas.is_empty() {
                        repl.ticking.store(false, Ordering::Release);
                        // A replica attached between the check and the store starts no
                        // thread of its own: look once more.
                        if repl.feed.lock().replicas.is_empty()
                            || repl.ticking.swap(true, Ordering::AcqRel)
                        {
                            return;
                        }
                    }
                    if !repl.removed.lock().is_empty() {
                        repl.feed(&hub, &[]);
                    }
                    let period = repl.ping_period.load(Ordering::Relaxed).max(1);
                    if last_ping.elapsed() >= Duration::from_secs(period) {
                        last_ping = Instant::now();
                        repl.feed_raw(&hub, &[b"ping"]);
                    }
                }
            });
        if spawned.is_err() {
            repl.ticking.store(false, Ordering::Release);
        }
    }
}

/// Appends a SELECT when the stream's database is not `db`.
fn select(feed: &mut Feed, out: &mut Vec<u8>, db: u8) {
    if feed.db != Some(db) {
        let text = db.to_string();
        encode(out, &[b"SELECT", text.as_bytes()]);
        feed.db = Some(db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Arc<ClientInfo> {
        Arc::new(ClientInfo::detached("127.0.0.1:1", ""))
    }

    #[test]
    fn feed_selects_and_wraps_as_redis() {
        let hub = Hub::new(1);
        let repl = &hub.repl;
        let a = info();
        assert_eq!(repl.attach(&a), 0);
        let set = |k: &[u8]| {
            let mut v = Vec::new();
            encode(&mut v, &[b"set", k, b"v"]);
            v
        };
        repl.feed(&hub, &[(0, set(b"a"))]);
        repl.feed(&hub, &[(0, set(b"b")), (1, set(b"c"))]);
        let mut got = Vec::new();
        hub.take(0, &mut got);
        let mut bytes = Vec::new();
        for p in got {
            if let Event::Line(l, _) = p.event {
                bytes.extend_from_slice(&l);
            }
        }
        assert_eq!(repl.offset() as usize, bytes.len());
        let text = String::from_utf8(bytes).unwrap().replace("\r\n", " ");
        assert_eq!(
            text,
            "*2 $6 SELECT $1 0 *3 $3 set $1 a $1 v *1 $5 MULTI *3 $3 set $1 b $1 v \
             *2 $6 SELECT $1 1 *3 $3 set $1 c $1 v *1 $4 EXEC "
        );
        repl.detach(0);
        assert_eq!(hub.observed() & observed::REPLICA, 0);
    }
}
