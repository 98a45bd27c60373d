//! Who is subscribed to what, and the messages that reach them.
//!
//! Channels and shard channels live in 16 shards each (`RwLock<HashMap>` by a hash of the
//! name), so PUBLISH takes one shared lock; patterns in one list, skipped entirely (one
//! atomic load) while no pattern has subscribers. Each name's subscribers are kept sorted
//! by worker, so a fan-out takes each worker's mailbox lock once ([`super::Outbox`]).
//!
//! A message is built once (`Arc<Published>`). A channel or shard-channel message is also
//! encoded once, at publish (`*3 message channel payload`; RESP3 differs only in its first
//! byte, `>`), so each receiver only copies bytes. A channel's subscribers are one shared
//! list (`Arc<Vec<Target>>`, copied on write only while a fan-out still holds it), and a
//! PUBLISH posts one [`Fanout`] per worker that has subscribers (the message, the list and
//! that worker's run of it), not one event per subscriber: the publishing thread does the
//! same few atomic operations whether a channel has 1 or 10,000 subscribers.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{Event, Hub, Outbox, Target};
use crate::commands::resp::glob;
use crate::protocol::memcache::write_u64;

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
    /// The RESP2 bytes of a `message` / `smessage` with a bulk payload (RESP3: the same
    /// with `>` first), encoded once at publish; empty for other kinds.
    pub wire: Box<[u8]>,
}

impl Published {
    /// A message; a `message` or `smessage` with a bulk payload is encoded here, once.
    pub fn new(kind: Kind, channel: &[u8], payload: Payload) -> Published {
        let wire = match (&payload, kind) {
            (Payload::Bulk(b), Kind::Message | Kind::Shard) => {
                let name: &[u8] = if kind == Kind::Shard {
                    b"smessage"
                } else {
                    b"message"
                };
                let mut w = Vec::with_capacity(channel.len() + b.len() + 40);
                header(&mut w, false, 3);
                bulk(&mut w, name);
                bulk(&mut w, channel);
                bulk(&mut w, b);
                w.into_boxed_slice()
            }
            _ => Box::default(),
        };
        Published {
            kind,
            channel: Box::from(channel),
            payload,
            wire,
        }
    }
}

impl Published {
    /// Bytes held, for the mailbox bound.
    pub fn cost(&self) -> usize {
        let body = match &self.payload {
            Payload::Bulk(b) => b.len(),
            Payload::Keys(k) => k.iter().map(|k| k.len() + 16).sum(),
            Payload::Null | Payload::Int(_) => 0,
        };
        self.channel.len() + body + self.wire.len() + 32
    }
}

/// What a PUBLISH reached: its receivers (the reply) and the one worker they all sit on,
/// if they do. A connection that keeps publishing to one worker's subscribers belongs on
/// that worker ([`crate::server::gather`]): each message then costs a copy per receiver,
/// no mailbox post and no cross-worker wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach {
    pub receivers: usize,
    /// The receivers' worker when they are all on one (`None`: none, or several).
    pub home: Option<usize>,
}

/// Folds the receivers' workers into [`Reach::home`].
#[derive(Clone, Copy)]
enum Spot {
    Nowhere,
    One(usize),
    Several,
}

impl Spot {
    fn add(self, worker: usize) -> Spot {
        match self {
            Spot::Nowhere => Spot::One(worker),
            Spot::One(w) if w == worker => self,
            _ => Spot::Several,
        }
    }

    /// `list` is sorted by worker.
    fn add_sorted(self, list: &[Target]) -> Spot {
        match (list.first(), list.last()) {
            (Some(a), Some(b)) if a.worker == b.worker => self.add(a.worker as usize),
            (Some(_), Some(_)) => Spot::Several,
            _ => self,
        }
    }

    fn home(self) -> Option<usize> {
        match self {
            Spot::One(w) => Some(w),
            _ => None,
        }
    }
}

/// One message for a worker's run of a channel's subscribers (`subs[from..to]`, all on
/// that worker), delivered without a pattern.
#[derive(Clone, Debug)]
pub struct Fanout {
    pub msg: Arc<Published>,
    pub subs: Arc<Vec<Target>>,
    pub from: u32,
    pub to: u32,
}

impl Fanout {
    pub fn targets(&self) -> &[Target] {
        self.subs
            .get(self.from as usize..self.to as usize)
            .unwrap_or(&[])
    }
}

/// A message for one receiver: through a pattern when `pattern` is set.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub msg: Arc<Published>,
    pub pattern: Option<Arc<[u8]>>,
}

