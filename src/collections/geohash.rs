//! Geohash arithmetic for the GEO commands (Redis 7.0's `geohash.c`,
//! `geohash_helper.c`): a position is a sorted-set score, the 52-bit interleaving of 26
//! latitude bits (even positions) and 26 longitude bits (odd positions) over Redis's
//! Web-Mercator ranges. Written from the algorithm's description; the floating-point steps
//! are done in the same order as Redis so that decoded coordinates, distances and the
//! searched boxes come out bit for bit the same.

/// Longitude range.
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// Latitude range (EPSG:900913: the poles cannot be indexed).
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score.
pub const STEP_MAX: u8 = 26;

const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A geohash cell: `step` bits per coordinate, interleaved in `bits`. The zero value
/// (`bits` and `step` 0) is "no cell", as Redis marks neighbors it drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    pub fn is_none(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's bits moved to the top of a 52-bit score.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - 2 * u32::from(self.step))
    }

    /// The scores `[min, max)` of the points inside the cell.
    pub fn score_range(&self) -> (u64, u64) {
        let next = Cell {
            bits: self.bits + 1,
            step: self.step,
        };
        (self.align52(), next.align52())
    }
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of [`spread`]: the even bits of `v` packed into 32.
fn gather(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// A coordinate range.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// Redis's ranges: longitude, latitude.
pub const WGS84: (Range, Range) = (
    Range {
        min: LONG_MIN,
        max: LONG_MAX,
    },
    Range {
        min: LAT_MIN,
        max: LAT_MAX,
    },
);

/// Encodes a position in `step` bits per coordinate over the given ranges; None outside
/// them (or outside Redis's limits).
pub fn encode(ranges: (Range, Range), lon: f64, lat: f64, step: u8) -> Option<Cell> {
    let (lon_r, lat_r) = ranges;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // As C's double-to-uint32 conversion: truncation (the offsets are in 0..=2^step).
    let bits = spread(lat_off as u32) | (spread(lon_off as u32) << 1);
    Some(Cell { bits, step })
}

/// The 52-bit score of a position (None outside the indexable area).
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84, lon, lat, STEP_MAX).map(|c| c.align52())
}

