//! GEO commands over RESP with Redis 7.0's exact replies, RESP2 and RESP3.
//!
//! Generated: `scripts/resp-golden.py SOCKET tests/golden/geo.txt` sends each block's
//! commands to redis-server 7.0.15 and records its replies byte for byte; slabd must give
//! the same bytes. `geo_wide_and_polar` pins Redis's cell choice (a 20000 km radius
//! finds 4 of the 6 points, as in Redis) and `geo_add_and_read` the decoding of scores
//! that are no geohash.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn geo_add_and_read() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    );
    c.check(&["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"], "*4\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n");
    c.check(
        &["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
        ":0\r\n",
    );
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "CH",
            "13.361389",
            "38.115556",
            "Palermo",
            "13.5",
            "38.1",
            "Palermo2",
        ],
        ":1\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "CH", "13.4", "38.1", "Palermo2"],
        ":1\r\n",
    );
    c.check(
        &[
            "GEOADD", "Sicily", "NX", "1", "1", "Palermo", "2", "2", "Nowhere",
        ],
        ":1\r\n",
    );
    c.check(
        &[
            "GEOADD", "Sicily", "XX", "3", "3", "Nowhere", "4", "4", "Other",
        ],
        ":0\r\n",
    );
    c.check(
        &[
            "GEOADD", "Sicily", "XX", "CH", "13.4", "38.2", "Palermo2", "4", "4", "Other2",
        ],
        ":1\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "NX", "XX", "1", "1", "a"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "1", "1"],
        "-ERR wrong number of arguments for 'geoadd' command\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "1", "1", "a", "2"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "x", "1", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "1", "x", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "200", "100", "a"],
        "-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "1", "1", "a", "181", "0", "b"],
        "-ERR invalid longitude,latitude pair 181.000000,0.000000\r\n",
    );
    c.check(
        &["GEOADD", "Sicily", "1", "1", "a", "x", "0", "b"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "-180",
            "-85.05112878",
            "south",
            "180",
            "85.05112878",
            "north",
        ],
        ":2\r\n",
    );
    c.check(&["GEOPOS", "Sicily", "south", "north"], "*2\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n");
    c.check(
        &["GEOHASH", "Sicily", "south", "north"],
        "*2\r\n$11\r\n00bh0hbj200\r\n$11\r\nbp05b5048p0\r\n",
    );
    c.check(&["ZCARD", "Sicily"], ":6\r\n");
    c.check(&["GEOADD", "nokey", "XX", "1", "1", "a"], ":0\r\n");
    c.check(&["EXISTS", "nokey"], ":0\r\n");
    c.check(&["GEOPOS", "Sicily", "Palermo", "Catania", "nope"], "*3\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*-1\r\n");
    c.check(&["GEOPOS", "Sicily"], "*0\r\n");
    c.check(&["GEOPOS", "nokey", "a", "b"], "*2\r\n*-1\r\n*-1\r\n");
    c.check(
        &["GEOHASH", "Sicily", "Palermo", "Catania", "nope"],
        "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n",
    );
    c.check(&["GEOHASH", "nokey", "a"], "*1\r\n$-1\r\n");
    c.check(&["GEOHASH", "Sicily"], "*0\r\n");
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania"],
        "$11\r\n166274.1516\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
        "$8\r\n166.2742\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "MI"],
        "$8\r\n103.3182\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "ft"],
        "$11\r\n545518.8700\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "m"],
        "$11\r\n166274.1516\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Palermo"],
        "$6\r\n0.0000\r\n",
    );
    c.check(&["GEODIST", "Sicily", "Palermo", "nope"], "$-1\r\n");
    c.check(&["GEODIST", "nokey", "a", "b"], "$-1\r\n");
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "yards"],
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "km", "extra"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEODIST", "nokey", "a", "b", "yards"],
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    c.check(
        &["ZADD", "Sicily", "-5", "neg", "1e20", "huge", "1.5", "frac"],
        ":3\r\n",
    );
    c.check(&["GEOPOS", "Sicily", "neg", "huge", "frac"], "*3\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112497791824921\r\n");
    c.check(
        &["GEOHASH", "Sicily", "neg", "frac"],
        "*2\r\n$11\r\nbp05b5048p0\r\n$11\r\n00bh0hbj210\r\n",
    );
    c.check(&["SET", "str", "v"], "+OK\r\n");
    c.check(
        &["GEOADD", "str", "1", "1", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["GEOPOS", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["GEOHASH", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["GEODIST", "str", "a", "b"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn geo_add_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    );
    c.check(
        &["GEOPOS", "Sicily", "Palermo", "nope"],
        "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n",
    );
    c.check(
        &["GEOHASH", "Sicily", "Palermo", "nope"],
        "*2\r\n$11\r\nsqc8b49rny0\r\n_\r\n",
    );
    c.check(
        &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
        "$8\r\n166.2742\r\n",
    );
    c.check(&["GEODIST", "Sicily", "Palermo", "nope"], "_\r\n");
    c.check(&["GEODIST", "nokey", "a", "b"], "_\r\n");
}

#[test]
fn geo_radius() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
            "13.583333",
            "37.316667",
            "Agrigento",
        ],
        ":3\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km"],
        "*3\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC"],
        "*3\r\n$7\r\nCatania\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC"],
        "*3\r\n$7\r\nPalermo\r\n$9\r\nAgrigento\r\n$7\r\nCatania\r\n",
    );
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"], "*3\r\n*2\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n");
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD", "WITHDIST", "WITHHASH", "ASC"], "*3\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*4\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n:3479030013248308\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n");
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHHASH"], "*3\r\n*2\r\n$9\r\nAgrigento\r\n:3479030013248308\r\n*2\r\n$7\r\nPalermo\r\n:3479099956230698\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909\r\n");
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"],
        "*1\r\n$7\r\nCatania\r\n",
    );
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "2", "DESC", "WITHDIST"], "*2\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n");
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "1",
            "ANY",
        ],
        "*1\r\n$9\r\nAgrigento\r\n",
    );
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "100",
            "mi",
            "WITHDIST",
            "ASC",
        ],
        "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n35.0711\r\n*2\r\n$9\r\nAgrigento\r\n$7\r\n81.0416\r\n",
    );
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "100000",
            "ft",
            "WITHDIST",
            "ASC",
        ],
        "*0\r\n",
    );
    c.check(&["GEORADIUS", "Sicily", "15", "37", "1", "m"], "*0\r\n");
    c.check(&["GEORADIUS", "Sicily", "15", "37", "0", "km"], "*0\r\n");
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "20000", "km", "ASC"],
        "*3\r\n$7\r\nCatania\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "KM", "ANY"],
        "-ERR the ANY argument requires COUNT argument\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"],
        "-ERR COUNT must be > 0\r\n",
    );
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "-1",
        ],
        "-ERR COUNT must be > 0\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "km", "BOGUS"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
        "-ERR radius cannot be negative\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "x", "km"],
        "-ERR need numeric radius\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "200", "yards"],
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "200", "37", "200", "km"],
        "-ERR invalid longitude,latitude pair 200.000000,37.000000\r\n",
    );
    c.check(
        &["GEORADIUS", "Sicily", "x", "37", "200", "km"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst", "WITHDIST"], "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n");
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst",
        ],
        ":3\r\n",
    );
    c.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*6\r\n$9\r\nAgrigento\r\n$16\r\n3479030013248308\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n");
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STOREDIST",
            "dst2",
            "COUNT",
            "2",
        ],
        ":2\r\n",
    );
    c.check(&["ZRANGE", "dst2", "0", "-1", "WITHSCORES"], "*4\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$9\r\nAgrigento\r\n$18\r\n130.42348706714702\r\n");
    c.check(
        &["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "dst"],
        ":0\r\n",
    );
    c.check(&["EXISTS", "dst"], ":0\r\n");
    c.check(&["GEORADIUS", "nokey", "15", "37", "200", "km"], "*0\r\n");
    c.check(
        &[
            "GEORADIUS",
            "nokey",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst2",
        ],
        ":0\r\n",
    );
    c.check(&["EXISTS", "dst2"], ":0\r\n");
    c.check(&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC"], "*3\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n");
    c.check(
        &[
            "GEORADIUS_RO",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "dst",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Agrigento",
            "100",
            "km",
            "WITHDIST",
            "ASC",
        ],
        "*2\r\n*2\r\n$9\r\nAgrigento\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nPalermo\r\n$7\r\n90.9778\r\n",
    );
    c.check(
        &[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Agrigento",
            "100",
            "km",
            "STORE",
            "dst3",
        ],
        ":2\r\n",
    );
    c.check(
        &["ZRANGE", "dst3", "0", "-1"],
        "*2\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    );
    c.check(
        &["GEORADIUSBYMEMBER", "Sicily", "nope", "100", "km"],
        "-ERR could not decode requested zset member\r\n",
    );
    c.check(
        &["GEORADIUSBYMEMBER", "nokey", "nope", "x", "yards"],
        "*0\r\n",
    );
    c.check(
        &["GEORADIUSBYMEMBER", "nokey", "nope", "x", "yards", "BOGUS"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEORADIUSBYMEMBER", "Sicily", "Agrigento", "-1", "km"],
        "-ERR radius cannot be negative\r\n",
    );
    c.check(&["GEORADIUSBYMEMBER_RO", "Sicily", "Agrigento", "100", "km", "WITHCOORD"], "*2\r\n*2\r\n$9\r\nAgrigento\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n");
    c.check(
        &[
            "GEORADIUSBYMEMBER_RO",
            "Sicily",
            "Agrigento",
            "100",
            "km",
            "STOREDIST",
            "dst",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(&["SET", "str", "v"], "+OK\r\n");
    c.check(
        &["GEORADIUS", "str", "15", "37", "200", "km"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["GEORADIUSBYMEMBER", "str", "a", "200", "km"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "str",
        ],
        ":3\r\n",
    );
    c.check(&["TYPE", "str"], "+zset\r\n");
}

#[test]
fn geo_search() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
            "13.583333",
            "37.316667",
            "Agrigento",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ],
        ":5\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
        ],
        "*3\r\n$7\r\nCatania\r\n$9\r\nAgrigento\r\n$7\r\nPalermo\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Agrigento",
            "BYRADIUS",
            "100",
            "km",
            "WITHDIST",
            "DESC",
        ],
        "*2\r\n*2\r\n$7\r\nPalermo\r\n$7\r\n90.9778\r\n*2\r\n$9\r\nAgrigento\r\n$6\r\n0.0000\r\n",
    );
    c.check(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST"], "*5\r\n*3\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*3\r\n$9\r\nAgrigento\r\n$8\r\n130.4235\r\n*2\r\n$19\r\n13.5833314061164856\r\n$20\r\n37.31666804993816555\r\n*3\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*3\r\n$5\r\nedge2\r\n$8\r\n279.7403\r\n*2\r\n$20\r\n17.24151045083999634\r\n$20\r\n38.78813451624225195\r\n*3\r\n$5\r\nedge1\r\n$8\r\n279.7405\r\n*2\r\n$19\r\n12.7584877610206604\r\n$20\r\n38.78813451624225195\r\n");
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "200",
            "200",
            "km",
            "ASC",
        ],
        "*1\r\n$7\r\nCatania\r\n",
    );
    c.check(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "COUNT", "2", "WITHHASH"], "*2\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909\r\n*2\r\n$9\r\nAgrigento\r\n:3479030013248308\r\n");
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "COUNT",
            "1",
            "ANY",
        ],
        "*1\r\n$9\r\nAgrigento\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "FROMMEMBER",
            "Palermo",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "BYBOX",
            "1",
            "1",
            "km",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["GEOSEARCH", "Sicily", "BYRADIUS", "200", "km", "ASC"],
        "-ERR wrong number of arguments for 'geosearch' command\r\n",
    );
    c.check(
        &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC"],
        "-ERR wrong number of arguments for 'geosearch' command\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ANY",
        ],
        "-ERR the ANY argument requires COUNT argument\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STORE",
            "dst",
        ],
        "-ERR syntax error\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "x",
            "1",
            "km",
        ],
        "-ERR need numeric width\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "x",
            "km",
        ],
        "-ERR need numeric height\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "-1",
            "1",
            "km",
        ],
        "-ERR height or width cannot be negative\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "1",
            "1",
            "yards",
        ],
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "1",
            "km",
        ],
        "-ERR could not decode requested zset member\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "1",
            "km",
        ],
        "*0\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "1",
            "km",
            "ANY",
        ],
        "-ERR the ANY argument requires COUNT argument\r\n",
    );
    c.check(
        &["geosearch", "Sicily", "FROMLONLAT", "15", "37", "ASC"],
        "-ERR wrong number of arguments for 'geosearch' command\r\n",
    );
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
        ],
        ":3\r\n",
    );
    c.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*6\r\n$9\r\nAgrigento\r\n$16\r\n3479030013248308\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n");
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "STOREDIST",
            "COUNT",
            "2",
        ],
        ":2\r\n",
    );
    c.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*4\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$9\r\nAgrigento\r\n$18\r\n130.42348706714702\r\n");
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "WITHDIST",
        ],
        "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n",
    );
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        ":0\r\n",
    );
    c.check(&["EXISTS", "dst"], ":0\r\n");
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "nokey",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        ":0\r\n",
    );
    c.check(
        &[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STORE",
            "x",
        ],
        "-ERR syntax error\r\n",
    );
}

