//! Writing the store to an RDB file: the store's snapshot walk ([`Store::snapshot`]) hands
//! items to an [`RdbSink`], which copies them (under the stripe lock the visitor holds) and
//! passes the copies in batches to the `slabd-rdb-write` thread, which encodes them into
//! the file. No copy of the data set is made: at most [`BATCHES_QUEUED`] batches wait, each
//! of about [`HAND_OVER_BYTES`] (clients' at most [`PENDING_MAX`]). The file is written
//! under a temporary name, fsynced, renamed into place and the directory fsynced, so a
//! crash never leaves a torn dump.
//!
//! ```text
//!   client operation (lock_key, stripe locked) --copy one item--> pending --+
//!        at 1 MiB: into the queue if it has room; at PENDING_MAX: waits for room  |
//!   snapshot thread (nice 0, stripe locked)    --copy a slice---> walk    --+-> batches
//!        between slices, no lock: hand walk + pending over once they hold 1 MiB (waits
//!        while the queue has fewer than CLIENT_SLOTS free: those are the clients'),
//!        then pause (Pace: sleep 100 us if the cores are busy)
//!   slabd-rdb-write (nice 10, holds no lock a client needs): encode (LZF), write (handed
//!        to writeback every 4 MB, see `writeback`), fsync
//! ```
//!
//! What clients copy is bounded too: before, their copies waited for the snapshot thread,
//! which hands over only between slices of its walk and waits there while the queue is
//! full, so with a slow disk (or `rdb-key-save-delay`) clients rewriting keys the walk had
//! not reached piled up copies of up to the whole data set (test
//! `clients_copies_stay_bounded_while_the_file_thread_lags`).
//!
//! The thread that holds stripe locks keeps its normal priority and only copies, at most
//! [`crate::storage::WALK_SLICE`] items per lock hold; the expensive part runs at a low priority holding
//! nothing a client waits for. (With the encoding on a nice-10 snapshot thread, a 2 GB
//! save left workers waiting 13-25 ms for a stripe that thread held while preempted; with
//! the walk itself at `SCHED_IDLE`, p99 during the save halved but a worker waited up to
//! 18 ms for a stripe lock the preempted walk held.)

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;

use super::aof_base::CommandWriter;
use super::rdb::{Writer, WriterOptions};
use super::writeback::Writeback;
use crate::storage::{Current, ItemType, SnapshotSink, Store};

/// Microseconds the file thread waits after each key it writes (Redis's
/// `rdb-key-save-delay`, for tests of a save in progress; 0 or less: none). Read again
/// while it waits, so setting it to 0 lets a slowed save finish at once.
pub static KEY_SAVE_DELAY_US: AtomicI64 = AtomicI64::new(0);

/// Waits [`KEY_SAVE_DELAY_US`] after a key, in steps of at most 10 ms (until `abort`).
fn key_save_delay(abort: &AtomicBool) {
    let mut waited = 0;
    loop {
        let delay = KEY_SAVE_DELAY_US.load(Ordering::Relaxed);
        if delay <= waited || abort.load(Ordering::Relaxed) {
            return;
        }
        let step = (delay - waited).min(10_000);
        std::thread::sleep(std::time::Duration::from_micros(step as u64));
        waited += step;
    }
}

/// Output buffer of the file writer.
const CHUNK: usize = 1 << 20;
/// Batches of copied items that may wait for the encoder (each about [`HAND_OVER_BYTES`]:
/// bounded extra memory).
const BATCHES_QUEUED: usize = 16;
/// Queue slots the walk leaves to clients' copies, so that a client handing its copies
/// over finds room without waiting while the file thread keeps up.
const CLIENT_SLOTS: usize = 4;
/// Clients' copies go to the queue at [`HAND_OVER_BYTES`] when it has room; once they hold
/// this much the client that copied last waits for room (its stripe stays locked, but the
/// file thread needs no lock to make room). This bounds them: at most about
/// `(BATCHES_QUEUED + 2) * PENDING_MAX` plus the largest items are copies, whatever the
/// data size.
const PENDING_MAX: usize = 2 * HAND_OVER_BYTES;
/// How long the walk waits for a batch back before it looks at the queue again.
const ROOM_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveReport {
    pub keys: u64,
    pub bytes: u64,
    /// The most the save's copies (made and not yet encoded) took at once, in
    /// [`Batch::size`] terms: the save's extra memory, besides its buffers.
    pub copied_peak: u64,
}

