//! Geospatial searches (Redis 7.0's `georadiusGeneric`): GEORADIUS, GEORADIUSBYMEMBER,
//! their `_RO` forms, GEOSEARCH and GEOSEARCHSTORE. Registered in [`super::geo`]'s table.
//!
//! A search scans the sorted-set score ranges of the centre's geohash cell and its (up
//! to) 8 neighbors, in Redis's order, keeping the points inside the circle or box. The
//! reply is written while the source is read (one [`Call::read_zset`]); the STORE forms
//! read the source and replace the destination inside one exclusive section, as
//! ZRANGESTORE does.

use super::geo::{parse_lon_lat, parse_unit, reply_coord, reply_distance};
use super::Call;
use crate::collections::geohash::{self, Search, Shape};
use crate::collections::zset::{parse_score, ZRef};
use crate::protocol::resp::{parse_i64, Args, Writer};

/// Which command runs the search.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS: centre from longitude and latitude.
    Coords,
    /// GEORADIUSBYMEMBER: centre at a member.
    Member,
    /// GEOSEARCH / GEOSEARCHSTORE: FROM... and BY... options.
    Search,
}

/// The command's shape.
#[derive(Clone, Copy)]
struct Variant {
    kind: Kind,
    /// The `_RO` forms: no STORE/STOREDIST.
    nostore: bool,
    /// GEOSEARCHSTORE.
    searchstore: bool,
}

/// The parsed options.
#[derive(Default)]
struct Options {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    /// 0 none, 1 ascending, 2 descending.
    sort: u8,
    count: i64,
    /// The destination's argument index (STORE/STOREDIST, or GEOSEARCHSTORE's).
    store: Option<usize>,
    storedist: bool,
}

/// One point found.
struct Point<'a> {
    dist: f64,
    score: f64,
    member: &'a [u8],
    lon: f64,
    lat: f64,
}

/// What a search leaves to do after the source is read.
enum Outcome {
    /// The reply (or an error) is written.
    Replied,
    /// Replace the destination (the argument at this index) with these entries.
    Store(usize, Vec<(f64, Vec<u8>)>),
}

pub(super) fn georadius(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 1, Variant::new(Kind::Coords, false, false));
}

pub(super) fn georadius_ro(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 1, Variant::new(Kind::Coords, true, false));
}

pub(super) fn georadiusbymember(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 1, Variant::new(Kind::Member, false, false));
}

pub(super) fn georadiusbymember_ro(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 1, Variant::new(Kind::Member, true, false));
}

pub(super) fn geosearch(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 1, Variant::new(Kind::Search, true, false));
}

pub(super) fn geosearchstore(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, 2, Variant::new(Kind::Search, false, true));
}

impl Variant {
    const fn new(kind: Kind, nostore: bool, searchstore: bool) -> Variant {
        Variant {
            kind,
            nostore,
            searchstore,
        }
    }

    /// Where the options start.
    fn base(&self) -> usize {
        match self.kind {
            Kind::Coords => 6,
            Kind::Member => 5,
            Kind::Search if self.searchstore => 3,
            Kind::Search => 2,
        }
    }

    /// Whether the command may write (then it runs as an exclusive section).
    fn may_store(&self, args: Args<'_>) -> bool {
        if self.searchstore {
            return true;
        }
        if self.nostore || self.kind == Kind::Search {
            return false;
        }
        (self.base()..args.len()).any(|j| {
            let a = args.get(j);
            a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist")
        })
    }
}

