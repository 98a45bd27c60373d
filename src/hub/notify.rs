//! Keyspace notifications (`notify-keyspace-events`): Redis 7.0's classes and channels.
//!
//! A write calls `ctx.notify(class, event, db, key)`; with notifications off (the default)
//! that is one relaxed atomic load and a branch. When the class is enabled, the event is
//! published as Redis does: `__keyspace@<db>__:<key>` with the event name as the message
//! (`K`), and `__keyevent@<db>__:<event>` with the key as the message (`E`).

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::observed::{self, Observed};
use super::pubsub::{Payload, Space};
use super::Hub;

/// `K`: events on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: events on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: DEL, EXPIRE, RENAME, ... (type-independent commands).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted for memory.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: a key was read and missed.
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module key type events.
pub const MODULE: u32 = 1 << 13;
/// `n`: a key was created.
pub const NEW: u32 = 1 << 14;
/// `A`: `g$lshzxetd`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's error for a bad class character.
pub const BAD_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmd'.";

/// Parses `notify-keyspace-events`; `None` on a character Redis does not know.
pub fn parse(s: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The directive's check: Redis's error for an unknown class, else the canonical form.
pub fn canonical(v: &str) -> Result<String, String> {
    parse(v.as_bytes())
        .map(format)
        .ok_or_else(|| BAD_CLASS.to_string())
}

/// The setting as CONFIG GET shows it (Redis's order: classes or `A`, then `K`, `E`, `m`).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    if flags & ALL == ALL && flags & NEW != 0 {
        s.push('n');
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The setting: what was configured, and what the hot path tests (zero unless `K` or `E`
/// is on, so "classes but no channel" costs nothing either).
#[derive(Default)]
pub struct Flags {
    configured: AtomicU32,
    effective: AtomicU32,
    /// The hub's word: [`observed::NOTIFY`] while `effective` is not 0. Changed with the
    /// flags under `changing`, so that two CONFIG SETs cannot leave it stale.
    observed: Arc<Observed>,
    changing: Mutex<()>,
}

impl Flags {
    /// Keeping its bits of `observed` (the hub's word).
    pub(super) fn observing(observed: Arc<Observed>) -> Flags {
        Flags {
            observed,
            ..Default::default()
        }
    }

    pub fn set(&self, flags: u32) {
        let _changing = self.changing.lock();
        self.configured.store(flags, Ordering::Relaxed);
        let on = flags & (KEYSPACE | KEYEVENT) != 0;
        self.effective
            .store(if on { flags } else { 0 }, Ordering::Relaxed);
        // No class, no event: the word stays clear for `K` or `E` alone.
        let classes = flags & !(KEYSPACE | KEYEVENT) != 0;
        self.observed.set(observed::NOTIFY, on && classes);
    }

    pub fn get(&self) -> u32 {
        self.configured.load(Ordering::Relaxed)
    }

    /// Whether an event of `class` would be published.
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        super::OBSERVE && self.effective.load(Ordering::Relaxed) & class != 0
    }
}

impl Hub {
    /// Publishes a keyspace event when its class is enabled (see the module doc), and
    /// invalidates the key for tracking clients: one load of the observed word when
    /// neither is on.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: u8, key: &[u8]) {
        if self.observed() & (observed::NOTIFY | observed::TRACKING | observed::REPLICA) != 0 {
            self.notify_observed(class, event, db, key);
        }
    }

    #[cold]
    fn notify_observed(&self, class: u32, event: &str, db: u8, key: &[u8]) {
        // A replica is attached: an event of a client's write marks its command as one
        // that changed something (see `crate::repl::propagate`).
        if class & (KEY_MISS | NEW | EXPIRED | EVICTED) == 0
            && self.observed() & observed::REPLICA != 0
        {
            crate::repl::propagate::mark_dirty();
        }
        if self.notify.wants(class) {
            self.notify_slow(event, db, key);
        }
        // Every event but a miss or a new-key event is a change cached copies must drop.
        if class & (KEY_MISS | NEW) == 0 && self.tracking.active() {
            if class & EXPIRED != 0 {
                // An expiry is no client's write, even one a client's read found (lazy
                // expiry): NOLOOP does not hide it, as in Redis.
                self.tracking.invalidate_unattributed(self, key);
            } else {
                self.tracking.invalidate(self, key);
            }
        }
    }

    #[cold]
    fn notify_slow(&self, event: &str, db: u8, key: &[u8]) {
        let flags = self.notify.effective.load(Ordering::Relaxed);
        let mut channel = Vec::with_capacity(24 + key.len().max(event.len()));
        if flags & KEYSPACE != 0 {
            let _ = write!(channel, "__keyspace@{db}__:");
            channel.extend_from_slice(key);
            let payload = Payload::Bulk(Box::from(event.as_bytes()));
            self.pubsub.publish(self, Space::Channel, &channel, payload);
        }
        if flags & KEYEVENT != 0 {
            channel.clear();
            let _ = write!(channel, "__keyevent@{db}__:{event}");
            let payload = Payload::Bulk(Box::from(key));
            self.pubsub.publish(self, Space::Channel, &channel, payload);
        }
    }
}

