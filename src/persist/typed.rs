//! Collections between the store and the files: a stored value read into the
//! [`Value`] model (for the RDB writer and the AOF), and a [`Value`] built straight into
//! the encoding its commands would give it (for loading and RESTORE) or turned into the
//! RESP commands that rebuild it (for AOF records), so persistence reaches each
//! collection only through its owner's public types and commands.
//!
//! Every type the store holds is read here (strings, hashes, sets, lists, sorted sets).

use super::value::Value;
use crate::collections::compact::Compact;
use crate::collections::hash::{HashMut, HashObject, HashRef};
use crate::collections::intset::IntSet;
use crate::collections::list::{self, List, ListRef};
use crate::collections::set::{SetMut, SetObject, SetRef};
use crate::collections::table::Outcome;
use crate::collections::zset::{self, ZRef, ZSet};
use crate::collections::Thresholds;
use crate::storage::{Current, ItemType, Object, Ttl, Update};

/// Elements per rebuilding command (RPUSH/SADD/HSET/ZADD), so no command is huge.
const BATCH: usize = 512;

/// The value of a stored item; None for a type persistence cannot read yet.
pub fn value_of(cur: &Current<'_>) -> Option<Value> {
    match cur.item_type() {
        ItemType::String => Some(Value::String(cur.bytes()?.into_owned())),
        ItemType::Hash => {
            let pairs = |h: HashRef<'_>| h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            if let Some(obj) = cur.downcast_ref::<HashObject>() {
                return Some(Value::Hash(pairs(HashRef::Table(&obj.0))));
            }
            let bytes = cur.bytes()?;
            Some(Value::Hash(pairs(HashRef::Compact(Compact::new(&bytes)?))))
        }
        ItemType::Set => {
            let members = |s: SetRef<'_>| s.iter().map(|m| m.to_vec()).collect();
            if let Some(obj) = cur.downcast_ref::<SetObject>() {
                return Some(Value::Set(members(SetRef::Table(&obj.0))));
            }
            let bytes = cur.bytes()?;
            Some(Value::Set(members(SetRef::IntSet(IntSet::new(&bytes)?))))
        }
        ItemType::List => {
            let elems = |l: ListRef<'_>| l.iter_from(0).map(|e| e.to_vec()).collect();
            if let Some(obj) = cur.downcast_ref::<List>() {
                return Some(Value::List(elems(ListRef::List(obj))));
            }
            let bytes = cur.bytes()?;
            if !list::Packed::validate(&bytes) {
                return None;
            }
            Some(Value::List(elems(ListRef::Packed(list::Packed(&bytes)))))
        }
        ItemType::ZSet => {
            let entries = |z: ZRef<'_>| z.iter_from(0).map(|(s, m)| (m.to_vec(), s)).collect();
            if let Some(obj) = cur.downcast_ref::<ZSet>() {
                return Some(Value::ZSet(entries(obj.as_ref())));
            }
            let bytes = cur.bytes()?;
            if !zset::Packed::validate(&bytes) {
                return None;
            }
            Some(Value::ZSet(entries(ZRef::Packed(zset::Packed(&bytes)))))
        }
    }
}

/// A value built in the form the store keeps it: compact bytes of a type, or a heap object.
pub enum Built {
    Bytes(ItemType, Vec<u8>),
    Object(Box<dyn Object>),
}

impl Built {
    /// The store update that replaces a key's value with this one.
    pub fn into_update<R>(self, ttl: Ttl, result: R) -> Update<R> {
        match self {
            Built::Bytes(ty, value) => Update::Bytes {
                ty,
                value,
                ttl,
                result,
            },
            Built::Object(object) => Update::Object {
                object,
                ttl,
                result,
            },
        }
    }
}

/// Why a value cannot be stored (RESTORE's `Bad data format`).
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// Builds `value` in the encoding the collection commands would give it under `limits`
/// (as Redis converts a loaded value to the encoding its settings call for). A member or
/// field twice, or a NaN score, is malformed, as Redis's loader finds it.
pub fn build(value: &Value, limits: &Thresholds) -> Result<Built, Malformed> {
    Ok(match value {
        Value::String(s) => Built::Bytes(ItemType::String, s.clone()),
        Value::List(v) => {
            let fill = limits.list();
            let mut l = List::new();
            for e in v {
                l.push_back(e, fill);
            }
            match l.to_packed(fill, false) {
                Some(bytes) => Built::Bytes(ItemType::List, bytes),
                None => Built::Object(Box::new(l)),
            }
        }
        Value::Hash(v) => {
            let lim = limits.hash();
            let mut h = HashMut::default();
            for (f, x) in v {
                if !h.set(f, x, lim) {
                    return Err(Malformed);
                }
            }
            table_built(
                h.finish(true),
                ItemType::Hash,
                |b| b.into_vec(),
                |t| Box::new(HashObject(t)),
            )?
        }
        Value::Set(v) => {
            let lim = limits.set();
            let mut s = SetMut::new_for(v.first().map_or(&b""[..], |m| m));
            for m in v {
                if !s.add(m, lim) {
                    return Err(Malformed);
                }
            }
            table_built(
                s.finish(true),
                ItemType::Set,
                |b| b.into_vec(),
                |t| Box::new(SetObject(t)),
            )?
        }
        Value::ZSet(v) => {
            let lim = limits.zset();
            let max_len = v.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSet::new_sized(v.len(), max_len, lim);
            for (m, score) in v {
                if score.is_nan() || z.as_ref().score(m).is_some() {
                    return Err(Malformed);
                }
                z.insert(m, *score, lim);
            }
            match z {
                ZSet::Packed(bytes) => Built::Bytes(ItemType::ZSet, bytes),
                tree => Built::Object(Box::new(tree)),
            }
        }
    })
}

