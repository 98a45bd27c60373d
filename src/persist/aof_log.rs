//! The append-only file at run time: logging, fsync policies, the multi-part layout, the
//! background rewrite and replay at start-up.
//!
//! # What is logged
//!
//! After a write command of either protocol succeeds, each key it touched is logged as its
//! *state*, read back under the key's stripe lock while the log's mutex is held:
//! `SET key value [PXAT ms]` for a string (after a `#slabd-mc-flags:<flags>` annotation
//! line when it has memcached client flags), `DEL key` when it is gone. Whole-keyspace commands (FLUSHALL,
//! FLUSHDB, SWAPDB) are logged as themselves under the same mutex.
//!
//! Why states and not commands: workers run in parallel, so the order in which two workers
//! append commands for one key need not be the order they ran. A state record is read after
//! its write, so the last record of a key is read after the key's last write and holds its
//! final value; records are idempotent, so a rewrite may overlap its base and the new
//! incremental file. Every record carries absolute expiry, so replay is exact. (incr,
//! append and the like are logged as their result, as the issue asks.)
//!
//! Lock order: log mutex → stripe lock (never the other way); the fsync mutex is taken
//! before the log mutex.
//!
//! # Durability
//!
//! `appendfsync always`: the writer waits until its record is on disk before the reply is
//! sent. Group commit: a worker fsyncs everything appended so far at the end of its turn
//! (`persist::group`) while the others wait for the fsync mutex and find their records
//! already covered. `everysec`: the
//! `slabd-aof` thread writes the buffer every 10 ms and fsyncs once a second. `no`: it
//! writes, the kernel decides when to flush.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::aof::{encode, FileKind, Manifest, ManifestFile};
use super::replay::replay_file;
use super::save::sync_dir;
use crate::commands::Context;
use crate::storage::{ChangeLog, Current, Expiry, ItemType};

/// Command name of the record sessions 1-5 wrote for a memcached item with client flags
/// (`SLABD.MCSET key value flags ms`); still replayed, no longer written.
pub const MCSET: &[u8] = b"SLABD.MCSET";
/// Annotation line written before the `SET` record of a string with memcached client
/// flags: `#slabd-mc-flags:<flags>`. Redis's AOF loader and redis-check-aof skip lines
/// starting with `#` (its `#TS:` annotations), so redis-server replays the `SET` and drops
/// the flags, and slabd gives them back to the key.
pub const MC_FLAGS_ANNOTATION: &[u8] = b"#slabd-mc-flags:";

const FSYNC_ALWAYS: u8 = 0;
const FSYNC_EVERYSEC: u8 = 1;

struct LogState {
    buf: Vec<u8>,
    /// Database of the last SELECT written (None: write one before the next record).
    db: Option<u8>,
    /// Bytes ever appended to `buf` (a logical offset for group commit).
    appended: u64,
    file: Option<File>,
    /// Records appended before a rewrite's point in time that have not reached the old
    /// incremental file yet, with that file: written (and fsynced) by the next commit,
    /// before anything that follows them.
    old_tail: Option<(Vec<u8>, Option<File>)>,
    dir: PathBuf,
    manifest: Manifest,
    /// Size of the current incremental file, counting what is still in `buf`.
    incr_size: u64,
    base_size: u64,
    /// Function records appended so far, and the last one (see [`AofLog::record_functions`]).
    function_gen: u64,
    function_rec: Option<Vec<u8>>,
    /// `aof-timestamp-enabled`: a `#TS:<unix seconds>` annotation before the first record
    /// of each second, as Redis 7.0 writes (redis-check-aof `--truncate-to-timestamp`
    /// cuts at them); `last_ts` is the second of the last one.
    timestamps: bool,
    last_ts: u64,
}

impl LogState {
    /// Starts a record for database `db`: a timestamp annotation when one is due, a SELECT
    /// when the last one named another. Returns the length of `buf` before it (for
    /// [`LogState::appended_since`]).
    fn begin(&mut self, db: Option<u8>) -> usize {
        let before = self.buf.len();
        if self.timestamps {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if now > self.last_ts {
                self.last_ts = now;
                let mut digits = [0u8; 20];
                self.buf.extend_from_slice(b"#TS:");
                self.buf.extend_from_slice(num_text(now, &mut digits));
                self.buf.extend_from_slice(b"\r\n");
            }
        }
        if let Some(db) = db {
            if self.db != Some(db) {
                let mut digits = [0u8; 3];
                encode(&mut self.buf, &[b"SELECT", db_text(db, &mut digits)]);
                self.db = Some(db);
            }
        }
        before
    }

