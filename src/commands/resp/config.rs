//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
//!
//! Two kinds of parameters: the *live* ones below, read from (and written to) the server
//! state they describe (`maxmemory` is the store's limit, `maxclients` the connection
//! bound, ...), and every [`crate::directives`] row, kept in [`Context::directives`].
//! CONFIG SET checks every name, then every value, before it changes anything, as Redis
//! does.
//!
//! [`Context::directives`]: crate::commands::Context::directives

use std::sync::atomic::Ordering;

use super::registry::{spec, Spec};
use super::{glob, Call};
use crate::directives::{self, parse_memory, Directive};
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::EvictionPolicy;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("config", -2, ["admin", "loading", "stale"], (0, 0, 0), "server", "2.0.0",
        "A container for server configuration commands", config),
];

/// Parameters read from the server state, in Redis's names.
const LIVE: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxclients",
    "requirepass",
    "databases",
    "port",
    "bind",
    "timeout",
    "proto-max-bulk-len",
    "daemonize",
];

/// Live parameters CONFIG SET may change.
const LIVE_SETTABLE: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxclients",
    "requirepass",
    "port",
    "timeout",
];

/// Parameters Redis changes at run time (or slabd's own) that slabd fixes at start:
/// CONFIG SET to the value they have succeeds and changes nothing, as in Redis (whose
/// "CONFIG sanity" test sets every parameter to the value CONFIG GET gave); another value
/// is refused as immutable.
const FIXED_AT_START: &[&str] = &["bind", "proto-max-bulk-len", "metrics-port", "metrics-bind"];

fn live_value(call: &Call<'_>, name: &str) -> Vec<u8> {
    let s = &call.ctx.settings;
    match name {
        "maxmemory" => {
            let limit = call.ctx.store.stats().limit_maxbytes;
            call.ctx
                .resp
                .maxmemory_shown(limit)
                .to_string()
                .into_bytes()
        }
        "maxmemory-policy" => maxmemory_policy_name(call.ctx).as_bytes().to_vec(),
        "maxclients" => call
            .ctx
            .maxconns
            .load(Ordering::Relaxed)
            .to_string()
            .into_bytes(),
        "requirepass" => call.ctx.users.requirepass().unwrap_or_default(),
        "databases" => s.databases.to_string().into_bytes(),
        "port" => call
            .ctx
            .ports
            .get(crate::server::rebind::Kind::Plain)
            .to_string()
            .into_bytes(),
        "bind" => s.listen.join(" ").into_bytes(),
        "timeout" => call
            .ctx
            .idle_timeout
            .load(Ordering::Relaxed)
            .to_string()
            .into_bytes(),
        "proto-max-bulk-len" => s.proto_max_bulk_len.to_string().into_bytes(),
        "daemonize" => (if s.daemonize { "yes" } else { "no" }).as_bytes().to_vec(),
        _ => Vec::new(),
    }
}

/// Redis's `maxmemory-policy` values slabd follows (with eviction on) and the eviction
/// policy each maps to; the index is what CONFIG GET reports. slabd evicts by CLOCK with two
/// reference levels, which keeps items hit often (LFU's aim) and recently (LRU's).
const MAXMEMORY_POLICIES: &[(&str, EvictionPolicy)] = &[
    ("allkeys-lru", EvictionPolicy::Clock2),
    ("allkeys-lfu", EvictionPolicy::Clock2),
    ("allkeys-random", EvictionPolicy::Random),
];

/// The `maxmemory-policy` CONFIG GET and INFO report.
pub(super) fn maxmemory_policy_name(ctx: &crate::commands::Context) -> &'static str {
    if ctx.settings.no_evict {
        return "noeviction";
    }
    let shown = ctx.resp.maxmemory_policy.load(Ordering::Relaxed);
    MAXMEMORY_POLICIES[usize::from(shown)].0
}

/// The evicting policy `--maxmemory-policy` named at start-up (`config::apply` checked
/// the name), in the store and as CONFIG GET reports it.
pub(super) fn start_policy(
    shared: &super::Shared,
    settings: &crate::config::Settings,
    store: &crate::storage::Store,
) {
    let Some(name) = &settings.maxmemory_policy else {
        return;
    };
    if let Some(i) = MAXMEMORY_POLICIES.iter().position(|(n, _)| n == name) {
        store.set_eviction_policy(MAXMEMORY_POLICIES[i].1);
        shared.maxmemory_policy.store(i as u8, Ordering::Relaxed);
    }
}

