//! Run-time changes of the RESP ports: `CONFIG SET port` and `CONFIG SET tls-port`, which
//! Redis 7.0 allows (its `changeListenPort`).
//!
//! The acceptor owns the listeners, so a worker running CONFIG SET posts the change here,
//! wakes the acceptor and waits for its answer. The acceptor binds the new port on every
//! `-l` address first; only when all of them are bound does it close the old listeners of
//! that kind, so a port that cannot be bound leaves things as they were and CONFIG SET
//! fails with Redis's "Unable to listen on this port". Port 0 closes that kind's
//! listeners (Redis: not listening). Connections already accepted are not touched.
//! memcached's `-p` port cannot change at run time, as in memcached.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Lifecycle;

/// Which RESP listeners a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Redis's `port` (slabd's `--resp-port`).
    Plain,
    /// Redis's `tls-port`.
    Tls,
}

/// How long CONFIG SET waits for the acceptor (it answers in microseconds unless the
/// server is stopping).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

struct Request {
    kind: Kind,
    port: u16,
    answer: Option<Result<(), String>>,
}

/// The RESP ports in force and the channel to the acceptor that changes them.
#[derive(Default)]
pub struct Ports {
    plain: AtomicU16,
    tls: AtomicU16,
    /// A request is waiting for the acceptor (checked without the lock on each of its turns).
    wanted: AtomicBool,
    request: Mutex<Option<Request>>,
    answered: Condvar,
    /// One change at a time.
    serial: Mutex<()>,
    acceptor: OnceLock<Arc<Lifecycle>>,
}

impl Ports {
    /// The port in force (0: none).
    pub fn get(&self, kind: Kind) -> u16 {
        match kind {
            Kind::Plain => self.plain.load(Ordering::Relaxed),
            Kind::Tls => self.tls.load(Ordering::Relaxed),
        }
    }

    /// Recorded by the acceptor when it binds or closes listeners.
    pub(super) fn set(&self, kind: Kind, port: u16) {
        match kind {
            Kind::Plain => self.plain.store(port, Ordering::Relaxed),
            Kind::Tls => self.tls.store(port, Ordering::Relaxed),
        }
    }

    /// Connects the acceptor (done once, when the server starts).
    pub(super) fn attach(&self, lifecycle: Arc<Lifecycle>) {
        let _ = self.acceptor.set(lifecycle);
    }

    /// Moves `kind`'s listeners to `port` (0: closes them); the error is CONFIG SET's
    /// reason.
    pub fn change(&self, kind: Kind, port: u16) -> Result<(), String> {
        let _one = self.serial.lock();
        if self.get(kind) == port {
            return Ok(());
        }
        let Some(acceptor) = self.acceptor.get() else {
            return Err("the listeners are not running".into());
        };
        let mut request = self.request.lock();
        *request = Some(Request {
            kind,
            port,
            answer: None,
        });
        self.wanted.store(true, Ordering::Release);
        acceptor.wake();
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            if let Some(answer) = request.as_mut().and_then(|r| r.answer.take()) {
                *request = None;
                return answer;
            }
            if self.answered.wait_until(&mut request, deadline).timed_out() {
                *request = None;
                self.wanted.store(false, Ordering::Release);
                return Err("the server is not accepting connections".into());
            }
        }
    }

    /// The acceptor's side: runs `apply` on a waiting request and hands back its answer.
    pub(super) fn serve(&self, apply: impl FnOnce(Kind, u16) -> Result<(), String>) {
        if !self.wanted.swap(false, Ordering::Acquire) {
            return;
        }
        let mut request = self.request.lock();
        if let Some(r) = request.as_mut().filter(|r| r.answer.is_none()) {
            r.answer = Some(apply(r.kind, r.port));
            self.answered.notify_all();
        }
    }
}
