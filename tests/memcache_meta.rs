//! Meta commands (mg, ms, md, ma, mn, me) against the real binary; reply forms as memcached
//! 1.6.18 sends them.

mod common;

use common::{Conn, Daemon};

/// The CAS an `mg <key> c` reports.
fn cas_of(c: &mut Conn, key: &str) -> u64 {
    c.send(format!("mg {key} c\r\n").as_bytes());
    let line = String::from_utf8(c.read_line()).unwrap();
    line.trim_end()
        .strip_prefix("HD c")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap()
}

#[test]
fn meta_get_flags_in_request_order() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"ms foo 2 T100 F5\r\nhi\r\n", b"HD\r\n");
    let cas = cas_of(&mut c, "foo");
    c.roundtrip(b"mg foo v\r\n", b"VA 2\r\nhi\r\n");
    c.roundtrip(b"mg foo\r\n", b"HD\r\n");
    c.roundtrip(
        b"mg foo k v f c s O123\r\n",
        format!("VA 2 kfoo f5 c{cas} s2 O123\r\nhi\r\n").as_bytes(),
    );
    c.roundtrip(b"mg foo t f\r\n", b"HD t100 f5\r\n");
    c.roundtrip(b"mg missing v\r\n", b"EN\r\n");
    c.roundtrip(b"mg missing v O7 k\r\n", b"EN O7 kmissing\r\n");
    // Quiet: misses vanish, hits still answer; mn marks the end.
    c.roundtrip(
        b"mg missing v q\r\nmg foo q k\r\nmn\r\n",
        b"HD kfoo\r\nMN\r\n",
    );
    // h and l report the state before this read.
    c.roundtrip(
        b"ms hl 1\r\nx\r\nmg hl h l\r\nmg hl h\r\n",
        b"HD\r\nHD h0 l0\r\nHD h1\r\n",
    );
    // T touches, t reports.
    c.roundtrip(b"mg foo T50\r\nmg foo t\r\n", b"HD\r\nHD t50\r\n");
    c.roundtrip(b"ms nottl 1\r\nx\r\nmg nottl t\r\n", b"HD\r\nHD t-1\r\n");
}

#[test]
fn meta_base64_keys() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"ms Zm9v 2 b k\r\nzz\r\n", b"HD kZm9v b\r\n");
    c.roundtrip(b"mg Zm9v b k v\r\n", b"VA 2 kZm9v b\r\nzz\r\n");
    c.roundtrip(b"get foo\r\n", b"VALUE foo 0 2\r\nzz\r\nEND\r\n");
    // A binary key (with a space and a NUL) only base64 can carry.
    c.roundtrip(
        b"ms AGEgYg== 1 b\r\nx\r\nmg AGEgYg== b v\r\n",
        b"HD\r\nVA 1\r\nx\r\n",
    );
    c.roundtrip(b"mg Zm9 b v\r\n", b"CLIENT_ERROR error decoding key\r\n");
    c.roundtrip(
        b"ms foo 2 b\r\nzz\r\nmn\r\n",
        b"CLIENT_ERROR error decoding key\r\nMN\r\n",
    );
    c.roundtrip(b"md Zm9v b q\r\nmg foo v\r\n", b"EN\r\n");
}

#[test]
fn meta_set_modes_and_cas() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"ms foo 2 q\r\nhi\r\nmn\r\n", b"MN\r\n");
    c.roundtrip(
        b"ms foo 2 MA\r\nyo\r\nmg foo v\r\n",
        b"HD\r\nVA 4\r\nhiyo\r\n",
    );
    c.roundtrip(
        b"ms foo 2 MP\r\nAB\r\nmg foo v\r\n",
        b"HD\r\nVA 6\r\nABhiyo\r\n",
    );
    c.roundtrip(b"ms new 2 MA\r\nzz\r\n", b"NS\r\n");
    c.roundtrip(
        b"ms new 2 ME\r\nzz\r\nms new 2 ME\r\nzz\r\n",
        b"HD\r\nNS\r\n",
    );
    c.roundtrip(
        b"ms none 2 MR\r\nzz\r\nms new 2 MR\r\nyy\r\n",
        b"NS\r\nHD\r\n",
    );
    c.roundtrip(
        b"ms new 2 MS\r\nxx\r\nmg new v\r\n",
        b"HD\r\nVA 2\r\nxx\r\n",
    );
    let cas = cas_of(&mut c, "foo");
    c.roundtrip(
        format!("ms foo 1 C{}\r\nz\r\n", cas + 1).as_bytes(),
        b"EX\r\n",
    );
    c.send(format!("ms foo 1 C{cas} c\r\nz\r\n").as_bytes());
    let line = String::from_utf8(c.read_line()).unwrap();
    let new_cas: u64 = line
        .trim_end()
        .strip_prefix("HD c")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_cas, cas);
    c.roundtrip(b"ms nope 1 C5\r\nz\r\n", b"NF\r\n");
    c.roundtrip(b"ms foo 1 O9 k\r\nz\r\n", b"HD O9 kfoo\r\n");
    // Errors: the data block is discarded with them.
    c.roundtrip(
        b"ms foo 2 X\r\nzz\r\nmn\r\n",
        b"CLIENT_ERROR invalid flag\r\nMN\r\n",
    );
    c.roundtrip(
        b"ms foo 2 MZ\r\nzz\r\nmn\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n",
    );
    c.roundtrip(
        b"ms foo 2 Tx\r\nzz\r\nmn\r\n",
        b"CLIENT_ERROR bad token in command line format\r\nMN\r\n",
    );
    c.roundtrip(
        b"ms foo abc\r\nzz\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.roundtrip(
        b"ms foo 2\r\nzzz\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    c.roundtrip(b"ms\r\n", b"ERROR\r\n");
    c.roundtrip(
        format!("ms foo 2 O{}\r\nzz\r\nmn\r\n", "1".repeat(40)).as_bytes(),
        b"CLIENT_ERROR opaque token too long\r\nMN\r\n",
    );
}