    /// Accounts for what was appended since `before`; the new logical end.
    fn appended_since(&mut self, before: usize) -> u64 {
        let n = (self.buf.len() - before) as u64;
        self.appended += n;
        self.incr_size += n;
        self.appended
    }
}

fn db_text(db: u8, digits: &mut [u8; 3]) -> &[u8] {
    let mut n = db;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + n % 10;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}

fn num_text(v: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut n = v;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}

struct SyncState {
    /// Logical offset known to be written (and fsynced when `synced` says so).
    written: u64,
    synced: u64,
    last_fsync: Instant,
}

/// A command about to run whose record the store appends when it changes the key (see
/// "What is logged"); one per thread, buffers reused.
#[derive(Default)]
struct Armed {
    on: bool,
    db: u8,
    key: Vec<u8>,
    /// The command, RESP-encoded.
    rec: Vec<u8>,
    /// Changes the store reported for the key while armed.
    fired: u32,
}

thread_local! {
    static ARMED: RefCell<Armed> = RefCell::default();
    /// Logical end of the last record this thread appended (what it must see committed
    /// before it replies under `appendfsync always`).
    static LAST_END: Cell<u64> = const { Cell::new(0) };
}

/// Whether this thread appended records not yet committed (`appendfsync always`).
pub(super) fn owes() -> bool {
    LAST_END.with(|e| e.get()) != 0
}

/// The end of this thread's uncommitted records (0: none), now handed over.
pub(super) fn take_end() -> u64 {
    LAST_END.with(|e| e.replace(0))
}

fn note_end(end: u64) {
    LAST_END.with(|e| e.set(e.get().max(end)));
}

/// The store's change log: appends records under the locks of the change.
struct Hook {
    state: Arc<Mutex<LogState>>,
}

impl ChangeLog for Hook {
    fn modified(&self, key: &[u8], expiry: Option<Expiry>) {
        ARMED.with(|a| {
            let mut a = a.borrow_mut();
            if !a.on || a.key != key {
                return;
            }
            a.fired += 1;
            if a.fired > 1 {
                // A second change by one command: the caller logs the key's state after.
                return;
            }
            let mut st = self.state.lock();
            let before = st.begin(Some(a.db));
            st.buf.extend_from_slice(&a.rec);
            if let Some(Expiry::AtMs(ms)) = expiry {
                // Relative commands on a key with an expiry: the expiry again, so a replay
                // that finds the key already expired ends as the original did.
                let mut digits = [0u8; 20];
                encode(&mut st.buf, &[b"PEXPIREAT", key, num_text(ms, &mut digits)]);
            }
            note_end(st.appended_since(before));
        });
    }

    fn flushed(&self, db: Option<u8>) {
        let mut st = self.state.lock();
        let before = st.begin(db);
        match db {
            None => encode(&mut st.buf, &[b"FLUSHALL"]),
            Some(_) => encode(&mut st.buf, &[b"FLUSHDB"]),
        }
        note_end(st.appended_since(before));
    }

    fn swapped(&self, a: u8, b: u8) {
        let mut st = self.state.lock();
        let before = st.begin(None);
        let (mut da, mut db) = ([0u8; 3], [0u8; 3]);
        encode(
            &mut st.buf,
            &[b"SWAPDB", db_text(a, &mut da), db_text(b, &mut db)],
        );
        note_end(st.appended_since(before));
    }
}

/// The append-only file (lives in [`super::Persistence`]).
pub struct AofLog {
    on: AtomicBool,
    fsync: AtomicU8,
    state: Arc<Mutex<LogState>>,
    sync: Mutex<SyncState>,
    pub last_write_ok: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    /// Set to stop the rewrite in progress (`appendonly no`).
    rewrite_abort: Arc<AtomicBool>,
    /// Set under the state lock at exit: no manifest is written after it (a write cut by
    /// the exit would leave `temp-<name>.manifest` behind).
    exiting: AtomicBool,
    pub rewrites: AtomicU64,
    /// Rewrites that failed since the last one that succeeded (INFO
    /// `aof_rewrites_consecutive_failures`).
    pub rewrite_failures: AtomicU64,
    /// Logging is on but its files are not complete yet: the rewrite that turning it on
    /// asked for has not ended well (Redis's `AOF_WAIT_REWRITE`).
    waiting_rewrite: AtomicBool,
    /// Counts turning logging on or off: a rewrite completes the files only when logging
    /// was on at its switch and has not been turned off (or on again) since.
    on_epoch: AtomicU64,
    /// Records skipped because the value's type cannot be logged.
    pub unlogged: AtomicU64,
    /// Logical offset known to be fsynced (published for the workers' group commit).
    synced: AtomicU64,
    /// Orders reading the function libraries with appending their record. Lock order:
    /// this → the scripting engine (released) → the log mutex; never held with a stripe.
    functions: Mutex<()>,
}