/// A hash's or set's edit outcome as a built value.
fn table_built<B>(
    out: Outcome<B>,
    ty: ItemType,
    bytes: impl FnOnce(B) -> Vec<u8>,
    object: impl FnOnce(crate::collections::table::Table) -> Box<dyn Object>,
) -> Result<Built, Malformed> {
    match out {
        Outcome::Bytes(b) => Ok(Built::Bytes(ty, bytes(b))),
        Outcome::NewTable(t) => Ok(Built::Object(object(t))),
        Outcome::Unchanged | Outcome::Delete | Outcome::TableChanged => Err(Malformed),
    }
}

/// Commands that rebuild `key` as `value` in the selected database (after a DEL of it),
/// then set its expiry. Strings are not handled here (they take the store's direct path).
pub fn rebuild_commands(
    key: &[u8],
    value: &Value,
    expire_ms: Option<i64>,
    out: &mut Vec<Vec<Vec<u8>>>,
) {
    out.push(vec![b"DEL".to_vec(), key.to_vec()]);
    let mut push = |name: &[u8], args: &mut dyn Iterator<Item = Vec<Vec<u8>>>, per: usize| {
        let mut cmd = vec![name.to_vec(), key.to_vec()];
        for a in args {
            cmd.extend(a);
            if cmd.len() >= 2 + BATCH * per {
                out.push(std::mem::replace(
                    &mut cmd,
                    vec![name.to_vec(), key.to_vec()],
                ));
            }
        }
        if cmd.len() > 2 {
            out.push(cmd);
        }
    };
    match value {
        Value::String(s) => push(b"SET", &mut std::iter::once(vec![s.clone()]), 1),
        Value::List(v) => push(b"RPUSH", &mut v.iter().map(|e| vec![e.clone()]), 1),
        Value::Set(v) => push(b"SADD", &mut v.iter().map(|e| vec![e.clone()]), 1),
        Value::Hash(v) => push(
            b"HSET",
            &mut v.iter().map(|(f, x)| vec![f.clone(), x.clone()]),
            2,
        ),
        Value::ZSet(v) => push(
            b"ZADD",
            &mut v.iter().map(|(m, s)| vec![score_text(*s), m.clone()]),
            2,
        ),
    }
    if let Some(ms) = expire_ms {
        out.push(vec![
            b"PEXPIREAT".to_vec(),
            key.to_vec(),
            ms.to_string().into_bytes(),
        ]);
    }
}

fn score_text(s: f64) -> Vec<u8> {
    if s.is_infinite() {
        return if s > 0.0 {
            b"+inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    format!("{s:?}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_batches_and_expires() {
        let v = Value::Hash(
            (0..600)
                .map(|i| (format!("f{i}").into_bytes(), b"v".to_vec()))
                .collect(),
        );
        let mut out = Vec::new();
        rebuild_commands(b"h", &v, Some(5000), &mut out);
        assert_eq!(out[0], vec![b"DEL".to_vec(), b"h".to_vec()]);
        assert_eq!(out[1].len(), 2 + 512 * 2);
        assert_eq!(out[2].len(), 2 + 88 * 2);
        assert_eq!(
            out[3],
            vec![b"PEXPIREAT".to_vec(), b"h".to_vec(), b"5000".to_vec()]
        );
        let mut out = Vec::new();
        rebuild_commands(
            b"z",
            &Value::ZSet(vec![
                (b"m".to_vec(), f64::NEG_INFINITY),
                (b"n".to_vec(), 0.1),
            ]),
            None,
            &mut out,
        );
        assert_eq!(
            out[1],
            vec![
                b"ZADD".to_vec(),
                b"z".to_vec(),
                b"-inf".to_vec(),
                b"m".to_vec(),
                b"0.1".to_vec(),
                b"n".to_vec()
            ]
        );
    }
}
