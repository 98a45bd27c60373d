//! `DEBUG DIGEST` and `DEBUG DIGEST-VALUE key ...`: Redis 7.0's SHA-1 digest of the data
//! set and of single values (debug.c), the same bytes for the same data, so a save and a
//! reload, or an AOF rewrite, can be checked to keep everything (Redis's suite compares
//! the digests before and after). The digest does not depend on the order keys, set
//! members, hash fields or sorted set entries are stored in; a list's order counts.
//!
//! For each value: `mix(type as u32 big-endian)`, then a string's bytes `mix`ed, each list
//! element `mix`ed in order, each set member's SHA-1 xored in, and per hash field (and
//! per sorted set member) the SHA-1 of a fresh digest of `mix(field) mix(value)`
//! (`mix(member) mix(score as %.17g)`) xored in; a key with an expiry gets SHA-1("!!expire!!") xored in.
//! The data set digest starts at zero and, per non-empty database, `mix`es the database
//! number (u32 big-endian) and xors in the SHA-1 of each key's `mix(key)` followed by
//! its value's digest. `mix(d, x)` is `d = SHA-1(d xor SHA-1(x))`. Empty: 40 zeros, as Redis.

use super::Call;
use crate::collections::zset::format_score;
use crate::persist::typed;
use crate::persist::value::Value;
use crate::protocol::resp::Args;
use crate::scripting::sha1::sha1;
use crate::storage::{Current, Expiry};

type Digest = [u8; 20];

/// Runs `DEBUG DIGEST` / `DEBUG DIGEST-VALUE`; false if `args` is neither.
pub(super) fn run(call: &mut Call<'_>, args: Args<'_>) -> bool {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"digest") && args.len() == 2 {
        let mut dbs: Vec<(u8, Digest)> = Vec::new();
        call.ctx.store.for_each_value(|db, cur| {
            let Some(key_digest) = key_digest(cur).map(|d| sha1(&d)) else {
                return;
            };
            match dbs.iter_mut().find(|(d, _)| *d == db) {
                Some((_, acc)) => xor(acc, &key_digest),
                None => dbs.push((db, key_digest)),
            }
        });
        // Databases in order, each mixing its number before its keys' xor (xor commutes,
        // so folding each database's keys first gives Redis's result).
        dbs.sort_by_key(|(db, _)| *db);
        let mut total = [0u8; 20];
        for (db, keys) in dbs {
            mix(&mut total, &u32::from(db).to_be_bytes());
            xor(&mut total, &keys);
        }
        call.w.simple(&hex(&total));
        return true;
    }
    if sub.eq_ignore_ascii_case(b"digest-value") {
        let n = args.len() - 2;
        call.w.array(n);
        for j in 2..args.len() {
            let d = call.ctx.store.inspect(call.db(), args.get(j), |cur| {
                cur.and_then(value_digest).unwrap_or([0u8; 20])
            });
            call.w.simple(&hex(&d));
        }
        return true;
    }
    false
}

/// `mix(key)` followed by the value's digest; None for a value persistence cannot read.
fn key_digest(cur: &Current<'_>) -> Option<Digest> {
    let mut d = [0u8; 20];
    mix(&mut d, cur.key());
    value_into(&mut d, cur)?;
    Some(d)
}

/// The digest of one value, from zero (DIGEST-VALUE).
fn value_digest(cur: &Current<'_>) -> Option<Digest> {
    let mut d = [0u8; 20];
    value_into(&mut d, cur)?;
    Some(d)
}

/// Redis's `xorObjectDigest`: mixes the value's type and contents into `d`.
fn value_into(d: &mut Digest, cur: &Current<'_>) -> Option<()> {
    let value = typed::value_of(cur)?;
    let code: u32 = match &value {
        Value::String(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    };
    mix(d, &code.to_be_bytes());
    match &value {
        Value::String(s) => mix(d, s),
        Value::List(elems) => elems.iter().for_each(|e| mix(d, e)),
        Value::Set(members) => members.iter().for_each(|m| xor(d, &sha1(m))),
        Value::Hash(pairs) => {
            for (f, v) in pairs {
                let mut e = [0u8; 20];
                mix(&mut e, f);
                mix(&mut e, v);
                xor(d, &sha1(&e));
            }
        }
        Value::ZSet(entries) => {
            let mut text = Vec::with_capacity(32);
            for (m, score) in entries {
                let mut e = [0u8; 20];
                mix(&mut e, m);
                text.clear();
                format_score(*score, &mut text);
                mix(&mut e, &text);
                xor(d, &sha1(&e));
            }
        }
    }
    if cur.expiry() != Expiry::Never {
        xor(d, &sha1(b"!!expire!!"));
    }
    Some(())
}

fn xor(d: &mut Digest, x: &Digest) {
    d.iter_mut().zip(x).for_each(|(a, b)| *a ^= b);
}

/// Redis's `mixDigest`: `d = SHA-1(d xor SHA-1(data))`, so order counts.
fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, &sha1(data));
    *d = sha1(d);
}

fn hex(d: &Digest) -> Vec<u8> {
    d.iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score text the digest mixes in (the sorted sets' own `%.17g` formatter).
    fn g17(x: f64) -> String {
        let mut out = Vec::new();
        format_score(x, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scores_print_as_c_prints_them() {
        // printf("%.17g") in C for each.
        assert_eq!(g17(1.0), "1");
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(-2.25), "-2.25");
        assert_eq!(g17(0.1), "0.10000000000000001");
        assert_eq!(g17(1e20), "1e+20");
        assert_eq!(g17(123456789.0), "123456789");
        assert_eq!(g17(1e16), "10000000000000000");
        assert_eq!(g17(1e17), "1e+17");
        assert_eq!(g17(0.0001), "0.0001");
        assert_eq!(g17(0.00001), "1.0000000000000001e-05");
        assert_eq!(g17(f64::INFINITY), "inf");
        assert_eq!(g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(g17(0.0), "0");
        assert_eq!(g17(3.0e-300), "3.0000000000000002e-300");
    }
}