#[test]
fn geo_search_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        ":2\r\n",
    );
    c.check(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHCOORD", "WITHDIST", "WITHHASH"], "*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n");
    c.check(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"], "*2\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n*2\r\n$7\r\nCatania\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n");
    c.check(
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        "*0\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "nokey",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "1",
            "m",
        ],
        "*0\r\n",
    );
}

#[test]
fn geo_wide_and_polar() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "GEOADD", "w", "-179.9", "0", "a", "179.9", "0", "b", "0", "84", "c", "0", "-84", "d",
            "90", "45", "e", "-90", "-45", "f",
        ],
        ":6\r\n",
    );
    c.check(&["GEORADIUS", "w", "0", "0", "20000", "km", "ASC", "WITHDIST"], "*4\r\n*2\r\n$1\r\nd\r\n$9\r\n9343.0091\r\n*2\r\n$1\r\nc\r\n$9\r\n9343.0091\r\n*2\r\n$1\r\nf\r\n$10\r\n10010.3668\r\n*2\r\n$1\r\ne\r\n$10\r\n10010.3672\r\n");
    c.check(
        &["GEORADIUS", "w", "179", "0", "500", "km", "ASC", "WITHDIST"],
        "*2\r\n*2\r\n$1\r\nb\r\n$8\r\n100.1036\r\n*2\r\n$1\r\na\r\n$8\r\n122.3490\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "w",
            "FROMLONLAT",
            "0",
            "85",
            "BYRADIUS",
            "200",
            "km",
            "WITHDIST",
        ],
        "*1\r\n*2\r\n$1\r\nc\r\n$8\r\n111.2264\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "w",
            "FROMLONLAT",
            "0",
            "-85",
            "BYBOX",
            "1000",
            "1000",
            "km",
            "WITHDIST",
        ],
        "*1\r\n*2\r\n$1\r\nd\r\n$8\r\n111.2264\r\n",
    );
    c.check(
        &[
            "GEOSEARCH",
            "w",
            "FROMLONLAT",
            "180",
            "0",
            "BYBOX",
            "50000",
            "50000",
            "km",
            "ASC",
        ],
        "*4\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    c.check(&["GEORADIUS", "w", "0", "0", "5000", "km"], "*0\r\n");
    c.check(
        &["GEORADIUS", "w", "0", "0", "10000", "km"],
        "*2\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
}

#[test]
fn geo_command_keys() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "georadius",
            "k",
            "1",
            "2",
            "3",
            "m",
            "store",
            "d1",
            "storedist",
            "d2",
        ],
        "*3\r\n$1\r\nk\r\n$2\r\nd1\r\n$2\r\nd2\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "georadius",
            "k",
            "1",
            "2",
            "3",
            "m",
            "STOREDIST",
            "d2",
        ],
        "*2\r\n$1\r\nk\r\n$2\r\nd2\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "georadiusbymember",
            "k",
            "m",
            "3",
            "m",
            "store",
            "d1",
        ],
        "*2\r\n$1\r\nk\r\n$2\r\nd1\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "georadius_ro",
            "k",
            "1",
            "2",
            "3",
            "m",
        ],
        "*1\r\n$1\r\nk\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "geosearchstore",
            "d",
            "s",
            "frommember",
            "m",
            "byradius",
            "1",
            "m",
        ],
        "*2\r\n$1\r\nd\r\n$1\r\ns\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYS",
            "geosearch",
            "s",
            "frommember",
            "m",
            "byradius",
            "1",
            "m",
        ],
        "*1\r\n$1\r\ns\r\n",
    );
    c.check(
        &["COMMAND", "GETKEYS", "geoadd", "k", "1", "1", "m"],
        "*1\r\n$1\r\nk\r\n",
    );
    c.check(
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "georadiusbymember",
            "k",
            "m",
            "3",
            "m",
            "storedist",
            "d",
        ],
        "*2\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n",
    );
}

