//! A file written front to back (a dump, an AOF base) that is handed to the kernel's
//! writeback as it grows, as Redis's rio does with `rdb-save-incremental-fsync`
//! (`REDIS_AUTOSYNC_BYTES`, 4 MB).
//!
//! Without it a 2 GB save leaves gigabytes of dirty page cache for the final fsync, which
//! then writes them all at once: with `appendfsync always` the AOF's fsyncs waited behind
//! it and clients' writes stalled 194-388 ms at the end of the save (session 11). Here
//! every [`STEP`] written starts the writeback of that range
//! (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), and the range
//! [`LAG`] behind is waited for (`WAIT_BEFORE | WRITE | WAIT_AFTER`), so at most about
//! `LAG + STEP` bytes are dirty at any time and the final fsync has little left to do.
//!
//! ```text
//!   0 ........ waited ......... requested ...... written
//!   | on disk  | being written back | dirty, < STEP |
//! ```
//!
//! The writeback calls are advice: where they fail (a file system without them) they are
//! left off and the final fsync does the work; that fsync's error is the save's error.

use std::fs::File;
use std::io::Write;
use std::os::unix::io::AsRawFd as _;

/// Bytes written between two writeback requests (Redis's `REDIS_AUTOSYNC_BYTES`).
pub const STEP: u64 = 4 << 20;
/// How far behind the newest request the writer waits for the writeback to finish.
pub const LAG: u64 = 16 << 20;

/// A [`File`] written sequentially whose written bytes go to disk as it grows.
pub struct Writeback {
    file: File,
    /// Bytes written so far (the file's length: it is written from offset 0).
    written: u64,
    /// Writeback has been requested for `0..requested`.
    requested: u64,
    /// Writeback of `0..waited` has been waited for.
    waited: u64,
    /// The file system refused a request: no more are made.
    off: bool,
}

impl Writeback {
    /// `file` must be empty and written only through this value.
    pub fn new(file: File) -> Writeback {
        Writeback {
            file,
            written: 0,
            requested: 0,
            waited: 0,
            off: false,
        }
    }

    /// The file, for its final fsync.
    pub fn into_file(self) -> File {
        self.file
    }

    /// Writeback has been requested for the file's first bytes up to this offset.
    pub fn requested(&self) -> u64 {
        self.requested
    }

    /// Writeback of the file's first bytes up to this offset has finished.
    pub fn waited(&self) -> u64 {
        self.waited
    }

    /// Requests writeback of each whole [`STEP`] written since the last request, and
    /// waits for the ranges that are more than [`LAG`] behind.
    fn advance(&mut self) {
        while !self.off && self.written - self.requested >= STEP {
            let start = self.requested;
            if !self.sync_range(start, STEP, libc::SYNC_FILE_RANGE_WRITE) {
                return;
            }
            self.requested += STEP;
            if self.requested - self.waited > LAG {
                let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                let len = self.requested - LAG - self.waited;
                if !self.sync_range(self.waited, len, flags) {
                    return;
                }
                self.waited += len;
            }
        }
    }

    /// One `sync_file_range` call; false (and no more calls) when it failed.
    fn sync_range(&mut self, offset: u64, len: u64, flags: libc::c_uint) -> bool {
        // SAFETY: sync_file_range takes no pointers; the descriptor is this value's open
        // file for the whole call; a failure only reports an error code.
        let rc = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                flags,
            )
        };
        if rc != 0 {
            self.off = true;
        }
        rc == 0
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.advance();
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn writeback_keeps_every_byte_and_requests_as_it_grows() {
        let path = std::env::temp_dir().join(format!("slabd-writeback-{}", std::process::id()));
        let mut w = Writeback::new(File::create(&path).unwrap());
        // Odd-sized writes, so the steps fall inside writes.
        let piece: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let mut expect = Vec::new();
        let mut checked_lag = false;
        while (expect.len() as u64) < 5 * STEP + LAG + 12_345 {
            w.write_all(&piece).unwrap();
            expect.extend_from_slice(&piece);
            let written = expect.len() as u64;
            // Every whole step written is requested; nothing further.
            assert_eq!(w.requested(), written / STEP * STEP);
            assert_eq!(w.waited(), w.requested().saturating_sub(LAG));
            checked_lag |= w.waited() > 0;
        }
        assert!(checked_lag, "the writer never waited for an old range");
        w.flush().unwrap();
        w.into_file().sync_all().unwrap();
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got.len(), expect.len());
        assert!(got == expect, "the file differs from what was written");
    }
}
