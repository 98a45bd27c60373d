//! Connections blocked on keys (BLPOP, BZPOPMIN, BLMOVE, ...), in FIFO order per key
//! across all workers, and the state a parked connection keeps.
//!
//! A waiter is registered once per `(db, key)` it waits on; a write to the key wakes the
//! first waiter only ([`Waiters::first`]); a served waiter leaves every queue and wakes the
//! next one on each of its keys ([`Waiters::leave`]), so elements are handed out in the
//! order clients blocked, one re-run at a time.
//!
//! Order relative to the writer (as Redis, which serves blocked clients right after the
//! command that fed their keys, before the writer's next command): the first signal a
//! command sends starts a [`Chain`]; every wake it causes carries a [`Link`] to it
//! ([`Event::WakeLinked`]), and the woken request holds that link while it re-runs, so the
//! signals and next-waiter wakes it causes join the same chain (BRPOPLPUSH into a key
//! another client blocks on). The writer's connection runs nothing more until the last link
//! is dropped ([`Event::Resume`]). A link is dropped after the one re-run, or when its
//! event finds no waiting connection, so a chain always ends.
//!
//! Lost wake-ups: a waiter registers (a `SeqCst` count increment) and then re-runs its
//! request once; a writer changes the key under the key's stripe lock and then
//! [`Waiters::anyone_waiting`] fences and loads the count. Either the writer sees the
//! registration and wakes the waiter, or the re-run sees the write.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{Event, Hub, Target};

/// The clients one command woke, directly or through the requests they ran in turn; its
/// connection (`pusher`) resumes when the last [`Link`] is dropped.
pub struct Chain {
    hub: Arc<Hub>,
    /// Set by the writer's connection right after its command (before that, the writer's
    /// own link keeps the chain alive).
    pusher: Mutex<Option<Target>>,
}

/// One holder's share in a [`Chain`]: a wake event on its way, or a re-run in progress.
pub type Link = Arc<Chain>;

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chain({:?})", *self.pusher.lock())
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        if let Some(t) = self.pusher.get_mut().take() {
            self.hub.post(t, Event::Resume);
        }
    }
}

thread_local! {
    /// The link of the woken request this thread is re-running.
    static SERVING: RefCell<Option<Link>> = const { RefCell::new(None) };
    /// A chain the command running on this thread started (its connection takes it).
    static STARTED: RefCell<Option<Link>> = const { RefCell::new(None) };
}

/// The link a wake sent now carries: the running re-run's, else the chain the running
/// command started (started here on its first wake).
pub(super) fn link(hub: &Arc<Hub>) -> Link {
    if let Some(l) = SERVING.with(|s| s.borrow().clone()) {
        return l;
    }
    STARTED.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                Arc::new(Chain {
                    hub: hub.clone(),
                    pusher: Mutex::new(None),
                })
            })
            .clone()
    })
}

/// A connection starts serving: `link` is the chain its woken request belongs to.
pub fn serving(link: Option<Link>) {
    if link.is_some() {
        SERVING.with(|s| *s.borrow_mut() = link);
    }
}

/// After each request (and when the connection's turn ends): the re-run's link is dropped;
/// returns the chain the request started when it woke blocked clients: its connection
/// must [`Chain::hold`] its next request until they are served.
#[inline]
pub fn after_request() -> Option<Link> {
    SERVING.with(|s| {
        if s.borrow().is_some() {
            s.borrow_mut().take();
        }
    });
    STARTED.with(|s| s.borrow_mut().take())
}

impl Chain {
    /// The connection `who` that started the chain waits for [`Event::Resume`].
    pub fn hold(&self, who: Target) {
        *self.pusher.lock() = Some(who);
    }
}

/// What a blocked command answers when its time is up (or CLIENT UNBLOCK … TIMEOUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// `*-1` (RESP2) / `_` (RESP3): BLPOP, BRPOP, BZPOPMIN, BZPOPMAX, BLMPOP, BZMPOP.
    NullArray,
    /// `$-1` / `_`: BRPOPLPUSH, BLMOVE.
    NullBulk,
    /// Run the request again (a CLIENT PAUSE ended).
    Rerun,
}

impl OnTimeout {
    /// Appends the timeout reply; nothing for [`OnTimeout::Rerun`].
    pub fn write(self, resp3: bool, out: &mut Vec<u8>) {
        let bytes: &[u8] = match (self, resp3) {
            (OnTimeout::Rerun, _) => b"",
            (_, true) => b"_\r\n",
            (OnTimeout::NullArray, false) => b"*-1\r\n",
            (OnTimeout::NullBulk, false) => b"$-1\r\n",
        };
        out.extend_from_slice(bytes);
    }
}

/// A parked connection's wait: the request stays in its input until the wait ends.
#[derive(Debug)]
pub struct Wait {
    /// `(db, key)` pairs the connection is queued on (none for CLIENT PAUSE).
    pub keys: Vec<(u8, Box<[u8]>)>,
    /// When the timeout reply is due (`None`: wait forever).
    pub deadline: Option<Instant>,
    pub on_timeout: OnTimeout,
    /// Bytes of input the blocked request takes (skipped when the wait times out).
    pub consumed: usize,
    /// A signal arrived (or the wait was just registered): re-run the request.
    pub woken: bool,
    /// The worker has put `deadline` on its timer heap.
    pub armed: bool,
}