/// The mapping for `maxmemory-policy`: its index in [`MAXMEMORY_POLICIES`], or why not.
fn maxmemory_policy(no_evict: bool, value: &[u8]) -> Result<u8, String> {
    let v = String::from_utf8_lossy(value).to_ascii_lowercase();
    const REDIS: &[&str] = &[
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];
    if !REDIS.contains(&v.as_str()) {
        return Err(
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
                .into(),
        );
    }
    if no_evict {
        return if v == "noeviction" {
            Ok(0)
        } else {
            Err(
                "slabd was started with -M (no eviction); eviction cannot be turned on at run time"
                    .into(),
            )
        };
    }
    if v == "noeviction" {
        return Err("slabd evicts; start it with -M for noeviction".into());
    }
    MAXMEMORY_POLICIES
        .iter()
        .position(|(name, _)| *name == v)
        .map(|i| i as u8)
        .ok_or_else(|| {
            format!("slabd evicts any key, not only those with an expiry: {v} has no equivalent (use allkeys-lru, allkeys-lfu or allkeys-random)")
        })
}

/// A parameter CONFIG SET names: live, or a directive.
#[derive(Clone, Copy)]
enum Param {
    Live(&'static str),
    Directive(&'static Directive),
}

impl Param {
    fn find(name: &str) -> Option<Param> {
        if let Some(&live) = LIVE.iter().find(|&&l| l == name) {
            return Some(Param::Live(live));
        }
        directives::find(name).map(Param::Directive)
    }

    fn name(self) -> &'static str {
        match self {
            Param::Live(n) => n,
            Param::Directive(d) => d.name,
        }
    }

    fn mutable(self) -> bool {
        match self {
            Param::Live(n) => LIVE_SETTABLE.contains(&n),
            Param::Directive(d) => d.mutable,
        }
    }

    /// Fixed at start, but settable to the value it has ([`FIXED_AT_START`]).
    fn fixed_at_start(self) -> bool {
        !self.mutable() && FIXED_AT_START.contains(&self.name())
    }
}

/// A change CONFIG SET will apply once every pair has been checked.
enum Change<'a> {
    MaxMemory(u64),
    Policy(u8),
    MaxClients(u64),
    Timeout(u32),
    RequirePass(Vec<u8>),
    Port(u16),
    Directive(&'static Directive, &'a str),
    /// A parameter fixed at start, set to the value it has.
    Nothing,
}

/// What undoes an applied [`Change`] when a later one fails to apply (Redis rolls every
/// parameter of the CONFIG SET back).
enum Undo {
    MaxMemory {
        bytes: u64,
        shown: Option<(u64, u64)>,
    },
    Policy(u8),
    MaxClients(usize),
    Timeout(u32),
    RequirePass(Option<Vec<u8>>),
    Port(u16),
    Directive(&'static Directive, String),
}

fn set_failed(call: &mut Call<'_>, name: &str, why: &str) {
    call.w.error_fmt(format_args!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ));
}

/// Checks one value; the change to make, or Redis's reason.
fn check<'a>(call: &Call<'_>, param: Param, value: &'a [u8]) -> Result<Change<'a>, String> {
    if param.fixed_at_start() {
        let same = match param {
            Param::Directive(d) => std::str::from_utf8(value)
                .ok()
                .and_then(|v| d.check(v).ok())
                .is_some_and(|(v, _)| Some(v) == call.ctx.directives.get(d.name)),
            Param::Live(_) => value == value_of(call, param).as_slice(),
        };
        return if same {
            Ok(Change::Nothing)
        } else {
            Err("can't set immutable config".into())
        };
    }
    match param {
        Param::Live("maxmemory-policy") => {
            maxmemory_policy(call.ctx.settings.no_evict, value).map(Change::Policy)
        }
        Param::Live("maxmemory") => {
            let v = std::str::from_utf8(value).map_err(|_| "argument must be a memory value")?;
            match parse_memory(v) {
                Some(0) => {
                    Err("slabd needs a memory limit (0, unlimited, is not supported)".into())
                }
                Some(n) if n > 0 => Ok(Change::MaxMemory(n as u64)),
                _ => Err("argument must be a memory value".into()),
            }
        }
        Param::Live("maxclients") => match parse_i64(value) {
            Some(n @ 1..=4_294_967_295) => Ok(Change::MaxClients(n as u64)),
            _ => Err("argument must be between 1 and 4294967295 inclusive".into()),
        },
        Param::Live("timeout") => match parse_i64(value) {
            Some(n @ 0..=2_147_483_647) => Ok(Change::Timeout(n as u32)),
            Some(_) => Err("argument must be between 0 and 2147483647 inclusive".into()),
            None => Err("argument couldn't be parsed into an integer".into()),
        },
        Param::Live("port") => match parse_i64(value) {
            Some(n @ 0..=65535) => Ok(Change::Port(n as u16)),
            _ => Err("argument must be between 0 and 65535 inclusive".into()),
        },
        Param::Live(_) => Ok(Change::RequirePass(value.to_vec())),
        Param::Directive(d) => {
            let v = std::str::from_utf8(value).map_err(|_| "argument must be valid text")?;
            d.check(v)?;
            Ok(Change::Directive(d, v))
        }
    }
}