/// A cell's extent: (longitude range, latitude range).
pub fn decode(cell: Cell) -> (Range, Range) {
    let (lon_r, lat_r) = WGS84;
    let lat_i = gather(cell.bits);
    let lon_i = gather(cell.bits >> 1);
    let div = (1u64 << cell.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    let lat = Range {
        min: lat_r.min + (f64::from(lat_i) * 1.0 / div) * lat_scale,
        max: lat_r.min + (f64::from(lat_i.wrapping_add(1)) * 1.0 / div) * lat_scale,
    };
    let lon = Range {
        min: lon_r.min + (f64::from(lon_i) * 1.0 / div) * lon_scale,
        max: lon_r.min + (f64::from(lon_i.wrapping_add(1)) * 1.0 / div) * lon_scale,
    };
    (lon, lat)
}

/// C's `(uint64_t)` of a double as x86-64 compiles it (scores that are no geohash decode
/// as in Redis): values from 2^63 on are converted less 2^63 with the top bit flipped;
/// out-of-range conversions give the "integer indefinite" 2^63.
pub fn c_u64(x: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if x < TWO63 {
        c_i64(x) as u64
    } else {
        (c_i64(x - TWO63) as u64) ^ (1 << 63)
    }
}

/// C's `(long long)` of a double on x86-64 (`cvttsd2si`): NaN and out-of-range values
/// give `i64::MIN`.
pub fn c_i64(x: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO63..TWO63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// The position a stored score stands for: its cell's centre, clamped to the limits.
pub fn position(score: f64) -> (f64, f64) {
    let (lon, lat) = decode(Cell {
        bits: c_u64(score),
        step: STEP_MAX,
    });
    let x = ((lon.min + lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let y = ((lat.min + lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (x, y)
}

/// The standard 11-character geohash of a stored score (re-encoded over -90..90, the
/// last character always `0`, as Redis).
pub fn standard_hash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (x, y) = position(score);
    let std = (
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
    );
    let bits = encode(std, x, y, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// Great-circle distance in meters (haversine, Earth radius 6372797.560856 m).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The area a search covers.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Within `radius` meters of the centre.
    Circle { radius: f64 },
    /// Within a `width` by `height` meters box around the centre.
    Box { width: f64, height: f64 },
}

/// A search: centre, area, and the unit's size in meters.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    /// Meters per unit; the shape's sizes are in the unit.
    pub unit: f64,
}

impl Search {
    /// The distance (meters) from the centre to `(lon, lat)` when the point is inside.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Circle { radius } => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= radius * self.unit).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.unit, height * self.unit);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// Longitude min, latitude min, longitude max, latitude max of the searched area.
    fn bounds(&self) -> [f64; 4] {
        let (h, w) = match self.shape {
            Shape::Circle { radius } => (radius * self.unit, radius * self.unit),
            Shape::Box { width, height } => (self.unit * (height / 2.0), self.unit * (width / 2.0)),
        };
        let lat_delta = rad_deg(h / EARTH_RADIUS_M);
        let top = rad_deg(w / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let bottom = rad_deg(w / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let d = if self.lat < 0.0 { bottom } else { top };
        [
            self.lon - d,
            self.lat - lat_delta,
            self.lon + d,
            self.lat + lat_delta,
        ]
    }

    /// The cells to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW); dropped
    /// neighbors are [`Cell::is_none`].
    pub fn cells(&self) -> [Cell; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.unit;
        let mut step = estimate_step(radius, self.lat);
        let mut cells = self.around(step);
        let ext = |c: Cell| decode(c);
        let (north, south, east, west) =
            (ext(cells[1]), ext(cells[2]), ext(cells[3]), ext(cells[4]));
        let too_coarse = north.1.max < max_lat
            || south.1.min > min_lat
            || east.0.max < max_lon
            || west.0.min > min_lon;
        if step > 1 && too_coarse {
            step -= 1;
            cells = self.around(step);
        }
        if step >= 2 {
            let (lon, lat) = decode(cells[0]);
            let none = Cell::default();
            // Indexes: 1 N, 2 S, 3 E, 4 W, 5 NE, 6 NW, 7 SE, 8 SW.
            let mut drop = |ids: [usize; 3]| ids.iter().for_each(|&i| cells[i] = none);
            if lat.min < min_lat {
                drop([2, 8, 7]);
            }
            if lat.max > max_lat {
                drop([1, 5, 6]);
            }
            if lon.min < min_lon {
                drop([4, 8, 6]);
            }
            if lon.max > max_lon {
                drop([3, 7, 5]);
            }
        }
        cells
    }

    /// The centre's cell at `step` and its 8 neighbors.
    fn around(&self, step: u8) -> [Cell; 9] {
        let c = encode(WGS84, self.lon, self.lat, step).unwrap_or(Cell { bits: 0, step });
        let m = |dx: i8, dy: i8| move_y(move_x(c, dx), dy);
        [
            c,
            m(0, 1),
            m(0, -1),
            m(1, 0),
            m(-1, 0),
            m(1, 1),
            m(-1, 1),
            m(1, -1),
            m(-1, -1),
        ]
    }
}

/// The precision of the 9 boxes that cover a search of `radius` meters at `lat`.
fn estimate_step(mut radius: f64, lat: f64) -> u8 {
    if radius == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while radius < MERCATOR_MAX {
        radius *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Moves a cell one column east (`d` > 0) or west (the longitude bits, odd positions).
fn move_x(c: Cell, d: i8) -> Cell {
    move_bits(c, d, 0xaaaa_aaaa_aaaa_aaaa)
}

/// Moves a cell one row north (`d` > 0) or south (the latitude bits, even positions).
fn move_y(c: Cell, d: i8) -> Cell {
    move_bits(c, d, 0x5555_5555_5555_5555)
}

/// Adds ±1 to the coordinate whose bits are `mask`, wrapping within `step` bits: the
/// other coordinate's bits are filled with ones (to carry through them) or zeros.
fn move_bits(c: Cell, d: i8, mask: u64) -> Cell {
    if d == 0 {
        return c;
    }
    let shift = 64 - 2 * u32::from(c.step);
    let mut v = c.bits & mask;
    let rest = c.bits & !mask;
    let others = !mask >> shift;
    if d > 0 {
        v = v.wrapping_add(others.wrapping_add(1));
    } else {
        v = (v | others).wrapping_sub(others.wrapping_add(1));
    }
    v &= mask >> shift;
    Cell {
        bits: v | rest,
        step: c.step,
    }
}

/// A number formatted on the stack (coordinates and distances are under 32 characters;
/// longer text is cut, which no value in range reaches).
pub struct NumText {
    buf: [u8; 48],
    len: usize,
}

impl NumText {
    fn new() -> NumText {
        NumText {
            buf: [0; 48],
            len: 0,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn pop_while(&mut self, c: u8) {
        while self.len > 0 && self.buf[self.len - 1] == c {
            self.len -= 1;
        }
    }
}

impl std::io::Write for NumText {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A distance as GEODIST and WITHDIST reply it: rounded (half to even) to 4 decimals.
pub fn format_distance(d: f64) -> NumText {
    use std::io::Write as _;
    let mut out = NumText::new();
    if d == 0.0 {
        let _ = out.write_all(b"0.0000");
        return out;
    }
    let scaled = (d * 10000.0).round_ties_even();
    // As llrint: out-of-range values saturate (no distance comes near).
    let v = scaled as i64;
    if v < 0 {
        let _ = out.write_all(b"-");
    }
    let u = v.unsigned_abs();
    let _ = write!(out, "{}.{:04}", u / 10000, u % 10000);
    out
}

/// A coordinate as GEOPOS and WITHCOORD reply it: `%.17Lf` without trailing zeros.
pub fn format_coord(v: f64) -> NumText {
    use std::io::Write as _;
    let mut out = NumText::new();
    let _ = write!(out, "{v:.17}");
    if out.as_bytes().contains(&b'.') {
        out.pop_while(b'0');
        if out.as_bytes().last() == Some(&b'.') {
            out.len -= 1;
        }
    }
    if out.as_bytes() == b"-0" {
        out = NumText::new();
        let _ = out.write_all(b"0");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_gather_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(gather(spread(v)), v);
            assert_eq!(spread(v) & 0xaaaa_aaaa_aaaa_aaaa, 0);
        }
    }

    #[test]
    fn palermo_scores_and_decodes_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo stores 3479099956230698 (Redis 7.0).
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (x, y) = position(3479099956230698.0);
        assert_eq!(format_coord(x).as_bytes(), b"13.36138933897018433");
        assert_eq!(format_coord(y).as_bytes(), b"38.11555639549629859");
        assert_eq!(format_coord(-0.0).as_bytes(), b"0");
        assert_eq!(format_coord(2.5).as_bytes(), b"2.5");
        assert_eq!(&standard_hash(3479099956230698.0), b"sqc8b49rny0");
    }

    #[test]
    fn distances_print_with_four_decimals() {
        assert_eq!(
            format_distance(166274.15156960033).as_bytes(),
            b"166274.1516"
        );
        assert_eq!(format_distance(0.00004).as_bytes(), b"0.0000");
        assert_eq!(format_distance(0.0).as_bytes(), b"0.0000");
        assert_eq!(format_distance(1.23456).as_bytes(), b"1.2346");
    }

    #[test]
    fn moves_wrap_within_the_step() {
        let c = Cell { bits: 0, step: 2 };
        // West of column 0 wraps to column 3 (longitude bits 1 and 3).
        assert_eq!(move_x(c, -1).bits, 0b1010);
        assert_eq!(move_y(c, 1).bits, 0b0001);
        assert_eq!(move_x(move_x(c, 1), -1), c);
    }

    #[test]
    fn out_of_range_positions_do_not_encode() {
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        assert!(score_of(-180.0, -85.05112878).is_some());
    }
}
