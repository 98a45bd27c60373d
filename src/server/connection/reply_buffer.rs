//! Redis 7.0's reply buffer, as `CLIENT LIST`'s `rbs=` (its size) and `rbp=` (its peak)
//! report it. slabd writes replies into one growing buffer; this models the fixed buffer
//! Redis gives each client (networking.c, server.c `clientsCronResizeOutputBuffer`) so that
//! the two fields move as Redis's do:
//!
//! - a client starts with 16 KiB (`PROTO_REPLY_CHUNK_BYTES`) and a peak equal to it;
//! - replies fill the buffer up to its size (the rest would go to Redis's reply list), and
//!   the peak is the most bytes the buffer held;
//! - every 100 ms (Redis's `hz` 10; [`crate::hub::Hub::cron`] here) a buffer whose peak is
//!   under half its size shrinks to the peak plus one byte, at least 1 KiB
//!   (`PROTO_REPLY_MIN_BYTES`), and a full one (peak = size) doubles, at most to 16 KiB;
//!   sizes are jemalloc's size classes, as Redis's `zmalloc_usable` reports them;
//! - every `DEBUG REPLYBUFFER PEAK-RESET-TIME` milliseconds (5,000 by default, `never`)
//!   the peak falls back to what the buffer holds then, so an idle client's buffer shrinks.
//!
//! `DEBUG REPLYBUFFER RESIZING 0` stops the resizing ([`ReplyBufferPolicy`]).

use std::sync::atomic::Ordering;

use crate::commands::Buffers;
use crate::hub::ReplyBufferPolicy;

/// Redis's `PROTO_REPLY_CHUNK_BYTES`: a new client's reply buffer, and the most it grows to.
const CHUNK: usize = 16 * 1024;
/// Redis's `PROTO_REPLY_MIN_BYTES`: the least a reply buffer shrinks to.
const MIN: usize = 1024;

/// What one cron pass did to a buffer (INFO stats `reply_buffer_shrinks`/`_expands`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resize {
    None,
    Shrunk,
    Expanded,
}

/// One connection's modelled reply buffer.
#[derive(Debug)]
pub struct ReplyBuffer {
    /// `rbs=`: the buffer's usable size.
    size: usize,
    /// `rbp=`: the most bytes it held since the last peak reset.
    peak: usize,
    /// Unix milliseconds of the last peak reset (0: never, so the first pass resets, as
    /// Redis's does: it stores seconds there and compares milliseconds).
    reset_at: u64,
}

impl Default for ReplyBuffer {
    fn default() -> ReplyBuffer {
        ReplyBuffer {
            size: CHUNK,
            peak: CHUNK,
            reset_at: 0,
        }
    }
}

/// The usable size jemalloc gives a request of `n` bytes (its size classes: four per
/// doubling above 128 bytes, multiples of 16 below), as `zmalloc_usable` reports it.
fn usable(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let group = usize::BITS - (n - 1).leading_zeros(); // 2^group >= n > 2^(group-1)
    let step = 1usize << (group - 3);
    n.div_ceil(step) * step
}

impl ReplyBuffer {
    /// `rbs=` and `rbp=`, as a new connection shows them.
    pub fn publish_new(&self, bufs: &Buffers) {
        bufs.reply_size.store(self.size as u64, Ordering::Relaxed);
        bufs.reply_peak.store(self.peak as u64, Ordering::Relaxed);
    }

    /// Output of `pending` bytes (since the buffer was last empty) is about to be written:
    /// the buffer held as much of it as fits.
    #[inline]
    pub fn note(&mut self, pending: usize, bufs: &Buffers) {
        let held = pending.min(self.size);
        if held > self.peak {
            self.peak = held;
            bufs.reply_peak.store(held as u64, Ordering::Relaxed);
        }
    }

