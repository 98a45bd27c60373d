//! Subscribers' messages gathered across a busy worker's turns into fewer, larger writes.
//!
//! On loopback the kernel's cost of a `send` (TCP transmit, the receiver's softirq, waking
//! the reader) is almost all of a Pub/Sub server's CPU: profiled, 77 % of slabd's fan-out
//! time was under `send`, 1.5 % in its own code. A worker writes each touched connection
//! once per turn, so with 50 publishers a subscriber gets one write per turn holding that
//! turn's ~25 messages. While the worker is busy (its next poll already has events), a
//! subscriber that only received messages keeps them for a later turn; they go out
//!
//! - as soon as a poll finds nothing ready (the worker would sleep): an idle server adds
//!   one zero-timeout `epoll_wait` to a message's way, nothing more;
//! - after [`TURNS`] busy turns at most (latency under load stays a few turns);
//! - when its unsent output reaches [`BYTES`], or anything else happens to it (bytes to
//!   read, a request to run, a close): then it is served at once, as before.
//!
//! Order is unchanged (a connection's output is one buffer) and the output limits apply to
//! the unsent bytes as before ([`BYTES`] is far below any `client-output-buffer-limit`).

/// Busy turns a subscriber's messages may wait.
pub const TURNS: u32 = 8;

/// Unsent bytes past which a subscriber is written at once.
pub const BYTES: usize = 32 << 10;

/// The same for a MONITOR connection. A worker serving pipelined GET/SET writes 20-45 KiB
/// of MONITOR lines per turn, so at [`BYTES`] MONITOR got a `send` every turn or two;
/// with this bound it gets one per [`TURNS`] busy turns at most.
pub const MONITOR_BYTES: usize = 256 << 10;

/// The slots of one worker's lingering connections.
#[derive(Default)]
pub struct Linger {
    slots: Vec<usize>,
    /// Turns since the oldest entry came.
    turns: u32,
}

impl Linger {
    /// Adds `slot` (the caller marks the connection `lingering`, so it comes once).
    pub fn hold(&mut self, slot: usize) {
        self.slots.push(slot);
    }

    /// Whether connections wait: the next poll must not sleep.
    pub fn waiting(&self) -> bool {
        !self.slots.is_empty()
    }

    /// At a turn's end: the slots to serve now, when the poll found nothing (`idle`) or the
    /// oldest has waited [`TURNS`] turns. Empty when they may wait longer.
    pub fn due(&mut self, idle: bool, into: &mut Vec<usize>) {
        if self.slots.is_empty() {
            return;
        }
        self.turns += 1;
        if idle || self.turns >= TURNS {
            self.turns = 0;
            into.append(&mut self.slots);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lingering_ends_when_idle_or_after_its_turns() {
        let mut l = Linger::default();
        let mut due = Vec::new();
        l.due(true, &mut due);
        assert!(due.is_empty() && !l.waiting());
        l.hold(3);
        l.hold(5);
        assert!(l.waiting());
        for _ in 1..TURNS {
            l.due(false, &mut due);
            assert!(due.is_empty());
        }
        l.due(false, &mut due);
        assert_eq!(due, vec![3, 5]);
        assert!(!l.waiting());
        due.clear();
        l.hold(7);
        l.due(true, &mut due);
        assert_eq!(due, vec![7]);
        // The count starts again with the next entry.
        l.hold(8);
        l.due(false, &mut due);
        assert_eq!(due, vec![7]);
    }
}
