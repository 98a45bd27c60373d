//! `-o read_buf_mem_limit=MB`: memcached's cap on connection buffer memory, as it shows to
//! clients.
//!
//! memcached splits the limit between its worker threads into 16 KiB buffers; a
//! connection's read buffer takes one, and each reply needs a response object from a
//! buffer-sized bundle of 13 (1 KiB write buffer each). A request that finds no response
//! object free fails: a get with `SERVER_ERROR out of memory writing get response`, any
//! other request closes the connection; both count `response_obj_oom`.
//!
//! slabd writes replies into one output buffer per connection, so it counts what memcached
//! would have allocated: the replies in a connection's output not yet written, against the
//! number of response objects one worker's share of the limit holds (less the read
//! buffer). The cap applies to each connection's pending replies, not to all of a
//! worker's connections together; `read_buf_oom` stays 0.

use super::State;
use crate::config::Settings;

/// memcached's READ_BUFFER_SIZE: the unit its buffer limit is counted in.
const BUFFER: usize = 16 * 1024;

/// Response objects in one memcached bundle: (16384 - 24) / sizeof(mc_resp) (1,192 bytes on
/// 64-bit Linux, 1.6.18).
const RESPONSES_PER_BUFFER: usize = 13;

/// Replies one connection may have pending under `-o read_buf_mem_limit` (None: no limit).
pub(super) fn response_budget(settings: &Settings) -> Option<usize> {
    if settings.read_buf_mem_limit == 0 {
        return None;
    }
    let buffers = (settings.read_buf_mem_limit / settings.threads.max(1) / BUFFER).max(1);
    // One buffer holds the connection's input while its requests run.
    Some(buffers.saturating_sub(1).max(1) * RESPONSES_PER_BUFFER)
}

/// What a request needing `replies` response objects may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    Run,
    /// Out of response objects: `SERVER_ERROR out of memory writing get response` (get
    /// family) or close the connection (anything else).
    OutOfMemory,
}

/// Takes `replies` response objects for a request when the budget allows. `out` is the
/// connection's unwritten output: when it is empty, every earlier reply was sent.
pub(super) fn admit(budget: usize, state: &mut State, out: &[u8], replies: usize) -> Admit {
    if out.is_empty() {
        state.replies = 0;
    }
    if state.replies + replies > budget {
        return Admit::OutOfMemory;
    }
    state.replies += replies;
    Admit::Run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_memcacheds_buffers() {
        let mut s = Settings::default();
        assert_eq!(response_budget(&s), None);
        // conn-limits.t: 1 MB over 32 threads is 2 buffers, one for reading.
        s.read_buf_mem_limit = 1 << 20;
        s.threads = 32;
        assert_eq!(response_budget(&s), Some(13));
        s.threads = 4;
        assert_eq!(response_budget(&s), Some(15 * 13));
    }

    #[test]
    fn replies_count_until_the_output_is_written() {
        let mut st = State::default();
        assert_eq!(admit(13, &mut st, b"", 10), Admit::Run);
        assert_eq!(admit(13, &mut st, b"x", 4), Admit::OutOfMemory);
        assert_eq!(admit(13, &mut st, b"x", 3), Admit::Run);
        assert_eq!(admit(13, &mut st, b"x", 1), Admit::OutOfMemory);
        assert_eq!(admit(13, &mut st, b"", 13), Admit::Run);
    }
}
