//! The `slabd` binary: settings from flags and `--config`, listeners, daemon set-up, then
//! the server until SIGTERM, SIGINT or `shutdown`.
//!
//! Start-up order matters: listeners are bound before `-d` detaches so that a bad address
//! is reported on the terminal; the fork happens before any thread exists (the store is
//! built after it); privileges are dropped after binding (low ports, the unix socket file is
//! handed to the user) and before serving anyone.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use slabd::auth::startup::{self, RootCheck};
use slabd::commands::Context;
use slabd::config::{self, Invocation, Settings};
use slabd::server::{self, daemon, signals, tls, Server};
use slabd::storage::{Clock, Store, StoreConfig};

/// sysexits.h codes, as memcached uses them.
const EX_USAGE: u8 = 64;
const EX_OSERR: u8 = 71;

/// The store's share of the settings.
fn store_config(s: &Settings) -> StoreConfig {
    StoreConfig {
        memory_limit: s.memory_limit,
        page_size: config::SLAB_PAGE_SIZE,
        growth_factor: s.growth_factor,
        chunk_size: s.chunk_size,
        item_size_max: s.item_size_max,
        slab_chunk_max: s.slab_chunk_max,
        evict: !s.no_evict,
        use_cas: !s.no_cas,
        databases: s.databases,
        hashpower: s.hashpower,
        slab_reassign: s.slab_reassign,
        slab_automove: s.slab_automove,
        lru_crawler: s.lru_crawler,
    }
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("slabd: {message}");
    ExitCode::from(code)
}

/// `-h` and `-V` output; a closed stdout (`slabd -h | head`) is not an error.
fn print_and_exit(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

/// Builds the TLS configurations the settings turn on, and reloads RESP's on CONFIG SET.
fn start_tls(ctx: &Context) -> Result<(), String> {
    let values = tls::RESP_DIRECTIVES
        .iter()
        .map(|n| (n.to_string(), ctx.directives.get(n).unwrap_or_default()))
        .collect();
    let tls_port = server::tls_port(&ctx.settings).is_some();
    ctx.tls.start(&ctx.settings.tls, values, tls_port)?;
    for name in tls::RESP_DIRECTIVES {
        let state = ctx.tls.clone();
        ctx.directives
            .on_change(name, move |value| state.resp_changed(name, value));
    }
    Ok(())
}

/// A start-up failure: the exit code (sysexits.h, as memcached) and what to print after
/// `slabd: ` (nothing when the message was already printed in its own form).
struct Failure(u8, Option<String>);

/// `result` with its error as a [`Failure`] exiting with `code`.
fn or_exit<T, E: std::fmt::Display>(code: u8, result: Result<T, E>) -> Result<T, Failure> {
    result.map_err(|e| Failure(code, Some(e.to_string())))
}

fn main() -> ExitCode {
    // A panicking worker would leave its connections hanging while the acceptor keeps
    // handing it more: a bug anywhere stops the whole daemon, loudly, as a crash would.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    let first = std::env::args_os().nth(1);
    if let Some(sub) = first
        .as_ref()
        .and_then(|a| a.to_str())
        .filter(|a| matches!(*a, "check-rdb" | "check-aof"))
    {
        let rest: Vec<String> = std::env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return ExitCode::from(slabd::persist::check::run(sub, &rest) as u8);
    }
    let settings = match config::parse(std::env::args_os().skip(1)) {
        Ok(Invocation::Run(s)) => *s,
        Ok(Invocation::Help) => return print_and_exit(&config::help()),
        Ok(Invocation::Version) => return print_and_exit(&config::version()),
        Err(e) => {
            eprintln!("slabd: {e}");
            eprintln!("{}", config::USAGE);
            return ExitCode::from(EX_USAGE);
        }
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, Some(message))) => fail(code, message),
        Err(Failure(code, None)) => ExitCode::from(code),
    }
}

/// Everything after the flags are read, in the order the module comment gives.
fn run(settings: Settings) -> Result<(), Failure> {
    let signals = preflight(&settings)?;
    let (listeners, udp) = open_listeners(&settings)?;
    let unix_paths: Vec<_> = listeners
        .iter()
        .filter_map(|l| l.unix_path().cloned())
        .collect();
    detach(&settings, &unix_paths)?;
    // After the fork: the store may start threads of its own.
    let store = or_exit(
        EX_USAGE,
        Store::new(store_config(&settings), Arc::new(Clock::system())),
    )?;
    let pid_file = settings.pid_file.clone().filter(|_| settings.daemonize);
    let verbose = settings.verbose >= 1;
    let ctx = Arc::new(Context::new(store, settings));
    or_exit(
        EX_USAGE,
        startup::configure(&ctx.users, &ctx.settings, &ctx.directives),
    )?;
    or_exit(EX_USAGE, start_tls(&ctx))?;
    warn_exposure(&ctx, &listeners);
    start_loading(&ctx)?;
    or_exit(EX_OSERR, slabd::persist::start(ctx.clone()))?;
    let server = or_exit(EX_OSERR, Server::start(ctx.clone(), listeners))?;
    if let Some(addr) = or_exit(EX_OSERR, server::metrics::start(&ctx))? {
        eprintln!("listening on metrics {addr}");
    }
    // The exit save runs before the stop, with no command running (as Redis's, which
    // serves nothing meanwhile); a failed one keeps the server up.
    let prepare = {
        let ctx = ctx.clone();
        Box::new(move || {
            ctx.gates
                .exclusive(|_| slabd::persist::save_on_signal(&ctx))
        })
    };
    or_exit(
        EX_OSERR,
        signals::wait_for_termination(
            signals,
            server.lifecycle(),
            ctx.gates.clone(),
            verbose,
            prepare,
        ),
    )?;
    or_exit(EX_OSERR, server::udp::start(&ctx, udp, &server.lifecycle()))?;
    eprintln!("ready");
    let result = server.run();
    slabd::persist::save_on_exit(&ctx);
    eprintln!("slabd is now ready to exit, bye bye...");
    for path in unix_paths.iter().chain(pid_file.iter()) {
        let _ = std::fs::remove_file(path);
    }
    or_exit(EX_OSERR, result)
}

