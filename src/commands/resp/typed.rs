//! How hash and set commands reach their key: one typed read ([`Store::inspect`]) or one
//! read-modify-write ([`Store::modify`]) under the key's stripe lock, with Redis's
//! WRONGTYPE for a key of another type, the compact bytes copied out and back or the heap
//! table edited in place, and an emptied collection deleted. Also the option parser that
//! HSCAN and SSCAN share.
//!
//! [`Store::inspect`]: crate::storage::Store::inspect
//! [`Store::modify`]: crate::storage::Store::modify

use super::glob;
use super::Call;
use crate::collections::compact::{Compact, CompactBuf};
use crate::collections::hash::{HashMut, HashObject, HashRef};
use crate::collections::intset::{IntSet, IntSetBuf};
use crate::collections::set::{SetMut, SetObject, SetOutcome, SetRef};
use crate::collections::table::{Outcome, Table};
use crate::hub::notify;
use crate::protocol::resp::{Args, Writer};
use crate::storage::{Current, ItemType, Object, Ttl, Update};

pub(super) const WRONGTYPE: &[u8] =
    b"WRONGTYPE Operation against a key holding the wrong kind of value";

/// What a command's edit returns: its result, and whether it wrote anything (a write gets
/// a new CAS, so WATCH sees it, and is stored even when the bytes did not change).
pub(super) struct Edit<R> {
    pub result: R,
    pub changed: bool,
}

impl<R> Edit<R> {
    pub fn changed(result: R) -> Edit<R> {
        Edit {
            result,
            changed: true,
        }
    }

    pub fn unchanged(result: R) -> Edit<R> {
        Edit {
            result,
            changed: false,
        }
    }
}

/// The key holds another type.
struct WrongType;

/// What a write did to its key, for keyspace events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    None,
    Changed,
    /// Changed, and left empty: the key was deleted.
    Deleted,
}

impl Effect {
    fn of(changed: bool, deleted: bool) -> Effect {
        match (changed, deleted) {
            (false, _) => Effect::None,
            (true, false) => Effect::Changed,
            (true, true) => Effect::Deleted,
        }
    }

    /// Publishes `event` (class `class`) for a change, then `del` for a deletion, as Redis
    /// orders them.
    fn publish(self, call: &Call<'_>, class: u32, event: &str, key: &[u8]) {
        if self != Effect::None {
            call.notify(class, event, key);
        }
        if self == Effect::Deleted {
            call.notify(notify::GENERIC, "del", key);
        }
    }
}

/// What the bridge needs of a hash or a set: its type, keyspace-event class, read-only and
/// editable views, and how an edit's outcome is stored.
trait Collection {
    const TYPE: ItemType;
    const CLASS: u32;
    type Ref<'a>;
    type Mut<'a>;
    type Buf;
    /// The stored value, read-only (compact bytes copied only when chained); None when the
    /// bytes are not of this type.
    fn open<R>(cur: &Current<'_>, f: impl FnOnce(Self::Ref<'_>) -> R) -> Option<R>;
    /// The value a write edits: the stored one (WrongType for another type), or a new one
    /// in the form a first member `first` calls for.
    fn open_mut<'c>(
        cur: Option<&'c mut Current<'_>>,
        first: &[u8],
    ) -> Result<Self::Mut<'c>, WrongType>;
    fn finish(m: Self::Mut<'_>, changed: bool) -> Outcome<Self::Buf>;
    fn into_bytes(b: Self::Buf) -> Vec<u8>;
    fn object(t: Table) -> Box<dyn Object>;
}

struct Hashes;
struct Sets;

impl Collection for Hashes {
    const TYPE: ItemType = ItemType::Hash;
    const CLASS: u32 = notify::HASH;
    type Ref<'a> = HashRef<'a>;
    type Mut<'a> = HashMut<'a>;
    type Buf = CompactBuf;

    fn open<R>(cur: &Current<'_>, f: impl FnOnce(HashRef<'_>) -> R) -> Option<R> {
        if let Some(obj) = cur.downcast_ref::<HashObject>() {
            return Some(f(HashRef::Table(&obj.0)));
        }
        let bytes = cur.bytes()?;
        Some(f(HashRef::Compact(Compact::new(&bytes)?)))
    }

    fn open_mut<'c>(cur: Option<&'c mut Current<'_>>, _: &[u8]) -> Result<HashMut<'c>, WrongType> {
        match cur {
            None => Ok(HashMut::default()),
            Some(c) if c.item_type() != ItemType::Hash => Err(WrongType),
            Some(c) if c.is_object() => match c.downcast_mut::<HashObject>() {
                Some(obj) => Ok(HashMut::Table(&mut obj.0)),
                None => Err(WrongType),
            },
            Some(c) => {
                let bytes = c.bytes().unwrap_or_default();
                Ok(HashMut::Compact(
                    CompactBuf::from_bytes(&bytes).unwrap_or_default(),
                ))
            }
        }
    }

    fn finish(m: HashMut<'_>, changed: bool) -> Outcome<CompactBuf> {
        m.finish(changed)
    }

    fn into_bytes(b: CompactBuf) -> Vec<u8> {
        b.into_vec()
    }

    fn object(t: Table) -> Box<dyn Object> {
        Box::new(HashObject(t))
    }
}

