//! SIGTERM and SIGINT stop the server cleanly.
//!
//! The signals are blocked in every thread (the mask is inherited, so [`block_termination`]
//! runs before any thread starts) and one thread takes them with sigwait(2). No handler
//! runs in signal context, so nothing here has to be async-signal-safe.

use std::io;
use std::sync::Arc;

use super::Lifecycle;

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
pub fn wait_for_termination(
    signals: TerminationSignals,
    lifecycle: Arc<Lifecycle>,
    verbose: bool,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("slabd-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: the set is initialised and `sig` is a valid out pointer.
            let rc = unsafe { libc::sigwait(&signals.0, &mut sig) };
            if rc != 0 {
                continue;
            }
            if verbose {
                eprintln!("Signal handled: {sig}, stopping");
            }
            lifecycle.stop();
        })?;
    Ok(())
}
