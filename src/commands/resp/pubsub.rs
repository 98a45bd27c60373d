//! Pub/Sub commands: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH,
//! SPUBLISH, PUBSUB.
//!
//! A connection's subscriptions are kept twice: here, per connection (to answer with counts
//! and to leave everything on UNSUBSCRIBE without arguments, RESET or close), and in the
//! shared [`crate::hub::pubsub::Registry`], which PUBLISH reads. Messages reach subscribers
//! on any worker through the hub's mailboxes and are encoded there (RESP2 arrays, RESP3
//! pushes mixed with replies).
//!
//! In RESP2 a subscribed connection may only run (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING,
//! QUIT and RESET ([`allowed_when_subscribed`]); RESP3 connections run anything.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use super::registry::{spec, Spec};
use super::Call;
use crate::commands::Context;
use crate::hub::flag;
use crate::hub::pubsub::{Payload, Space};
use crate::protocol::resp::Args;
use crate::server::gather::Home;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("publish", 3, ["pubsub", "loading", "stale", "fast", "may_replicate"], (0, 0, 0),
        "pubsub", "2.0.0", "Post a message to a channel", publish),
    spec!("subscribe", -2, ["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub",
        "2.0.0", "Listen for messages published to the given channels", subscribe),
    spec!("unsubscribe", -1, ["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub",
        "2.0.0", "Stop listening for messages posted to the given channels", unsubscribe),
    spec!("psubscribe", -2, ["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub",
        "2.0.0", "Listen for messages published to channels matching the given patterns",
        psubscribe),
    spec!("punsubscribe", -1, ["pubsub", "noscript", "loading", "stale"], (0, 0, 0), "pubsub",
        "2.0.0", "Stop listening for messages posted to channels matching the given patterns",
        punsubscribe),
    spec!("ssubscribe", -2, ["pubsub", "noscript", "loading", "stale"], (1, -1, 1), "pubsub",
        "7.0.0", "Listen for messages published to the given shard channels", ssubscribe),
    spec!("sunsubscribe", -1, ["pubsub", "noscript", "loading", "stale"], (1, -1, 1),
        "pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels",
        sunsubscribe),
    spec!("spublish", 3, ["pubsub", "loading", "stale", "fast", "may_replicate"], (1, 1, 1),
        "pubsub", "7.0.0", "Post a message to a shard channel", spublish),
    spec!("pubsub", -2, [], (0, 0, 0), "pubsub", "2.8.0",
        "A container for Pub/Sub commands", pubsub),
];

/// One connection's subscriptions (ordered, so UNSUBSCRIBE without arguments answers in a
/// stable order).
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    channels: BTreeSet<Box<[u8]>>,
    patterns: BTreeSet<Box<[u8]>>,
    shard: BTreeSet<Box<[u8]>>,
}

impl Subscriptions {
    fn set(&mut self, space: Space) -> &mut BTreeSet<Box<[u8]>> {
        match space {
            Space::Channel => &mut self.channels,
            Space::Pattern => &mut self.patterns,
            Space::Shard => &mut self.shard,
        }
    }

    /// Subscribed to anything: Redis's `CLIENT_PUBSUB` (RESP2 subscribed mode).
    pub(super) fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    /// `sub=`, `psub=`, `ssub=` of CLIENT LIST.
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }

    /// The count a (un)subscribe confirmation carries: channels and patterns, or shard
    /// channels for the shard commands (as Redis 7.0).
    fn count(&self, space: Space) -> usize {
        match space {
            Space::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }
}

/// Commands a RESP2 connection in subscribed mode may run.
pub(super) fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "psubscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "punsubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Redis's refusal of other commands in RESP2 subscribed mode.
pub(super) fn refuse_when_subscribed(call: &mut Call<'_>, name: &str) {
    call.w.error_fmt(format_args!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
         RESET are allowed in this context"
    ));
}

fn confirm(call: &mut Call<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    call.w.push(3);
    call.w.bulk(kind);
    match name {
        Some(n) => call.w.bulk(n),
        None => call.w.null(),
    }
    call.w.integer(count as i64);
}

/// Publishes the connection's subscription counts for CLIENT LIST and the hub.
fn sync_info(call: &mut Call<'_>) {
    let (c, p, s) = call.conn.subs.counts();
    for (slot, n) in call.info.subs.iter().zip([c, p, s]) {
        slot.store(n as u32, Ordering::Relaxed);
    }
    call.info.set_flag(flag::PUBSUB, c + p + s > 0);
}

fn subscribe_to(call: &mut Call<'_>, args: Args<'_>, space: Space, kind: &[u8]) {
    let who = call.info.target();
    let fd = call.info.fd.load(Ordering::Relaxed);
    if !call.info.has_flag(flag::PUBSUB) && fd >= 0 {
        // Its hang-up is seen by commands on other workers too (hub::hangups).
        call.ctx.hub.hangups.watch(fd, who.id);
    }
    for name in args.iter_from(1) {
        if call.conn.subs.set(space).insert(Box::from(name)) {
            call.ctx.hub.pubsub.subscribe(space, name, who);
        }
        let count = call.conn.subs.count(space);
        confirm(call, kind, Some(name), count);
    }
    sync_info(call);
}

