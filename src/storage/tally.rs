//! Which stripes a thread's keyed accesses go to, told as a count of switches: the
//! placement policy's sign of a load on one key (`server::gather`).
//!
//! A spread on trial puts a second worker beside the first to see whether it serves more.
//! When every request names one key (a pipelined benchmark on one list or sorted set),
//! both workers take that key's stripe lock in turn: the lock's line moves between cores
//! and a waiter sleeps in the kernel, about 1 µs a request while the trial lasts (ZRANK on
//! a 1,000,000-member set: 1.4-1.7 µs per request on one worker, 2.7 in the run that
//! overlapped a trial), and the trial cannot win. A thread counts its accesses and how
//! often the stripe differs from the one before: a one-key load switches almost never,
//! and a load over many keys about once per key, however many times a command locks the
//! same key.

use std::cell::Cell;

#[derive(Clone, Copy)]
struct Tally {
    last: u32,
    accesses: u32,
    switches: u32,
}

thread_local! {
    static TALLY: Cell<Tally> = const {
        Cell::new(Tally {
            last: u32::MAX,
            accesses: 0,
            switches: 0,
        })
    };
}

/// Counts one keyed access to `stripe` by this thread (the store's `lock_key`).
#[inline]
pub(super) fn note(stripe: usize) {
    TALLY.with(|t| {
        let mut v = t.get();
        v.accesses = v.accesses.wrapping_add(1);
        v.switches = v.switches.wrapping_add(u32::from(v.last != stripe as u32));
        v.last = stripe as u32;
        t.set(v);
    });
}

/// This thread's (accesses, stripe switches) since the last call; the counts restart.
/// A worker calls it once per turn, which keeps the counts far below `u32::MAX`.
pub fn take_key_tally() -> (u64, u64) {
    TALLY.with(|t| {
        let v = t.get();
        t.set(Tally {
            accesses: 0,
            switches: 0,
            ..v
        });
        (u64::from(v.accesses), u64::from(v.switches))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_switches_once_and_many_keys_switch_per_key() {
        take_key_tally();
        for _ in 0..100 {
            note(7);
        }
        assert_eq!(take_key_tally(), (100, 1));
        for _ in 0..100 {
            note(7);
        }
        assert_eq!(take_key_tally(), (100, 0), "the last stripe is kept");
        for i in 0..50 {
            // Two locks per command on the same key still switch once per key.
            note(i);
            note(i);
        }
        assert_eq!(take_key_tally(), (100, 50));
    }
}