fn header(out: &mut Vec<u8>, resp3: bool, n: usize) {
    out.push(if resp3 { b'>' } else { b'*' });
    write_u64(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    write_u64(out, b.len() as u64);
    out.extend_from_slice(b"\r\n");
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
        if self.pattern.is_none() && !m.wire.is_empty() {
            if resp3 {
                out.push(b'>');
                out.extend_from_slice(&m.wire[1..]);
            } else {
                out.extend_from_slice(&m.wire);
            }
            return;
        }
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

type Subscribers = HashMap<Box<[u8]>, Arc<Vec<Target>>>;
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
            // Copied only while an undelivered fan-out still holds the list.
            Some(list) => add_sorted(Arc::make_mut(list), who),
            None => {
                t.insert(Box::from(name), Arc::new(vec![who]));
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
        let removed = list.binary_search(&who).is_ok() && remove_sorted(Arc::make_mut(list), who);
        if list.is_empty() {
            t.remove(name);
        }
        removed
    }

    /// Sends `payload` to `channel`'s subscribers (and, for [`Space::Channel`], to every
    /// matching pattern's); returns how many deliveries were made (as PUBLISH answers) and
    /// where the receivers sit.
    pub fn publish(&self, hub: &Hub, space: Space, channel: &[u8], payload: Payload) -> Reach {
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
    ) -> Reach {
        let mut msg: Option<Arc<Published>> = None;
        let mut payload = Some(payload);
        let mut make = || {
            msg.get_or_insert_with(|| {
                let payload = payload.take().unwrap_or(Payload::Null);
                Arc::new(Published::new(kind, channel, payload))
            })
            .clone()
        };
        let mut sent = 0;
        let mut spot = Spot::Nowhere;
        let mut out = Outbox::new(hub);
        let subs = self.table(space, channel).read().get(channel).cloned();
        if let Some(subs) = subs {
            let m = make();
            spot = spot.add_sorted(&subs);
            sent += subs.len() - hub.hung_up(&subs);
            // One event per worker's run of the (worker-sorted) list.
            let mut from = 0;
            while from < subs.len() {
                let worker = subs[from].worker;
                let to = from + subs[from..].partition_point(|t| t.worker == worker);
                let f = Fanout {
                    msg: m.clone(),
                    subs: subs.clone(),
                    from: from as u32,
                    to: to as u32,
                };
                out.push(subs[from], Event::Fanout(f));
                from = to;
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
                    spot = spot.add(who.worker as usize);
                    let d = Delivery {
                        msg: m.clone(),
                        pattern: Some(pattern.clone()),
                    };
                    out.push(who, Event::Message(d));
                }
                sent += list.len() - hub.hung_up(list);
            }
        }
        Reach {
            receivers: sent,
            home: spot.home(),
        }
    }

    /// Channels with at least one subscriber that has not hung up, matching `pattern` if
    /// given (PUBSUB CHANNELS, SHARDCHANNELS).
    pub fn channels(&self, hub: &Hub, space: Space, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let shards = match space {
            Space::Shard => &self.shard_channels,
            _ => &self.channels,
        };
        let mut out = Vec::new();
        for s in shards.iter() {
            for (name, list) in s.read().iter() {
                if pattern.map_or(true, |p| glob::matches(p, name, false))
                    && list.len() > hub.hung_up(list)
                {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    /// Subscribers of one channel (PUBSUB NUMSUB, SHARDNUMSUB), without those that hung up
    /// ([`super::hangups`]).
    pub fn numsub(&self, hub: &Hub, space: Space, channel: &[u8]) -> usize {
        let list = self.table(space, channel).read().get(channel).cloned();
        list.map_or(0, |l| l.len() - hub.hung_up(&l))
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

    /// Distinct patterns subscribed to by a client that has not hung up (PUBSUB NUMPAT).
    pub fn numpat(&self, hub: &Hub) -> usize {
        self.patterns
            .read()
            .iter()
            .filter(|(_, list)| list.len() > hub.hung_up(list))
            .count()
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
            match p.event {
                Event::Message(d) => d.encode(resp3, &mut out),
                Event::Fanout(f) => {
                    for _ in f.targets() {
                        let d = Delivery {
                            msg: f.msg.clone(),
                            pattern: None,
                        };
                        d.encode(resp3, &mut out);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// One event per worker that has subscribers, each with that worker's run.
    #[test]
    fn a_publish_posts_one_fanout_per_worker() {
        let hub = Hub::new(2);
        let r = &hub.pubsub;
        for (w, id) in [(0, 1), (1, 2), (0, 3), (1, 4), (1, 5)] {
            r.subscribe(Space::Channel, b"c", t(w, id));
        }
        let n = r.publish(
            &hub,
            Space::Channel,
            b"c",
            Payload::Bulk(Box::from(&b"m"[..])),
        );
        assert_eq!(
            n,
            Reach {
                receivers: 5,
                home: None
            }
        );
        for (worker, ids) in [(0, vec![1, 3]), (1, vec![2, 4, 5])] {
            let mut got = Vec::new();
            hub.take(worker, &mut got);
            assert_eq!(got.len(), 1);
            let Event::Fanout(f) = &got[0].event else {
                panic!("not a fan-out");
            };
            let to: Vec<u64> = f.targets().iter().map(|t| t.id).collect();
            assert_eq!(to, ids);
            assert_eq!(
                &f.msg.wire[..],
                b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
            );
        }
        // A fan-out still queued keeps its list: subscribing copies it.
        r.publish(&hub, Space::Channel, b"c", Payload::Null);
        r.subscribe(Space::Channel, b"c", t(0, 6));
        let mut got = Vec::new();
        hub.take(0, &mut got);
        let Event::Fanout(f) = &got[0].event else {
            panic!("not a fan-out");
        };
        assert_eq!(f.targets().len(), 2);
        assert_eq!(r.numsub(&hub, Space::Channel, b"c"), 6);
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
            Reach {
                receivers: 3,
                home: None
            }
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
        assert_eq!(r.numsub(&hub, Space::Channel, b"news"), 2);
        assert_eq!(r.numpat(&hub), 1);
        assert_eq!(r.channels(&hub, Space::Channel, Some(b"ne*")).len(), 1);
        assert!(r.unsubscribe(Space::Pattern, b"n*", t(1, 2)));
        assert!(!r.unsubscribe(Space::Pattern, b"n*", t(1, 2)));
        assert_eq!(r.numpat(&hub), 0);
        assert!(r.unsubscribe(Space::Channel, b"news", t(0, 1)));
        assert!(r.unsubscribe(Space::Channel, b"news", t(1, 2)));
        assert!(r.channels(&hub, Space::Channel, None).is_empty());
        let none = Reach {
            receivers: 0,
            home: None,
        };
        assert_eq!(
            r.publish(&hub, Space::Channel, b"news", Payload::Null),
            none
        );
    }

    /// PUBLISH tells its caller the one worker all receivers sit on, patterns included.
    #[test]
    fn a_publish_names_the_receivers_worker_when_there_is_one() {
        let hub = Hub::new(2);
        let r = &hub.pubsub;
        let publish = |name: &[u8]| r.publish(&hub, Space::Channel, name, Payload::Null);
        r.subscribe(Space::Channel, b"a", t(1, 1));
        r.subscribe(Space::Channel, b"a", t(1, 2));
        assert_eq!(
            publish(b"a"),
            Reach {
                receivers: 2,
                home: Some(1)
            }
        );
        r.subscribe(Space::Pattern, b"a*", t(1, 3));
        assert_eq!(
            publish(b"a"),
            Reach {
                receivers: 3,
                home: Some(1)
            }
        );
        r.subscribe(Space::Pattern, b"*", t(0, 4));
        assert_eq!(
            publish(b"a"),
            Reach {
                receivers: 4,
                home: None
            }
        );
        assert_eq!(
            publish(b"b"),
            Reach {
                receivers: 1,
                home: Some(0)
            }
        );
        r.subscribe(Space::Channel, b"c", t(0, 5));
        r.subscribe(Space::Channel, b"c", t(1, 6));
        r.unsubscribe(Space::Pattern, b"*", t(0, 4));
        assert_eq!(
            publish(b"c"),
            Reach {
                receivers: 2,
                home: None
            }
        );
    }

    #[test]
    fn shard_channels_are_their_own_namespace() {
        let hub = Hub::new(1);
        let r = &hub.pubsub;
        r.subscribe(Space::Shard, b"s", t(0, 1));
        r.subscribe(Space::Pattern, b"*", t(0, 2));
        assert_eq!(
            r.publish(&hub, Space::Channel, b"s", Payload::Null)
                .receivers,
            1
        );
        hub.take(0, &mut Vec::new());
        assert_eq!(
            r.publish(
                &hub,
                Space::Shard,
                b"s",
                Payload::Bulk(Box::from(&b"x"[..]))
            )
            .receivers,
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
                wire: Box::default(),
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
