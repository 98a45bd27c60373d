//! Geospatial commands (Redis 7.0): GEOADD, GEODIST, GEOHASH, GEOPOS here; the searches
//! (GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms, GEOSEARCH, GEOSEARCHSTORE) in
//! [`super::geosearch`].
//!
//! A geo index is a sorted set whose scores are 52-bit geohashes
//! ([`crate::collections::geohash`]), so every sorted-set command works on it and these
//! commands work on any sorted set. Like Redis, GEOADD is a ZADD (its keyspace event is
//! `zadd`); each command is one [`Call::read_zset`] or [`Call::write_zset`].

use super::geosearch::{
    georadius, georadius_ro, georadiusbymember, georadiusbymember_ro, geosearch, geosearchstore,
};
use super::registry::{spec, Spec};
use super::Call;
use crate::collections::geohash::{self, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN};
use crate::collections::zset::{parse_score, ZRef};
use crate::protocol::resp::{Args, Writer};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("geoadd", -5, ["write", "denyoom"], (1, 1, 1), "geo", "3.2.0",
        "Add one or more geospatial items in the geospatial index represented using a sorted set",
        geoadd),
    spec!("geodist", -4, ["readonly"], (1, 1, 1), "geo", "3.2.0",
        "Returns the distance between two members of a geospatial index", geodist),
    spec!("geohash", -2, ["readonly"], (1, 1, 1), "geo", "3.2.0",
        "Returns members of a geospatial index as standard geohash strings", geohash),
    spec!("geopos", -2, ["readonly"], (1, 1, 1), "geo", "3.2.0",
        "Returns longitude and latitude of members of a geospatial index", geopos),
    spec!("georadius", -6, ["write", "denyoom", "movablekeys"], (1, 1, 1), "geo", "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        georadius),
    spec!("georadius_ro", -6, ["readonly"], (1, 1, 1), "geo", "3.2.10",
        "A read-only variant for GEORADIUS", georadius_ro),
    spec!("georadiusbymember", -5, ["write", "denyoom", "movablekeys"], (1, 1, 1), "geo",
        "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        georadiusbymember),
    spec!("georadiusbymember_ro", -5, ["readonly"], (1, 1, 1), "geo", "3.2.10",
        "A read-only variant for GEORADIUSBYMEMBER", georadiusbymember_ro),
    spec!("geosearch", -7, ["readonly"], (1, 1, 1), "geo", "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        geosearch),
    spec!("geosearchstore", -8, ["write", "denyoom"], (1, 2, 1), "geo", "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
        geosearchstore),
];

pub(super) const NOT_FLOAT: &[u8] = b"ERR value is not a valid float";
pub(super) const BAD_UNIT: &[u8] = b"ERR unsupported unit provided. please use M, KM, FT, MI";

/// A coordinate as Redis's `addReplyHumanLongDouble`: a bulk string in RESP2, a double
/// in RESP3.
pub(super) fn reply_coord(w: &mut Writer<'_>, v: f64) {
    let t = geohash::format_coord(v);
    if w.resp3 {
        w.out.push(b',');
        w.out.extend_from_slice(t.as_bytes());
        w.out.extend_from_slice(b"\r\n");
    } else {
        w.bulk(t.as_bytes());
    }
}

/// A distance: a bulk string with 4 decimals in both protocols.
pub(super) fn reply_distance(w: &mut Writer<'_>, d: f64) {
    w.bulk(geohash::format_distance(d).as_bytes());
}

/// Parses a longitude and latitude as Redis's `extractLongLatOrReply`: both must be
/// floats, then inside the indexable area. Replies the error itself.
pub(super) fn parse_lon_lat(w: &mut Writer<'_>, lon: &[u8], lat: &[u8]) -> Option<(f64, f64)> {
    let Some(x) = parse_score(lon) else {
        w.error(NOT_FLOAT);
        return None;
    };
    let Some(y) = parse_score(lat) else {
        w.error(NOT_FLOAT);
        return None;
    };
    if !(LONG_MIN..=LONG_MAX).contains(&x) || !(LAT_MIN..=LAT_MAX).contains(&y) {
        w.error_fmt(format_args!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        ));
        return None;
    }
    Some((x, y))
}

/// Meters per `unit` (m, km, ft, mi, any case), replying Redis's error for another.
pub(super) fn parse_unit(w: &mut Writer<'_>, unit: &[u8]) -> Option<f64> {
    let v = match () {
        _ if unit.eq_ignore_ascii_case(b"m") => 1.0,
        _ if unit.eq_ignore_ascii_case(b"km") => 1000.0,
        _ if unit.eq_ignore_ascii_case(b"ft") => 0.3048,
        _ if unit.eq_ignore_ascii_case(b"mi") => 1609.34,
        _ => {
            w.error(BAD_UNIT);
            return None;
        }
    };
    Some(v)
}

/// Positions GEOADD parses into a stack array; more go to a vector.
const GEOADD_STACK: usize = 16;

fn geoadd(call: &mut Call<'_>, args: Args<'_>) {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut at = 2;
    while at < args.len() {
        let opt = args.get(at);
        match () {
            _ if opt.eq_ignore_ascii_case(b"nx") => nx = true,
            _ if opt.eq_ignore_ascii_case(b"xx") => xx = true,
            _ if opt.eq_ignore_ascii_case(b"ch") => ch = true,
            _ => break,
        }
        at += 1;
    }
    let rest = args.len() - at;
    if rest % 3 != 0 || rest == 0 || (nx && xx) {
        return call.syntax_error();
    }
    let n = rest / 3;
    // Every position is checked before any change, as Redis does.
    let mut few = [0.0; GEOADD_STACK];
    let mut many = Vec::new();
    let scores: &mut [f64] = if n <= GEOADD_STACK {
        &mut few[..n]
    } else {
        many.resize(n, 0.0);
        &mut many
    };
    for (k, slot) in scores.iter_mut().enumerate() {
        let base = at + 3 * k;
        let Some((x, y)) = parse_lon_lat(&mut call.w, args.get(base), args.get(base + 1)) else {
            return;
        };
        // In range (checked above), so it encodes; the 52-bit integer is exact in an f64.
        *slot = geohash::score_of(x, y).unwrap_or(0) as f64;
    }
    let scores = &*scores;
    let limits = call.zset_limits();
    let key = args.get(1);
    let create = (!xx).then(|| args.get(at + 2).len());
    let r = call.write_zset(key, create, "zadd", |z, _| {
        let (mut added, mut updated) = (0i64, 0i64);
        for (k, &score) in scores.iter().enumerate() {
            let member = args.get(at + 3 * k + 2);
            let hint = (!nx).then_some(score);
            let found = z.update_score(member, hint, limits, |cur| {
                if nx || cur == score {
                    return None;
                }
                updated += 1;
                Some(score)
            });
            if found.is_none() && !xx {
                z.insert(member, score, limits);
                added += 1;
            }
        }
        ((added, updated), added + updated > 0)
    });
    if let Some(r) = r {
        let (added, updated) = r.unwrap_or((0, 0));
        if added + updated > 0 {
            call.zset_added(key);
        }
        call.w.integer(if ch { added + updated } else { added });
    }
}

fn geodist(call: &mut Call<'_>, args: Args<'_>) {
    let mut unit = 1.0;
    if args.len() == 5 {
        match parse_unit(&mut call.w, args.get(4)) {
            Some(u) => unit = u,
            None => return,
        }
    } else if args.len() > 5 {
        return call.syntax_error();
    }
    let (a, b) = (args.get(2), args.get(3));
    call.read_zset(args.get(1), |z, w| {
        let scores = z.and_then(|z| Some((z.score(a)?, z.score(b)?)));
        match scores {
            None => w.null(),
            Some((sa, sb)) => {
                let (x1, y1) = geohash::position(sa);
                let (x2, y2) = geohash::position(sb);
                reply_distance(w, geohash::distance(x1, y1, x2, y2) / unit);
            }
        }
    });
}

fn geohash(call: &mut Call<'_>, args: Args<'_>) {
    call.read_zset(args.get(1), |z, w| {
        w.array(args.len() - 2);
        for j in 2..args.len() {
            match z.and_then(|z: ZRef<'_>| z.score(args.get(j))) {
                None => w.null(),
                Some(s) => w.bulk(&geohash::standard_hash(s)),
            }
        }
    });
}

fn geopos(call: &mut Call<'_>, args: Args<'_>) {
    call.read_zset(args.get(1), |z, w| {
        w.array(args.len() - 2);
        for j in 2..args.len() {
            match z.and_then(|z: ZRef<'_>| z.score(args.get(j))) {
                None => w.null_array(),
                Some(s) => {
                    let (x, y) = geohash::position(s);
                    w.array(2);
                    reply_coord(w, x);
                    reply_coord(w, y);
                }
            }
        }
    });
}
