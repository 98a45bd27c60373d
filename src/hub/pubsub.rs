//! Who is subscribed to what, and the messages that reach them.
//!
//! Channels and shard channels live in 16 shards each (`RwLock<HashMap>` by a hash of the
//! name), so PUBLISH takes one shared lock; patterns in one list, skipped entirely (one
//! atomic load) while no pattern has subscribers. Each name's subscribers are kept sorted
//! by worker, so a fan-out takes each worker's mailbox lock once ([`super::Outbox`]).
//!
//! A message is built once (`Arc<Published>`) and encoded by each receiving worker for its
//! receiver's protocol: RESP2 `*3 message channel payload`, RESP3 `>3 ...`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{Event, Hub, Outbox, Target};
use crate::commands::resp::glob;

const SHARDS: usize = 16;

/// Which namespace a subscription is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
    /// PSUBSCRIBE (matched against `Channel` publishes).
    Pattern,
}

/// What kind of message a receiver gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `message` (or `pmessage` when delivered through a pattern).
    Message,
    /// `smessage`.
    Shard,
    /// Client tracking: RESP3 `>2 invalidate keys`; RESP2 a `message` on
    /// `__redis__:invalidate` whose payload is the array of keys.
    Invalidate,
    /// Client tracking whose REDIRECT client is gone: RESP3 `>2 tracking-redir-broken
    /// <id>` to the tracking client itself (RESP2 gets nothing, as in Redis).
    RedirBroken,
}

/// A message's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Bulk(Box<[u8]>),
    /// Invalidated keys.
    Keys(Vec<Box<[u8]>>),
    /// Everything invalidated (FLUSHALL).
    Null,
    /// A client id (`tracking-redir-broken`).
    Int(u64),
}

/// One published message, shared by all its receivers.
#[derive(Debug)]
pub struct Published {
    pub kind: Kind,
    pub channel: Box<[u8]>,
    pub payload: Payload,
}

impl Published {
    /// Bytes held, for the mailbox bound.
    pub fn cost(&self) -> usize {
        let body = match &self.payload {
            Payload::Bulk(b) => b.len(),
            Payload::Keys(k) => k.iter().map(|k| k.len() + 16).sum(),
            Payload::Null | Payload::Int(_) => 0,
        };
        self.channel.len() + body + 32
    }
}

/// A message for one receiver: through a pattern when `pattern` is set.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub msg: Arc<Published>,
    pub pattern: Option<Arc<[u8]>>,
}

