//! Fuzz targets, shared by the cargo-fuzz binaries (`fuzz/`, nightly, for long runs) and
//! the stable runner `slabd-fuzz` (`src/bin/slabd-fuzz.rs`, a bounded run in `.ci/run`).
//!
//! Each target takes arbitrary bytes and panics only on a bug: a parser reporting input
//! it did not have, a handler panicking, a session consuming nothing.

use std::sync::Arc;

use crate::commands::{process, Context, Protocol, Session, Step};
use crate::config::Settings;
use crate::protocol::memcache::{self, Limits as McLimits, Parsed as McParsed};
use crate::protocol::resp::{Limits, Parsed, Parser};
use crate::storage::{Clock, Store, StoreConfig};

/// A fuzz target: bytes in, a panic on a bug.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("memcache_parse", memcache_parse),
    ("resp_parse", resp_parse),
    ("session", session),
    ("session_auth", session_auth),
];

/// The memcached text parser: every request it reports lies inside the input, and the rest
/// of the input is parsed again the way a connection would.
pub fn memcache_parse(data: &[u8]) {
    // A small item limit makes the "too large" paths reachable with short inputs.
    let item_size_max = if data.first().is_some_and(|b| b & 1 == 1) {
        1024
    } else {
        1 << 20
    };
    let limits = McLimits { item_size_max };
    let mut at = 0;
    while at < data.len() {
        let used = match memcache::parse(&data[at..], &limits) {
            McParsed::Incomplete => break,
            McParsed::Request { consumed, .. } => consumed,
            McParsed::Rejected {
                consumed, swallow, ..
            } => consumed.saturating_add(swallow),
        };
        assert!(used > 0, "a parsed request used no input");
        at = at.saturating_add(used);
    }
}

/// The RESP parser fed as a connection receives bytes: a growing prefix until a request
/// is whole, then the rest of the input.
pub fn resp_parse(data: &[u8]) {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk: if control & 1 == 1 { 64 } else { 1 << 20 },
        authenticated: control & 2 == 0,
    };
    // Arrival chunk size, 1..=16 bytes, so partial multibulks resume often.
    let chunk = usize::from(control >> 4) + 1;
    let mut parser = Parser::default();
    let mut start = 0;
    let mut end = 0;
    while start < data.len() {
        end = (end + chunk).min(data.len()).max(start);
        let input = &data[start..end];
        match parser.parse(input, limits) {
            Err(_) => return,
            Ok(Parsed::Incomplete) => {
                if end == data.len() {
                    return;
                }
            }
            Ok(Parsed::Empty { consumed }) => {
                assert!(consumed > 0 && consumed <= input.len());
                start += consumed;
            }
            Ok(Parsed::Command { consumed }) => {
                assert!(consumed > 0 && consumed <= input.len());
                let args = parser.args(input);
                for i in 0..args.len() {
                    let _ = args.get(i);
                }
                parser.trim();
                start += consumed;
            }
        }
    }
}

/// Input the server would hold before giving up on a connection; bounds each run.
const INPUT_MAX: usize = 64 * 1024;

fn context(requirepass: bool) -> Context {
    let settings = Settings {
        threads: 1,
        memory_limit: 4 << 20,
        requirepass: requirepass.then(|| b"pw".to_vec()),
        ..Settings::default()
    };
    let store = Store::new(
        StoreConfig {
            memory_limit: settings.memory_limit,
            item_size_max: settings.item_size_max,
            slab_chunk_max: settings.slab_chunk_max.min(settings.item_size_max),
            ..StoreConfig::default()
        },
        Arc::new(Clock::manual(1_700_000_000)),
    )
    .expect("store");
    Context::new(store, settings)
}

/// Puts back what one input may have changed server-wide (users, verbosity), so inputs do
/// not depend on each other beyond the keyspace.
fn reset(ctx: &Context, requirepass: bool) {
    ctx.verbosity.store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.users.replace_all(Vec::new());
    if requirepass {
        ctx.users.set_requirepass(Some(b"pw"));
        // A restricted user to log in as (`AUTH r pw`, memcached `set x 0 0 4\r\nr pw\r\n`).
        let rules: [&[u8]; 5] = [b"on", b">pw", b"+@read", b"+set", b"%R~a*"];
        ctx.users.set_user(b"r", &rules).expect("valid rules");
    }
}

thread_local! {
    /// One server per thread and mode, reused across inputs: a store is costly to map.
    static CONTEXTS: [Context; 2] = [context(false), context(true)];
}

/// Requests end to end through `commands::process`, fed in chunks the way the server
/// reads them. The first byte picks the protocol (text, RESP, or detected from the first
/// byte: binary with 0x80) and the chunk sizes.
pub fn session(data: &[u8]) {
    run_session(data, false);
}

/// [`session`] with a password set and a restricted ACL user: unauthenticated paths,
/// logins, and permission checks.
pub fn session_auth(data: &[u8]) {
    run_session(data, true);
}

fn run_session(data: &[u8], requirepass: bool) {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    if data.len() > INPUT_MAX {
        return;
    }
    let protocol = match control & 3 {
        0 => Protocol::Memcache,
        1 => Protocol::Resp,
        _ => Protocol::Detect,
    };
    CONTEXTS.with(|contexts| {
        let ctx = &contexts[usize::from(requirepass)];
        reset(ctx, requirepass);
        feed(ctx, protocol, control, data);
    });
}

fn feed(ctx: &Context, protocol: Protocol, control: u8, data: &[u8]) {
    // Chunk sizes follow a small pseudo-random sequence seeded from the control byte.
    let mut seed = u32::from(control >> 2) | 1;
    let info = ctx
        .clients
        .open("127.0.0.1:5000".into(), "127.0.0.1:11211".into(), 0);
    let mut session = Session::new(info, protocol, 0);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    'conn: while fed < data.len() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let chunk = 1 + (seed as usize % 64);
        let end = (fed + chunk).min(data.len());
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
        let mut at = 0;
        loop {
            match process(ctx, &mut session, &buf[at..], &mut out) {
                Step::Done(n) => {
                    assert!(n > 0 && n <= buf.len() - at, "bad consumed {n}");
                    at += n;
                }
                Step::Incomplete => break,
                Step::Close | Step::Shutdown | Step::Blocked => break 'conn,
            }
            if out.len() > 1 << 20 {
                out.clear();
            }
        }
        buf.drain(..at);
        ctx.store.clock().advance(u32::from(control >> 6));
    }
    ctx.clients.close(session.info.id);
}