/// Keyspace events of GEO writes, as redis-server 7.0.15 publishes them (recorded from it
/// running the same commands): GEOADD is a ZADD; the STORE forms announce the
/// destination, or `del` when they empty it; reads and no-op writes announce nothing.
#[test]
fn keyspace_events_of_geo_writes() {
    let d = daemon(&[]);
    let mut a = d.connect_resp();
    let mut sub = d.connect_resp();
    a.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    sub.check(
        &["PSUBSCRIBE", "__keyevent@0__:*"],
        "*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n",
    );
    let commands: &[&[&str]] = &[
        &[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
        &["GEOADD", "g", "XX", "1", "1", "nope"],
        &["GEOADD", "g", "NX", "CH", "1", "1", "Palermo"],
        &["GEOADD", "g", "XX", "1", "1", "Palermo"],
        &["GEORADIUS", "g", "15", "37", "200", "km"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d"],
        &[
            "GEORADIUSBYMEMBER",
            "g",
            "Palermo",
            "10",
            "km",
            "STOREDIST",
            "d2",
        ],
        &["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d"],
        &["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d"],
        &[
            "GEOSEARCHSTORE",
            "s",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "s",
            "nokey",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
    ];
    for c in commands {
        a.cmd(c);
    }
    a.cmd(&["SET", "end", "1"]);
    let want = [
        ("zadd", "g"),
        ("zadd", "g"),
        ("georadiusstore", "d"),
        ("georadiusstore", "d2"),
        ("del", "d"),
        ("geosearchstore", "s"),
        ("del", "s"),
        ("set", "end"),
    ];
    for (event, key) in want {
        let raw = String::from_utf8(sub.reply()).unwrap();
        let parts: Vec<&str> = raw.split("\r\n").collect();
        assert_eq!(parts[2], "pmessage", "{raw:?}");
        assert_eq!(parts[6], format!("__keyevent@0__:{event}"), "{raw:?}");
        assert_eq!(parts[8], key, "{raw:?}");
    }
}
