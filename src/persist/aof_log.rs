//! The append-only file at run time: logging, fsync policies, the multi-part layout, the
//! background rewrite and replay at start-up.
//!
//! # What is logged
//!
//! After a write command of either protocol succeeds, each key it touched is logged as its
//! *state*, read back under the key's stripe lock while the log's mutex is held:
//! `SET key value [PXAT ms]` for a string (`SLABD.MCSET key value flags ms` when it has
//! memcached client flags), `DEL key` when it is gone. Whole-keyspace commands (FLUSHALL,
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
//! sent. Group commit: one thread fsyncs everything appended so far while the others wait
//! for the fsync mutex and find their record already covered. `everysec`: the
//! `slabd-aof` thread writes the buffer every 10 ms and fsyncs once a second. `no`: it
//! writes, the kernel decides when to flush.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::aof::{encode, CommandReader, FileKind, Manifest, ManifestFile};
use super::save::sync_dir;
use crate::commands::Context;
use crate::storage::{Current, Expiry, ItemType, Mode, Write};

/// Command name of slabd's record for a memcached item with client flags.
pub const MCSET: &[u8] = b"SLABD.MCSET";

const FSYNC_ALWAYS: u8 = 0;
const FSYNC_EVERYSEC: u8 = 1;

struct LogState {
    buf: Vec<u8>,
    /// Database of the last SELECT written (None: write one before the next record).
    db: Option<u8>,
    /// Bytes ever appended to `buf` (a logical offset for group commit).
    appended: u64,
    file: Option<File>,
    dir: PathBuf,
    manifest: Manifest,
    /// Size of the current incremental file, counting what is still in `buf`.
    incr_size: u64,
    base_size: u64,
}

struct SyncState {
    /// Logical offset known to be written (and fsynced when `synced` says so).
    written: u64,
    synced: u64,
    last_fsync: Instant,
}

/// The append-only file (lives in [`super::Persistence`]).
pub struct AofLog {
    on: AtomicBool,
    fsync: AtomicU8,
    state: Mutex<LogState>,
    sync: Mutex<SyncState>,
    pub last_write_ok: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    /// Records skipped because the value's type cannot be logged yet (collections).
    pub unlogged: AtomicU64,
}

impl Default for AofLog {
    fn default() -> Self {
        AofLog {
            on: AtomicBool::new(false),
            fsync: AtomicU8::new(FSYNC_EVERYSEC),
            state: Mutex::new(LogState {
                buf: Vec::new(),
                db: None,
                appended: 0,
                file: None,
                dir: PathBuf::new(),
                manifest: Manifest::default(),
                incr_size: 0,
                base_size: 0,
            }),
            sync: Mutex::new(SyncState {
                written: 0,
                synced: 0,
                last_fsync: Instant::now(),
            }),
            last_write_ok: AtomicBool::new(true),
            rewrite_in_progress: AtomicBool::new(false),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
        }
    }
}

