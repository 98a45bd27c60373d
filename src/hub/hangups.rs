//! Subscribers that hung up before their own worker noticed.
//!
//! A connection's close is seen by the worker that owns it, at that worker's next poll.
//! Redis, one thread, has always handled a client's EOF before any command another client
//! sends afterwards, and its pubsub tests rely on it: close a subscriber, then count the
//! channel's subscribers with PUBLISH or PUBSUB NUMSUB and expect 0. In slabd the
//! subscriber may sit on a worker that has not run since its client left. So every
//! subscriber's socket is also on one shared epoll set that nobody waits on
//! ([`Hangups`]); a command that counts subscribers on another worker first polls that
//! set without waiting (one `epoll_wait`) and leaves out the clients whose peer hung up.
//! Their worker unsubscribes them when it closes them, as before; the socket leaves the
//! set when it is closed (the kernel drops closed descriptors from an epoll set).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use parking_lot::Mutex;

/// The shared set of subscribers' sockets, watched for hang-ups only.
pub struct Hangups {
    poll: Option<Mutex<(Poll, Events)>>,
    /// Client ids whose peer hung up, until their worker closes them.
    hung: Mutex<Vec<u64>>,
    /// `hung` is not empty.
    any: AtomicBool,
}

impl Default for Hangups {
    fn default() -> Self {
        Hangups {
            // Without an epoll set (out of descriptors) counts are as their workers know.
            poll: Poll::new()
                .ok()
                .map(|p| Mutex::new((p, Events::with_capacity(64)))),
            hung: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
        }
    }
}

impl Hangups {
    /// Watches client `id`'s socket (called when it first subscribes; again is harmless).
    pub fn watch(&self, fd: RawFd, id: u64) {
        let Some(p) = &self.poll else {
            return;
        };
        let Ok(token) = usize::try_from(id) else {
            return;
        };
        let p = p.lock();
        // Already watched (subscribed before): EEXIST, nothing to do.
        let _ =
            p.0.registry()
                .register(&mut SourceFd(&fd), Token(token), Interest::READABLE);
    }

    /// Notes the watched clients whose peer hung up since the last look; true when any
    /// hung-up client is still open (then [`Hangups::is_hung`] tells which).
    pub fn refresh(&self) -> bool {
        if let Some(p) = &self.poll {
            let mut guard = p.lock();
            let (poll, events) = &mut *guard;
            if poll.poll(events, Some(Duration::ZERO)).is_ok() {
                let mut hung = None;
                for e in events.iter() {
                    if e.is_read_closed() || e.is_error() {
                        let hung = hung.get_or_insert_with(|| self.hung.lock());
                        let id = e.token().0 as u64;
                        if !hung.contains(&id) {
                            hung.push(id);
                        }
                    }
                }
                if hung.is_some() {
                    self.any.store(true, Ordering::Release);
                }
            }
        }
        self.any.load(Ordering::Acquire)
    }

    /// Whether a hung-up client is still open (as the last [`Hangups::refresh`] saw).
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Whether client `id`'s peer hung up (after [`Hangups::refresh`]).
    pub fn is_hung(&self, id: u64) -> bool {
        self.hung.lock().contains(&id)
    }

    /// Client `id` is closed (or no longer subscribed): forget its hang-up.
    pub fn forget(&self, id: u64) {
        if self.any.load(Ordering::Acquire) {
            let mut hung = self.hung.lock();
            hung.retain(|&h| h != id);
            if hung.is_empty() {
                self.any.store(false, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_peer_that_hung_up_is_noticed_until_forgotten() {
        let h = Hangups::default();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let (ours2, _theirs2) = UnixStream::pair().unwrap();
        h.watch(ours.as_raw_fd(), 7);
        h.watch(ours.as_raw_fd(), 7);
        h.watch(ours2.as_raw_fd(), 8);
        assert!(!h.refresh());
        drop(theirs);
        assert!(h.refresh());
        assert!(h.is_hung(7));
        assert!(!h.is_hung(8));
        // Still noted on later looks (the edge is reported once).
        assert!(h.refresh());
        h.forget(7);
        assert!(!h.refresh());
        assert!(!h.is_hung(7));
    }
}