fn run(call: &mut Call<'_>, args: Args<'_>, src: usize, v: Variant) {
    if !v.may_store(args) {
        call.read_zset(args.get(src), |z, w| search(w, args, z, v));
        return;
    }
    let limits = call.zset_limits();
    let ctx = call.ctx;
    ctx.gates.exclusive(|_| {
        let r = call.read_zset(args.get(src), |z, w| search(w, args, z, v));
        let Some(Outcome::Store(dst, entries)) = r else {
            return;
        };
        let dst = args.get(dst);
        let event = if v.kind == Kind::Search {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        let big = entries.len() > limits.max_entries;
        call.store_zset(dst, entries, big, event);
    });
}

/// Parses the options from argument `base` as Redis does (left to right, FROM/BY
/// options only for GEOSEARCH, erroring at the first bad one). `centre` is filled by
/// FROMMEMBER/FROMLONLAT, `shape` by BYRADIUS/BYBOX.
fn parse_options(
    w: &mut Writer<'_>,
    args: Args<'_>,
    z: Option<ZRef<'_>>,
    v: Variant,
    search: &mut Search,
) -> Option<(Options, bool, bool)> {
    let mut o = Options::default();
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let geosearch = v.kind == Kind::Search;
    let base = v.base();
    let remaining = args.len().saturating_sub(base);
    let mut i = 0;
    while i < remaining {
        let arg = args.get(base + i);
        let is = |name: &[u8]| arg.eq_ignore_ascii_case(name);
        let next = |k: usize| args.get(base + i + k);
        if is(b"withdist") {
            o.withdist = true;
        } else if is(b"withhash") {
            o.withhash = true;
        } else if is(b"withcoord") {
            o.withcoord = true;
        } else if is(b"any") {
            o.any = true;
        } else if is(b"asc") {
            o.sort = 1;
        } else if is(b"desc") {
            o.sort = 2;
        } else if is(b"count") && i + 1 < remaining {
            let Some(n) = parse_i64(next(1)) else {
                w.error(b"ERR value is not an integer or out of range");
                return None;
            };
            if n <= 0 {
                w.error(b"ERR COUNT must be > 0");
                return None;
            }
            o.count = n;
            i += 1;
        } else if (is(b"store") || is(b"storedist"))
            && i + 1 < remaining
            && !v.nostore
            && !geosearch
        {
            o.store = Some(base + i + 1);
            o.storedist = is(b"storedist");
            i += 1;
        } else if is(b"storedist") && geosearch && v.searchstore {
            o.storedist = true;
        } else if is(b"frommember") && i + 1 < remaining && geosearch && !from_loc {
            if let Some(z) = z {
                let Some(s) = z.score(next(1)) else {
                    w.error(b"ERR could not decode requested zset member");
                    return None;
                };
                (search.lon, search.lat) = geohash::position(s);
            }
            from_member = true;
            i += 1;
        } else if is(b"fromlonlat") && i + 2 < remaining && geosearch && !from_member {
            (search.lon, search.lat) = parse_lon_lat(w, next(1), next(2))?;
            from_loc = true;
            i += 2;
        } else if is(b"byradius") && i + 2 < remaining && geosearch && !by_box {
            let (radius, unit) = parse_distance(w, next(1), next(2))?;
            search.shape = Shape::Circle { radius };
            search.unit = unit;
            by_radius = true;
            i += 2;
        } else if is(b"bybox") && i + 3 < remaining && geosearch && !by_radius {
            let (width, height, unit) = parse_box(w, next(1), next(2), next(3))?;
            search.shape = Shape::Box { width, height };
            search.unit = unit;
            by_box = true;
            i += 3;
        } else {
            w.error(b"ERR syntax error");
            return None;
        }
        i += 1;
    }
    if v.searchstore {
        o.store = Some(1);
    }
    Some((o, from_member || from_loc, by_radius || by_box))
}

/// `<radius> <unit>` as Redis's `extractDistanceOrReply`.
fn parse_distance(w: &mut Writer<'_>, radius: &[u8], unit: &[u8]) -> Option<(f64, f64)> {
    let Some(r) = parse_score(radius) else {
        w.error(b"ERR need numeric radius");
        return None;
    };
    if r < 0.0 {
        w.error(b"ERR radius cannot be negative");
        return None;
    }
    Some((r, parse_unit(w, unit)?))
}

/// `<width> <height> <unit>` as Redis's `extractBoxOrReply`.
fn parse_box(
    w: &mut Writer<'_>,
    width: &[u8],
    height: &[u8],
    unit: &[u8],
) -> Option<(f64, f64, f64)> {
    let Some(wd) = parse_score(width) else {
        w.error(b"ERR need numeric width");
        return None;
    };
    let Some(ht) = parse_score(height) else {
        w.error(b"ERR need numeric height");
        return None;
    };
    if ht < 0.0 || wd < 0.0 {
        w.error(b"ERR height or width cannot be negative");
        return None;
    }
    Some((wd, ht, parse_unit(w, unit)?))
}

/// The whole command on the (type-checked) source `z`: parses, searches, replies, or
/// returns the entries to store.
fn search(w: &mut Writer<'_>, args: Args<'_>, z: Option<ZRef<'_>>, v: Variant) -> Outcome {
    let mut s = Search {
        lon: 0.0,
        lat: 0.0,
        shape: Shape::Circle { radius: 0.0 },
        unit: 1.0,
    };
    match v.kind {
        Kind::Coords => {
            let Some(c) = parse_lon_lat(w, args.get(2), args.get(3)) else {
                return Outcome::Replied;
            };
            (s.lon, s.lat) = c;
            let Some((radius, unit)) = parse_distance(w, args.get(4), args.get(5)) else {
                return Outcome::Replied;
            };
            s.shape = Shape::Circle { radius };
            s.unit = unit;
        }
        Kind::Member => {
            if let Some(z) = z {
                let Some(score) = z.score(args.get(2)) else {
                    w.error(b"ERR could not decode requested zset member");
                    return Outcome::Replied;
                };
                (s.lon, s.lat) = geohash::position(score);
                let Some((radius, unit)) = parse_distance(w, args.get(3), args.get(4)) else {
                    return Outcome::Replied;
                };
                s.shape = Shape::Circle { radius };
                s.unit = unit;
            }
        }
        Kind::Search => {}
    }
    let Some((o, from, by)) = parse_options(w, args, z, v, &mut s) else {
        return Outcome::Replied;
    };
    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        let what: &str = if v.searchstore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        w.error_fmt(format_args!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
        return Outcome::Replied;
    }
    let name = String::from_utf8_lossy(args.get(0));
    if v.kind == Kind::Search && !from {
        w.error_fmt(format_args!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
        return Outcome::Replied;
    }
    if v.kind == Kind::Search && !by {
        w.error_fmt(format_args!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
        return Outcome::Replied;
    }
    if o.any && o.count == 0 {
        w.error(b"ERR the ANY argument requires COUNT argument");
        return Outcome::Replied;
    }
    let Some(z) = z else {
        if let Some(dst) = o.store {
            return Outcome::Store(dst, Vec::new());
        }
        w.array(0);
        return Outcome::Replied;
    };
    let mut sort = o.sort;
    if o.count != 0 && sort == 0 && !o.any {
        sort = 1;
    }
    let limit = if o.any { o.count as usize } else { 0 };
    let mut points = collect(z, &s, limit);
    if points.is_empty() && o.store.is_none() {
        w.array(0);
        return Outcome::Replied;
    }
    let n = if o.count == 0 {
        points.len()
    } else {
        points.len().min(o.count as usize)
    };
    match sort {
        1 => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        2 => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        _ => {}
    }
    points.truncate(n);
    if let Some(dst) = o.store {
        let entries = points
            .iter()
            .map(|p| {
                let score = if o.storedist {
                    p.dist / s.unit
                } else {
                    p.score
                };
                (score, p.member.to_vec())
            })
            .collect();
        return Outcome::Store(dst, entries);
    }
    let extra = usize::from(o.withdist) + usize::from(o.withhash) + usize::from(o.withcoord);
    w.array(n);
    for p in &points {
        if extra > 0 {
            w.array(extra + 1);
        }
        w.bulk(p.member);
        if o.withdist {
            reply_distance(w, p.dist / s.unit);
        }
        if o.withhash {
            w.integer(geohash::c_i64(p.score));
        }
        if o.withcoord {
            w.array(2);
            reply_coord(w, p.lon);
            reply_coord(w, p.lat);
        }
    }
    Outcome::Replied
}

/// The points of `z` inside the search, scanning its cells in Redis's order; stops at
/// `limit` points when it is not 0 (ANY).
fn collect<'a>(z: ZRef<'a>, s: &Search, limit: usize) -> Vec<Point<'a>> {
    let cells = s.cells();
    let mut out = Vec::new();
    let full = |out: &Vec<Point<'a>>| limit != 0 && out.len() >= limit;
    // As Redis: a cell equal to the one scanned just before is skipped (huge radii make
    // neighbors coincide), though the centre never counts as "just before".
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_none() {
            continue;
        }
        if last != 0 && *cell == cells[last] {
            continue;
        }
        if full(&out) {
            break;
        }
        let (min, max) = cell.score_range();
        let (min, max) = (min as f64, max as f64);
        let start = z.count_before(|score, _| score < min);
        for (score, member) in z.iter_from(start) {
            if score >= max {
                break;
            }
            let (lon, lat) = geohash::position(score);
            if let Some(dist) = s.contains(lon, lat) {
                out.push(Point {
                    dist,
                    score,
                    member,
                    lon,
                    lat,
                });
            }
            if full(&out) {
                break;
            }
        }
        last = i;
    }
    out
}