impl Collection for Sets {
    const TYPE: ItemType = ItemType::Set;
    const CLASS: u32 = notify::SET;
    type Ref<'a> = SetRef<'a>;
    type Mut<'a> = SetMut<'a>;
    type Buf = IntSetBuf;

    fn open<R>(cur: &Current<'_>, f: impl FnOnce(SetRef<'_>) -> R) -> Option<R> {
        if let Some(obj) = cur.downcast_ref::<SetObject>() {
            return Some(f(SetRef::Table(&obj.0)));
        }
        let bytes = cur.bytes()?;
        Some(f(SetRef::IntSet(IntSet::new(&bytes)?)))
    }

    fn open_mut<'c>(
        cur: Option<&'c mut Current<'_>>,
        first: &[u8],
    ) -> Result<SetMut<'c>, WrongType> {
        match cur {
            None => Ok(SetMut::new_for(first)),
            Some(c) if c.item_type() != ItemType::Set => Err(WrongType),
            Some(c) if c.is_object() => match c.downcast_mut::<SetObject>() {
                Some(obj) => Ok(SetMut::Table(&mut obj.0)),
                None => Err(WrongType),
            },
            Some(c) => {
                let bytes = c.bytes().unwrap_or_default();
                Ok(SetMut::IntSet(
                    IntSetBuf::from_bytes(&bytes).unwrap_or_default(),
                ))
            }
        }
    }

    fn finish(m: SetMut<'_>, changed: bool) -> Outcome<IntSetBuf> {
        m.finish(changed)
    }

    fn into_bytes(b: IntSetBuf) -> Vec<u8> {
        b.into_vec()
    }

    fn object(t: Table) -> Box<dyn Object> {
        Box::new(SetObject(t))
    }
}

/// A stored hash, read-only: compact bytes (copied only when chained) or the table.
pub(super) fn hash_of<R>(cur: &Current<'_>, f: impl FnOnce(HashRef<'_>) -> R) -> Option<R> {
    Hashes::open(cur, f)
}

/// A stored set, read-only.
pub(super) fn set_of<R>(cur: &Current<'_>, f: impl FnOnce(SetRef<'_>) -> R) -> Option<R> {
    Sets::open(cur, f)
}

/// How the store keeps an edited collection of type `C` (`result` for the caller).
fn update<C: Collection, R>(outcome: Outcome<C::Buf>, result: R) -> Update<R> {
    match outcome {
        Outcome::Unchanged => Update::Keep(result),
        Outcome::Delete => Update::Delete(result),
        Outcome::Bytes(b) => Update::Bytes {
            ty: C::TYPE,
            value: C::into_bytes(b),
            ttl: Ttl::Keep,
            result,
        },
        Outcome::TableChanged => Update::Changed(result),
        Outcome::NewTable(t) => Update::Object {
            object: C::object(t),
            ttl: Ttl::Keep,
            result,
        },
    }
}

pub(super) fn set_update<R>(outcome: SetOutcome, result: R) -> Update<R> {
    update::<Sets, R>(outcome, result)
}

