//! `appendfsync always` in the worker threads: one fsync per worker turn.
//!
//! ```text
//!  worker turn:   requests run, records are appended, replies stay in their buffers
//!  turn end:      write + fsync everything appended up to the turn's last record (other
//!                 workers' records too: a worker that waits for the fsync mutex finds its
//!                 records covered), then flush the slots whose records are on disk
//! ```
//!
//! As Redis does (one fsync per event-loop turn, with the loop stopped). Until session 9
//! the fsync ran on a `slabd-fsync` thread that woke the worker after it, so the worker
//! kept serving meanwhile; at -P 1 the two hand-overs per group commit cost more than they
//! saved (SET with 50 clients 0.73-0.80x Redis's always, 0.99-1.08x with the fsync on the
//! worker; -P 16 unchanged, 1.22-1.42x). A connection whose replies wait keeps the later
//! ones waiting too (its output buffer goes out whole): [`defer_reply`] holds any flush of
//! a slot that still waits.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

use crate::commands::Context;

/// Replies waiting for the fsync of records up to an offset.
#[derive(Default)]
struct Waiting {
    /// (offset, slots) in offset order.
    entries: VecDeque<(u64, Vec<usize>)>,
    /// The offset each waiting slot waits for (its latest entry).
    owed: HashMap<usize, u64>,
    /// Emptied slot vectors, reused.
    spare: Vec<Vec<usize>>,
}

thread_local! {
    /// This thread is a worker inside an event-loop turn.
    static IN_TURN: Cell<bool> = const { Cell::new(false) };
    /// Slots whose replies this turn held.
    static DEFERRED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static WAITING: RefCell<Waiting> = RefCell::default();
    /// Some slot's replies wait (`WAITING.owed` is not empty; it changes only in
    /// [`turn_end`]): lets each reply skip the lazily built `WAITING` when none does.
    static OWED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a worker inside a turn (its records are committed at the
/// turn's end, not by the command).
pub fn in_turn() -> bool {
    IN_TURN.with(|t| t.get())
}

/// A worker's event-loop turn begins.
pub fn turn_begin() {
    IN_TURN.with(|t| t.set(true));
}

/// Whether this worker has replies waiting for an fsync (it polls with a short timeout as
/// well as waiting for the fsync thread's wake-up).
pub fn waiting() -> bool {
    WAITING.with(|w| !w.borrow().entries.is_empty())
}

/// Whether a reply about to be written must wait for an fsync: this turn appended records
/// (`appendfsync always`), or the connection (`slot`) has replies waiting already. Then
/// the slot is remembered for [`turn_end`]. Two thread-local reads otherwise.
pub fn defer_reply(slot: usize) -> bool {
    if !in_turn() {
        return false;
    }
    let owes = super::aof_log::owes();
    let owed = OWED.get() && WAITING.with(|w| w.borrow().owed.contains_key(&slot));
    if !owes && !owed {
        return false;
    }
    DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        if d.last() != Some(&slot) {
            d.push(slot);
        }
    });
    true
}

/// A worker's turn ends: its records are written and fsynced, and `flush` receives every
/// slot whose wait is over.
pub fn turn_end(ctx: &Context, flush: &mut Vec<usize>) {
    IN_TURN.with(|t| t.set(false));
    let aof = &ctx.persist.aof;
    if !aof.is_always() {
        // Not (or no longer) `always`: nothing waits. Every turn of every worker passes
        // here, so with nothing held it takes, moves and allocates nothing.
        aof.commit_mine();
        DEFERRED.with(|d| flush.append(&mut d.borrow_mut()));
        WAITING.with(|w| {
            let mut w = w.borrow_mut();
            if w.entries.is_empty() && w.owed.is_empty() {
                return;
            }
            while let Some((_, mut slots)) = w.entries.pop_front() {
                flush.extend_from_slice(&slots);
                slots.clear();
                w.spare.push(slots);
            }
            w.owed.clear();
        });
        OWED.set(false);
        return;
    }
    let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    WAITING.with(|w| {
        let mut w = w.borrow_mut();
        let end = super::aof_log::take_end();
        let last = w.entries.back().map_or(0, |e| e.0);
        if !deferred.is_empty() {
            let at = end.max(last);
            for &s in &deferred {
                w.owed.insert(s, at);
            }
            let mut slots = w.spare.pop().unwrap_or_default();
            slots.extend_from_slice(&deferred);
            w.entries.push_back((at, slots));
        }
        if end > 0 {
            aof.sync_now(end);
        } else if let Some(&(at, _)) = w.entries.back() {
            // Still waiting (another worker's fsync was under way): fsync now.
            if at > aof.synced() {
                aof.sync_now(at);
            }
        }
        let synced = aof.synced();
        while w.entries.front().is_some_and(|e| e.0 <= synced) {
            let (_, mut slots) = w.entries.pop_front().expect("front exists");
            for &s in &slots {
                if w.owed.get(&s).is_some_and(|&at| at <= synced) {
                    w.owed.remove(&s);
                    flush.push(s);
                }
            }
            slots.clear();
            w.spare.push(slots);
        }
        OWED.set(!w.owed.is_empty());
    });
    DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        if d.capacity() < deferred.capacity() {
            *d = deferred;
            d.clear();
        }
    });
}