/// Expired and evicted items, reported by the store: `expired` (`x`) and `evicted` (`e`);
/// keys a write created: `new` (`n`).
impl crate::storage::Observer for Hub {
    fn created(&self, db: u8, key: &[u8]) {
        if self.notify.wants(NEW) {
            self.notify(NEW, "new", db, key);
        }
    }

    fn removed(&self, why: crate::storage::Removal, db: u8, key: &[u8]) {
        if self.observed() & observed::REPLICA != 0 {
            self.repl.removed(db, key);
        }
        match why {
            crate::storage::Removal::Expired => self.notify(EXPIRED, "expired", db, key),
            crate::storage::Removal::Evicted(e) => {
                self.notify(EVICTED, "evicted", db, key);
                if self.watchers.wanted(super::monitor::stream::EVICTIONS) {
                    let item = super::monitor::ItemLog {
                        key,
                        class: e.class,
                        size: e.size,
                        fd: -1,
                    };
                    self.watchers
                        .eviction(self, &item, e.fetched, e.ttl, e.idle);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, Target};
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(parse(b"KEA").map(format).as_deref(), Some("AKE"));
        assert_eq!(parse(b"Kg$").map(format).as_deref(), Some("g$K"));
        assert_eq!(parse(b"Exnm").map(format).as_deref(), Some("xnEm"));
        assert_eq!(parse(b"").map(format).as_deref(), Some(""));
        assert_eq!(parse(b"KEAn").map(format).as_deref(), Some("AnKE"));
        assert_eq!(parse(b"Kq"), None);
    }

    #[test]
    fn events_go_to_keyspace_and_keyevent_channels() {
        let hub = Hub::new(1);
        let who = Target {
            worker: 0,
            slot: 0,
            id: 1,
        };
        hub.pubsub.subscribe(Space::Pattern, b"__key*", who);
        hub.notify(STRING, "set", 0, b"k");
        let mut got = Vec::new();
        assert!(!hub.take(0, &mut got), "off by default");
        hub.notify.set(parse(b"g").unwrap());
        hub.notify(GENERIC, "del", 0, b"k");
        assert!(!hub.take(0, &mut got), "no K or E: nothing");
        hub.notify.set(parse(b"KE$").unwrap());
        hub.notify(GENERIC, "del", 0, b"k");
        hub.notify(STRING, "set", 3, b"k");
        hub.take(0, &mut got);
        let mut out = Vec::new();
        for p in got {
            match p.event {
                Event::Message(d) => d.encode(false, &mut out),
                Event::Fanout(f) => f.targets().iter().for_each(|_| {
                    let d = crate::hub::Delivery {
                        msg: f.msg.clone(),
                        pattern: None,
                    };
                    d.encode(false, &mut out);
                }),
                _ => {}
            }
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$16\r\n__keyspace@3__:k\r\n$3\r\nset\r\n\
             *4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$18\r\n__keyevent@3__:set\r\n$1\r\nk\r\n"
        );
    }
}
