//! MONITOR: every command any client runs, over either protocol, as Redis's lines.
//!
//! A MONITOR connection is registered in the hub's [`crate::hub::monitor::Watchers`]; each
//! command that ran (not refused, not an admin command) is formatted once into its worker's
//! batch, posted to every monitor at the end of the worker's turn. With no monitor
//! connected, a command pays one relaxed atomic load.

use super::registry::{spec, Spec};
use super::Call;
use crate::commands::Context;
use crate::hub::monitor::stream;
use crate::hub::redact::Secrets;
use crate::hub::{flag, Target};
use crate::protocol::resp::Args;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("monitor", 1, ["admin", "noscript", "loading", "stale"], (0, 0, 0), "server",
        "1.0.0", "Listen for all requests received by the server in real time", monitor),
];

pub(super) fn monitor(call: &mut Call<'_>, _args: Args<'_>) {
    if !call.may_block() {
        return call
            .w
            .error(b"ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if !call.conn.monitor {
        call.conn.monitor = true;
        call.info.set_flag(flag::MONITOR, true);
        call.ctx
            .hub
            .watchers
            .add(call.info.target(), stream::MONITOR);
    }
    call.w.ok();
}

/// Stops monitoring (close, RESET).
pub(super) fn stop(ctx: &Context, who: Target) {
    ctx.hub.watchers.remove(who);
}

/// Writes the command that just ran, started at `wall_us` (µs since the Unix epoch), into
/// its worker's MONITOR batch.
pub(super) fn feed(call: &Call<'_>, spec: &Spec, args: Args<'_>, wall_us: u64) {
    if spec.has(super::registry::flag::ADMIN) {
        return;
    }
    let arg = |i| args.get(i);
    let secrets = Secrets::of(spec.secrets, arg, args.len());
    // A command a script calls runs two levels down (the script's handler, then the
    // nested call); EXEC's queued commands one level. Redis shows the former as `lua`.
    let addr = if call.depth >= 2 {
        "lua"
    } else {
        &call.info.addr
    };
    let hub = &call.ctx.hub;
    let db = call.conn.db;
    if secrets == Secrets::None {
        // Almost every command: its arguments as they are.
        let words = (0..args.len()).map(arg);
        return hub.watchers.monitor(hub, wall_us, db, addr, words);
    }
    let words = (0..args.len()).map(|i| {
        if secrets.hides(arg, args.len(), i) {
            &b"(redacted)"[..]
        } else {
            args.get(i)
        }
    });
    hub.watchers.monitor(hub, wall_us, db, addr, words);
}