impl Default for AofLog {
    fn default() -> Self {
        AofLog {
            on: AtomicBool::new(false),
            fsync: AtomicU8::new(FSYNC_EVERYSEC),
            state: Arc::new(Mutex::new(LogState {
                buf: Vec::new(),
                db: None,
                appended: 0,
                file: None,
                old_tail: None,
                dir: PathBuf::new(),
                manifest: Manifest::default(),
                incr_size: 0,
                base_size: 0,
                function_gen: 0,
                function_rec: None,
                timestamps: false,
                last_ts: 0,
            })),
            sync: Mutex::new(SyncState {
                written: 0,
                synced: 0,
                last_fsync: Instant::now(),
            }),
            last_write_ok: AtomicBool::new(true),
            rewrite_in_progress: AtomicBool::new(false),
            last_rewrite_ok: AtomicBool::new(true),
            rewrite_abort: Arc::default(),
            exiting: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            waiting_rewrite: AtomicBool::new(false),
            on_epoch: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            functions: Mutex::new(()),
        }
    }
}

pub(super) fn names(d: &crate::directives::Directives) -> (PathBuf, String) {
    let dir = PathBuf::from(d.get("dir").unwrap_or_else(|| ".".into()));
    let sub = d
        .get("appenddirname")
        .unwrap_or_else(|| "appendonlydir".into());
    (
        dir.join(sub),
        d.get("appendfilename")
            .unwrap_or_else(|| "appendonly.aof".into()),
    )
}

pub(super) fn write_manifest(dir: &Path, name: &str, m: &Manifest) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{name}.manifest"));
    let mut f = File::create(&tmp)?;
    f.write_all(m.render().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{name}.manifest")))?;
    sync_dir(dir)
}

