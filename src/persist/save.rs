//! Writing the store to an RDB file: the store's snapshot walk ([`Store::snapshot`]) feeds
//! an [`RdbSink`], which encodes each item as it arrives (no copy of the data set is made);
//! the file is written under a temporary name, fsynced, renamed into place and the
//! directory fsynced, so a crash never leaves a torn dump.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::rdb::{Writer, WriterOptions};
use crate::storage::{Current, ItemType, SnapshotSink, Store};

type FileWriter = Writer<Chunks>;

/// Bytes of encoded RDB a chunk holds before it goes to the file thread.
const CHUNK: usize = 1 << 20;
/// Chunks that may wait for the disk (bounded extra memory: 64 MiB).
const CHUNKS_QUEUED: usize = 64;

/// The writer's output: encoded bytes collect in memory and full chunks go to the
/// `slabd-rdb-write` thread, so a client thread that visits a stripe for the snapshot
/// never waits for the disk (only for a full queue).
struct Chunks {
    buf: Vec<u8>,
    tx: Option<crossbeam_channel::Sender<Vec<u8>>>,
}

impl std::io::Write for Chunks {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("writer closed"))?;
        tx.send(full)
            .map_err(|_| std::io::Error::other("the file writer stopped"))
    }
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveReport {
    pub keys: u64,
    pub bytes: u64,
}

struct SinkState {
    w: Option<FileWriter>,
    db: Option<u8>,
    keys: u64,
    /// Values of a type the writer cannot encode yet.
    skipped: u64,
    err: Option<std::io::Error>,
}

/// A value copied out of the store, waiting to be encoded.
enum Copied {
    /// A string: its bytes follow the key in [`Pending::bytes`].
    String {
        value_len: usize,
        flags: u32,
    },
    Typed(super::value::Value),
}

/// One copied item; its key (and a string's value) are in [`Pending::bytes`].
struct Record {
    db: u8,
    key_len: usize,
    expire_ms: Option<i64>,
    value: Copied,
}

/// Items copied under stripe locks and not yet encoded.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    records: Vec<Record>,
}

impl Pending {
    fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
    }
}

/// Takes snapshot items as copies (cheap, under the stripe lock that whoever visits holds)
/// and encodes them into the RDB stream on the snapshot thread between stripes, so a
/// client that touches a stripe waits for a copy of one item, never for the encoder.
struct RdbSink {
    /// Items copied by clients' operations and other threads.
    pending: Mutex<Pending>,
    /// Items the snapshot thread's walk copied (only that thread locks it: a client never
    /// waits for a low-priority thread that was preempted while holding it).
    walk: Mutex<Pending>,
    /// The drained buffer, kept for its capacity.
    spare: Mutex<Pending>,
    state: Mutex<SinkState>,
}

impl SinkState {
    fn write_record(&mut self, rec: &Record, bytes: &[u8]) -> std::io::Result<()> {
        let w = self.w.as_mut().expect("writer present until the walk ends");
        if self.db != Some(rec.db) {
            w.select_db(u32::from(rec.db))?;
            self.db = Some(rec.db);
        }
        let key = &bytes[..rec.key_len];
        match &rec.value {
            Copied::String { value_len, flags } => {
                let value = &bytes[rec.key_len..rec.key_len + value_len];
                w.string_entry(key, value, rec.expire_ms, *flags)?;
            }
            Copied::Typed(value) => {
                if value.is_empty() {
                    return Ok(());
                }
                w.value_entry(key, value, rec.expire_ms)?;
            }
        }
        self.keys += 1;
        Ok(())
    }
}

impl RdbSink {
    /// Encodes every copied item (the snapshot thread, no stripe lock held).
    fn drain(&self) {
        let mut walked = self.walk.lock();
        self.encode(&mut walked);
        drop(walked);
        let mut batch = std::mem::take(&mut *self.spare.lock());
        std::mem::swap(&mut batch, &mut *self.pending.lock());
        self.encode(&mut batch);
        *self.spare.lock() = batch;
    }

    /// Encodes and empties `batch`.
    fn encode(&self, batch: &mut Pending) {
        let mut s = self.state.lock();
        if s.err.is_none() {
            let mut at = 0;
            for rec in &batch.records {
                let len = rec.key_len
                    + match rec.value {
                        Copied::String { value_len, .. } => value_len,
                        Copied::Typed(_) => 0,
                    };
                if let Err(e) = s.write_record(rec, &batch.bytes[at..at + len]) {
                    s.err = Some(e);
                    break;
                }
                at += len;
            }
        }
        drop(s);
        batch.clear();
    }