/// A save's copies not yet encoded ([`Batch::size`] bytes) and their high-water mark.
#[derive(Default)]
struct Held {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Held {
    fn add(&self, n: usize) {
        let now = self.now.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A value copied out of the store, waiting to be encoded.
enum Copied {
    /// A string: its bytes follow the key in [`Batch::bytes`].
    String {
        value_len: usize,
        flags: u32,
    },
    Typed(super::value::Value),
}

/// One copied item; its key (and a string's value) are in [`Batch::bytes`].
struct Record {
    db: u8,
    key_len: usize,
    expire_ms: Option<i64>,
    value: Copied,
}

/// Items copied under stripe locks and not yet encoded.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<Record>,
    /// What the copies take: their bytes, records and collections' elements.
    size: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.size = 0;
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Copies `item` (logical database `db`); returns what the copy takes.
    fn copy(&mut self, db: u8, item: &Current<'_>) -> usize {
        let before = self.size;
        self.copy_item(db, item);
        self.size - before
    }

    fn copy_item(&mut self, db: u8, item: &Current<'_>) {
        const RECORD: usize = std::mem::size_of::<Record>();
        let expire_ms = item
            .expiry()
            .unix_ms()
            .map(|ms| ms.min(i64::MAX as u64) as i64);
        let key = item.key();
        let value = match (item.item_type(), item.bytes()) {
            (ItemType::String, Some(value)) => {
                self.bytes.extend_from_slice(key);
                self.bytes.extend_from_slice(&value);
                self.size += key.len() + value.len() + RECORD;
                self.records.push(Record {
                    db,
                    key_len: key.len(),
                    expire_ms,
                    value: Copied::String {
                        value_len: value.len(),
                        flags: item.flags(),
                    },
                });
                return;
            }
            _ => super::typed::value_of(item),
        };
        // A value of a type the writer cannot encode is left out.
        if let Some(value) = value {
            self.bytes.extend_from_slice(key);
            self.size += key.len() + value.heap_bytes() + RECORD;
            self.records.push(Record {
                db,
                key_len: key.len(),
                expire_ms,
                value: Copied::Typed(value),
            });
        }
    }
}

/// Items copied by clients' operations and other threads, and their own way to the file
/// thread (not [`RdbSink::tx`], which the snapshot thread holds while it waits for room).
struct Pending {
    batch: Batch,
    /// `None` after the walk, or once the file thread has stopped.
    tx: Option<Sender<Batch>>,
}

/// Takes snapshot items as copies and hands them to the file thread in batches.
struct RdbSink {
    pending: Mutex<Pending>,
    /// Items the snapshot thread's walk copied (only that thread locks it).
    walk: Mutex<Batch>,
    /// To the file thread; `None` after the walk, or once that thread has stopped.
    tx: Mutex<Option<Sender<Batch>>>,
    /// Encoded batches back from the file thread, for their capacity. They are emptied
    /// here (see [`RdbSink::empty_batch`]), never on the file thread.
    recycled: Receiver<Batch>,
    /// Batches back from the file thread while the walk waited for room.
    spare: Mutex<Vec<Batch>>,
    /// The copies not yet encoded.
    held: Arc<Held>,
    /// Used by the snapshot thread only.
    pace: Mutex<Pace>,
    /// The save's abort flag: set, the walk ends early.
    abort: Arc<AtomicBool>,
}

impl RdbSink {
    /// A batch to fill: a recycled one when there is one. Called on the snapshot thread
    /// only: every batch is allocated, emptied and finally freed here, never on the
    /// low-priority file thread. A free there takes glibc's lock of the arena the memory came
    /// from (a worker's, for a batch clients filled) and may trim the heap under it;
    /// preempted at nice 10, it left a worker waiting 34 ms in malloc (perf sched,
    /// `__lll_lock_wait_private`).
    fn empty_batch(&self) -> Batch {
        let batch = self.spare.lock().pop();
        match batch.or_else(|| self.recycled.try_recv().ok()) {
            Some(mut batch) => {
                batch.clear();
                // A client's batch may have grown past PENDING_MAX: keep no more.
                batch.bytes.shrink_to(PENDING_MAX);
                batch
            }
            None => Batch::default(),
        }
    }

