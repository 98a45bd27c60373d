//! Counters for `stats` and `INFO`.
//!
//! Request counters live in one [`ThreadStats`] per worker thread, written only by that thread
//! (relaxed atomics, no shared cache line between workers) and summed when a client asks.
//! Connection counters live in [`ServerStats`], touched only on accept and close.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($(#[$meta:meta])* $name:ident, $snap:ident { $($(#[$fmeta:meta])* $field:ident),* $(,)? }
     $(; $(#[$xmeta:meta])* $xfield:ident: $xty:ty)?) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: AtomicU64,)*
            $($(#[$xmeta])* pub $xfield: $xty,)?
        }

        /// A plain copy of the counters, for printing and summing.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $snap {
            $(pub $field: u64,)*
        }

        impl $name {
            pub fn snapshot(&self) -> $snap {
                $snap { $($field: self.$field.load(Ordering::Relaxed),)* }
            }

            /// `stats reset`.
            pub fn reset(&self) {
                $(self.$field.store(0, Ordering::Relaxed);)*
                $(self.$xfield.reset();)?
            }
        }

        impl std::ops::AddAssign for $snap {
            fn add_assign(&mut self, o: $snap) {
                $(self.$field += o.$field;)*
            }
        }
    };
}

counters!(
    /// Per worker thread request counters, named as memcached's `stats` prints them.
    ThreadStats, ThreadSnapshot {
    cmd_get, cmd_set, cmd_flush, cmd_touch, cmd_meta,
    get_hits, get_misses, get_expired, get_flushed,
    delete_misses, delete_hits,
    incr_misses, incr_hits, decr_misses, decr_hits,
    cas_misses, cas_hits, cas_badval,
    touch_hits, touch_misses,
    store_too_large, store_no_memory,
    auth_cmds, auth_errors,
    bytes_read, bytes_written,
    conn_yields,
    /// Connections closed by `-o idle_timeout`.
    idle_kicks,
    /// Requests refused for want of a response object under `-o read_buf_mem_limit`.
    response_obj_oom,
    /// Requests served over RESP (Redis `total_commands_processed` adds both protocols).
    resp_cmds,
    /// RESP requests that returned an error reply.
    resp_errors,
    /// Redis keyspace_hits / keyspace_misses are get_hits / get_misses.
    expired_keys,
    /// Reply buffers shrunk / grown by the 100 ms pass (INFO stats `reply_buffer_shrinks`,
    /// `reply_buffer_expands`; `server::connection::reply_buffer`).
    reply_buffer_shrinks, reply_buffer_expands,
    /// Keyed store accesses, and how many named another stripe than the one before
    /// (`storage::take_key_tally`, added once per turn): the gather policy's sign of a
    /// one-key load.
    keyed_accesses, keyed_switches,
};
    /// The same hits per slab class of the item (memcached's `stats slabs` columns),
    /// counted by the memcached protocols.
    classes: PerClass
);

counters!(
    /// Per slab class request counters: memcached 1.6's `slab_stats`, named as `stats
    /// slabs` prints them.
    ClassCounters, ClassSnapshot {
    get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval, touch_hits,
});

/// One [`ClassCounters`] per slab class id (index = id; 0 unused), owned by one worker.
#[derive(Debug)]
pub struct PerClass(Box<[ClassCounters]>);

impl Default for PerClass {
    fn default() -> PerClass {
        PerClass(
            (0..=crate::storage::MAX_CLASSES)
                .map(|_| ClassCounters::default())
                .collect(),
        )
    }
}

impl PerClass {
    /// The counters of class `id` (an out-of-range id shares the unused slot 0).
    #[inline]
    pub fn of(&self, id: u8) -> &ClassCounters {
        self.0.get(usize::from(id)).unwrap_or(&self.0[0])
    }

    fn reset(&self) {
        self.0.iter().for_each(ClassCounters::reset);
    }
}

/// Sums class `id`'s counters over every worker.
pub fn sum_class(threads: &[ThreadStats], id: u8) -> ClassSnapshot {
    let mut total = ClassSnapshot::default();
    for t in threads {
        total += t.classes.of(id).snapshot();
    }
    total
}

/// Adds one to a counter owned by the calling thread.
#[inline]
pub fn bump(c: &AtomicU64) {
    add(c, 1);
}

/// Adds `n` to a counter owned by the calling thread.
#[inline]
pub fn add(c: &AtomicU64, n: u64) {
    // Only the owning worker writes, so a load and a store is enough (no locked RMW).
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

counters!(
    /// Connection counters shared by the listener and workers.
    ServerStats, ServerSnapshot {
    curr_connections, total_connections, rejected_connections,
    connection_structures, listen_disabled_num,
    reserved_fds,
    /// 1 while the acceptor is not accepting (memcached's accepting_conns is the
    /// opposite); microseconds spent so, added when accepting resumes.
    accept_paused, time_in_listen_disabled_us,
    /// Connections holding a read buffer, and the buffers' capacity in bytes (gauges).
    read_buf_count, read_buf_bytes,
    /// Connections holding a write buffer, and the buffers' capacity in bytes (gauges).
    response_obj_count, response_obj_bytes,
    /// Memory of the open TLS sessions (an estimate per session, see server::tls).
    tls_session_bytes,
    /// Connections moved between workers, and the workers taking connections now
    /// (server::gather; INFO stats `worker_moves`, `workers_active`).
    worker_moves, workers_active,
    /// Gather trials (server::gather's `Trial`): started, spreads kept, and the last
    /// decided one's request rates with the spread and back (INFO stats `worker_trials`,
    /// `worker_trials_kept`, `worker_trial_last`); spreads made on a remembered won trial
    /// (`worker_trials_recalled`); rebalances ordered between active
    /// workers (`worker_rebalances`); whether clients of exclusive sections belong on
    /// worker 0 now (`worker_exclusive_pinned`, 0 or 1).
    worker_trials, worker_trials_kept, worker_trial_spread_rate, worker_trial_back_rate,
    worker_trials_recalled,
    worker_rebalances, worker_exclusive_pinned,
});

impl ServerStats {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(c: &AtomicU64) {
        c.fetch_sub(1, Ordering::Relaxed);
    }

    /// Moves a gauge from `old` to `new`.
    pub fn shift(c: &AtomicU64, old: usize, new: usize) {
        c.fetch_add((new as u64).wrapping_sub(old as u64), Ordering::Relaxed);
    }
}

/// Sums the counters of every worker.
pub fn sum(threads: &[ThreadStats]) -> ThreadSnapshot {
    let mut total = ThreadSnapshot::default();
    for t in threads {
        total += t.snapshot();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_resets() {
        let ts = [ThreadStats::default(), ThreadStats::default()];
        bump(&ts[0].get_hits);
        add(&ts[1].get_hits, 4);
        bump(&ts[1].cmd_set);
        let s = sum(&ts);
        assert_eq!(s.get_hits, 5);
        assert_eq!(s.cmd_set, 1);
        ts[1].reset();
        assert_eq!(sum(&ts).get_hits, 1);
    }
}