#[test]
fn meta_delete_and_stale_items() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(
        b"md foo\r\nmd foo q\r\nmd foo q O1 k\r\n",
        b"NF\r\nNF\r\nNF O1 kfoo\r\n",
    );
    c.roundtrip(
        b"ms foo 2\r\nzz\r\nmd foo q\r\nmg foo v\r\n",
        b"HD\r\nEN\r\n",
    );
    c.roundtrip(b"ms foo 2\r\nzz\r\nmd foo C1\r\n", b"HD\r\nEX\r\n");
    // Invalidate: served stale (X); the first reader wins the recache (W), later ones see Z.
    c.roundtrip(b"md foo I T30\r\n", b"HD\r\n");
    c.roundtrip(b"mg foo v t\r\n", b"VA 2 t30 X W\r\nzz\r\n");
    c.roundtrip(b"mg foo v\r\n", b"VA 2 Z X\r\nzz\r\n");
    c.roundtrip(b"md foo x\r\nmd foo E5\r\n", b"HD\r\nHD\r\n");
    c.roundtrip(
        b"md foo v\r\n",
        b"CLIENT_ERROR invalid or duplicate flag\r\n",
    );
}

#[test]
fn meta_vivify_and_recache() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let first = {
        c.send(b"mg newv N30 v c\r\n");
        String::from_utf8(c.read_until(b"\r\n\r\n")).unwrap()
    };
    assert!(
        first.starts_with("VA 0 c") && first.ends_with(" W\r\n\r\n"),
        "{first}"
    );
    c.roundtrip(b"mg newv v s\r\n", b"VA 0 s0 Z\r\n\r\n");
    c.roundtrip(b"ms r1 2 T10\r\nzz\r\n", b"HD\r\n");
    c.roundtrip(b"mg r1 R30 v t\r\n", b"VA 2 t10 W\r\nzz\r\n");
    c.roundtrip(b"mg r1 R30 v t\r\n", b"VA 2 t10 Z\r\nzz\r\n");
    c.roundtrip(
        b"ms r2 2 T100\r\nzz\r\nmg r2 R30 v\r\n",
        b"HD\r\nVA 2\r\nzz\r\n",
    );
}

#[test]
fn meta_arithmetic() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"ma cnt\r\n", b"NF\r\n");
    c.roundtrip(b"ma cnt N0 J13\r\nma cnt v\r\n", b"HD\r\nVA 2\r\n14\r\n");
    c.roundtrip(
        b"ma cnt v MD D5\r\nma cnt v D100 M-\r\n",
        b"VA 1\r\n9\r\nVA 1\r\n0\r\n",
    );
    c.roundtrip(b"ma cnt q\r\nma cnt q v\r\nmn\r\n", b"MN\r\n");
    c.roundtrip(
        b"ma viv q N0\r\nma viv q N0\r\nma viv2 q N0 v\r\nmn\r\n",
        b"HD\r\nVA 1\r\n0\r\nMN\r\n",
    );
    c.roundtrip(b"ma cnt v t k O1\r\n", b"VA 1 t-1 kcnt O1\r\n3\r\n");
    c.roundtrip(
        b"ma big N0 J18446744073709551615 v\r\nma big v\r\n",
        b"VA 20\r\n18446744073709551615\r\nVA 1\r\n0\r\n",
    );
    c.roundtrip(
        b"ms txt 3\r\nabc\r\nma txt\r\n",
        b"HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.roundtrip(b"ma cnt C1\r\n", b"EX\r\n");
    c.roundtrip(
        b"ma cnt MX\r\n",
        b"CLIENT_ERROR invalid mode for ma M token\r\n",
    );
    c.roundtrip(
        b"ma cnt Dabc\r\n",
        b"CLIENT_ERROR invalid or duplicate flag\r\n",
    );
    c.roundtrip(b"ma cnt T100 t v\r\n", b"VA 1 t100\r\n4\r\n");
}