/// A blocked-on key: database and name.
pub type WaitKey = (u8, Box<[u8]>);

/// Every key some connection is blocked on, with its waiters in arrival order.
#[derive(Default)]
pub struct Waiters {
    /// Registrations (one per waiter and key): zero means no signal needs the lock.
    count: AtomicUsize,
    queues: Mutex<HashMap<WaitKey, VecDeque<Target>>>,
}

impl Waiters {
    /// Whether any connection waits on any key (the writers' fast path).
    #[inline]
    pub fn anyone_waiting(&self) -> bool {
        fence(Ordering::SeqCst);
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Queues `who` on each key it is not already queued on (a re-blocked waiter keeps its
    /// place).
    pub fn register(&self, who: Target, keys: &[(u8, Box<[u8]>)]) {
        let mut q = self.queues.lock();
        for k in keys {
            let queue = q.entry(k.clone()).or_default();
            if !queue.contains(&who) {
                queue.push_back(who);
                self.count.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The first waiter on `(db, key)`.
    pub fn first(&self, db: u8, key: &[u8]) -> Option<Target> {
        let q = self.queues.lock();
        // A borrowed lookup would need a second key type; keys here are short-lived.
        q.get(&(db, Box::from(key)))
            .and_then(|queue| queue.front().copied())
    }

    /// Takes `who` off its keys' queues; when `wake_next`, the new first waiter of each of
    /// those keys is woken (the element `who` was woken for may still be there).
    pub fn leave(&self, hub: &Arc<Hub>, who: Target, keys: &[(u8, Box<[u8]>)], wake_next: bool) {
        let mut next = Vec::new();
        {
            let mut q = self.queues.lock();
            for k in keys {
                let Some(queue) = q.get_mut(k) else {
                    continue;
                };
                let was_first = queue.front() == Some(&who);
                if let Some(at) = queue.iter().position(|t| *t == who) {
                    queue.remove(at);
                    self.count.fetch_sub(1, Ordering::SeqCst);
                }
                if wake_next && was_first {
                    if let Some(t) = queue.front() {
                        next.push(*t);
                    }
                }
                if queue.is_empty() {
                    q.remove(k);
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        // Within a re-run the next waiters join its chain; a waiter that timed out passes
        // its turn on unchained.
        let current = SERVING.with(|s| s.borrow().clone());
        for t in next {
            match &current {
                Some(l) => hub.post(t, Event::WakeLinked(l.clone())),
                None => hub.post(t, Event::Wake),
            }
        }
    }

    /// The keys waited on in database `db` (SWAPDB signals each of them).
    pub fn keys_in(&self, db: u8) -> Vec<Box<[u8]>> {
        let q = self.queues.lock();
        q.keys()
            .filter(|k| k.0 == db)
            .map(|k| k.1.clone())
            .collect()
    }

    /// Number of keys at least one connection waits on (`INFO keyspace`-style gauges).
    pub fn keys_waited(&self) -> usize {
        self.queues.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(worker: u32, id: u64) -> Target {
        Target {
            worker,
            slot: id as u32,
            id,
        }
    }

    fn key(k: &[u8]) -> (u8, Box<[u8]>) {
        (0, Box::from(k))
    }

    #[test]
    fn first_come_first_served_across_workers() {
        let hub = Arc::new(Hub::new(2));
        let w = &hub.waiters;
        assert!(!w.anyone_waiting());
        w.register(t(1, 1), &[key(b"a")]);
        w.register(t(0, 2), &[key(b"a"), key(b"b")]);
        // Re-blocking keeps the place.
        w.register(t(1, 1), &[key(b"a")]);
        assert!(w.anyone_waiting());
        assert_eq!(w.first(0, b"a"), Some(t(1, 1)));
        assert_eq!(w.first(0, b"b"), Some(t(0, 2)));
        assert_eq!(w.first(1, b"a"), None);
        hub.signal_key(0, b"a");
        let mut got = Vec::new();
        hub.take(1, &mut got);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, t(1, 1));
        // Served: leaves, and the next waiter on "a" is woken.
        w.leave(&hub, t(1, 1), &[key(b"a")], true);
        got.clear();
        hub.take(0, &mut got);
        assert_eq!(got[0].to, t(0, 2));
        assert!(matches!(got[0].event, Event::Wake));
        w.leave(&hub, t(0, 2), &[key(b"a"), key(b"b")], false);
        assert!(!w.anyone_waiting());
        assert_eq!(w.keys_waited(), 0);
    }

    #[test]
    fn timeout_replies_per_protocol() {
        let reply = |o: OnTimeout, resp3| {
            let mut v = Vec::new();
            o.write(resp3, &mut v);
            v
        };
        assert_eq!(reply(OnTimeout::NullArray, false), b"*-1\r\n");
        assert_eq!(reply(OnTimeout::NullBulk, false), b"$-1\r\n");
        assert_eq!(reply(OnTimeout::NullArray, true), b"_\r\n");
        assert_eq!(reply(OnTimeout::Rerun, false), b"");
    }
}
