//! The host of the script run in progress, as `redis.call` and `redis.pcall` reach it.
//!
//! The two functions are made once, when the interpreter starts, and live in the Lua
//! state for good; a run's host (a synthetic client borrowing the caller's connection)
//! lives only for that run. Making the functions per run (mlua's `Lua::scope`) was safe
//! but cost two C closures, two userdata, their destruction and four table writes on
//! every script run (~1 µs of a 12 µs EVALSHA). Instead [`HostSlot::enter`] publishes a
//! pointer to the run's [`Frame`] for the length of the run, and the functions borrow it
//! through [`HostSlot::with`].
//!
//! Soundness rests on three rules, each kept by this file alone:
//! - the pointer is set only by `enter`, from a `&mut Frame` that outlives the call, and
//!   `enter` clears it before it returns (also when `f` unwinds);
//! - `with` takes the pointer out of the slot while it lends the frame, so a nested
//!   `with` (a command run by the script that would run a script) finds the slot empty
//!   and no two `&mut` to one frame exist;
//! - the frame is lent with a lifetime local to the closure, which so cannot keep it.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::convert::{Host, Scratch};
use super::Params;

/// What `redis.call` needs of a run: the host its commands run on and the bridge's
/// reused buffers.
pub struct Frame<'a> {
    pub host: &'a mut dyn Host,
    pub scratch: &'a mut Scratch,
    /// `redis.setresp(3)` was called: commands' replies reach the script as RESP3 and its
    /// own reply is RESP3 (kept here, not in a Lua table, so `redis.call` reads it free).
    pub resp3: bool,
    /// The interpreter (the bridge turns its heap limit off while Rust builds values).
    pub lua: &'a mlua::Lua,
    /// A run's KEYS and ARGV, which the runner builds (`None` outside runs).
    pub params: Option<Params<'a>>,
}

/// Holds a pointer to the running script's [`Frame`], or null between runs.
#[derive(Debug)]
pub struct HostSlot(AtomicPtr<Frame<'static>>);

impl Default for HostSlot {
    fn default() -> HostSlot {
        HostSlot(AtomicPtr::new(ptr::null_mut()))
    }
}

/// Puts a pointer back in its slot when dropped (the end of `enter` or `with`, also on
/// unwind).
struct Restore<'s> {
    slot: &'s AtomicPtr<Frame<'static>>,
    to: *mut Frame<'static>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.slot.store(self.to, Ordering::Release);
    }
}

impl HostSlot {
    /// Runs `f` with `frame` reachable through [`HostSlot::with`]; the slot is empty again
    /// when `enter` returns.
    pub fn enter<R>(&self, frame: &mut Frame<'_>, f: impl FnOnce() -> R) -> R {
        let p: *mut Frame<'_> = frame;
        let before = self.0.swap(p.cast::<Frame<'static>>(), Ordering::AcqRel);
        let _restore = Restore {
            slot: &self.0,
            to: before,
        };
        f()
    }

    /// Lends the running script's frame to `f`; `None` when no script runs (or the frame
    /// is already lent: a nested call).
    pub fn with<R>(&self, f: impl FnOnce(&mut Frame<'_>) -> R) -> Option<R> {
        let p = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return None;
        }
        let _restore = Restore {
            slot: &self.0,
            to: p,
        };
        // SAFETY: `p` was stored by `enter` from a `&mut Frame` borrowed for the whole
        // `enter` call, which is still running (it clears the slot before returning), and
        // the swap above took it out of the slot, so this is the only reference to the
        // frame until `_restore` puts it back after `f`. `f` gets the frame for a
        // lifetime local to it and so cannot keep it.
        let frame = unsafe { &mut *p.cast::<Frame<'_>>() };
        Some(f(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::Args;

    struct Echo(usize);

    impl Host for Echo {
        fn command(&mut self, args: Args<'_>, _: bool, out: &mut Vec<u8>) -> Result<(), String> {
            self.0 += 1;
            out.extend_from_slice(args.get(0));
            Ok(())
        }

        fn deny_writes(&mut self) {}

        fn acl_check(&mut self, _: Args<'_>) -> Option<bool> {
            None
        }
    }

    #[test]
    fn the_frame_is_reachable_only_inside_enter_and_never_twice() {
        let slot = HostSlot::default();
        assert!(slot.with(|_| ()).is_none());
        let mut host = Echo(0);
        let mut scratch = Scratch::default();
        let lua = mlua::Lua::new();
        let mut frame = Frame {
            host: &mut host,
            scratch: &mut scratch,
            resp3: false,
            lua: &lua,
            params: None,
        };
        let nested = slot.enter(&mut frame, || {
            slot.with(|frame| {
                let mut out = Vec::new();
                let (bytes, ranges) = (b"ping".to_vec(), vec![(0, 4)]);
                frame
                    .host
                    .command(Args::new(&bytes, &ranges), false, &mut out)?;
                assert_eq!(out, b"ping");
                // A nested borrow finds the slot empty.
                Ok::<bool, String>(slot.with(|_| ()).is_none())
            })
        });
        assert_eq!(nested, Some(Ok(true)));
        assert!(slot.with(|_| ()).is_none());
        assert_eq!(host.0, 1);
    }
}