    /// Sends what the walk and the clients copied to the file thread (the snapshot thread,
    /// no stripe lock held). The walk's batch waits while fewer than [`CLIENT_SLOTS`] of
    /// the queue are free; the clients' batch may take them.
    fn hand_over(&self) {
        let mut walked = self.empty_batch();
        std::mem::swap(&mut walked, &mut *self.walk.lock());
        let mut copied = self.empty_batch();
        std::mem::swap(&mut copied, &mut self.pending.lock().batch);
        let mut tx = self.tx.lock();
        for (batch, walk) in [(copied, false), (walked, true)] {
            if batch.is_empty() {
                self.spare.lock().push(batch);
                continue;
            }
            let Some(t) = tx.as_ref() else {
                self.held.sub(batch.size);
                continue;
            };
            if walk {
                self.wait_for_room(t);
            }
            if let Err(e) = t.send(batch) {
                // The file thread stopped (a write failed): it reports why.
                self.held.sub(e.into_inner().size);
                *tx = None;
            }
        }
    }

    /// Waits until the queue has room for a walk batch with [`CLIENT_SLOTS`] left free
    /// (or the file thread has stopped), keeping the batches that come back meanwhile.
    fn wait_for_room(&self, tx: &Sender<Batch>) {
        while tx.len() + CLIENT_SLOTS >= BATCHES_QUEUED {
            match self.recycled.recv_timeout(ROOM_POLL) {
                Ok(batch) => self.spare.lock().push(batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// A client's copies, once they hold [`HAND_OVER_BYTES`], go to the file thread: at
    /// once when the queue has room, and once they hold [`PENDING_MAX`] after waiting for
    /// room (the file thread takes no lock to make it).
    fn send_pending(&self, p: &mut Pending) {
        let Some(tx) = &p.tx else {
            return;
        };
        let batch = std::mem::take(&mut p.batch);
        let sent = if batch.size >= PENDING_MAX {
            tx.send(batch)
                .map_err(|e| TrySendError::Disconnected(e.into_inner()))
        } else {
            tx.try_send(batch)
        };
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(batch)) => p.batch = batch,
            Err(TrySendError::Disconnected(batch)) => {
                // The file thread stopped: nothing more is written.
                self.held.sub(batch.size);
                p.tx = None;
            }
        }
    }
}

impl SnapshotSink for RdbSink {
    fn item(&self, db: u8, item: &Current<'_>) {
        let mut p = self.pending.lock();
        if p.tx.is_none() {
            // The file thread stopped: the copy would never be written.
            return;
        }
        self.held.add(p.batch.copy(db, item));
        if p.batch.size >= HAND_OVER_BYTES {
            self.send_pending(&mut p);
        }
    }

    fn walked(&self, db: u8, item: &Current<'_>) {
        let added = self.walk.lock().copy(db, item);
        self.held.add(added);
    }

    fn between(&self) {
        let held = self.walk.lock().size + self.pending.lock().batch.size;
        if held >= HAND_OVER_BYTES {
            self.hand_over();
        }
        self.pace.lock().pause();
    }

    fn stopped(&self) -> bool {
        // Aborted, or the file thread has stopped (a write failed): nothing more is written.
        self.abort.load(Ordering::Relaxed) || self.tx.lock().is_none()
    }
}

/// Copied bytes the snapshot thread gathers before handing them to the file thread.
const HAND_OVER_BYTES: usize = 1 << 20;

/// How long the snapshot thread sleeps after a slice of its walk during which it had to
/// wait for a CPU (others want the cores).
const PAUSE: std::time::Duration = std::time::Duration::from_micros(100);

/// The snapshot thread giving way to the workers between slices of its walk. Its slices are
/// short (at most [`crate::storage::WALK_SLICE`] items per stripe lock hold), but a thread
/// that copies without stopping still takes its fair share of two busy cores, slices of
/// milliseconds during which a woken worker waits. So after a slice in which this thread
/// waited for a CPU (its `/proc/thread-self/schedstat` run delay grew: the cores are
/// busy) it sleeps [`PAUSE`]; otherwise it only yields. Where the kernel keeps no
/// schedstat it only yields.
struct Pace {
    /// This thread's schedstat (time on a CPU, time waiting for one, time slices).
    stat: Option<File>,
    opened: bool,
    waited_ns: u64,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            stat: None,
            opened: false,
            waited_ns: 0,
        }
    }

