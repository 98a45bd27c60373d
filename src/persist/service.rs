//! Persistence at run time: the state INFO persistence reports, the `slabd-persist` thread
//! (BGSAVE, save points once a second), start-up load and the save at shutdown.
//!
//! ```text
//!  SAVE            client's worker: save_rdb (blocks that client only)
//!  BGSAVE          -> job channel -> slabd-persist: save_rdb while clients keep writing
//!  save points     slabd-persist, every second: changes >= N within M seconds -> BGSAVE
//!  start-up        main: load dir/dbfilename before the listeners accept
//!  SIGTERM         main, after the workers stop: SAVE when save points are configured
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::load::{load_rdb, LoadReport};
use super::rdb::WriterOptions;
use super::save::{save_rdb, Preamble, SaveReport};
use crate::commands::Context;
use crate::directives::Directives;

/// Seconds Redis waits after a failed background save before a save point may retry.
const BGSAVE_RETRY_DELAY: u64 = 5;

enum Job {
    BgSave,
    Rewrite,
}

/// What BGREWRITEAOF did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteStart {
    Started,
    /// Queued behind a background save.
    Scheduled,
}

/// Why a save did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// Another save is running.
    InProgress,
    /// The file could not be written (the message says why).
    Failed(String),
}

/// Persistence state shared by the whole server (lives in [`Context`]).
pub struct Persistence {
    /// A dump is being loaded.
    pub loading: AtomicBool,
    bgsave_in_progress: AtomicBool,
    bgsave_started: Mutex<Option<Instant>>,
    /// A rewrite waits for a background save (INFO `aof_rewrite_scheduled`).
    rewrite_scheduled: AtomicBool,
    /// When the last rewrite that was to complete the AOF's files failed (Unix seconds).
    aof_last_failure_unix: AtomicU64,
    /// Set to stop the background save in progress (FLUSHALL).
    bgsave_abort: Arc<AtomicBool>,
    /// Serializes SAVE, BGSAVE and the shutdown save.
    save_lock: Mutex<()>,
    last_save_unix: AtomicU64,
    last_bgsave_ok: AtomicBool,
    last_bgsave_secs: AtomicI64,
    last_try_unix: AtomicU64,
    /// The store's write sequence when the last successful save began.
    seq_at_save: AtomicU64,
    saves: AtomicU64,
    /// The last background save's copies at their peak (INFO `rdb_last_cow_size`).
    last_bgsave_copied: AtomicU64,
    last_load_loaded: AtomicU64,
    last_load_expired: AtomicU64,
    /// The last background save failed: write commands ask [`Persistence::refuse_writes`].
    /// One load per write command.
    pub bgsave_failed: AtomicBool,
    /// [`GATE_LOADING`] | [`GATE_BGSAVE_FAILED`]: what every command checks with one load.
    pub gate: AtomicU8,
    /// SHUTDOWN already saved (or was told not to): the exit path does nothing more.
    pub shutdown_handled: AtomicBool,
    /// The append-only file.
    pub aof: super::aof_log::AofLog,
    jobs: Sender<Job>,
    job_rx: Mutex<Option<Receiver<Job>>>,
}

impl Default for Persistence {
    fn default() -> Self {
        let (jobs, rx) = crossbeam_channel::bounded(4);
        Persistence {
            loading: AtomicBool::new(false),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started: Mutex::new(None),
            bgsave_abort: Arc::default(),
            rewrite_scheduled: AtomicBool::new(false),
            aof_last_failure_unix: AtomicU64::new(0),
            save_lock: Mutex::new(()),
            last_save_unix: AtomicU64::new(unix_secs()),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_try_unix: AtomicU64::new(0),
            seq_at_save: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_bgsave_copied: AtomicU64::new(0),
            last_load_loaded: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            bgsave_failed: AtomicBool::new(false),
            gate: AtomicU8::new(0),
            shutdown_handled: AtomicBool::new(false),
            aof: Default::default(),
            jobs,
            job_rx: Mutex::new(Some(rx)),
        }
    }
}