#[test]
fn meta_noop_debug_and_errors() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"mn\r\nmn foo\r\n", b"MN\r\nMN\r\n");
    c.roundtrip(b"me foo\r\n", b"EN\r\n");
    c.send(b"ms foo 2\r\nzz\r\nme foo\r\n");
    assert_eq!(c.read_line(), b"HD\r\n");
    let me = String::from_utf8(c.read_line()).unwrap();
    assert!(me.starts_with("ME foo exp=-1 la=0 cas="), "{me}");
    assert!(me.contains(" fetch=no cls=1 size="), "{me}");
    c.roundtrip(b"me\r\n", b"CLIENT_ERROR bad command line format\r\n");
    c.roundtrip(b"mg\r\n", b"ERROR\r\n");
    c.roundtrip(b"mg foo zz\r\n", b"CLIENT_ERROR invalid flag\r\n");
    c.roundtrip(b"mg foo v v\r\n", b"CLIENT_ERROR duplicate flag\r\n");
    c.roundtrip(
        b"mg foo Tabc\r\n",
        b"CLIENT_ERROR bad token in command line format\r\n",
    );
    c.roundtrip(
        format!("mg {} v\r\n", "k".repeat(251)).as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    );
    // Pipelined meta requests split at every byte.
    let req = b"ms s 3 T0 F7\r\nabc\r\nmg s v f O1\r\nmd s q\r\nmg s v q\r\nmn\r\n";
    for &b in req.iter() {
        c.send(&[b]);
    }
    c.roundtrip(b"", b"HD\r\nVA 3 f7 O1\r\nabc\r\nMN\r\n");
}

/// Arithmetic is no fetch in memcached 1.6.18: `mg h` (was it fetched before?) and `me` say
/// so. An item rewritten in place keeps its bit (`c`), a longer number is a new, unfetched
/// item (`d`); touch and gat fetch. `me` prints `exp=` as memcached does: current time minus
/// expiry, so an item with 100 s left reads -100. Bytes recorded from memcached 1.6.18.
#[test]
fn arithmetic_is_no_fetch_as_in_memcached() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(
        b"set a 0 0 1\r\n5\r\nma a\r\nmg a h\r\n",
        b"STORED\r\nHD\r\nHD h0\r\n",
    );
    c.roundtrip(
        b"set b 0 0 1\r\n5\r\nincr b 1\r\ndecr b 1\r\nmg b h\r\n",
        b"STORED\r\n6\r\n5\r\nHD h0\r\n",
    );
    c.roundtrip(
        b"set c 0 0 2\r\n10\r\nget c\r\ndecr c 1\r\nmg c h v\r\n",
        b"STORED\r\nVALUE c 0 2\r\n10\r\nEND\r\n9\r\nVA 2 h1\r\n9 \r\n",
    );
    c.roundtrip(
        b"set d 0 0 1\r\n9\r\nget d\r\nincr d 1\r\nmg d h v\r\n",
        b"STORED\r\nVALUE d 0 1\r\n9\r\nEND\r\n10\r\nVA 2 h0\r\n10\r\n",
    );
    c.roundtrip(
        b"set e 0 0 1\r\n5\r\ntouch e 100\r\nmg e h\r\n",
        b"STORED\r\nTOUCHED\r\nHD h1\r\n",
    );
    c.roundtrip(
        b"set f 0 0 1\r\n5\r\ngat 100 f\r\nmg f h\r\n",
        b"STORED\r\nVALUE f 0 1\r\n5\r\nEND\r\nHD h1\r\n",
    );
    c.roundtrip(
        b"set g 0 0 1\r\n5\r\nma g MI D2 N0 q\r\nmg g h v\r\n",
        b"STORED\r\nVA 1 h0\r\n7\r\n",
    );
    c.send(b"set h 0 100 1\r\n5\r\nme h\r\n");
    assert_eq!(c.read_line(), b"STORED\r\n");
    let me = String::from_utf8(c.read_line()).unwrap();
    assert!(me.starts_with("ME h exp=-100 la=0 cas="), "{me}");
    assert!(me.contains(" fetch=no cls=1 size="), "{me}");
}