impl Call<'_> {
    pub(super) fn wrong_type(&mut self) {
        self.w.error(WRONGTYPE);
    }

    /// Runs `f` on the collection of type `C` at `key` (None when there is none) with the
    /// reply writer, under the key's lock. Replies WRONGTYPE itself (and returns None) for
    /// another type.
    fn read_collection<C: Collection, R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<C::Ref<'_>>, &mut Writer<'_>) -> R,
    ) -> Option<R> {
        let w = &mut self.w;
        let r = self.ctx.store.inspect(self.conn.db, key, |cur| match cur {
            None => Ok(f(None, w)),
            Some(c) if c.item_type() != C::TYPE => Err(WrongType),
            Some(c) => C::open(c, |v| f(Some(v), w)).ok_or(WrongType),
        });
        r.map_err(|WrongType| self.wrong_type()).ok()
    }

    /// Edits the collection of type `C` at `key` (a new one in the form `first` calls for
    /// when there is none) under the key's lock and stores the outcome; a write is
    /// published as the keyspace event `event` (and `del` when it emptied the key).
    /// Replies WRONGTYPE or OOM itself (and returns None).
    fn write_collection<C: Collection, R>(
        &mut self,
        key: &[u8],
        first: &[u8],
        event: &str,
        f: impl FnOnce(&mut C::Mut<'_>) -> Edit<R>,
    ) -> Option<R> {
        self.edit_collection::<C, R>(key, Some(first), event, f)
            .flatten()
    }

    /// [`Call::write_collection`], where `first: None` leaves a missing key missing
    /// (`Some(None)`) without building an empty collection for `f`: the pops, whose
    /// requests on a missing key are the bare request path.
    fn edit_collection<C: Collection, R>(
        &mut self,
        key: &[u8],
        first: Option<&[u8]>,
        event: &str,
        f: impl FnOnce(&mut C::Mut<'_>) -> Edit<R>,
    ) -> Option<Option<R>> {
        let mut effect = Effect::None;
        let r = self.ctx.store.modify(self.conn.db, key, |cur| {
            let (cur, first) = match (cur, first) {
                (None, None) => return Update::Keep(Ok(None)),
                (cur, first) => (cur, first.unwrap_or_default()),
            };
            let mut m = match C::open_mut(cur, first) {
                Ok(m) => m,
                Err(e) => return Update::Keep(Err(e)),
            };
            let Edit { result, changed } = f(&mut m);
            let outcome = C::finish(m, changed);
            effect = Effect::of(changed, matches!(outcome, Outcome::Delete));
            update::<C, _>(outcome, Ok(Some(result)))
        });
        match r {
            Ok(Ok(r)) => {
                effect.publish(self, C::CLASS, event, key);
                Some(r)
            }
            Ok(Err(WrongType)) => {
                self.wrong_type();
                None
            }
            Err(e) => {
                self.rewrite_refused(e);
                None
            }
        }
    }

    /// [`Call::read_collection`] for a hash.
    pub(super) fn read_hash<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<HashRef<'_>>, &mut Writer<'_>) -> R,
    ) -> Option<R> {
        self.read_collection::<Hashes, R>(key, f)
    }

    /// [`Call::write_collection`] for a hash (an empty one when there is none).
    pub(super) fn write_hash<R>(
        &mut self,
        key: &[u8],
        event: &str,
        f: impl FnOnce(&mut HashMut<'_>) -> Edit<R>,
    ) -> Option<R> {
        self.write_collection::<Hashes, R>(key, b"", event, f)
    }

    /// [`Call::read_collection`] for a set.
    pub(super) fn read_set<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<SetRef<'_>>, &mut Writer<'_>) -> R,
    ) -> Option<R> {
        self.read_collection::<Sets, R>(key, f)
    }

    /// [`Call::edit_collection`] for a set that is never created (SPOP): `Some(None)` when
    /// there is none.
    pub(super) fn pop_set<R>(
        &mut self,
        key: &[u8],
        event: &str,
        f: impl FnOnce(&mut SetMut<'_>) -> Edit<R>,
    ) -> Option<Option<R>> {
        self.edit_collection::<Sets, R>(key, None, event, f)
    }

    /// [`Call::write_collection`] for a set (a new one in the form `first` calls for).
    pub(super) fn write_set<R>(
        &mut self,
        key: &[u8],
        first: &[u8],
        event: &str,
        f: impl FnOnce(&mut SetMut<'_>) -> Edit<R>,
    ) -> Option<R> {
        self.write_collection::<Sets, R>(key, first, event, f)
    }
}

/// HSCAN/SSCAN/ZSCAN options after the cursor.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanOptions<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
}

/// An empty scan reply: cursor 0, no elements.
pub(super) const EMPTY_SCAN: &[u8] = b"*2\r\n$1\r\n0\r\n*0\r\n";

impl<'a> ScanOptions<'a> {
    /// Parses a cursor as Redis does (`strtoul`, refusing a leading space or anything
    /// after the digits: so `-1` is 2^64-1 and an empty cursor is 0); replies
    /// `ERR invalid cursor` otherwise.
    pub fn cursor(call: &mut Call<'_>, arg: &[u8]) -> Option<u64> {
        let v = parse_cursor(arg);
        if v.is_none() {
            call.w.error(b"ERR invalid cursor");
        }
        v
    }

    /// `[MATCH pattern] [COUNT count]` from argument `from`; the error to reply otherwise
    /// (Redis parses these only after finding the key, so the caller replies later).
    pub fn parse(args: Args<'a>, from: usize) -> Result<ScanOptions<'a>, &'static [u8]> {
        let mut opts = ScanOptions {
            pattern: None,
            count: 10,
        };
        let mut i = from;
        while i < args.len() {
            if i + 1 >= args.len() {
                return Err(b"ERR syntax error");
            }
            let (opt, value) = (args.get(i), args.get(i + 1));
            if opt.eq_ignore_ascii_case(b"COUNT") {
                let n = crate::protocol::resp::parse_i64(value)
                    .ok_or(&b"ERR value is not an integer or out of range"[..])?;
                if n < 1 {
                    return Err(b"ERR syntax error");
                }
                opts.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if opt.eq_ignore_ascii_case(b"MATCH") {
                opts.pattern = Some(value).filter(|p| *p != b"*");
            } else {
                return Err(b"ERR syntax error");
            }
            i += 2;
        }
        Ok(opts)
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        self.pattern.map_or(true, |p| glob::matches(p, s, false))
    }
}

/// C's `strtoul` on the whole argument, as Redis's `parseScanCursorOrReply` uses it.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_is_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"17"), Some(17));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"-",
            b"x",
            b"1x",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