/// One key's state as a record.
fn encode_state(buf: &mut Vec<u8>, key: &[u8], cur: Option<&Current<'_>>, unlogged: &AtomicU64) {
    let Some(cur) = cur else {
        encode(buf, &[b"DEL", key]);
        return;
    };
    let ms = cur.expiry().unix_ms();
    if cur.item_type() != ItemType::String {
        let Some(value) = super::typed::value_of(cur) else {
            unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut cmds = Vec::new();
        super::typed::rebuild_commands(key, &value, ms.map(|m| m as i64), &mut cmds);
        for c in &cmds {
            let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            encode(buf, &refs);
        }
        return;
    }
    let Some(value) = cur.bytes() else { return };
    let ms_text = ms.map(|m| m.to_string());
    if cur.flags() != 0 {
        buf.extend_from_slice(MC_FLAGS_ANNOTATION);
        buf.extend_from_slice(cur.flags().to_string().as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    if let Some(at) = &ms_text {
        encode(buf, &[b"SET", key, &value, b"PXAT", at.as_bytes()]);
    } else {
        encode(buf, &[b"SET", key, &value]);
    }
}

impl AofLog {
    /// Whether writes are being logged (one relaxed load on every write).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Turns logging on or off, in the store's change log too.
    fn set_on(&self, ctx: &Context, on: bool) {
        self.on.store(on, Ordering::Relaxed);
        let hook: Arc<dyn ChangeLog> = Arc::new(Hook {
            state: self.state.clone(),
        });
        ctx.store.set_change_log(Some(hook), on);
    }

    /// Logs the state of `keys` in database `db` (after a write to them): each key is read
    /// and its record appended under the key's stripe lock.
    pub fn record_keys(&self, ctx: &Context, db: u8, keys: &mut dyn Iterator<Item = &[u8]>) {
        for key in keys {
            ctx.store.inspect(db, key, |cur| {
                let mut st = self.state.lock();
                let before = st.begin(Some(db));
                encode_state(&mut st.buf, key, cur, &self.unlogged);
                note_end(st.appended_since(before));
            });
        }
        self.commit_mine();
    }

    /// Logs the expiry of `key` after EXPIRE and the like: `PEXPIREAT key ms` or
    /// `PERSIST key` (`DEL key` when the command removed it), not the whole value.
    pub fn record_expiry(&self, ctx: &Context, db: u8, key: &[u8]) {
        ctx.store.inspect(db, key, |cur| {
            let mut st = self.state.lock();
            let before = st.begin(Some(db));
            match cur.map(|c| c.expiry()) {
                None => encode(&mut st.buf, &[b"DEL", key]),
                Some(Expiry::AtMs(ms)) => {
                    let mut digits = [0u8; 20];
                    encode(&mut st.buf, &[b"PEXPIREAT", key, num_text(ms, &mut digits)]);
                }
                Some(Expiry::Never) => encode(&mut st.buf, &[b"PERSIST", key]),
            }
            note_end(st.appended_since(before));
        });
        self.commit_mine();
    }

    /// Logs the function libraries after FUNCTION LOAD / DELETE / FLUSH / RESTORE changed
    /// them: `FUNCTION RESTORE <payload> FLUSH` holding every library (`FUNCTION FLUSH`
    /// when there is none), which redis-server 7.0 replays too. As for keys, the state and
    /// not the command: two workers' commands may append in another order than they ran,
    /// but the last record is read after the last change.
    pub fn record_functions(&self, ctx: &Context) {
        let order = self.functions.lock();
        let payload = ctx.scripting.function_dump();
        let mut rec = Vec::new();
        if payload.len() <= 10 {
            encode(&mut rec, &[b"FUNCTION", b"FLUSH"]);
        } else {
            encode(&mut rec, &[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]);
        }
        let mut st = self.state.lock();
        let before = st.begin(None);
        st.buf.extend_from_slice(&rec);
        st.function_gen += 1;
        st.function_rec = Some(rec);
        note_end(st.appended_since(before));
        drop(st);
        drop(order);
        self.commit_mine();
    }

    /// Under `appendfsync always`: waits until every record this thread appended is on
    /// disk (the reply goes out after this).
    pub fn commit_mine(&self) {
        let end = LAST_END.with(|e| e.get());
        if end == 0 {
            return;
        }
        if self.fsync.load(Ordering::Relaxed) != FSYNC_ALWAYS {
            LAST_END.with(|e| e.set(0));
            return;
        }
        if super::group::in_turn() {
            // A worker: its turn's end asks for one fsync for all its replies.
            return;
        }
        LAST_END.with(|e| e.set(0));
        self.commit(end, true);
    }

    /// Arms the log for a single-key command about to run: if the store reports exactly
    /// one change to `key`, the command itself is the record (appended under the key's
    /// lock). `args` are the command's arguments.
    pub fn arm(&self, db: u8, key: &[u8], args: &mut dyn ExactSizeIterator<Item = &[u8]>) {
        ARMED.with(|a| {
            let mut a = a.borrow_mut();
            a.on = true;
            a.db = db;
            a.fired = 0;
            a.key.clear();
            a.key.extend_from_slice(key);
            a.rec.clear();
            super::aof::encode_iter(&mut a.rec, args);
        });
    }

    /// Ends [`AofLog::arm`]: true when the command's record was appended (one change),
    /// false when the caller must log the key's state (no change seen, or several).
    pub fn disarm(&self) -> bool {
        ARMED.with(|a| {
            let mut a = a.borrow_mut();
            a.on = false;
            a.fired == 1
        })
    }

    /// Writes everything appended up to at least `end` (fsyncing it when `fsync`). One
    /// thread at a time; those waiting find their bytes covered by the one before.
    fn commit(&self, end: u64, fsync: bool) {
        let mut sync = self.sync.lock();
        if (fsync && sync.synced >= end) || (!fsync && sync.written >= end) {
            return;
        }
        let (tail, bytes, upto, file) = {
            let mut st = self.state.lock();
            let tail = st.old_tail.take();
            let bytes = std::mem::take(&mut st.buf);
            let file = st.file.as_ref().and_then(|f| f.try_clone().ok());
            (tail, bytes, st.appended, file)
        };
        let mut ok = true;
        if let Some((tail, Some(mut old))) = tail {
            // Records from before a rewrite's switch: into the old file, on disk, first.
            ok &= old.write_all(&tail).is_ok() && old.sync_data().is_ok();
        }
        if let Some(mut file) = file {
            ok &= file.write_all(&bytes).is_ok();
            if ok && fsync {
                ok = file.sync_data().is_ok();
            }
        }
        sync.written = upto;
        if fsync {
            sync.synced = upto;
            sync.last_fsync = Instant::now();
            self.synced.fetch_max(upto, Ordering::Release);
        }
        self.last_write_ok.store(ok, Ordering::Relaxed);
        // Give the buffer's capacity back for the next records.
        let mut st = self.state.lock();
        if st.buf.is_empty() && bytes.capacity() <= 1 << 20 {
            let mut bytes = bytes;
            bytes.clear();
            st.buf = bytes;
        }
    }

    /// Whether `appendfsync always` is in force (and logging on).
    pub fn is_always(&self) -> bool {
        self.is_on() && self.fsync.load(Ordering::Relaxed) == FSYNC_ALWAYS
    }

    /// Offset known to be on disk.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Writes and fsyncs up to `end` from the calling worker (its turn's end), covering
    /// whatever every worker appended so far.
    pub fn sync_now(&self, end: u64) {
        self.commit(end, true);
    }

    /// The `slabd-aof` thread's tick: write what is buffered; fsync once a second under
    /// `everysec`.
    fn tick(&self) {
        let end = self.state.lock().appended;
        let policy = self.fsync.load(Ordering::Relaxed);
        let due = policy == FSYNC_EVERYSEC
            && self.sync.lock().last_fsync.elapsed() >= Duration::from_secs(1);
        self.commit(end, due);
        if due {
            // Nothing new but an fsync is still owed for bytes written earlier.
            let mut sync = self.sync.lock();
            if sync.synced < sync.written {
                if let Some(f) = self.state.lock().file.as_ref() {
                    let ok = f.sync_data().is_ok();
                    self.last_write_ok.store(ok, Ordering::Relaxed);
                }
                sync.synced = sync.written;
                self.synced.fetch_max(sync.synced, Ordering::Release);
            }
            sync.last_fsync = Instant::now();
        }
    }

    /// Sizes for INFO: (current incremental + base, base).
    pub fn sizes(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.incr_size + st.base_size, st.base_size)
    }

    /// BGREWRITEAOF (and turning the AOF on): a new incremental file named in the
    /// manifest, a snapshot as the new base (records switch to the new file at the
    /// snapshot's point in time), then a manifest naming only those two; the old files
    /// are deleted after it.
    pub fn rewrite(&self, ctx: &Context) -> std::io::Result<()> {
        if !self.claim_rewrite() {
            return Err(std::io::Error::other("rewrite already in progress"));
        }
        self.run_claimed_rewrite(ctx)
    }

    /// Marks a rewrite in progress (false: one already is), as BGREWRITEAOF replies: from
    /// here on `appendonly no` stops it, even before the persistence thread starts it.
    pub fn claim_rewrite(&self) -> bool {
        if self.rewrite_in_progress.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.rewrite_abort.store(false, Ordering::Relaxed);
        true
    }

    /// Runs the rewrite [`AofLog::claim_rewrite`] claimed.
    pub fn run_claimed_rewrite(&self, ctx: &Context) -> std::io::Result<()> {
        let result = if self.rewrite_abort.load(Ordering::Relaxed) {
            Err(std::io::Error::other(super::save::ABORTED))
        } else {
            self.rewrite_inner(ctx)
        };
        self.last_rewrite_ok
            .store(result.is_ok(), Ordering::Relaxed);
        let result = result.map(|covered| {
            self.rewrites.fetch_add(1, Ordering::Relaxed);
            self.rewrite_failures.store(0, Ordering::Relaxed);
            // Logging was on at the switch and has stayed on: the base holds everything
            // before it and the new file everything after, so the files are complete.
            if covered == Some(self.on_epoch.load(Ordering::Acquire))
                && self.waiting_rewrite.swap(false, Ordering::AcqRel)
            {
                eprintln!("Background AOF rewrite finished successfully");
            }
        });
        if result.is_err() {
            self.rewrite_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.rewrite_in_progress.store(false, Ordering::Release);
        result
    }

    /// The rewrite's steps; `Some(epoch)` when logging was on at its switch (see
    /// `on_epoch`).
    fn rewrite_inner(&self, ctx: &Context) -> std::io::Result<Option<u64>> {
        let (dir, name) = names(&ctx.directives);
        std::fs::create_dir_all(&dir)?;
        // 1. The new incremental file, named in the manifest after the old ones (a crash
        //    from here on replays old base, old incrementals, then the new one).
        let (incr, seq, replaced) = {
            let mut st = self.state.lock();
            let seq = st.manifest.incrs.last().map_or(0, |f| f.seq) + 1;
            let incr = ManifestFile {
                name: format!("{name}.{seq}.incr.aof"),
                seq,
                kind: FileKind::Incr,
            };
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(&incr.name))?;
            self.refuse_if_exiting()?;
            let replaced = st.manifest.incrs.clone();
            st.manifest.incrs.push(incr.clone());
            write_manifest(&dir, &name, &st.manifest)?;
            st.dir = dir.clone();
            (Some(file), seq, replaced)
        };
        let _ = seq;
        // 2. The base. At its point in time (every stripe locked) later records go to the
        //    new file; earlier ones still owed to the old file go there on the next commit.
        // The base's libraries, and how many function records were appended by then.
        let (functions, function_gen) = {
            let _order = self.functions.lock();
            let codes = super::service::library_codes(ctx);
            (codes, self.state.lock().function_gen)
        };
        let mut incr = incr;
        let state = &self.state;
        let mut covered = None;
        let mut switch = || {
            // Every stripe is locked: no record is being appended.
            if self.on.load(Ordering::Acquire) {
                covered = Some(self.on_epoch.load(Ordering::Acquire));
            }
            let mut st = state.lock();
            let tail = std::mem::take(&mut st.buf);
            let old = std::mem::replace(&mut st.file, incr.take());
            st.old_tail = match st.old_tail.take() {
                // Two switches without a commit between: the first tail goes first.
                Some((mut first, f)) if f.is_some() => {
                    first.extend_from_slice(&tail);
                    Some((first, f))
                }
                _ => Some((tail, old)),
            };
            st.db = None;
            st.incr_size = 0;
            // Libraries changed after the base read them: their record went to the old
            // file; the new one starts with the latest.
            if st.function_gen != function_gen {
                if let Some(rec) = st.function_rec.clone() {
                    let before = st.begin(None);
                    st.buf.extend_from_slice(&rec);
                    st.appended_since(before);
                }
            }
        };
        let base_seq = self
            .state
            .lock()
            .manifest
            .base
            .as_ref()
            .map_or(0, |b| b.seq)
            + 1;
        // `aof-use-rdb-preamble no`: the base is commands (`.base.aof`), as Redis 7.0's.
        let commands = ctx.directives.int("aof-use-rdb-preamble") == 0;
        let base_name = format!(
            "{name}.{base_seq}.base.{}",
            if commands { "aof" } else { "rdb" }
        );
        let opts = super::rdb::WriterOptions {
            compress: ctx.directives.int("rdbcompression") != 0,
            checksum: true,
        };
        let pre = super::save::Preamble {
            aof_base: true,
            functions: &functions,
            abort: self.rewrite_abort.clone(),
            commands,
            timestamp: ctx.directives.int("aof-timestamp-enabled") != 0,
        };
        let report =
            super::save::save_rdb_with(&ctx.store, &dir, &base_name, opts, pre, &mut switch)?;
        // The tail of the old file is obsolete now, but written before the manifest stops
        // naming it, so a crash in between still finds it whole.
        let end = self.state.lock().appended;
        self.commit(end, true);
        // 3. The manifest names the new base and the new incremental file only; then the
        //    files it no longer names are deleted.
        {
            let mut st = self.state.lock();
            self.refuse_if_exiting()?;
            let old_base = st.manifest.base.replace(ManifestFile {
                name: base_name,
                seq: base_seq,
                kind: FileKind::Base,
            });
            st.manifest.incrs.retain(|f| !replaced.contains(f));
            st.manifest.to_history(old_base, &replaced);
            write_manifest(&dir, &name, &st.manifest)?;
            st.base_size = report.bytes;
        }
        self.delete_history(ctx);
        Ok(covered)
    }

    /// Redis 7.0's `aofDelHistoryFiles`: unless `aof-disable-auto-gc` is on, the files the
    /// manifest keeps as history are dropped from it, then deleted (after a rewrite, at
    /// start-up, and when the setting goes back to `no`).
    pub fn delete_history(&self, ctx: &Context) {
        if ctx.directives.int("aof-disable-auto-gc") != 0 {
            return;
        }
        let (dir, name) = names(&ctx.directives);
        let doomed = {
            let mut st = self.state.lock();
            if st.manifest.history.is_empty() || self.exiting.load(Ordering::Acquire) {
                return;
            }
            let doomed = std::mem::take(&mut st.manifest.history);
            if write_manifest(&dir, &name, &st.manifest).is_err() {
                st.manifest.history = doomed;
                return;
            }
            doomed
        };
        for f in doomed {
            let _ = std::fs::remove_file(dir.join(&f.name));
        }
    }

    /// Start-up with `appendonly yes`: replays the manifest's files (or creates the layout),
    /// then starts logging. Returns keys replayed.
    pub fn start(&self, ctx: &Context) -> Result<u64, String> {
        let (dir, name) = names(&ctx.directives);
        self.fsync
            .store(ctx.directives.int("appendfsync") as u8, Ordering::Relaxed);
        super::aof::upgrade_old_style(&ctx.directives)?;
        let mut replayed = 0;
        if let Some((mut m, n)) = self.replay_manifest(ctx)? {
            // A base and no incremental file (an upgraded old-style file): logging goes to
            // a new one, as Redis's `aofOpenIfNeededOnServerStart`.
            if m.base.is_some() && m.incrs.is_empty() {
                let seq = 1;
                m.incrs.push(ManifestFile {
                    name: format!("{name}.{seq}.incr.aof"),
                    seq,
                    kind: FileKind::Incr,
                });
                write_manifest(&dir, &name, &m).map_err(|e| e.to_string())?;
            }
            replayed = n;
            let mut st = self.state.lock();
            st.base_size = m
                .base
                .as_ref()
                .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
                .map_or(0, |md| md.len());
            st.manifest = m;
            if let Some(last) = st.manifest.incrs.last() {
                let path = dir.join(&last.name);
                st.incr_size = std::fs::metadata(&path).map_or(0, |md| md.len());
                st.file = Some(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| e.to_string())?,
                );
                st.dir = dir.clone();
            }
        }
        let needs_layout = self.state.lock().file.is_none();
        self.set_on(ctx, true);
        if needs_layout {
            self.rewrite(ctx).map_err(|e| {
                format!(
                    "Can't create the append only file in {}: {e}",
                    dir.display()
                )
            })?;
        }
        self.delete_history(ctx);
        Ok(replayed)
    }

    /// Replays the files the manifest names, in order (start-up, DEBUG LOADAOF): the
    /// manifest and the records replayed, or None without a manifest.
    pub fn replay_manifest(&self, ctx: &Context) -> Result<Option<(Manifest, u64)>, String> {
        let (dir, name) = names(&ctx.directives);
        let manifest_path = dir.join(format!("{name}.manifest"));
        if !manifest_path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| e.to_string())?;
        let m = Manifest::parse(&text).map_err(|e| format!("{e} ({})", manifest_path.display()))?;
        let files: Vec<ManifestFile> = m.load_order().cloned().collect();
        let last = files.len().saturating_sub(1);
        let truncate_ok = ctx.directives.int("aof-load-truncated") != 0;
        let mut replayed = 0;
        for (i, f) in files.iter().enumerate() {
            replayed += replay_file(ctx, &dir.join(&f.name), i == last && truncate_ok)?;
        }
        Ok(Some((m, replayed)))
    }

    /// Whether `appenddirname` holds a manifest.
    pub fn manifest_exists(&self, ctx: &Context) -> bool {
        let (dir, name) = names(&ctx.directives);
        dir.join(format!("{name}.manifest")).exists()
    }

    /// CONFIG SET appendonly / appendfsync at run time.
    pub fn set_policy(&self, policy: u8) {
        self.fsync.store(policy, Ordering::Relaxed);
    }

    /// Turns logging on at run time (CONFIG SET appendonly yes), as Redis's
    /// `startAppendOnly`: records are appended from now on, and the files become complete
    /// when a rewrite whose switch comes after this ends well (the caller starts one in the
    /// background; until then records before its switch go nowhere, since its base holds
    /// them). False when logging was already on.
    pub fn begin_enable(&self, ctx: &Context) -> bool {
        if self.is_on() {
            return false;
        }
        // `appendfsync` as configured: only start-up with the AOF on read it before.
        self.fsync
            .store(ctx.directives.int("appendfsync") as u8, Ordering::Relaxed);
        self.waiting_rewrite.store(true, Ordering::Release);
        self.on_epoch.fetch_add(1, Ordering::AcqRel);
        self.set_on(ctx, true);
        true
    }

    /// `aof-timestamp-enabled` (start-up and CONFIG SET).
    pub fn set_timestamps(&self, on: bool) {
        let mut st = self.state.lock();
        st.timestamps = on;
        st.last_ts = 0;
    }

    /// Logging is on and waits for the rewrite that completes its files.
    pub fn waiting_rewrite(&self) -> bool {
        self.waiting_rewrite.load(Ordering::Acquire)
    }

    /// Stops or resumes logging without touching the files (DEBUG RELOAD).
    pub fn pause(&self, ctx: &Context, paused: bool) {
        self.set_on(ctx, !paused);
    }

    /// Turns logging off (CONFIG SET appendonly no): flushes and closes the file.
    pub fn disable(&self, ctx: &Context) {
        if self.rewrite_in_progress.load(Ordering::Relaxed) {
            // Redis kills its rewrite child here; slabd's rewrite thread stops at its next key.
            eprintln!("Killing running AOF rewrite child (slabd: the rewrite thread stops)");
            self.rewrite_abort.store(true, Ordering::Relaxed);
        }
        self.waiting_rewrite.store(false, Ordering::Release);
        self.on_epoch.fetch_add(1, Ordering::AcqRel);
        self.set_on(ctx, false);
        let end = self.state.lock().appended;
        self.commit(end, true);
        self.state.lock().file = None;
    }

    /// At exit, as Redis's `killAppendOnlyChild`: a rewrite still running is stopped (its
    /// thread ends at its next key) and its temp file removed, so no
    /// `temp-rewriteaof-bg-<pid>.aof` is left behind; the files the manifest names are
    /// complete without it.
    pub fn stop_rewrite_at_exit(&self, ctx: &Context) {
        self.stop_rewrite_thread_at_exit(ctx);
        // Every manifest write holds the state lock from its temp file to the rename: once
        // the lock is ours, none is half done, and none starts after `exiting`.
        let _st = self.state.lock();
        self.exiting.store(true, Ordering::Release);
        let (dir, name) = names(&ctx.directives);
        let _ = std::fs::remove_file(dir.join(format!("temp-{name}.manifest")));
    }

    /// A manifest write refused at exit (see `exiting`); call it holding the state lock.
    fn refuse_if_exiting(&self) -> std::io::Result<()> {
        if self.exiting.load(Ordering::Acquire) {
            return Err(std::io::Error::other(super::save::ABORTED));
        }
        Ok(())
    }

    fn stop_rewrite_thread_at_exit(&self, ctx: &Context) {
        if !self.rewrite_in_progress.load(Ordering::Acquire) {
            return;
        }
        eprintln!("There is a child rewriting the AOF. Killing it!");
        self.rewrite_abort.store(true, Ordering::Relaxed);
        // The stopped rewrite removes its file itself; wait a little for that, and remove
        // it here whatever it does (one waiting behind a save has not made it yet).
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.rewrite_in_progress.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (dir, _) = names(&ctx.directives);
        let _ = std::fs::remove_file(super::save::temp_path(&dir, true));
    }

    /// Runs the logging thread's loop until the process ends.
    pub fn run(&self, ctx: &Context) {
        loop {
            let on = self.is_on();
            std::thread::sleep(Duration::from_millis(if on { 10 } else { 100 }));
            if on {
                ctx.store.apply_due_flushes();
                self.tick();
                self.maybe_auto_rewrite(ctx);
            }
        }
    }

    fn maybe_auto_rewrite(&self, ctx: &Context) {
        let pct = ctx.directives.int("auto-aof-rewrite-percentage");
        if pct <= 0 || self.rewrite_in_progress.load(Ordering::Relaxed) {
            return;
        }
        let min = ctx.directives.int("auto-aof-rewrite-min-size").max(0) as u64;
        let (total, base) = self.sizes();
        let base = base.max(1);
        if total >= min && total.saturating_sub(base) * 100 / base >= pct as u64 {
            // On the persistence thread, as BGREWRITEAOF: this thread keeps writing and
            // fsyncing the log meanwhile (and a save in progress goes first).
            let _ = ctx.persist.bgrewriteaof();
        }
    }

    /// Flushes and fsyncs everything (shutdown).
    pub fn finish(&self) {
        if self.is_on() {
            let end = self.state.lock().appended;
            self.commit(end, true);
        }
    }
}

/// Logs a memcached command's key (database 0) after it ran.
pub fn record_memcache(ctx: &Context, key: &[u8]) {
    ctx.persist
        .aof
        .record_keys(ctx, 0, &mut std::iter::once(key));
}

/// After memcached's `flush_all`: the store logged it as FLUSHDB of database 0 when it
/// took effect (a delayed `flush_all <n>` when it comes due: `Store::apply_due_flushes`,
/// on the AOF thread); wait for it under `appendfsync always`.
pub fn record_memcache_flush(ctx: &Context) {
    ctx.persist.aof.commit_mine();
}