    /// Whether this thread waited for a CPU since the last call.
    fn contended(&mut self) -> bool {
        use std::os::unix::fs::FileExt as _;
        if !self.opened {
            // Opened by the thread it describes (the snapshot thread's first pause).
            self.opened = true;
            self.stat = File::open("/proc/thread-self/schedstat").ok();
        }
        let Some(f) = &self.stat else {
            return false;
        };
        let mut buf = [0u8; 96];
        let n = f.read_at(&mut buf, 0).unwrap_or(0);
        let waited = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.split_whitespace().nth(1))
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(0);
        let grew = waited > self.waited_ns;
        self.waited_ns = waited;
        grew
    }

    fn pause(&mut self) {
        if self.contended() {
            std::thread::sleep(PAUSE);
        } else {
            std::thread::yield_now();
        }
    }
}

/// The layout a save encodes keys into: an RDB stream, or commands (an AOF base with
/// `aof-use-rdb-preamble no`).
trait KeyFormat {
    fn select_db(&mut self, db: u32) -> std::io::Result<()>;
    fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
        flags: u32,
    ) -> std::io::Result<()>;
    fn value_entry(
        &mut self,
        key: &[u8],
        value: &super::value::Value,
        expire_ms: Option<i64>,
    ) -> std::io::Result<()>;
}

impl<W: std::io::Write> KeyFormat for Writer<W> {
    fn select_db(&mut self, db: u32) -> std::io::Result<()> {
        Writer::select_db(self, db)
    }
    fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
        flags: u32,
    ) -> std::io::Result<()> {
        Writer::string_entry(self, key, value, expire_ms, flags)
    }
    fn value_entry(
        &mut self,
        key: &[u8],
        value: &super::value::Value,
        expire_ms: Option<i64>,
    ) -> std::io::Result<()> {
        Writer::value_entry(self, key, value, expire_ms)
    }
}

impl<W: std::io::Write> KeyFormat for CommandWriter<W> {
    fn select_db(&mut self, db: u32) -> std::io::Result<()> {
        CommandWriter::select_db(self, db)
    }
    fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
        flags: u32,
    ) -> std::io::Result<()> {
        CommandWriter::string_entry(self, key, value, expire_ms, flags)
    }
    fn value_entry(
        &mut self,
        key: &[u8],
        value: &super::value::Value,
        expire_ms: Option<i64>,
    ) -> std::io::Result<()> {
        CommandWriter::value_entry(self, key, value, expire_ms)
    }
}

/// The file thread's side: encodes batches into the file.
struct Encoder<'a, F: KeyFormat> {
    w: &'a mut F,
    db: Option<u8>,
    keys: u64,
    /// Set by FLUSHALL (a background save) or `appendonly no` (a rewrite): stop, fail.
    abort: Arc<AtomicBool>,
}

