//! RESET: a connection back to the state it had when it connected, as Redis 7.0's
//! `clearClientConnectionState` leaves it: no MULTI or watched keys, no subscriptions, no
//! MONITOR or CLIENT TRACKING, database 0, RESP2, logged in as the default user (when it
//! needs no password), no name, replies on.

use super::registry::{spec, Spec};
use super::{monitor, pubsub, tracking, transaction, Call};
use crate::hub::flag;
use crate::protocol::resp::Args;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0), "connection", "6.2.0", "Reset the connection", reset),
];

fn reset(call: &mut Call<'_>, _args: Args<'_>) {
    let ctx = call.ctx;
    let who = call.info.target();
    if call.conn.monitor {
        monitor::stop(ctx, who);
        call.conn.monitor = false;
        call.info.set_flag(flag::MONITOR, false);
    }
    if call.conn.tracking.is_on() {
        tracking::stop(ctx, who.id);
        call.conn.tracking = Default::default();
        call.info.set_flag(
            flag::TRACKING | flag::TRACKING_BCAST | flag::TRACKING_BROKEN,
            false,
        );
    }
    call.conn.db = 0;
    call.info.db.store(0, std::sync::atomic::Ordering::Relaxed);
    call.conn.resp3 = false;
    call.w.resp3 = false;
    call.info.set_flag(flag::RESP3, false);
    *call.login = ctx.users.new_login();
    *call.info.user.lock() = None;
    transaction::forget(ctx, &mut call.conn.tx, call.info);
    pubsub::leave_all(ctx, &mut call.conn.subs, who);
    call.info.set_flag(flag::PUBSUB, false);
    *call.info.name.lock() = None;
    call.conn.reply_off = false;
    call.conn.reply_skip = 0;
    call.w.simple(b"RESET");
}