    /// The 100 ms pass (Redis's `clientsCronResizeOutputBuffer`) at `now_ms`, with
    /// `pending` bytes of output unsent. Returns what it did and whether a later pass could
    /// change anything without new output (a shrink or growth due, a peak to reset).
    pub fn cron(
        &mut self,
        now_ms: u64,
        pending: usize,
        policy: &ReplyBufferPolicy,
        bufs: &Buffers,
    ) -> (Resize, bool) {
        if !policy.resizing.load(Ordering::Relaxed) {
            return (Resize::None, false);
        }
        let held = pending.min(self.size);
        let (resize, new_size) = if self.size / 2 >= MIN && self.peak < self.size / 2 {
            (Resize::Shrunk, usable(MIN.max(self.peak + 1)))
        } else if self.size * 2 < CHUNK * 2 && self.peak == self.size {
            (Resize::Expanded, usable(CHUNK.min(self.size * 2)))
        } else {
            (Resize::None, self.size)
        };
        let reset_ms = policy.peak_reset_ms.load(Ordering::Relaxed);
        let reset = u64::try_from(reset_ms).ok();
        if let Some(every) = reset {
            if now_ms.saturating_sub(self.reset_at) >= every {
                self.peak = held;
                self.reset_at = now_ms;
            }
        }
        if new_size != self.size {
            self.size = new_size;
            bufs.reply_size.store(new_size as u64, Ordering::Relaxed);
        }
        bufs.reply_peak.store(self.peak as u64, Ordering::Relaxed);
        let shrink_due = self.size / 2 >= MIN && self.peak < self.size / 2;
        let growth_due = self.size < CHUNK && self.peak == self.size;
        let reset_due = reset.is_some() && self.peak != held;
        (resize, shrink_due || growth_due || reset_due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicI64};

    fn policy(reset_ms: i64) -> ReplyBufferPolicy {
        ReplyBufferPolicy {
            peak_reset_ms: AtomicI64::new(reset_ms),
            resizing: AtomicBool::new(true),
        }
    }

    fn shown(bufs: &Buffers) -> (u64, u64) {
        (
            bufs.reply_size.load(Ordering::Relaxed),
            bufs.reply_peak.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn jemalloc_size_classes() {
        assert_eq!(usable(1024), 1024);
        assert_eq!(usable(1025), 1280);
        assert_eq!(usable(1500), 1536);
        assert_eq!(usable(2048), 2048);
        assert_eq!(usable(5000), 5120);
        assert_eq!(usable(16384), 16384);
        assert_eq!(usable(100), 112);
        assert_eq!(usable(129), 160);
    }

    #[test]
    fn an_idle_client_shrinks_to_one_kib_after_its_peak_resets() {
        let (b, bufs, p) = (&mut ReplyBuffer::default(), Buffers::default(), policy(100));
        b.publish_new(&bufs);
        assert_eq!(shown(&bufs), (16384, 16384));
        b.note(5, &bufs);
        // First pass: nothing to resize yet (peak = size, already 16 KiB); the peak resets.
        assert_eq!(b.cron(1_000, 0, &p, &bufs), (Resize::None, true));
        assert_eq!(shown(&bufs), (16384, 0));
        assert_eq!(b.cron(1_100, 0, &p, &bufs), (Resize::Shrunk, false));
        assert_eq!(shown(&bufs), (1024, 0));
        assert_eq!(b.cron(1_200, 0, &p, &bufs), (Resize::None, false));
    }

    #[test]
    fn a_client_filling_its_buffer_doubles_it_up_to_16_kib() {
        let (b, bufs, p) = (&mut ReplyBuffer::default(), Buffers::default(), policy(-1));
        b.size = 1024;
        b.peak = 0;
        let mut sizes = Vec::new();
        for t in 0..6 {
            b.note(32_781, &bufs);
            b.cron(t * 100, 0, &p, &bufs);
            sizes.push(shown(&bufs).0);
        }
        assert_eq!(sizes, [2048, 4096, 8192, 16384, 16384, 16384]);
        assert_eq!(shown(&bufs).1, 16384);
    }

    #[test]
    fn a_shrink_keeps_the_peak_plus_one_byte_rounded_to_a_size_class() {
        let (b, bufs, p) = (
            &mut ReplyBuffer::default(),
            Buffers::default(),
            policy(5_000),
        );
        b.peak = 3000;
        b.reset_at = 1;
        assert_eq!(b.cron(2, 0, &p, &bufs).0, Resize::Shrunk);
        assert_eq!(shown(&bufs), (3072, 3000));
    }

    #[test]
    fn resizing_off_leaves_the_buffer_alone() {
        let (b, bufs, p) = (&mut ReplyBuffer::default(), Buffers::default(), policy(100));
        p.resizing.store(false, Ordering::Relaxed);
        b.peak = 0;
        assert_eq!(b.cron(1_000, 0, &p, &bufs), (Resize::None, false));
        assert_eq!(b.size, CHUNK);
    }
}