    /// Copies `item` into `to`.
    fn copy(&self, to: &Mutex<Pending>, db: u8, item: &Current<'_>) {
        let expire_ms = item
            .expiry()
            .unix_ms()
            .map(|ms| ms.min(i64::MAX as u64) as i64);
        let key = item.key();
        let value = match (item.item_type(), item.bytes()) {
            (ItemType::String, Some(value)) => {
                let mut p = to.lock();
                p.bytes.extend_from_slice(key);
                p.bytes.extend_from_slice(&value);
                p.records.push(Record {
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
        match value {
            Some(value) => {
                let mut p = to.lock();
                p.bytes.extend_from_slice(key);
                p.records.push(Record {
                    db,
                    key_len: key.len(),
                    expire_ms,
                    value: Copied::Typed(value),
                });
            }
            None => self.state.lock().skipped += 1,
        }
    }
}

impl SnapshotSink for RdbSink {
    fn item(&self, db: u8, item: &Current<'_>) {
        self.copy(&self.pending, db, item);
    }

    fn walked(&self, db: u8, item: &Current<'_>) {
        self.copy(&self.walk, db, item);
    }

    fn between(&self) {
        self.drain();
    }
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// What a dump holds besides the keys.
#[derive(Clone, Copy, Default)]
pub struct Preamble<'a> {
    /// The file is an AOF base (`aof-base 1`).
    pub aof_base: bool,
    /// Function libraries' code, written before the databases as Redis 7.0 does.
    pub functions: &'a [Vec<u8>],
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
    let tmp = dir.join(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_file(store, &tmp, opts, pre, at_epoch).and_then(|report| {
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
    let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(CHUNKS_QUEUED);
    let writer = std::thread::Builder::new()
        .name("slabd-rdb-write".into())
        .spawn(move || {
            background_priority();
            let mut out = BufWriter::with_capacity(CHUNK, file);
            for chunk in rx {
                out.write_all(&chunk)?;
            }
            out.flush()?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        })?;
    let result = encode_all(
        store,
        Chunks {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
        },
        opts,
        pre,
        at_epoch,
    );
    let written = writer
        .join()
        .map_err(|_| std::io::Error::other("the file writer panicked"))?;
    let report = result?;
    written?;
    Ok(report)
}

fn encode_all(
    store: &Store,
    out: Chunks,
    opts: WriterOptions,
    pre: Preamble<'_>,
    at_epoch: &mut dyn FnMut(),
) -> std::io::Result<SaveReport> {
    let mut w = Writer::new(out, opts)?;
    w.default_aux(store.stats().bytes, pre.aof_base)?;
    for code in pre.functions {
        w.function(code)?;
    }
    let sink = Arc::new(RdbSink {
        pending: Mutex::new(Pending::default()),
        walk: Mutex::new(Pending::default()),
        spare: Mutex::new(Pending::default()),
        state: Mutex::new(SinkState {
            w: Some(w),
            db: None,
            keys: 0,
            skipped: 0,
            err: None,
        }),
    });
    if !store.snapshot_with(sink.clone(), at_epoch) {
        return Err(std::io::Error::other("a snapshot is already running"));
    }
    sink.drain();
    let mut s = sink.state.lock();
    if let Some(e) = s.err.take() {
        return Err(e);
    }
    let w = s.w.take().expect("writer present");
    let written = w.written();
    let mut chunks = w.finish()?;
    chunks.flush()?;
    // Closing the channel ends the file thread, which then fsyncs.
    chunks.tx = None;
    Ok(SaveReport {
        keys: s.keys,
        bytes: written + 9,
    })
}

/// fsync a directory so that a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Nice value of the background save threads.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's (a background save's) scheduling priority to nice
/// [`BACKGROUND_NICE`] (Linux nice values are per thread), so the scheduler runs the
/// workers first when the cores are busy. (`SCHED_IDLE` was tried: a worker then waited
/// longer for a stripe the starved save thread held, 22 ms against 10-13 ms.)
pub fn background_priority() {
    // SAFETY: gettid and setpriority take no pointers; PRIO_PROCESS with a thread id
    // changes the calling thread only; a failure merely leaves the priority as it was.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE);
    }
}