impl<F: KeyFormat> Encoder<'_, F> {
    fn batch(&mut self, batch: &Batch) -> std::io::Result<()> {
        let mut at = 0;
        for rec in &batch.records {
            let value_len = match rec.value {
                Copied::String { value_len, .. } => value_len,
                Copied::Typed(_) => 0,
            };
            let bytes = &batch.bytes[at..at + rec.key_len + value_len];
            at += bytes.len();
            self.record(rec, bytes)?;
        }
        Ok(())
    }

    fn record(&mut self, rec: &Record, bytes: &[u8]) -> std::io::Result<()> {
        if self.abort.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(ABORTED));
        }
        if self.db != Some(rec.db) {
            self.w.select_db(u32::from(rec.db))?;
            self.db = Some(rec.db);
        }
        let key = &bytes[..rec.key_len];
        match &rec.value {
            Copied::String { flags, .. } => {
                self.w
                    .string_entry(key, &bytes[rec.key_len..], rec.expire_ms, *flags)?;
            }
            Copied::Typed(value) => {
                if value.is_empty() {
                    return Ok(());
                }
                self.w.value_entry(key, value, rec.expire_ms)?;
            }
        }
        self.keys += 1;
        key_save_delay(&self.abort);
        Ok(())
    }
}

/// The error of a save stopped by its abort flag.
pub const ABORTED: &str = "the save was aborted";

/// What a dump holds besides the keys, and how to stop it early.
#[derive(Clone, Default)]
pub struct Preamble<'a> {
    /// Setting it stops the save, which then fails with [`ABORTED`] (no file replaced).
    pub abort: Arc<AtomicBool>,
    /// The file is an AOF base (`aof-base 1`).
    pub aof_base: bool,
    /// Function libraries' code, written before the databases as Redis 7.0 does.
    pub functions: &'a [Vec<u8>],
    /// An AOF base written as commands (`aof-use-rdb-preamble no`), starting with a `#TS:`
    /// annotation when `timestamp` (`aof-timestamp-enabled`).
    pub commands: bool,
    pub timestamp: bool,
}

/// Saves every live item of `store` to `dir/filename` (point in time as of the call).
pub fn save_rdb(
    store: &Store,
    dir: &Path,
    filename: &str,
    opts: WriterOptions,
    pre: Preamble<'_>,
) -> std::io::Result<SaveReport> {
    save_rdb_with(store, dir, filename, opts, pre, &mut || {})
}

