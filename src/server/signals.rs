//! SIGTERM and SIGINT stop the server cleanly (once a busy script ends, as Redis).
//!
//! The signals are blocked in every thread (the mask is inherited, so [`block_termination`]
//! runs before any thread starts) and one thread takes them with sigwait(2). No handler
//! runs in signal context, so nothing here has to be async-signal-safe.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::Lifecycle;
use crate::commands::gate::Gates;

/// The blocked termination signals, to hand to [`wait_for_termination`].
pub struct TerminationSignals(libc::sigset_t);

/// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later.
pub fn block_termination() -> io::Result<TerminationSignals> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t for each call.
    let rc = unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(TerminationSignals(set))
}

/// Starts the thread that turns a termination signal into [`Lifecycle::stop`].
///
/// While a script runs past its busy threshold the stop waits for it to end, as Redis's
/// `shutdown_asap` waits for its event loop: the listeners stay open and clients still
/// connect (and get `-BUSY`), so SCRIPT KILL or SHUTDOWN NOSAVE can reach the server; once
/// the script ends (killed or done) the server stops as usual. A second SIGINT meanwhile
/// exits at once with status 1, without saving (Redis: "You insist... exiting now.").
///
/// `prepare` runs before the stop, still serving (the exit save, as Redis's
/// `prepareForShutdown`); when it fails the server keeps running, as Redis does, and the
/// next signal tries again.
pub fn wait_for_termination(
    signals: TerminationSignals,
    lifecycle: Arc<Lifecycle>,
    gates: Arc<Gates>,
    verbose: bool,
    prepare: Box<dyn Fn() -> bool + Send>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("slabd-signals".into())
        .spawn(move || {
            // A stop waiting for a busy script to end.
            let mut pending = false;
            loop {
                let sig = if pending {
                    if lifecycle.is_stopping() {
                        pending = false;
                        continue;
                    }
                    if !gates.busy() {
                        pending = false;
                        stop_prepared(&lifecycle, &*prepare);
                        continue;
                    }
                    signals.wait_for(BUSY_CHECK)
                } else {
                    signals.wait()
                };
                let Some(sig) = sig else {
                    continue;
                };
                if pending && sig == libc::SIGINT {
                    eprintln!("You insist... exiting now.");
                    std::process::exit(1);
                }
                if verbose {
                    eprintln!("Signal handled: {sig}, stopping");
                }
                if gates.busy() {
                    if verbose {
                        eprintln!("A script is busy: stopping once it ends");
                    }
                    pending = true;
                } else {
                    stop_prepared(&lifecycle, &*prepare);
                }
            }
        })?;
    Ok(())
}

/// Stops the server once `prepare` succeeds; otherwise it keeps serving.
fn stop_prepared(lifecycle: &Lifecycle, prepare: &dyn Fn() -> bool) {
    if lifecycle.is_stopping() {
        return;
    }
    if prepare() {
        lifecycle.stop();
    } else {
        eprintln!(
            "SIGTERM received but errors trying to shut down the server, check the logs for more information"
        );
    }
}

/// How often a stop waiting for a busy script looks whether it ended.
const BUSY_CHECK: Duration = Duration::from_millis(10);

impl TerminationSignals {
    /// The next termination signal (`None`: interrupted).
    fn wait(&self) -> Option<libc::c_int> {
        let mut sig: libc::c_int = 0;
        // SAFETY: the set is initialised and `sig` is a valid out pointer.
        let rc = unsafe { libc::sigwait(&self.0, &mut sig) };
        (rc == 0).then_some(sig)
    }

    /// The next termination signal within `timeout` (`None`: none came, or interrupted).
    fn wait_for(&self, timeout: Duration) -> Option<libc::c_int> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: the set and the timespec are initialised; a null siginfo is allowed.
        let sig = unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), &ts) };
        (sig > 0).then_some(sig)
    }
}