fn names(d: &crate::directives::Directives) -> (PathBuf, String) {
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

fn write_manifest(dir: &Path, name: &str, m: &Manifest) -> std::io::Result<()> {
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
        let flags = cur.flags().to_string();
        let at = ms_text.as_deref().unwrap_or("0");
        encode(buf, &[MCSET, key, &value, flags.as_bytes(), at.as_bytes()]);
    } else if let Some(at) = &ms_text {
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

    /// Logs the state of `keys` in database `db` (after a write to them).
    pub fn record_keys(&self, ctx: &Context, db: u8, keys: &mut dyn Iterator<Item = &[u8]>) {
        let end = {
            let mut st = self.state.lock();
            let before = st.buf.len();
            if st.db != Some(db) {
                encode(&mut st.buf, &[b"SELECT", db.to_string().as_bytes()]);
                st.db = Some(db);
            }
            for key in keys {
                let st = &mut *st;
                ctx.store.inspect(db, key, |cur| {
                    encode_state(&mut st.buf, key, cur, &self.unlogged)
                });
            }
            self.appended_locked(&mut st, before)
        };
        self.after_append(end);
    }

    /// Logs a whole-keyspace command as itself (`db` for FLUSHDB's SELECT).
    pub fn record_command(
        &self,
        ctx: &Context,
        db: u8,
        args: &[&[u8]],
        apply: impl FnOnce(&Context),
    ) {
        let end = {
            let mut st = self.state.lock();
            let before = st.buf.len();
            // Applied under the log mutex, so no key record is read between the command
            // and its record.
            apply(ctx);
            if st.db != Some(db) {
                encode(&mut st.buf, &[b"SELECT", db.to_string().as_bytes()]);
                st.db = Some(db);
            }
            encode(&mut st.buf, args);
            self.appended_locked(&mut st, before)
        };
        self.after_append(end);
    }

    fn appended_locked(&self, st: &mut LogState, before: usize) -> u64 {
        let n = (st.buf.len() - before) as u64;
        st.appended += n;
        st.incr_size += n;
        st.appended
    }

    fn after_append(&self, end: u64) {
        if self.fsync.load(Ordering::Relaxed) == FSYNC_ALWAYS {
            self.commit(end, true);
        }
    }

    /// Writes everything appended up to at least `end` (fsyncing it when `fsync`). One
    /// thread at a time; those waiting find their bytes covered by the one before.
    fn commit(&self, end: u64, fsync: bool) {
        let mut sync = self.sync.lock();
        if (fsync && sync.synced >= end) || (!fsync && sync.written >= end) {
            return;
        }
        let (bytes, upto, file) = {
            let mut st = self.state.lock();
            let bytes = std::mem::take(&mut st.buf);
            let file = st.file.as_ref().and_then(|f| f.try_clone().ok());
            (bytes, st.appended, file)
        };
        let Some(mut file) = file else { return };
        let mut ok = file.write_all(&bytes).is_ok();
        sync.written = upto;
        if ok && fsync {
            ok = file.sync_data().is_ok();
            sync.synced = upto;
            sync.last_fsync = Instant::now();
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
            }
            sync.last_fsync = Instant::now();
        }
    }

    /// Sizes for INFO: (current incremental + base, base).
    pub fn sizes(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.incr_size + st.base_size, st.base_size)
    }

    /// Switches to a new incremental file (named in the manifest before any record goes
    /// to it). Returns the manifest's incremental files that the new base will replace.
    fn open_new_incr(&self, ctx: &Context) -> std::io::Result<Vec<ManifestFile>> {
        let (dir, name) = names(&ctx.directives);
        let _sync = self.sync.lock();
        let mut st = self.state.lock();
        // Flush what belongs to the old file.
        let bytes = std::mem::take(&mut st.buf);
        if let Some(f) = st.file.as_mut() {
            f.write_all(&bytes)?;
            f.sync_data()?;
        }
        let seq = st.manifest.incrs.last().map_or(0, |f| f.seq) + 1;
        let file_name = format!("{name}.{seq}.incr.aof");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&file_name))?;
        let old = st.manifest.incrs.clone();
        st.manifest.incrs.push(ManifestFile {
            name: file_name,
            seq,
            kind: FileKind::Incr,
        });
        write_manifest(&dir, &name, &st.manifest)?;
        st.file = Some(file);
        st.db = None;
        st.incr_size = 0;
        st.dir = dir;
        Ok(old)
    }

    /// BGREWRITEAOF (and turning the AOF on): new incremental file, then a snapshot as the
    /// new base, then a manifest naming only those two; the old files are deleted.
    pub fn rewrite(&self, ctx: &Context) -> std::io::Result<()> {
        if self.rewrite_in_progress.swap(true, Ordering::AcqRel) {
            return Err(std::io::Error::other("rewrite already in progress"));
        }
        let result = self.rewrite_inner(ctx);
        self.last_rewrite_ok
            .store(result.is_ok(), Ordering::Relaxed);
        if result.is_ok() {
            self.rewrites.fetch_add(1, Ordering::Relaxed);
        }
        self.rewrite_in_progress.store(false, Ordering::Release);
        result
    }

    fn rewrite_inner(&self, ctx: &Context) -> std::io::Result<()> {
        let (dir, name) = names(&ctx.directives);
        std::fs::create_dir_all(&dir)?;
        let replaced = self.open_new_incr(ctx)?;
        let seq = self
            .state
            .lock()
            .manifest
            .base
            .as_ref()
            .map_or(0, |b| b.seq)
            + 1;
        let base_name = format!("{name}.{seq}.base.rdb");
        let opts = super::rdb::WriterOptions {
            compress: ctx.directives.int("rdbcompression") != 0,
            checksum: true,
        };
        let report = super::save::save_rdb_as(&ctx.store, &dir, &base_name, opts, true)?;
        let mut st = self.state.lock();
        let old_base = st.manifest.base.replace(ManifestFile {
            name: base_name,
            seq,
            kind: FileKind::Base,
        });
        st.manifest.incrs.retain(|f| !replaced.contains(f));
        write_manifest(&dir, &name, &st.manifest)?;
        st.base_size = report.bytes;
        drop(st);
        for f in old_base.iter().chain(replaced.iter()) {
            let _ = std::fs::remove_file(dir.join(&f.name));
        }
        Ok(())
    }

    /// Start-up with `appendonly yes`: replays the manifest's files (or creates the layout),
    /// then starts logging. Returns keys replayed.
    pub fn start(&self, ctx: &Context) -> Result<u64, String> {
        let (dir, name) = names(&ctx.directives);
        self.fsync
            .store(ctx.directives.int("appendfsync") as u8, Ordering::Relaxed);
        let manifest_path = dir.join(format!("{name}.manifest"));
        let mut replayed = 0;
        if manifest_path.exists() {
            let text = std::fs::read_to_string(&manifest_path).map_err(|e| e.to_string())?;
            let m =
                Manifest::parse(&text).map_err(|e| format!("{e} ({})", manifest_path.display()))?;
            let files: Vec<ManifestFile> = m.load_order().cloned().collect();
            let last = files.len().saturating_sub(1);
            let truncate_ok = ctx.directives.int("aof-load-truncated") != 0;
            for (i, f) in files.iter().enumerate() {
                replayed += replay_file(ctx, &dir.join(&f.name), i == last && truncate_ok)?;
            }
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
        self.on.store(true, Ordering::Relaxed);
        if needs_layout {
            self.rewrite(ctx).map_err(|e| {
                format!(
                    "Can't create the append only file in {}: {e}",
                    dir.display()
                )
            })?;
        }
        Ok(replayed)
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

    /// Turns logging on at run time (CONFIG SET appendonly yes): layout, then base.
    pub fn enable(&self, ctx: &Context) -> std::io::Result<()> {
        if self.is_on() {
            return Ok(());
        }
        self.on.store(true, Ordering::Relaxed);
        self.rewrite(ctx)
    }

    /// Turns logging off (CONFIG SET appendonly no): flushes and closes the file.
    pub fn disable(&self) {
        self.on.store(false, Ordering::Relaxed);
        let end = self.state.lock().appended;
        self.commit(end, true);
        self.state.lock().file = None;
    }

    /// Runs the logging thread's loop until the process ends.
    pub fn run(&self, ctx: &Context) {
        loop {
            let on = self.is_on();
            std::thread::sleep(Duration::from_millis(if on { 10 } else { 100 }));
            if on {
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
            let _ = self.rewrite(ctx);
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

/// Logs memcached's `flush_all` (without delay) as FLUSHALL.
pub fn record_memcache_flush(ctx: &Context) {
    ctx.persist
        .aof
        .record_command(ctx, 0, &[b"FLUSHALL"], |_| {});
}

/// Replays one AOF file (an RDB preamble, then commands). A torn last command is cut off
/// when `truncate_ok` (the file is truncated to its last whole command, with a warning);
/// anything else that is not a command stops start-up with the file name and offset.
fn replay_file(ctx: &Context, path: &Path, truncate_ok: bool) -> Result<u64, String> {
    let name = path.display().to_string();
    let mut head = [0u8; 5];
    let is_rdb = {
        use std::io::Read;
        let mut f =
            File::open(path).map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
        f.read(&mut head).map_err(|e| e.to_string())? == 5 && &head == b"REDIS"
    };
    let mut keys = 0;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let (reader, start) = if is_rdb {
        let mut replayer = Replayer::new(ctx);
        let mut other = |e: &super::value::Entry| replayer.rebuild(e);
        let (report, used, rest) = super::load::load_rdb_stream(
            &ctx.store,
            BufReader::new(file),
            &name,
            super::unix_ms(),
            &mut other,
        )
        .map_err(|e| e.to_string())?;
        keys += report.keys_loaded;
        (rest, used)
    } else {
        (BufReader::new(file), 0)
    };
    let mut cmds = CommandReader::new(reader, start);
    let mut replayer = Replayer::new(ctx);
    loop {
        match cmds.next() {
            Ok(Some(args)) => {
                replayer.apply(&args);
                keys += 1;
            }
            Ok(None) => break,
            Err(super::aof::AofError::Truncated { valid_up_to }) if truncate_ok => {
                eprintln!("!!! Warning: short read while loading the AOF file {name}!!!");
                eprintln!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
                let f = OpenOptions::new().write(true).open(path).map_err(|e| e.to_string())?;
                f.set_len(valid_up_to).map_err(|e| e.to_string())?;
                f.sync_all().map_err(|e| e.to_string())?;
                eprintln!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                break;
            }
            Err(super::aof::AofError::Truncated { valid_up_to }) => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {name} at offset {valid_up_to}. \
                     You can: 1) Make a backup of your AOF file, then use ./slabd check-aof --fix <filename.manifest>. \
                     2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                ));
            }
            Err(e) => {
                return Err(format!(
                    "Bad file format reading the append only file {name}: {e}. Make a backup of your AOF file, \
                     then use ./slabd check-aof --fix <filename.manifest>"
                ))
            }
        }
    }
    Ok(keys)
}

/// Runs logged commands: slabd's own records directly, everything else (a Redis AOF) through
/// the RESP command set as a trusted client.
pub(crate) struct Replayer<'a> {
    ctx: &'a Context,
    session: crate::commands::Session,
    db: u8,
    wire: Vec<u8>,
    out: Vec<u8>,
}