fn config_set(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() < 4 || args.len() % 2 == 1 {
        return call.wrong_arity("config|set");
    }
    // Names first, as Redis: the first unknown, immutable or repeated name is the error
    // (named as the client spelled it), before any value is looked at.
    let mut params: Vec<Param> = Vec::with_capacity(args.len() / 2);
    for i in (2..args.len()).step_by(2) {
        let spelled = String::from_utf8_lossy(args.get(i));
        let Some(param) = Param::find(&spelled.to_ascii_lowercase()) else {
            return call.w.error_fmt(format_args!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{spelled}'"
            ));
        };
        if !param.mutable() && !param.fixed_at_start() {
            return set_failed(call, &spelled, "can't set immutable config");
        }
        if params.iter().any(|p| p.name() == param.name()) {
            return set_failed(call, &spelled, "duplicate parameter");
        }
        params.push(param);
    }
    let mut changes = Vec::with_capacity(params.len());
    for (param, i) in params.iter().zip((2..args.len()).step_by(2)) {
        match check(call, *param, args.get(i + 1)) {
            Ok(change) => changes.push(change),
            Err(why) => return set_failed(call, &String::from_utf8_lossy(args.get(i)), &why),
        }
    }
    // A lower memory limit evicts at once (Redis evicts at the next command), which no
    // rollback could undo: it is applied after every change that may still fail.
    changes.sort_by_key(|c| matches!(c, Change::MaxMemory(_)));
    let mut undo = Vec::with_capacity(changes.len());
    for change in changes {
        match apply(call, change) {
            Ok(Some(u)) => undo.push(u),
            Ok(None) => {}
            Err((name, why)) => {
                // Redis's rollback: the parameters already applied get their old values.
                for u in undo.into_iter().rev() {
                    roll_back(call, u);
                }
                return set_failed(call, name, &why);
            }
        }
    }
    call.w.ok();
}

/// Applies one checked change; what undoes it, or (parameter, reason) when it failed.
fn apply(call: &mut Call<'_>, change: Change<'_>) -> Result<Option<Undo>, (&'static str, String)> {
    let undo = match change {
        Change::Nothing => return Ok(None),
        Change::MaxMemory(n) => {
            let before = call.ctx.store.stats().limit_maxbytes;
            let shown = call.ctx.resp.maxmemory_set();
            let bytes = usize::try_from(n).unwrap_or(usize::MAX);
            if let Err(e) = call.ctx.store.set_memory_limit(bytes) {
                return Err(("maxmemory", e.0));
            }
            let limit = call.ctx.store.stats().limit_maxbytes;
            call.ctx.resp.set_maxmemory_shown(Some((n, limit)));
            Undo::MaxMemory {
                bytes: before,
                shown,
            }
        }
        Change::Policy(i) => {
            let before = call.ctx.resp.maxmemory_policy.load(Ordering::Relaxed);
            set_policy(call, i);
            Undo::Policy(before)
        }
        Change::MaxClients(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Undo::MaxClients(call.ctx.maxconns.swap(n, Ordering::Relaxed))
        }
        Change::Timeout(n) => Undo::Timeout(call.ctx.idle_timeout.swap(n, Ordering::Relaxed)),
        Change::RequirePass(p) => {
            let before = call.ctx.users.requirepass();
            call.ctx.users.set_requirepass(Some(&p));
            Undo::RequirePass(before)
        }
        Change::Port(port) => {
            let kind = crate::server::rebind::Kind::Plain;
            let before = call.ctx.ports.get(kind);
            call.ctx
                .ports
                .change(kind, port)
                .map_err(|why| ("port", why))?;
            Undo::Port(before)
        }
        Change::Directive(d, v) => {
            let before = call.ctx.directives.get(d.name).unwrap_or_default();
            call.ctx
                .directives
                .set(d.name, v)
                .map_err(|why| (d.name, why))?;
            Undo::Directive(d, before)
        }
    };
    Ok(Some(undo))
}

