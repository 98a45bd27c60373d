//! Output that does not answer one of the connection's requests: hub events (Pub/Sub
//! messages, keyspace events, invalidations, MONITOR and memcached `watch` lines, wakes,
//! kills) and the `client-output-buffer-limit` that bounds all unsent output.

use std::io::Write;
use std::sync::atomic::Ordering;

use super::Connection;
use crate::commands::{Context, Protocol, ReplyLayout};
use crate::hub::{flag, Delivery, Event, Kind, OutputClass};
use crate::server::trace;

/// What the soft-limit sweep found ([`Connection::sweep_soft_limit`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SoftLimit {
    Under,
    /// Over its soft limit, not yet for its seconds.
    Over,
    /// Over it for longer: killed, to be closed.
    Killed,
}

impl Connection {
    /// Takes one hub event.
    pub fn receive(&mut self, ctx: &Context, event: Event) {
        match event {
            Event::Message(d) => self.deliver(ctx, &d),
            Event::Fanout(f) => {
                let d = Delivery {
                    msg: f.msg,
                    pattern: None,
                };
                self.deliver(ctx, &d);
            }
            Event::Line(line, count) => {
                if self.closing {
                    return;
                }
                if self.session.protocol == Protocol::Resp {
                    // MONITOR: bounded by the output limits.
                    self.wbuf.extend_from_slice(&line);
                    self.check_output(ctx);
                } else {
                    self.offer_log_lines(ctx, &line, count);
                }
            }
            Event::Wake => {
                if let Some(w) = self.session.wait.as_mut() {
                    w.woken = true;
                }
            }
            Event::WakeLinked(link) => {
                if let Some(w) = self.session.wait.as_mut() {
                    w.woken = true;
                    self.link = Some(link);
                }
            }
            Event::Resume => self.held = false,
            Event::Unblock(how) => {
                self.end_wait(ctx, Some(how));
            }
            Event::Kill => self.kill(ctx),
            Event::Overflow => {
                if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                    let what = "message dropped (worker mailbox full); closing";
                    trace::event(&self.session.info, what);
                }
                self.kill(ctx);
            }
        }
    }

    /// A Pub/Sub message, keyspace event or invalidation: appended in the connection's
    /// protocol, then the output limit is checked.
    pub fn deliver(&mut self, ctx: &Context, d: &Delivery) {
        // RESP2 gets invalidations only as a subscriber (a REDIRECT target).
        let resp3 = self.session.resp.resp3();
        if d.msg.kind == Kind::Invalidate && !resp3 && !self.session.resp.subscribed() {
            return;
        }
        if d.msg.kind == Kind::RedirBroken && !resp3 {
            return;
        }
        if !self.closing {
            d.encode(resp3, &mut self.wbuf);
            self.check_output(ctx);
        }
    }

    /// Whether the messages just delivered may wait for a later write ([`crate::server::linger`]):
    /// a subscriber (or MONITOR) with nothing to read, run, finish or close, and less than
    /// [`crate::server::linger::BYTES`] unsent ([`crate::server::linger::MONITOR_BYTES`] for MONITOR).
    pub fn may_linger(&self) -> bool {
        let unsent = self.unsent();
        let bytes = if self.session.info.has_flag(flag::MONITOR) {
            crate::server::linger::MONITOR_BYTES
        } else {
            crate::server::linger::BYTES
        };
        self.session.resp.subscribed()
            && !(self.readable || self.hangup || self.peer_closed || self.closing)
            && !self.held
            && self.link.is_none()
            && self.session.wait.is_none()
            && self.start == self.rbuf.len()
            && unsent > 0
            && unsent < bytes
    }

    /// memcached `watch` lines, as memcached's logger puts them in a watcher's buffer of
    /// `watcher_logbuf_size` bytes: a line goes in when the unsent output leaves room for
    /// it plus 128 bytes (after trying to write to the socket once); otherwise it and the
    /// rest of this batch are skipped and counted, and the next line that fits is preceded
    /// by `skipped=N`. `count`: the lines in `lines` (their `\n`s).
    fn offer_log_lines(&mut self, ctx: &Context, lines: &[u8], count: u64) {
        let limit = ctx.settings.watcher_logbuf_size;
        let w = &ctx.hub.watchers;
        if self.skipped == 0 && self.unsent() + lines.len() + 128 <= limit {
            // The whole batch fits (so each line would): one copy, its lines counted by the
            // worker that wrote them (line by line, this was a third of a watched request's
            // cost).
            self.wbuf.extend_from_slice(lines);
            w.sent.fetch_add(count, Ordering::Relaxed);
            return;
        }
        let (mut sent, mut skipped, mut tried, mut full) = (0u64, 0u64, false, false);
        for line in lines.split_inclusive(|&c| c == b'\n') {
            if !full && self.unsent() + line.len() + 128 > limit && !tried {
                tried = true;
                let stats = &ctx.threads[self.session.worker];
                if self.flush(ctx, stats).is_err() {
                    self.kill(ctx);
                    return;
                }
            }
            full = full || self.unsent() + line.len() + 128 > limit;
            if full {
                skipped += 1;
                continue;
            }
            if self.skipped > 0 {
                let _ = writeln!(self.wbuf, "skipped={}", self.skipped);
                self.skipped = 0;
            }
            self.wbuf.extend_from_slice(line);
            sent += 1;
        }
        self.skipped += skipped;
        if sent > 0 {
            w.sent.fetch_add(sent, Ordering::Relaxed);
        }
        if skipped > 0 {
            w.skipped.fetch_add(skipped, Ordering::Relaxed);
        }
    }

    /// Closes the connection at once, dropping output not yet sent (CLIENT KILL, output
    /// limits).
    pub fn kill(&mut self, ctx: &Context) {
        self.wbuf.clear();
        self.sent = 0;
        self.session.memcache.pinned.get_mut().clear(&ctx.store);
        self.closing = true;
        self.readable = false;
    }

    /// The worker's once-a-second sweep of a connection over its soft limit (Redis's
    /// clientsCron): kills it once it has stayed over for the class's seconds, traffic or
    /// not.
    pub fn sweep_soft_limit(&mut self, ctx: &Context) -> SoftLimit {
        if self.soft_since.is_none() || self.closing {
            return SoftLimit::Under;
        }
        self.check_output(ctx);
        if self.closing {
            SoftLimit::Killed
        } else if self.soft_since.is_some() {
            SoftLimit::Over
        } else {
            SoftLimit::Under
        }
    }

    /// Applies the connection class's `client-output-buffer-limit` to the unsent output.
    pub(super) fn check_output(&mut self, ctx: &Context) {
        let watching = self.session.info.has_flag(flag::MONITOR);
        let class = if self.session.info.has_flag(flag::REPLICA) {
            OutputClass::Replica
        } else if self.session.resp.subscribed() || watching {
            OutputClass::Pubsub
        } else {
            OutputClass::Normal
        };
        let limit = ctx.hub.limits.get(class);
        let unsent = self.unsent() as u64;
        // Redis compares its reply blocks (`omem`), not the reply buffer's first 16 KiB.
        let omem = ReplyLayout::of(self.sent as u64, unsent).omem;
        let over_hard = limit.hard > 0 && omem > limit.hard;
        let over_soft = limit.soft > 0 && omem > limit.soft;
        let mut kill = over_hard;
        if over_soft {
            let now = ctx.store.clock().now();
            match self.soft_since {
                None => self.soft_since = Some(now),
                Some(t) => kill |= u64::from(now.saturating_sub(t)) > limit.soft_secs,
            }
        } else {
            self.soft_since = None;
        }
        if kill {
            if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                let what = format!(
                    "closed for overcoming of output buffer limits ({unsent} bytes unsent)"
                );
                trace::event(&self.session.info, &what);
            }
            self.kill(ctx);
        }
    }
}