impl std::fmt::Debug for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence").finish_non_exhaustive()
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `save` directive: pairs of "seconds changes"; empty = no save points.
pub fn parse_save_points(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    words
        .chunks(2)
        .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
            (Ok(s), Ok(c)) => Ok((s, c)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

fn rdb_path(d: &Directives) -> (PathBuf, String) {
    let dir = d.get("dir").unwrap_or_else(|| ".".into());
    (
        PathBuf::from(dir),
        d.get("dbfilename").unwrap_or_else(|| "dump.rdb".into()),
    )
}

/// Every function library's code, in name order (what a dump and an AOF base hold).
pub(super) fn library_codes(ctx: &Context) -> Vec<Vec<u8>> {
    ctx.scripting
        .with_libraries(|libs| libs.iter().map(|l| l.code.clone()).collect())
}

fn writer_options(d: &Directives) -> WriterOptions {
    WriterOptions {
        compress: d.int("rdbcompression") != 0,
        checksum: d.int("rdbchecksum") != 0,
    }
}

/// [`Persistence::gate`] bit: a dump or AOF is being loaded (commands without Redis's
/// `loading` flag get -LOADING, memcached clients SERVER_ERROR loading).
pub const GATE_LOADING: u8 = 1;
/// [`Persistence::gate`] bit: the last background save failed.
pub const GATE_BGSAVE_FAILED: u8 = 2;

impl Persistence {
    fn set_gate(&self, bit: u8, on: bool) {
        if on {
            self.gate.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.gate.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Marks loading as started or done (start-up sets it before the listeners accept).
    pub fn set_loading(&self, on: bool) {
        self.loading.store(on, Ordering::Relaxed);
        self.set_gate(GATE_LOADING, on);
    }

    /// Whether start-up has files to load: the AOF manifest with `appendonly yes`, else
    /// `dir/dbfilename`.
    pub fn has_files(&self, ctx: &Context) -> bool {
        if ctx.directives.int("appendonly") != 0 {
            self.aof.manifest_exists(ctx) || super::aof::needs_upgrade(&ctx.directives)
        } else {
            let (dir, file) = rdb_path(&ctx.directives);
            dir.join(file).exists()
        }
    }

    /// As Redis's `finishShutdown`: while the rewrite that turning the AOF on asked for
    /// runs or waits behind a save (the files do not hold the data set yet: Redis's
    /// `AOF_WAIT_REWRITE`), stopping would leave an AOF that restarts empty. Logs Redis's
    /// line and returns true (refuse to stop) unless `force`.
    pub fn initial_aof_refuses_exit(&self, force: bool) -> bool {
        if !self.aof.waiting_rewrite() || !self.aof.rewrite_in_progress.load(Ordering::Acquire) {
            return false;
        }
        if force {
            eprintln!("Writing initial AOF. Exit anyway.");
            return false;
        }
        eprintln!("Writing initial AOF, can't exit.");
        true
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    /// Changes since the last successful save.
    pub fn dirty(&self, ctx: &Context) -> u64 {
        ctx.store
            .write_seq()
            .saturating_sub(self.seq_at_save.load(Ordering::Relaxed))
    }

    pub fn last_save(&self) -> u64 {
        self.last_save_unix.load(Ordering::Relaxed)
    }

    pub fn bgsave_in_progress(&self) -> bool {
        self.bgsave_in_progress.load(Ordering::Relaxed)
    }

    /// Saves now from the calling thread (SAVE, SHUTDOWN, exit).
    pub fn save(&self, ctx: &Context) -> Result<SaveReport, SaveError> {
        let Some(_g) = self.save_lock.try_lock() else {
            return Err(SaveError::InProgress);
        };
        self.save_locked(ctx, false)
    }

    fn save_locked(&self, ctx: &Context, background: bool) -> Result<SaveReport, SaveError> {
        let (dir, file) = rdb_path(&ctx.directives);
        let seq = ctx.store.write_seq();
        let started = Instant::now();
        self.last_try_unix.store(unix_secs(), Ordering::Relaxed);
        let functions = library_codes(ctx);
        // Only a background save can be aborted (FLUSHALL), as Redis kills only its child.
        // The flag is cleared when the save is requested (`bgsave`, or the cron's claim), not here: a
        // FLUSHALL between BGSAVE's reply and this thread's start must still abort it.
        let abort = if background {
            self.bgsave_abort.clone()
        } else {
            Arc::default()
        };
        let pre = Preamble {
            aof_base: false,
            functions: &functions,
            abort,
            ..Preamble::default()
        };
        let result = save_rdb(
            &ctx.store,
            &dir,
            &file,
            writer_options(&ctx.directives),
            pre,
        );
        // An aborted background save leaves the last status as it was (Redis: a child
        // killed by SIGUSR1 is not an error).
        let ok = result.is_ok();
        let aborted = background && self.bgsave_abort.load(Ordering::Relaxed);
        if aborted {
            // Whatever the walk got to (it may have finished on a set the FLUSHALL had
            // emptied), an aborted save is not a save: the change count stays as it was.
            eprintln!("Background saving terminated by signal 10");
            return Err(SaveError::Failed(super::save::ABORTED.to_string()));
        } else if background {
            self.last_bgsave_ok.store(ok, Ordering::Relaxed);
            self.last_bgsave_secs
                .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
        }
        match result {
            Ok(report) => {
                self.seq_at_save.store(seq, Ordering::Relaxed);
                self.last_save_unix.store(unix_secs(), Ordering::Relaxed);
                self.saves.fetch_add(1, Ordering::Relaxed);
                if background {
                    self.last_bgsave_copied
                        .store(report.copied_peak, Ordering::Relaxed);
                } else {
                    self.last_bgsave_ok.store(true, Ordering::Relaxed);
                }
                self.update_write_refusal(ctx);
                Ok(report)
            }
            Err(e) => {
                let msg = format!(
                    "Failed opening the temp RDB file or writing it in {}: {e}",
                    dir.display()
                );
                if ctx.settings.verbose >= 1 || background {
                    eprintln!("{msg}");
                }
                self.update_write_refusal(ctx);
                Err(SaveError::Failed(msg))
            }
        }
    }

    fn update_write_refusal(&self, _ctx: &Context) {
        let failed = !self.last_bgsave_ok.load(Ordering::Relaxed);
        self.bgsave_failed.store(failed, Ordering::Relaxed);
        self.set_gate(GATE_BGSAVE_FAILED, failed);
    }

    /// Redis's rule, asked only after a failed background save: writes are refused while
    /// save points are configured and `stop-writes-on-bgsave-error` is yes.
    #[cold]
    pub fn refuse_writes(&self, ctx: &Context) -> bool {
        self.bgsave_failed.load(Ordering::Relaxed)
            && ctx.directives.int("stop-writes-on-bgsave-error") != 0
            && !parse_save_points(&ctx.directives.get("save").unwrap_or_default())
                .unwrap_or_default()
                .is_empty()
    }

    /// FLUSHALL: stops a background save in progress (it fails, nothing is replaced), and
    /// with save points configured saves the now empty data set, as Redis 7.0 does
    /// (`rdb_changes_since_last_save` is then 0). Runs on the client's worker.
    pub fn flushed_all(&self, ctx: &Context) {
        if self.bgsave_in_progress() {
            self.bgsave_abort.store(true, Ordering::Relaxed);
        }
        let points =
            parse_save_points(&ctx.directives.get("save").unwrap_or_default()).unwrap_or_default();
        if !points.is_empty() && !self.is_loading() {
            // Behind the aborted save (the lock), which stops at its next key.
            let _g = self.save_lock.lock();
            let _ = self.save_locked(ctx, false);
        }
    }

    /// Starts a background save; Err(InProgress) when one runs.
    pub fn bgsave(&self) -> Result<(), SaveError> {
        if self.bgsave_in_progress.swap(true, Ordering::AcqRel) {
            return Err(SaveError::InProgress);
        }
        self.bgsave_abort.store(false, Ordering::Relaxed);
        *self.bgsave_started.lock() = Some(Instant::now());
        if self.jobs.try_send(Job::BgSave).is_err() {
            self.bgsave_in_progress.store(false, Ordering::Release);
            return Err(SaveError::InProgress);
        }
        Ok(())
    }

    fn run_bgsave(&self, ctx: &Context) {
        {
            let _g = self.save_lock.lock();
            if let Ok(r) = self.save_locked(ctx, true) {
                if ctx.settings.verbose >= 1 {
                    eprintln!(
                        "Background saving terminated with success ({} keys, {} bytes)",
                        r.keys, r.bytes
                    );
                }
            }
        }
        *self.bgsave_started.lock() = None;
        self.bgsave_in_progress.store(false, Ordering::Release);
    }

    /// Once a second: a save point whose time and change count are both reached starts a
    /// background save (after a failure, not before BGSAVE_RETRY_DELAY seconds).
    fn cron(&self, ctx: &Context) {
        if self.bgsave_in_progress() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        let Ok(points) = parse_save_points(&ctx.directives.get("save").unwrap_or_default()) else {
            return;
        };
        if points.is_empty() {
            return;
        }
        let now = unix_secs();
        let dirty = self.dirty(ctx);
        let since = now.saturating_sub(self.last_save());
        let may_retry = self.last_bgsave_ok.load(Ordering::Relaxed)
            || now.saturating_sub(self.last_try_unix.load(Ordering::Relaxed)) >= BGSAVE_RETRY_DELAY;
        if may_retry
            && points
                .iter()
                .any(|&(secs, changes)| dirty >= changes && since >= secs)
        {
            if ctx.settings.verbose >= 1 {
                eprintln!("{dirty} changes in {since} seconds. Saving...");
            }
            // This is the persistence thread: run the save here, no job needed.
            if !self.bgsave_in_progress.swap(true, Ordering::AcqRel) {
                self.bgsave_abort.store(false, Ordering::Relaxed);
                *self.bgsave_started.lock() = Some(Instant::now());
                self.run_bgsave(ctx);
            }
        }
    }

    /// INFO's `# Persistence` section with Redis 7.0's fields.
    pub fn write_info(&self, ctx: &Context, s: &mut Vec<u8>) -> std::io::Result<()> {
        let current = self
            .bgsave_started
            .lock()
            .map_or(-1, |t| t.elapsed().as_secs() as i64);
        let scheduled = self.rewrite_scheduled.load(Ordering::Relaxed);
        write!(
            s,
            "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n\
             current_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n\
             current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n\
             rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\n\
             rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\n\
             rdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\n\
             rdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n\
             aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\n\
             aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n\
             aof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\n\
             aof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n\
             aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
            u8::from(self.loading.load(Ordering::Relaxed)),
            self.dirty(ctx),
            u8::from(self.bgsave_in_progress()),
            self.last_save(),
            if self.last_bgsave_ok.load(Ordering::Relaxed) {
                "ok"
            } else {
                "err"
            },
            self.last_bgsave_secs.load(Ordering::Relaxed),
            current,
            self.saves.load(Ordering::Relaxed),
            self.last_bgsave_copied.load(Ordering::Relaxed),
            self.last_load_expired.load(Ordering::Relaxed),
            self.last_load_loaded.load(Ordering::Relaxed),
            u8::from(self.aof.is_on()),
            u8::from(self.aof.rewrite_in_progress.load(Ordering::Relaxed) && !scheduled),
            u8::from(scheduled),
            if self.aof.last_rewrite_ok.load(Ordering::Relaxed) {
                "ok"
            } else {
                "err"
            },
            self.aof.rewrites.load(Ordering::Relaxed),
            self.aof.rewrite_failures.load(Ordering::Relaxed),
            if self.aof.last_write_ok.load(Ordering::Relaxed) {
                "ok"
            } else {
                "err"
            },
        )?;
        if self.aof.is_on() {
            let (total, base) = self.aof.sizes();
            write!(s, "aof_current_size:{total}\r\naof_base_size:{base}\r\n")?;
        }
        Ok(())
    }

    /// Starts a background AOF rewrite (BGREWRITEAOF); false when one is running. Behind a
    /// background save it waits for that save (Redis: "scheduled").
    pub fn bgrewriteaof(&self) -> Option<RewriteStart> {
        if !self.aof.claim_rewrite() {
            return None;
        }
        let behind_save = self.bgsave_in_progress();
        self.rewrite_scheduled.store(behind_save, Ordering::Relaxed);
        if self.jobs.try_send(Job::Rewrite).is_err() {
            self.rewrite_scheduled.store(false, Ordering::Relaxed);
            self.aof.rewrite_in_progress.store(false, Ordering::Release);
            return None;
        }
        Some(if behind_save {
            RewriteStart::Scheduled
        } else {
            RewriteStart::Started
        })
    }

    /// CONFIG SET appendonly yes, as Redis's `startAppendOnly`: logging starts at once and
    /// a background rewrite (behind a running save, Redis's "scheduled") makes the files;
    /// the worker that asked does not wait for it. A rewrite already running when logging
    /// turns on completes the files only if its switch comes after this; otherwise
    /// [`Persistence::finish_aof_start`] runs another when it ends.
    pub fn start_aof(&self, ctx: &Context) {
        if self.aof.begin_enable(ctx) {
            // None: a rewrite runs already (or the job queue is full); the persistence
            // thread starts one when needed.
            let _ = self.bgrewriteaof();
        }
    }

    /// On the persistence thread: while logging waits for the rewrite that completes its
    /// files and none runs, start one (again after a failure, as Redis schedules one;
    /// after three failures in a row at most one a minute, doubling up to an hour, as
    /// Redis's `aofRewriteLimited`).
    fn finish_aof_start(&self, ctx: &Context) {
        if !self.aof.waiting_rewrite() || self.bgsave_in_progress() {
            return;
        }
        let failures = self.aof.rewrite_failures.load(Ordering::Relaxed);
        if failures >= 3 {
            let wait = (60u64 << (failures - 3).min(6)).min(3600);
            let last = self.aof_last_failure_unix.load(Ordering::Relaxed);
            if unix_secs().saturating_sub(last) < wait {
                return;
            }
        }
        if !self.aof.claim_rewrite() {
            return;
        }
        if let Err(e) = self.aof.run_claimed_rewrite(ctx) {
            eprintln!("Background AOF rewrite terminated with error: {e}");
            self.aof_last_failure_unix
                .store(unix_secs(), Ordering::Relaxed);
        }
    }

    /// Start-up: with `appendonly yes` the append-only file is replayed (and logging
    /// starts), otherwise `dir/dbfilename` is loaded.
    pub fn load_at_start(&self, ctx: &Context) -> Result<(), String> {
        let delay = ctx.directives.int("key-load-delay").max(0) as u64;
        super::load::KEY_LOAD_DELAY_US.store(delay, Ordering::Relaxed);
        if ctx.directives.int("appendonly") == 0 {
            return self.load(ctx, false).map(|_| ()).map_err(|e| {
                // As Redis at start-up: the error, redis-check-rdb's report on the file,
                // then the line the caller prints before exiting.
                eprintln!("{e}");
                let (dir, file) = rdb_path(&ctx.directives);
                super::check::check_rdb(&dir.join(file), &mut std::io::stderr());
                "Terminating server after rdb file reading failure.".to_string()
            });
        }
        self.set_loading(true);
        let started = Instant::now();
        let result = self.aof.start(ctx);
        self.set_loading(false);
        let records = result?;
        self.seq_at_save
            .store(ctx.store.write_seq(), Ordering::Relaxed);
        eprintln!(
            "DB loaded from append only file: {:.3} seconds ({records} records)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// DEBUG RELOAD: saves (unless `save` is false), empties the data set (when `flush`)
    /// and loads the dump. Other clients get -LOADING meanwhile; the append-only file
    /// records none of it (the data it describes does not change).
    pub fn debug_reload(
        &self,
        ctx: &Context,
        save: bool,
        flush: bool,
        merge: bool,
    ) -> Result<(), String> {
        if save {
            let _g = self.save_lock.lock();
            self.save_locked(ctx, false)
                .map_err(|_| "ERR Error trying to save the DB".to_string())?;
        }
        let aof_on = self.aof.is_on();
        self.set_loading(true);
        if aof_on {
            self.aof.pause(ctx, true);
        }
        if flush {
            ctx.store.flush_eager(None);
            ctx.scripting.function_flush();
        }
        let loaded = self.load(ctx, merge);
        if aof_on {
            self.aof.pause(ctx, false);
        }
        self.set_loading(false);
        match loaded {
            Ok(Some(_)) => {
                eprintln!("DB reloaded by DEBUG RELOAD");
                Ok(())
            }
            _ => Err("ERR Error trying to load the RDB dump".into()),
        }
    }

    /// DEBUG LOADAOF: writes and fsyncs the AOF, empties the data set and replays the
    /// files the manifest names (nothing is logged meanwhile; other clients get -LOADING).
    pub fn debug_loadaof(&self, ctx: &Context) -> Result<(), String> {
        self.aof.finish();
        let aof_on = self.aof.is_on();
        self.set_loading(true);
        if aof_on {
            self.aof.pause(ctx, true);
        }
        ctx.store.flush_eager(None);
        ctx.scripting.function_flush();
        let result = self.aof.replay_manifest(ctx);
        if aof_on {
            self.aof.pause(ctx, false);
        }
        self.set_loading(false);
        match result {
            Ok(_) => {
                eprintln!("Append Only File loaded by DEBUG LOADAOF");
                Ok(())
            }
            Err(e) => Err(format!("ERR {e}")),
        }
    }

    /// Loads `dir/dbfilename` if it exists (start-up, DEBUG RELOAD). A missing file is not
    /// an error; a corrupt one is.
    pub fn load(&self, ctx: &Context, merge: bool) -> Result<Option<LoadReport>, String> {
        let (dir, file) = rdb_path(&ctx.directives);
        let path = dir.join(file);
        if !path.exists() {
            return Ok(None);
        }
        // DEBUG RELOAD has set it already and clears it itself.
        let outer = self.is_loading();
        self.set_loading(true);
        let started = Instant::now();
        let verify = ctx.directives.int("rdbchecksum") != 0;
        let mut function = |code: &[u8]| super::load::load_function(ctx, code, merge);
        let mut sinks = super::load::Sinks {
            limits: &ctx.collections,
            function: &mut function,
        };
        let result = load_rdb(&ctx.store, &path, verify, super::unix_ms(), &mut sinks);
        if !outer {
            self.set_loading(false);
        }
        let report = result.map_err(|e| match e {
            // A value Redis's loader refuses: its own line, as Redis logs it.
            super::load::LoadError::Refused { .. } => e.to_string(),
            e => format!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({e})"),
        })?;
        self.last_load_loaded
            .store(report.keys_loaded, Ordering::Relaxed);
        self.last_load_expired
            .store(report.keys_expired, Ordering::Relaxed);
        self.seq_at_save
            .store(ctx.store.write_seq(), Ordering::Relaxed);
        eprintln!(
            "DB loaded from disk: {:.3} seconds ({} keys loaded, {} expired, {} skipped)",
            started.elapsed().as_secs_f64(),
            report.keys_loaded,
            report.keys_expired,
            report.keys_skipped
        );
        eprintln!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            report.keys_loaded, report.keys_expired, report.keys_empty
        );
        if report.memory_full {
            eprintln!(
                "WARNING: the dump is larger than -m allows: {} keys were not loaded",
                report.keys_no_memory
            );
        }
        Ok(Some(report))
    }
}

/// Starts the `slabd-persist` thread (background saves and save points).
pub fn start(ctx: Arc<Context>) -> std::io::Result<std::thread::JoinHandle<()>> {
    {
        let weak = Arc::downgrade(&ctx);
        ctx.directives.on_change("appendonly", move |v| {
            let Some(ctx) = weak.upgrade() else {
                return Ok(());
            };
            if v == "yes" {
                ctx.persist.start_aof(&ctx);
                Ok(())
            } else {
                ctx.persist.aof.disable(&ctx);
                Ok(())
            }
        });
        let delay = |v: &str| v.parse().unwrap_or(0);
        super::save::KEY_SAVE_DELAY_US.store(
            delay(&ctx.directives.get("rdb-key-save-delay").unwrap_or_default()),
            Ordering::Relaxed,
        );
        ctx.directives.on_change("rdb-key-save-delay", move |v| {
            super::save::KEY_SAVE_DELAY_US.store(delay(v), Ordering::Relaxed);
            Ok(())
        });
        ctx.persist
            .aof
            .set_timestamps(ctx.directives.int("aof-timestamp-enabled") != 0);
        let weak = Arc::downgrade(&ctx);
        ctx.directives.on_change("aof-timestamp-enabled", move |v| {
            if let Some(ctx) = weak.upgrade() {
                ctx.persist.aof.set_timestamps(v == "yes");
            }
            Ok(())
        });
        let weak = Arc::downgrade(&ctx);
        ctx.directives.on_change("aof-disable-auto-gc", move |v| {
            if let Some(ctx) = weak.upgrade() {
                if v == "no" {
                    ctx.persist.aof.delete_history(&ctx);
                }
            }
            Ok(())
        });
        let weak = Arc::downgrade(&ctx);
        ctx.directives.on_change("appendfsync", move |_| {
            if let Some(ctx) = weak.upgrade() {
                ctx.persist
                    .aof
                    .set_policy(ctx.directives.int("appendfsync") as u8);
            }
            Ok(())
        });
    }
    {
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("slabd-aof".into())
            .spawn(move || ctx.persist.aof.run(&ctx))?;
    }
    let rx = ctx
        .persist
        .job_rx
        .lock()
        .take()
        .expect("persistence thread started once");
    std::thread::Builder::new()
        .name("slabd-persist".into())
        .spawn(move || loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(Job::BgSave) => {
                    ctx.persist.run_bgsave(&ctx);
                    ctx.persist.finish_aof_start(&ctx);
                }
                Ok(Job::Rewrite) => {
                    ctx.persist
                        .rewrite_scheduled
                        .store(false, Ordering::Relaxed);
                    if let Err(e) = ctx.persist.aof.run_claimed_rewrite(&ctx) {
                        eprintln!("Background AOF rewrite failed: {e}");
                    }
                    ctx.persist.finish_aof_start(&ctx);
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    ctx.persist.finish_aof_start(&ctx);
                    ctx.persist.cron(&ctx);
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            }
        })
}

/// Saves from the calling thread, waiting for a running save to finish first (SHUTDOWN
/// while BGSAVE runs). True when the save succeeded.
pub fn save_on_exit_forced(ctx: &Context) -> bool {
    let _g = ctx.persist.save_lock.lock();
    ctx.persist.save_locked(ctx, false).is_ok()
}

/// On SIGTERM or SIGINT, before the server stops serving: the exit save (when save points
/// are configured), as Redis's `prepareForShutdown`. False when it failed, or while the
/// AOF's first rewrite runs ([`Persistence::initial_aof_refuses_exit`]): the server
/// keeps running. After a success the exit path saves nothing more.
pub fn save_on_signal(ctx: &Context) -> bool {
    if ctx.persist.initial_aof_refuses_exit(false) {
        return false;
    }
    let ok = save_on_exit(ctx);
    if ok {
        ctx.persist.shutdown_handled.store(true, Ordering::Relaxed);
    }
    ok
}

/// At exit (SIGTERM, SIGINT or memcached `shutdown`): save when save points are configured
/// and SHUTDOWN did not already decide. Returns false when that save failed.
pub fn save_on_exit(ctx: &Context) -> bool {
    ctx.persist.aof.stop_rewrite_at_exit(ctx);
    ctx.persist.aof.finish();
    if ctx.persist.is_loading() {
        // A partly loaded data set must not replace the file it came from.
        return true;
    }
    if ctx.persist.shutdown_handled.load(Ordering::Relaxed) {
        return true;
    }
    let points =
        parse_save_points(&ctx.directives.get("save").unwrap_or_default()).unwrap_or_default();
    if points.is_empty() {
        return true;
    }
    eprintln!("Saving the final RDB snapshot before exiting.");
    // Wait for a background save to finish rather than fail.
    let _g = ctx.persist.save_lock.lock();
    match ctx.persist.save_locked(ctx, false) {
        Ok(_) => {
            eprintln!("DB saved on disk");
            true
        }
        Err(e) => {
            eprintln!("Error trying to save the DB, can't exit. {e:?}");
            false
        }
    }
}