fn header(out: &mut Vec<u8>, resp3: bool, n: usize) {
    let _ = write!(out, "{}{n}\r\n", if resp3 { '>' } else { '*' });
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    let _ = write!(out, "${}\r\n", b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn payload(out: &mut Vec<u8>, p: &Payload, resp3: bool) {
    match p {
        Payload::Bulk(b) => bulk(out, b),
        Payload::Keys(keys) => {
            header(out, false, keys.len());
            for k in keys {
                bulk(out, k);
            }
        }
        Payload::Null => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Payload::Int(n) => {
            let _ = write!(out, ":{n}\r\n");
        }
    }
}

impl Delivery {
    /// Appends the message as the receiver's protocol has it.
    pub fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        let m = &*self.msg;
        match (m.kind, &self.pattern) {
            (Kind::Invalidate, _) if resp3 => {
                header(out, true, 2);
                bulk(out, b"invalidate");
            }
            (Kind::Invalidate, _) | (Kind::Message, None) => {
                header(out, resp3, 3);
                bulk(out, b"message");
                bulk(out, &m.channel);
            }
            (Kind::Message, Some(p)) => {
                header(out, resp3, 4);
                bulk(out, b"pmessage");
                bulk(out, p);
                bulk(out, &m.channel);
            }
            (Kind::Shard, _) => {
                header(out, resp3, 3);
                bulk(out, b"smessage");
                bulk(out, &m.channel);
            }
            (Kind::RedirBroken, _) => {
                header(out, true, 2);
                bulk(out, b"tracking-redir-broken");
            }
        }
        payload(out, &m.payload, resp3);
    }
}

type Subscribers = HashMap<Box<[u8]>, Vec<Target>>;
/// A pattern and its subscribers (sorted by worker).
type PatternSubscribers = (Arc<[u8]>, Vec<Target>);

/// Every subscription of every connection.
pub struct Registry {
    channels: Box<[RwLock<Subscribers>]>,
    shard_channels: Box<[RwLock<Subscribers>]>,
    patterns: RwLock<Vec<PatternSubscribers>>,
    /// Pattern subscriptions (one per connection and pattern).
    npatterns: AtomicUsize,
}

impl Default for Registry {
    fn default() -> Self {
        let shards = || (0..SHARDS).map(|_| RwLock::default()).collect();
        Registry {
            channels: shards(),
            shard_channels: shards(),
            patterns: RwLock::default(),
            npatterns: AtomicUsize::new(0),
        }
    }
}

fn shard_of(name: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in name {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

/// Inserts `who` keeping the list sorted by worker; false when already there.
fn add_sorted(list: &mut Vec<Target>, who: Target) -> bool {
    match list.binary_search(&who) {
        Ok(_) => false,
        Err(at) => {
            list.insert(at, who);
            true
        }
    }
}

fn remove_sorted(list: &mut Vec<Target>, who: Target) -> bool {
    match list.binary_search(&who) {
        Ok(at) => {
            list.remove(at);
            true
        }
        Err(_) => false,
    }
}

impl Registry {
    fn table(&self, space: Space, name: &[u8]) -> &RwLock<Subscribers> {
        let shards = match space {
            Space::Shard => &self.shard_channels,
            _ => &self.channels,
        };
        &shards[shard_of(name)]
    }

    /// Subscribes `who`; false when it already was.
    pub fn subscribe(&self, space: Space, name: &[u8], who: Target) -> bool {
        if space == Space::Pattern {
            let mut pats = self.patterns.write();
            let added = match pats.iter_mut().find(|(p, _)| &p[..] == name) {
                Some((_, list)) => add_sorted(list, who),
                None => {
                    pats.push((Arc::from(name), vec![who]));
                    true
                }
            };
            if added {
                self.npatterns.fetch_add(1, Ordering::Relaxed);
            }
            return added;
        }
        let mut t = self.table(space, name).write();
        match t.get_mut(name) {
            Some(list) => add_sorted(list, who),
            None => {
                t.insert(Box::from(name), vec![who]);
                true
            }
        }
    }

    /// Unsubscribes `who`; false when it was not subscribed.
    pub fn unsubscribe(&self, space: Space, name: &[u8], who: Target) -> bool {
        if space == Space::Pattern {
            let mut pats = self.patterns.write();
            let Some(at) = pats.iter().position(|(p, _)| &p[..] == name) else {
                return false;
            };
            let removed = remove_sorted(&mut pats[at].1, who);
            if pats[at].1.is_empty() {
                pats.swap_remove(at);
            }
            if removed {
                self.npatterns.fetch_sub(1, Ordering::Relaxed);
            }
            return removed;
        }
        let mut t = self.table(space, name).write();
        let Some(list) = t.get_mut(name) else {
            return false;
        };
        let removed = remove_sorted(list, who);
        if list.is_empty() {
            t.remove(name);
        }
        removed
    }

    /// Sends `payload` to `channel`'s subscribers (and, for [`Space::Channel`], to every
    /// matching pattern's); returns how many deliveries were made, as PUBLISH answers.
    pub fn publish(&self, hub: &Hub, space: Space, channel: &[u8], payload: Payload) -> usize {
        let kind = if space == Space::Shard {
            Kind::Shard
        } else {
            Kind::Message
        };
        self.publish_kind(hub, space, kind, channel, payload)
    }

    /// As [`Registry::publish`], with the message kind chosen by the caller (tracking
    /// invalidations go out as [`Kind::Invalidate`] on `__redis__:invalidate`).
    pub fn publish_kind(
        &self,
        hub: &Hub,
        space: Space,
        kind: Kind,
        channel: &[u8],
        payload: Payload,
    ) -> usize {
        let mut msg: Option<Arc<Published>> = None;
        let mut payload = Some(payload);
        let mut make = || {
            msg.get_or_insert_with(|| {
                Arc::new(Published {
                    kind,
                    channel: Box::from(channel),
                    payload: payload.take().unwrap_or(Payload::Null),
                })
            })
            .clone()
        };
        let mut sent = 0;
        let mut out = Outbox::new(hub);
        {
            let t = self.table(space, channel).read();
            if let Some(list) = t.get(channel) {
                let m = make();
                for &who in list {
                    let d = Delivery {
                        msg: m.clone(),
                        pattern: None,
                    };
                    out.push(who, Event::Message(d));
                }
                sent += list.len();
            }
        }
        if space == Space::Channel && self.npatterns.load(Ordering::Relaxed) > 0 {
            let pats = self.patterns.read();
            for (pattern, list) in pats.iter() {
                if !glob::matches(pattern, channel, false) {
                    continue;
                }
                let m = make();
                for &who in list {
                    let d = Delivery {
                        msg: m.clone(),
                        pattern: Some(pattern.clone()),
                    };
                    out.push(who, Event::Message(d));
                }
                sent += list.len();
            }
        }
        sent
    }

    /// Channels with at least one subscriber, matching `pattern` if given (PUBSUB CHANNELS,
    /// SHARDCHANNELS).
    pub fn channels(&self, space: Space, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let shards = match space {
            Space::Shard => &self.shard_channels,
            _ => &self.channels,
        };
        let mut out = Vec::new();
        for s in shards.iter() {
            for name in s.read().keys() {
                if pattern.map_or(true, |p| glob::matches(p, name, false)) {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    /// Subscribers of one channel (PUBSUB NUMSUB, SHARDNUMSUB).
    pub fn numsub(&self, space: Space, channel: &[u8]) -> usize {
        self.table(space, channel)
            .read()
            .get(channel)
            .map_or(0, Vec::len)
    }

    /// Calls `f` for every subscription (ACL changes look for those a user lost).
    pub fn each(&self, mut f: impl FnMut(Space, &[u8], Target)) {
        for (space, shards) in [
            (Space::Channel, &self.channels),
            (Space::Shard, &self.shard_channels),
        ] {
            for s in shards.iter() {
                for (name, list) in s.read().iter() {
                    list.iter().for_each(|&who| f(space, name, who));
                }
            }
        }
        for (name, list) in self.patterns.read().iter() {
            list.iter().for_each(|&who| f(Space::Pattern, name, who));
        }
    }

    /// Distinct patterns subscribed to (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(worker: u32, id: u64) -> Target {
        Target {
            worker,
            slot: 0,
            id,
        }
    }

    fn encoded(hub: &Hub, worker: usize, resp3: bool) -> Vec<u8> {
        let mut got = Vec::new();
        hub.take(worker, &mut got);
        let mut out = Vec::new();
        for p in got {
            if let Event::Message(d) = p.event {
                d.encode(resp3, &mut out);
            }
        }
        out
    }

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_on_every_worker() {
        let hub = Hub::new(2);
        let r = &hub.pubsub;
        assert!(r.subscribe(Space::Channel, b"news", t(0, 1)));
        assert!(!r.subscribe(Space::Channel, b"news", t(0, 1)));
        assert!(r.subscribe(Space::Channel, b"news", t(1, 2)));
        assert!(r.subscribe(Space::Pattern, b"n*", t(1, 2)));
        assert_eq!(
            r.publish(
                &hub,
                Space::Channel,
                b"news",
                Payload::Bulk(Box::from(&b"hi"[..]))
            ),
            3
        );
        assert_eq!(
            encoded(&hub, 0, false),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            encoded(&hub, 1, true),
            &b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
               >4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"[..]
        );
        assert_eq!(r.numsub(Space::Channel, b"news"), 2);
        assert_eq!(r.numpat(), 1);
        assert_eq!(r.channels(Space::Channel, Some(b"ne*")).len(), 1);
        assert!(r.unsubscribe(Space::Pattern, b"n*", t(1, 2)));
        assert!(!r.unsubscribe(Space::Pattern, b"n*", t(1, 2)));
        assert_eq!(r.numpat(), 0);
        assert!(r.unsubscribe(Space::Channel, b"news", t(0, 1)));
        assert!(r.unsubscribe(Space::Channel, b"news", t(1, 2)));
        assert!(r.channels(Space::Channel, None).is_empty());
        assert_eq!(r.publish(&hub, Space::Channel, b"news", Payload::Null), 0);
    }

    #[test]
    fn shard_channels_are_their_own_namespace() {
        let hub = Hub::new(1);
        let r = &hub.pubsub;
        r.subscribe(Space::Shard, b"s", t(0, 1));
        r.subscribe(Space::Pattern, b"*", t(0, 2));
        assert_eq!(r.publish(&hub, Space::Channel, b"s", Payload::Null), 1);
        hub.take(0, &mut Vec::new());
        assert_eq!(
            r.publish(
                &hub,
                Space::Shard,
                b"s",
                Payload::Bulk(Box::from(&b"x"[..]))
            ),
            1
        );
        assert_eq!(
            encoded(&hub, 0, false),
            b"*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n"
        );
    }

    #[test]
    fn invalidations_per_protocol() {
        let d = Delivery {
            msg: Arc::new(Published {
                kind: Kind::Invalidate,
                channel: Box::from(&b"__redis__:invalidate"[..]),
                payload: Payload::Keys(vec![Box::from(&b"k"[..])]),
            }),
            pattern: None,
        };
        let mut out = Vec::new();
        d.encode(true, &mut out);
        assert_eq!(out, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        out.clear();
        d.encode(false, &mut out);
        assert_eq!(
            out,
            &b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"[..]
        );
    }
}