/// [`save_rdb`], calling `at_epoch` at the snapshot's point in time (every stripe
/// locked; it must not call the store).
pub fn save_rdb_with(
    store: &Store,
    dir: &Path,
    filename: &str,
    opts: WriterOptions,
    pre: Preamble<'_>,
    at_epoch: &mut dyn FnMut(),
) -> std::io::Result<SaveReport> {
    let tmp = temp_path(dir, pre.aof_base);
    let abort = pre.abort.clone();
    let result = write_file(store, &tmp, opts, pre, at_epoch).and_then(|report| {
        // An abort that came after the last key (or with no key to check it at) still
        // replaces nothing.
        if abort.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(ABORTED));
        }
        let target = dir.join(filename);
        std::fs::rename(&tmp, &target)?;
        sync_dir(dir)?;
        Ok(report)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_file(
    store: &Store,
    path: &PathBuf,
    opts: WriterOptions,
    pre: Preamble<'_>,
    at_epoch: &mut dyn FnMut(),
) -> std::io::Result<SaveReport> {
    let file = File::create(path)?;
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(BATCHES_QUEUED);
    // Unbounded, but only batches that went out come back (about BATCHES_QUEUED + 4).
    let (back_tx, back_rx) = crossbeam_channel::unbounded::<Batch>();
    // Not `stats()`: it locks every stripe three times while clients are busy on them.
    let used_mem = store.data_bytes();
    let aof_base = pre.aof_base;
    let (commands, timestamp) = (pre.commands, pre.timestamp);
    let functions = pre.functions.to_vec();
    let abort = pre.abort.clone();
    let held = Arc::new(Held::default());
    let encoded = held.clone();
    let encoder = std::thread::Builder::new()
        .name("slabd-rdb-write".into())
        .spawn(move || -> std::io::Result<SaveReport> {
            background_priority();
            let out = BufWriter::with_capacity(CHUNK, Writeback::new(file));
            let encode_all = |w: &mut dyn FnMut(&Batch) -> std::io::Result<()>| {
                for batch in &rx {
                    w(&batch)?;
                    encoded.sub(batch.size);
                    // Back to the snapshot thread, which empties and frees batches.
                    let _ = back_tx.send(batch);
                }
                Ok::<(), std::io::Error>(())
            };
            let (keys, bytes, mut out) = if commands {
                let mut w = CommandWriter::new(out, timestamp)?;
                for code in &functions {
                    w.function(code)?;
                }
                let mut enc = Encoder {
                    w: &mut w,
                    db: None,
                    keys: 0,
                    abort,
                };
                encode_all(&mut |b| enc.batch(b))?;
                let keys = enc.keys;
                (keys, w.written(), w.finish())
            } else {
                let mut w = Writer::new(out, opts)?;
                w.default_aux(used_mem, aof_base)?;
                for code in &functions {
                    w.function(code)?;
                }
                let mut enc = Encoder {
                    w: &mut w,
                    db: None,
                    keys: 0,
                    abort,
                };
                encode_all(&mut |b| enc.batch(b))?;
                let keys = enc.keys;
                // The EOF opcode and the checksum follow.
                (keys, w.written() + 9, w.finish()?)
            };
            out.flush()?;
            let file = out.into_inner().map_err(|e| e.into_error())?.into_file();
            // Little is left to write: the writeback followed the file (see `writeback`).
            file.sync_all()?;
            Ok(SaveReport {
                keys,
                bytes,
                copied_peak: 0,
            })
        })?;
    let sink = Arc::new(RdbSink::new(tx, back_rx, held, pre.abort.clone()));
    store.snapshot_with(sink.clone(), at_epoch);
    sink.hand_over();
    // Closing the channel ends the file thread, which then fsyncs.
    sink.close();
    // The file thread has ended (and dropped its end of both channels) before `sink`,
    // which holds the batches it gave back, is dropped here, so they are freed here.
    let mut report = encoder
        .join()
        .map_err(|_| std::io::Error::other("the file writer panicked"))??;
    report.copied_peak = sink.held.peak.load(Ordering::Relaxed) as u64;
    Ok(report)
}

impl RdbSink {
    fn new(
        tx: Sender<Batch>,
        recycled: Receiver<Batch>,
        held: Arc<Held>,
        abort: Arc<AtomicBool>,
    ) -> RdbSink {
        RdbSink {
            pending: Mutex::new(Pending {
                batch: Batch::default(),
                tx: Some(tx.clone()),
            }),
            walk: Mutex::new(Batch::default()),
            tx: Mutex::new(Some(tx)),
            recycled,
            spare: Mutex::new(Vec::new()),
            held,
            pace: Mutex::new(Pace::new()),
            abort,
        }
    }

    /// Drops both ends that send to the file thread (after the walk and its last hand-over).
    fn close(&self) {
        *self.tx.lock() = None;
        self.pending.lock().tx = None;
    }
}

/// The file a save writes before renaming it into place: Redis's names (`temp-<pid>.rdb`,
/// which the shutdown tests look for; `temp-rewriteaof-bg-<pid>.aof` for an AOF base).
/// Saves of each kind run one at a time (the save lock; one rewrite at a time).
pub fn temp_path(dir: &Path, aof_base: bool) -> PathBuf {
    let pid = std::process::id();
    if aof_base {
        dir.join(format!("temp-rewriteaof-bg-{pid}.aof"))
    } else {
        dir.join(format!("temp-{pid}.rdb"))
    }
}

/// fsync a directory so that a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Nice value of the thread that encodes and writes a save.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to nice [`BACKGROUND_NICE`] (Linux
/// nice values are per thread), so the scheduler runs the workers first when the cores are
/// busy. Only for a thread that holds no lock a worker may wait for (a preempted
/// low-priority lock holder stalls the workers instead). (`SCHED_IDLE` was tried on the
/// snapshot thread when it also encoded: 22 ms worst request against 10-13 ms.)
pub fn background_priority() {
    // SAFETY: gettid and setpriority take no pointers; PRIO_PROCESS with a thread id
    // changes the calling thread only; a failure merely leaves the priority as it was.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Clock, Expiry, Mode, StoreConfig, Write};

    /// A client rewriting every key while a save runs and its file thread lags behind the
    /// walk (a slow disk, `rdb-key-save-delay`): each rewrite of a key the walk has not
    /// reached copies the key's old item. Before, those copies waited for the snapshot
    /// thread, which was itself waiting for room in the queue, and piled up for as long as
    /// the file thread stalled (21-25 MB of the 48 MiB here, in a 500 ms stall). They
    /// now go over in batches of at most `PENDING_MAX` and an item, and the save still
    /// holds each key once, as it was.
    #[test]
    fn clients_copies_stay_bounded_while_the_file_thread_lags() {
        const KEYS: usize = 12_000;
        const VALUE: usize = 4096;
        let config = StoreConfig {
            memory_limit: 256 << 20,
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::new(config, Arc::new(Clock::manual(1_700_000_000))).unwrap());
        let old = vec![b'o'; VALUE];
        let key = |i: usize| format!("key:{i}").into_bytes();
        for i in 0..KEYS {
            let k = key(i);
            store.store(&Write::new(0, &k, &old, 0, Expiry::Never, Mode::Set));
        }
        let (tx, rx) = crossbeam_channel::bounded::<Batch>(BATCHES_QUEUED);
        let (back_tx, back_rx) = crossbeam_channel::unbounded::<Batch>();
        let held = Arc::new(Held::default());
        let sink = Arc::new(RdbSink::new(
            tx,
            back_rx,
            held.clone(),
            Arc::new(AtomicBool::new(false)),
        ));
        // The file thread, slower than the walk, stalls half a second on its first batch
        // (a disk that stalls): (largest batch, keys, keys not as of the snapshot's start).
        let encoded = held.clone();
        let file = std::thread::spawn(move || {
            let (mut largest, mut keys, mut changed) = (0, 0, 0);
            for batch in &rx {
                let stall = if keys == 0 { 500 } else { 1 };
                std::thread::sleep(std::time::Duration::from_millis(stall));
                largest = largest.max(batch.size);
                let mut at = 0;
                for rec in &batch.records {
                    let Copied::String { value_len, .. } = rec.value else {
                        panic!("a string was saved as a collection");
                    };
                    let value = &batch.bytes[at + rec.key_len..at + rec.key_len + value_len];
                    changed += usize::from(value != old.as_slice());
                    at += rec.key_len + value_len;
                    keys += 1;
                }
                encoded.sub(batch.size);
                let _ = back_tx.send(batch);
            }
            (largest, keys, changed)
        });
        let walker = {
            let (store, sink) = (store.clone(), sink.clone());
            std::thread::spawn(move || {
                store.snapshot(sink.clone());
                sink.hand_over();
                sink.close();
            })
        };
        // Once the walk has copied something the snapshot has begun.
        while held.now.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        let mut pending_most = 0;
        for i in 0..KEYS {
            let k = key(i);
            store.store(&Write::new(0, &k, b"new", 0, Expiry::Never, Mode::Set));
            pending_most = pending_most.max(sink.pending.lock().batch.size);
        }
        walker.join().unwrap();
        drop(sink);
        let (largest, keys, changed) = file.join().unwrap();
        assert_eq!((keys, changed), (KEYS, 0));
        let item = VALUE + 64 + std::mem::size_of::<Record>();
        assert!(
            pending_most < PENDING_MAX + item,
            "clients' copies reached {pending_most} bytes"
        );
        assert!(largest < PENDING_MAX + item, "a batch of {largest} bytes");
        let bound = (BATCHES_QUEUED + 3) * (PENDING_MAX + item);
        let peak = held.peak.load(Ordering::Relaxed);
        assert!(
            peak <= bound,
            "copies held {peak} bytes at once (bound {bound})"
        );
        assert_eq!(held.now.load(Ordering::Relaxed), 0);
    }
}
