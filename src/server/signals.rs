//! SIGTERM and SIGINT stop the server cleanly (once a busy script ends, as Redis).
//!
//! The signals are blocked in every thread (the mask is inherited, so [`block_termination`]
//! runs before any thread starts) and one thread takes them with sigwait(2). No handler
//! runs in signal context for them, so nothing there has to be async-signal-safe.
//!
//! A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT: a crash, an abort, `kill
//! -ABRT`) gets a crash report in the log before the process dies of it, as Redis's
//! `sigsegvHandler` writes one ([`report_crashes`]); that handler formats into a stack
//! buffer and calls only write(2), sigaction's reset and raise(3).

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

/// The signals that end the process with a crash report first.
const FATAL: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the crash report for the fatal signals (process-wide; any thread may take one).
/// Each handler runs once: the signal's default action is back before it runs, so a second
/// fault, or the signal raised again at its end, ends the process as it would have.
pub fn report_crashes() -> io::Result<()> {
    for sig in FATAL {
        // SAFETY: sigaction is plain data; every field the kernel reads is set below.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            crash_report;
        act.sa_sigaction = handler as usize;
        // SA_ONSTACK: a stack overflow's fault runs the report on the alternate stack the
        // Rust runtime gives each thread.
        act.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_RESETHAND | libc::SA_ONSTACK;
        // SAFETY: `act` is initialised and exclusively borrowed; a null old action is allowed.
        let rc = unsafe {
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A fixed buffer `write!` can format into without allocating (in signal context).
struct StackText {
    buf: [u8; 512],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The crash report, in Redis's words ("crashed by signal: N, si_code: C", the sender of
/// a signal sent by kill), then the signal again with its default action.
extern "C" fn crash_report(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::fmt::Write as _;
    let mut text = StackText {
        buf: [0; 512],
        len: 0,
    };
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler (checked for null).
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    let _ = write!(
        text,
        "\n\n=== SLABD BUG REPORT START: Cut & paste starting from here ===\n\
         slabd {} crashed by signal: {sig}, si_code: {code}\n",
        env!("CARGO_PKG_VERSION")
    );
    if code == libc::SI_USER && !info.is_null() {
        // SAFETY: as above; a kill(2)'s siginfo carries the sender's pid and uid.
        let (pid, uid) = unsafe { ((*info).si_pid(), (*info).si_uid()) };
        let _ = writeln!(text, "Killed by PID: {pid}, UID: {uid}");
    }
    let _ = writeln!(
        text,
        "=== SLABD BUG REPORT END. Make sure to include from START to END. ==="
    );
    // SAFETY: write(2) and raise(3) are async-signal-safe; the buffer outlives the call.
    unsafe {
        libc::write(2, text.buf.as_ptr().cast(), text.len);
        // SA_RESETHAND put the default action back: a fault returns to the instruction and
        // faults again; a signal that was sent (kill, abort, raise) is raised once more.
        if code <= 0 {
            libc::raise(sig);
        }
    }
}

/// `DEBUG SEGFAULT`: ends the process as a crash would, with the crash report.
pub fn crash() -> ! {
    // SAFETY: raise(3) is always safe to call; SIGSEGV's handler (or default) ends us.
    unsafe {
        libc::raise(libc::SIGSEGV);
    }
    // Without the handler installed (tests of the library) SIGSEGV's default ends us above.
    std::process::abort()
}