/// Puts back what [`apply`] changed (each old value was in force a moment ago, so it
/// applies again).
fn roll_back(call: &mut Call<'_>, undo: Undo) {
    match undo {
        Undo::MaxMemory { bytes, shown } => {
            let _ = call
                .ctx
                .store
                .set_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
            call.ctx.resp.set_maxmemory_shown(shown);
        }
        Undo::Policy(i) => set_policy(call, i),
        Undo::MaxClients(n) => call.ctx.maxconns.store(n, Ordering::Relaxed),
        Undo::Timeout(n) => call.ctx.idle_timeout.store(n, Ordering::Relaxed),
        Undo::RequirePass(p) => call.ctx.users.set_requirepass(p.as_deref()),
        Undo::Port(port) => {
            let _ = call
                .ctx
                .ports
                .change(crate::server::rebind::Kind::Plain, port);
        }
        Undo::Directive(d, v) => {
            let _ = call.ctx.directives.set(d.name, &v);
        }
    }
}

fn set_policy(call: &mut Call<'_>, i: u8) {
    if !call.ctx.settings.no_evict {
        call.ctx
            .store
            .set_eviction_policy(MAXMEMORY_POLICIES[usize::from(i)].1);
        call.ctx.resp.maxmemory_policy.store(i, Ordering::Relaxed);
    }
}

/// A value CONFIG GET replies with.
fn value_of(call: &Call<'_>, param: Param) -> Vec<u8> {
    match param {
        Param::Live(name) => live_value(call, name),
        Param::Directive(d) => call
            .ctx
            .directives
            .get(d.name)
            .unwrap_or_default()
            .into_bytes(),
    }
}

fn config_get(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() < 3 {
        return call.wrong_arity("config|get");
    }
    // (name as replied, parameter), in table order, each name once. A pattern without glob
    // characters names one parameter and Redis echoes it as the client spelled it; a hidden
    // directive answers only to that, never to a glob.
    let names = LIVE
        .iter()
        .map(|&n| (n, Param::Live(n), false))
        .chain(directives::all().flat_map(|d| {
            std::iter::once(d.name)
                .chain(d.aliases.iter().copied())
                .map(move |n| (n, Param::Directive(d), d.hidden))
        }));
    let mut matching: Vec<(Vec<u8>, Param)> = Vec::new();
    for (name, param, hidden) in names {
        let is_glob = |pat: &[u8]| pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        let hit = args
            .iter_from(2)
            .find(|pat| !(hidden && is_glob(pat)) && glob::matches(pat, name.as_bytes(), true));
        if let Some(pat) = hit {
            let shown = if is_glob(pat) { name.as_bytes() } else { pat };
            if !matching.iter().any(|(s, _)| s.eq_ignore_ascii_case(shown)) {
                matching.push((shown.to_vec(), param));
            }
        }
    }
    call.w.map(matching.len());
    for (shown, param) in matching {
        let value = value_of(call, param);
        call.w.bulk(&shown);
        call.w.bulk(&value);
    }
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn config(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"GET") {
        config_get(call, args);
    } else if sub.eq_ignore_ascii_case(b"SET") {
        config_set(call, args);
    } else if sub.eq_ignore_ascii_case(b"RESETSTAT") {
        for t in &call.ctx.threads {
            t.reset();
        }
        call.ctx.resp.commands.reset();
        call.ctx.resp.latency.reset_histograms();
        call.w.ok();
    } else if sub.eq_ignore_ascii_case(b"REWRITE") {
        super::config_rewrite::rewrite(call);
    } else if sub.eq_ignore_ascii_case(b"HELP") && args.len() == 2 {
        super::scripting::help(call, CONFIG_HELP);
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}