impl Drop for Replayer<'_> {
    fn drop(&mut self) {
        self.session.close(self.ctx);
        self.ctx.clients.close(self.session.info.id);
    }
}

impl<'a> Replayer<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        let info = ctx.clients.open("aof".into(), "aof".into(), 0);
        Replayer {
            ctx,
            session: crate::commands::Session::trusted(info, &ctx.users),
            db: 0,
            wire: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Rebuilds a collection entry (RDB load): SELECT, then its commands. False when a
    /// command failed (a type whose commands slabd does not have yet).
    pub(crate) fn rebuild(&mut self, e: &super::value::Entry) -> bool {
        let mut cmds = vec![vec![b"SELECT".to_vec(), e.db.to_string().into_bytes()]];
        super::typed::rebuild_commands(&e.key, &e.value, e.expire_ms, &mut cmds);
        let mut ok = true;
        for c in &cmds {
            self.apply(c);
            ok &= self.out.first() != Some(&b'-');
        }
        ok
    }

    fn apply(&mut self, args: &[Vec<u8>]) {
        if args[0].eq_ignore_ascii_case(MCSET) && args.len() == 5 {
            let flags = std::str::from_utf8(&args[3])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let ms: u64 = std::str::from_utf8(&args[4])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let expiry = if ms == 0 {
                Expiry::Never
            } else {
                Expiry::AtMs(ms)
            };
            self.ctx.store.store(&Write::new(
                self.db,
                &args[1],
                &args[2],
                flags,
                expiry,
                Mode::Set,
            ));
            return;
        }
        if args[0].eq_ignore_ascii_case(b"SELECT") && args.len() == 2 {
            if let Some(db) = std::str::from_utf8(&args[1])
                .ok()
                .and_then(|s| s.parse().ok())
            {
                self.db = db;
            }
        }
        self.wire.clear();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        encode(&mut self.wire, &refs);
        self.out.clear();
        let _ = crate::commands::process(self.ctx, &mut self.session, &self.wire, &mut self.out);
    }
}