fn unsubscribe_from(call: &mut Call<'_>, args: Args<'_>, space: Space, kind: &[u8]) {
    let who = call.info.target();
    if args.len() == 1 {
        let all = std::mem::take(call.conn.subs.set(space));
        if all.is_empty() {
            let count = call.conn.subs.count(space);
            return confirm(call, kind, None, count);
        }
        let total = all.len();
        for (i, name) in all.into_iter().enumerate() {
            call.ctx.hub.pubsub.unsubscribe(space, &name, who);
            let count = call.conn.subs.count(space) + total - i - 1;
            confirm(call, kind, Some(&name), count);
        }
        return sync_info(call);
    }
    for name in args.iter_from(1) {
        if call.conn.subs.set(space).remove(name) {
            call.ctx.hub.pubsub.unsubscribe(space, name, who);
        }
        let count = call.conn.subs.count(space);
        confirm(call, kind, Some(name), count);
    }
    sync_info(call);
}

pub(super) fn subscribe(call: &mut Call<'_>, args: Args<'_>) {
    subscribe_to(call, args, Space::Channel, b"subscribe");
}

pub(super) fn psubscribe(call: &mut Call<'_>, args: Args<'_>) {
    subscribe_to(call, args, Space::Pattern, b"psubscribe");
}

pub(super) fn ssubscribe(call: &mut Call<'_>, args: Args<'_>) {
    subscribe_to(call, args, Space::Shard, b"ssubscribe");
}

pub(super) fn unsubscribe(call: &mut Call<'_>, args: Args<'_>) {
    unsubscribe_from(call, args, Space::Channel, b"unsubscribe");
}

pub(super) fn punsubscribe(call: &mut Call<'_>, args: Args<'_>) {
    unsubscribe_from(call, args, Space::Pattern, b"punsubscribe");
}

pub(super) fn sunsubscribe(call: &mut Call<'_>, args: Args<'_>) {
    unsubscribe_from(call, args, Space::Shard, b"sunsubscribe");
}

pub(super) fn publish(call: &mut Call<'_>, args: Args<'_>) {
    let payload = Payload::Bulk(Box::from(args.get(2)));
    let hub = &call.ctx.hub;
    let reach = hub
        .pubsub
        .publish(hub, Space::Channel, args.get(1), payload);
    call.conn.home = Home::published(reach.home);
    call.w.integer(reach.receivers as i64);
}

pub(super) fn spublish(call: &mut Call<'_>, args: Args<'_>) {
    let payload = Payload::Bulk(Box::from(args.get(2)));
    let hub = &call.ctx.hub;
    let reach = hub.pubsub.publish(hub, Space::Shard, args.get(1), payload);
    call.conn.home = Home::published(reach.home);
    call.w.integer(reach.receivers as i64);
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP`
pub(super) fn pubsub(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    let argc = args.len();
    let registry = &call.ctx.hub.pubsub;
    if is("help") && argc == 2 {
        call.w.array(PUBSUB_HELP.len());
        for line in PUBSUB_HELP {
            call.w.simple(line.as_bytes());
        }
    } else if (is("channels") || is("shardchannels")) && argc <= 3 {
        let space = if is("channels") {
            Space::Channel
        } else {
            Space::Shard
        };
        let pattern = (argc == 3).then(|| args.get(2));
        let mut names = registry.channels(&call.ctx.hub, space, pattern);
        names.sort();
        call.w.array(names.len());
        for n in names {
            call.w.bulk(&n);
        }
    } else if is("numsub") || is("shardnumsub") {
        let space = if is("numsub") {
            Space::Channel
        } else {
            Space::Shard
        };
        call.w.array((argc - 2) * 2);
        for ch in args.iter_from(2) {
            call.w.bulk(ch);
            call.w
                .integer(registry.numsub(&call.ctx.hub, space, ch) as i64);
        }
    } else if is("numpat") && argc == 2 {
        call.w.integer(registry.numpat(&call.ctx.hub) as i64);
    } else if ["help", "channels", "shardchannels", "numpat"]
        .iter()
        .any(|n| sub.eq_ignore_ascii_case(n.as_bytes()))
    {
        let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
        call.wrong_arity(&format!("pubsub|{name}"));
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

/// Leaves every channel, pattern and shard channel without replying (close, RESET).
pub(super) fn leave_all(ctx: &Context, subs: &mut Subscriptions, who: crate::hub::Target) {
    ctx.hub.hangups.forget(who.id);
    for space in [Space::Channel, Space::Pattern, Space::Shard] {
        for name in std::mem::take(subs.set(space)) {
            ctx.hub.pubsub.unsubscribe(space, &name, who);
        }
    }
}
