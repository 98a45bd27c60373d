//! Process-level start-up as memcached does it: `-d` (detach), `-P` (pid file), `-u` (drop
//! root privileges).

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the process could not start as asked; the message is shown as is.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("failed to daemonize: {0}")]
    Fork(io::Error),
    #[error("cannot open log file {path}: {source}")]
    Log { path: String, source: io::Error },
    #[error("could not open the pid file {path} for writing: {source}")]
    PidFile { path: String, source: io::Error },
    #[error("can't find the user {0} to switch to")]
    NoSuchUser(String),
    #[error("failed to assume identity of user {user}: {source}")]
    Identity { user: String, source: io::Error },
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Detaches from the terminal: fork (the parent exits 0), new session, `/` as working
/// directory, stdin and stdout to /dev/null, stderr to `logfile` or /dev/null.
/// Must run before any thread is started.
pub fn daemonize(logfile: Option<&Path>) -> Result<(), DaemonError> {
    let log = match logfile {
        // Readable by the owner and group only: it may name clients and keys.
        Some(p) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(p)
            .map_err(|source| DaemonError::Log {
                path: p.display().to_string(),
                source,
            })?,
        None => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(DaemonError::Fork)?,
    };
    let null = std::fs::File::open("/dev/null").map_err(DaemonError::Fork)?;
    // SAFETY: the process is single-threaded here (the caller's contract), so the child of
    // fork(2) owns a consistent copy of all memory.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(DaemonError::Fork(io::Error::last_os_error()));
    }
    if pid > 0 {
        std::process::exit(0);
    }
    use std::os::fd::AsRawFd;
    // SAFETY: setsid, chdir and dup2 take no pointers except the static C string literal;
    // the descriptors are open files owned by this function.
    unsafe {
        check(libc::setsid()).map_err(DaemonError::Fork)?;
        check(libc::chdir(c"/".as_ptr())).map_err(DaemonError::Fork)?;
        check(libc::dup2(null.as_raw_fd(), 0)).map_err(DaemonError::Fork)?;
        check(libc::dup2(log.as_raw_fd(), 1)).map_err(DaemonError::Fork)?;
        check(libc::dup2(log.as_raw_fd(), 2)).map_err(DaemonError::Fork)?;
    }
    Ok(())
}

/// Writes our pid to `path` (memcached writes it only with `-d`; so does slabd).
/// Mode 0644 whatever the umask: readable by all (init scripts read it), writable by the
/// owner only, so nobody else can point a `kill $(cat pidfile)` at another process.
pub fn write_pid_file(path: &Path) -> Result<(), DaemonError> {
    use std::io::Write;
    let err = |source| DaemonError::PidFile {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(err)?;
    // An existing file keeps its mode on open: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(err)?;
    f.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(err)
}

/// `MEMCACHED_PORT_FILENAME`: the ports bound, one `TCP INET: 11211` / `UDP INET6: 11211`
/// line per socket as memcached writes them, into `PATH.lck` renamed to `PATH` when complete
/// (so a reader polling for the file sees all of it). memcached's test harness learns the
/// ports of `-p -1` / `-U -1` this way.
pub fn write_port_file(
    path: &std::ffi::OsStr,
    tcp: &[std::net::SocketAddr],
    udp: &[std::net::SocketAddr],
) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = path.to_os_string();
    tmp.push(".lck");
    let mut text = String::new();
    for (kind, addrs) in [("TCP", tcp), ("UDP", udp)] {
        for a in addrs {
            let family = if a.is_ipv4() { "INET" } else { "INET6" };
            text.push_str(&format!("{kind} {family}: {}\n", a.port()));
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// `-u`: when running as root, give `owned` (the unix socket files) to `user`, then switch
/// to its uid and gid. Not root: nothing to do, as in memcached.
pub fn drop_privileges(user: &str, owned: &[PathBuf]) -> Result<(), DaemonError> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(());
    }
    let name = CString::new(user).map_err(|_| DaemonError::NoSuchUser(user.to_string()))?;
    // SAFETY: `name` is a valid C string; getpwnam's result is read before any other
    // passwd call could overwrite it (no other thread exists yet).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(DaemonError::NoSuchUser(user.to_string()));
    }
    // SAFETY: `pw` is non-null and points to getpwnam's static record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    let failed = |source| DaemonError::Identity {
        user: user.to_string(),
        source,
    };
    for path in owned {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(failed)?;
    }
    // SAFETY: plain system calls on ids; `name` outlives the initgroups call.
    unsafe {
        check(libc::initgroups(name.as_ptr(), gid)).map_err(failed)?;
        check(libc::setgid(gid)).map_err(failed)?;
        check(libc::setuid(uid)).map_err(failed)?;
    }
    Ok(())
}

/// Descriptors needed beside the connections: listeners, one epoll and one waker per
/// thread, the standard streams, files opened by persistence.
const RESERVED_FDS: u64 = 64;

/// Raises the open-file limit to fit `-c` connections, as memcached does. Returns the
/// number of connections the limit allows when it could not be raised far enough.
pub fn raise_file_limit(maxconns: usize) -> Option<u64> {
    let want = maxconns as u64 + RESERVED_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out pointer for getrlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur >= want {
        return None;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: `raised` is a valid rlimit; raising the hard limit needs root and may fail.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return None;
    }
    let capped = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above; the soft limit may always rise to the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) };
    Some(lim.rlim_max.saturating_sub(RESERVED_FDS))
}