/// Warnings and checks before anything is bound: ignored options, thread count, root,
/// the file limit, the crash reporter; then the termination signals are blocked, before
/// any thread exists, so that every thread inherits the mask.
fn preflight(settings: &Settings) -> Result<signals::TerminationSignals, Failure> {
    if settings.verbose >= 1 {
        for opt in &settings.ignored_options {
            eprintln!("-o {opt}: accepted for compatibility with memcached; no effect");
        }
    }
    if settings.threads > 64 {
        eprintln!(
            "WARNING: Setting a high number of worker threads is not recommended.\n \
             Set this value to the number of cores in your machine or less."
        );
    }
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    match startup::root_check(settings, euid) {
        RootCheck::Fine => {}
        RootCheck::Warn(text) => eprintln!("{text}"),
        RootCheck::Refuse(text) => {
            eprintln!("{text}");
            return Err(Failure(EX_USAGE, None));
        }
    }
    if let Some(allowed) = daemon::raise_file_limit(settings.maxconns) {
        eprintln!(
            "slabd: warning: the open file limit allows about {allowed} connections, not -c {}",
            settings.maxconns
        );
    }
    or_exit(EX_OSERR, signals::report_crashes())?;
    let signals = or_exit(EX_OSERR, signals::block_termination())?;
    or_exit(EX_USAGE, slabd::storage::validate(&store_config(settings)))?;
    Ok(signals)
}

/// Binds the TCP, unix and UDP listeners, reports them, and writes memcached's
/// `MEMCACHED_PORT_FILENAME` file if asked.
fn open_listeners(
    settings: &Settings,
) -> Result<(Vec<server::Listener>, Vec<std::net::UdpSocket>), Failure> {
    let listeners = or_exit(EX_OSERR, server::bind(settings))?;
    for l in &listeners {
        eprintln!("listening on {}", l.describe());
    }
    let udp = or_exit(EX_OSERR, server::udp::bind(settings))?;
    for u in &udp {
        if let Ok(addr) = u.local_addr() {
            eprintln!("listening on udp {addr}");
        }
    }
    if let Some(path) = std::env::var_os("MEMCACHED_PORT_FILENAME") {
        if settings.unix_socket.is_none() {
            let tcp: Vec<std::net::SocketAddr> = listeners
                .iter()
                .filter_map(|l| l.describe().strip_prefix("tcp ")?.parse().ok())
                .collect();
            let udp: Vec<std::net::SocketAddr> =
                udp.iter().filter_map(|u| u.local_addr().ok()).collect();
            if let Err(e) = daemon::write_port_file(&path, &tcp, &udp) {
                eprintln!("Failed to write the port file: {e}");
            }
        }
    }
    Ok((listeners, udp))
}

/// `-d` (fork, pid file) and `-u` (drop privileges, handing over the unix socket files).
fn detach(settings: &Settings, unix_paths: &[std::path::PathBuf]) -> Result<(), Failure> {
    if settings.daemonize {
        or_exit(EX_OSERR, daemon::daemonize(settings.logfile.as_deref()))?;
        if let Some(path) = &settings.pid_file {
            or_exit(EX_OSERR, daemon::write_pid_file(path))?;
        }
    }
    if let Some(user) = &settings.user {
        or_exit(EX_OSERR, daemon::drop_privileges(user, unix_paths))?;
    }
    Ok(())
}

/// The start-up warnings for non-loopback listeners without authentication or TLS.
fn warn_exposure(ctx: &Context, listeners: &[server::Listener]) {
    let addrs: Vec<(String, bool)> = listeners
        .iter()
        .filter(|l| l.unix_path().is_none())
        .filter_map(|l| {
            let described = l.describe();
            let (kind, addr) = described.split_once(' ')?;
            Some((addr.to_string(), kind.contains("tls")))
        })
        .collect();
    for warning in startup::exposure_warnings(&ctx.users, &addrs) {
        eprintln!("{warning}");
    }
}

/// Loading runs beside the server: until it is done clients get -LOADING (RESP) or
/// SERVER_ERROR loading (memcached), set before the listeners accept anything.
fn start_loading(ctx: &Arc<Context>) -> Result<(), Failure> {
    if !ctx.persist.has_files(ctx) {
        // Nothing to load (an AOF layout, if asked for, is created here).
        return or_exit(1, ctx.persist.load_at_start(ctx));
    }
    ctx.persist.set_loading(true);
    let ctx = ctx.clone();
    let loader = std::thread::Builder::new()
        .name("slabd-load".into())
        .spawn(move || {
            if let Err(e) = ctx.persist.load_at_start(&ctx) {
                // The last line, as Redis's: standard error stays locked through the
                // exit, so the main thread's "ready" cannot come after it.
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "slabd: {e}");
                std::process::exit(1);
            }
            ctx.persist.set_loading(false);
        });
    or_exit(EX_OSERR, loader).map(|_| ())
}
