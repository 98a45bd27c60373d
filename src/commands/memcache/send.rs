//! Large values sent from slab memory: a get of a value of [`SEND_MIN`] bytes or more pins
//! the item (`storage::Pinned`) instead of copying the value into the write buffer, and
//! notes where in the buffer the value belongs; the connection writes the buffer and the
//! pinned pieces with vectored writes (`writev`) and gives each pin back once its value is
//! written ([`PinnedOutput::advance`]), or when the connection closes. As memcached sends
//! an item it holds a reference to, the value costs no copy in user space.
//!
//! Replies that are logged (`-v`) or are not for a stream connection (UDP) are copied as
//! before.

use std::collections::VecDeque;
use std::io::IoSlice;

use std::sync::atomic::Ordering;

use crate::commands::{Context, Session};
use crate::storage::{ItemView, Pinned, Store};

/// Values at least this long are sent from their items.
pub const SEND_MIN: usize = 16 << 10;

/// Most pieces one vectored write is given.
const IOV_MAX: usize = 64;

/// Pinned values in the order of the write buffer: `(offset in the buffer where the value
/// goes, its item)`, and how much of the first one is already written.
#[derive(Debug, Default)]
pub struct PinnedOutput {
    pins: VecDeque<(usize, Pinned)>,
    first_sent: usize,
}

impl PinnedOutput {
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Bytes of pinned values not written yet.
    pub fn unsent(&self) -> usize {
        self.pins.iter().map(|(_, p)| p.value_len()).sum::<usize>() - self.first_sent
    }

    /// Gives every pin back (the connection closes, or drops its output).
    pub fn clear(&mut self, store: &Store) {
        for (_, p) in self.pins.drain(..) {
            store.unpin(p);
        }
        self.first_sent = 0;
    }

    /// The next bytes to write, in order: `buf[sent..]` with the pinned values spliced in
    /// at their offsets (at most [`IOV_MAX`] pieces). Returns how many of `iov` it set.
    pub fn gather<'a>(
        &self,
        store: &'a Store,
        buf: &'a [u8],
        sent: usize,
        iov: &mut [IoSlice<'a>; IOV_MAX],
    ) -> usize {
        let mut n = 0;
        let mut at = sent;
        for (i, (offset, pin)) in self.pins.iter().enumerate() {
            if n + 2 > IOV_MAX {
                return n;
            }
            let offset = (*offset).clamp(at, buf.len());
            if at < offset {
                iov[n] = IoSlice::new(&buf[at..offset]);
                n += 1;
            }
            at = offset;
            let mut skip = if i == 0 { self.first_sent } else { 0 };
            store.pinned_pieces(pin, |piece| {
                if skip >= piece.len() {
                    skip -= piece.len();
                    return;
                }
                if n < IOV_MAX {
                    iov[n] = IoSlice::new(&piece[skip..]);
                    n += 1;
                }
                skip = 0;
            });
        }
        if at < buf.len() && n < IOV_MAX {
            iov[n] = IoSlice::new(&buf[at..]);
            n += 1;
        }
        n
    }

    /// `written` bytes of [`PinnedOutput::gather`]'s order went out: moves `sent` (the
    /// buffer's written mark) and gives back the pins of values written whole.
    pub fn advance(&mut self, store: &Store, sent: &mut usize, mut written: usize) {
        while let Some((offset, pin)) = self.pins.front() {
            let before = offset.saturating_sub(*sent).min(written);
            *sent += before;
            written -= before;
            if *sent < *offset {
                return;
            }
            let rest = pin.value_len() - self.first_sent;
            let k = rest.min(written);
            self.first_sent += k;
            written -= k;
            if self.first_sent < pin.value_len() {
                return;
            }
            if let Some((_, p)) = self.pins.pop_front() {
                store.unpin(p);
            }
            self.first_sent = 0;
        }
        *sent += written;
    }
}

/// Pins `item`'s value to be sent from slab memory at the end of `out` (which then gets
/// the rest of the reply): false when the value is copied instead (short, not a stream
/// connection, logging on, or not pinnable).
pub(super) fn pin_value(ctx: &Context, session: &Session, item: &dyn ItemView, at: usize) -> bool {
    let m = &session.memcache;
    if !m.direct || item.value_len() < SEND_MIN || ctx.verbosity.load(Ordering::Relaxed) != 0 {
        return false;
    }
    let Some(pin) = item.pin() else {
        return false;
    };
    m.pinned.borrow_mut().pins.push_back((at, pin));
    true
}
