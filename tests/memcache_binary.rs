//! memcached binary protocol, byte for byte as memcached 1.6.18 answers (checked side by
//! side with the real server): every opcode, quiet and K variants, CAS, errors and bad input.

mod common;

use common::binary::{read_response, req};
use common::{Conn, Daemon};

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const DELETE: u8 = 0x04;
const INCREMENT: u8 = 0x05;
const DECREMENT: u8 = 0x06;
const QUIT: u8 = 0x07;
const FLUSH: u8 = 0x08;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const APPEND: u8 = 0x0e;
const PREPEND: u8 = 0x0f;
const STAT: u8 = 0x10;
const SETQ: u8 = 0x11;
const ADDQ: u8 = 0x12;
const DELETEQ: u8 = 0x14;
const INCREMENTQ: u8 = 0x15;
const QUITQ: u8 = 0x17;
const FLUSHQ: u8 = 0x18;
const APPENDQ: u8 = 0x19;
const TOUCH: u8 = 0x1c;
const GAT: u8 = 0x1d;
const GATQ: u8 = 0x1e;
const SASL_LIST_MECHS: u8 = 0x20;
const SASL_AUTH: u8 = 0x21;
const SASL_STEP: u8 = 0x22;
const GATK: u8 = 0x23;
const GATKQ: u8 = 0x24;

/// A response packet.
fn res(
    op: u8,
    status: u16,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    opaque: u32,
    cas: u64,
) -> Vec<u8> {
    let mut v = vec![0x81, op];
    v.extend_from_slice(&(key.len() as u16).to_be_bytes());
    v.push(extras.len() as u8);
    v.push(0);
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    v.extend_from_slice(&opaque.to_be_bytes());
    v.extend_from_slice(&cas.to_be_bytes());
    v.extend_from_slice(extras);
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    v
}

fn set_extras(flags: u32, exptime: u32) -> Vec<u8> {
    let mut e = flags.to_be_bytes().to_vec();
    e.extend_from_slice(&exptime.to_be_bytes());
    e
}

fn arith_extras(delta: u64, initial: u64, exptime: u32) -> Vec<u8> {
    let mut e = delta.to_be_bytes().to_vec();
    e.extend_from_slice(&initial.to_be_bytes());
    e.extend_from_slice(&exptime.to_be_bytes());
    e
}

/// Sets `key` and returns the CAS the server answered with.
fn set(c: &mut Conn, key: &[u8], value: &[u8], flags: u32) -> u64 {
    c.send(&req(SET, &set_extras(flags, 0), key, value, 0, 0));
    let r = read_response(c);
    assert_eq!((r.opcode, r.status), (SET, 0));
    assert!(r.extras.is_empty() && r.key.is_empty() && r.value.is_empty());
    r.cas
}

#[test]
fn get_set_and_their_quiet_and_k_variants() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let cas = set(&mut c, b"foo", b"bar", 0xdeadbeef);
    assert_ne!(cas, 0);
    let flags = 0xdeadbeefu32.to_be_bytes();
    c.roundtrip(
        &req(GET, &[], b"foo", &[], 7, 0),
        &res(GET, 0, &flags, b"", b"bar", 7, cas),
    );
    c.roundtrip(
        &req(GETK, &[], b"foo", &[], 8, 0),
        &res(GETK, 0, &flags, b"foo", b"bar", 8, cas),
    );
    // Misses: "Not found"; GETK echoes the key instead; quiet misses say nothing, so the
    // NOOP's reply is the next thing read. Quiet hits are still sent.
    c.roundtrip(
        &req(GET, &[], b"nope", &[], 9, 0),
        &res(GET, 1, b"", b"", b"Not found", 9, 0),
    );
    c.roundtrip(
        &req(GETK, &[], b"nope", &[], 10, 0),
        &res(GETK, 1, b"", b"nope", b"", 10, 0),
    );
    let mut batch = req(GETQ, &[], b"nope", &[], 1, 0);
    batch.extend(req(GETKQ, &[], b"nope", &[], 2, 0));
    batch.extend(req(GETQ, &[], b"foo", &[], 3, 0));
    batch.extend(req(GETKQ, &[], b"foo", &[], 4, 0));
    batch.extend(req(NOOP, &[], b"", &[], 5, 0));
    let mut want = res(GETQ, 0, &flags, b"", b"bar", 3, cas);
    want.extend(res(GETKQ, 0, &flags, b"foo", b"bar", 4, cas));
    want.extend(res(NOOP, 0, b"", b"", b"", 5, 0));
    c.roundtrip(&batch, &want);
    // SETQ says nothing on success; the stored value is there.
    c.send(&req(SETQ, &set_extras(1, 0), b"q", b"quiet", 0, 0));
    c.roundtrip(
        &req(NOOP, &[], b"", &[], 0, 0),
        &res(NOOP, 0, b"", b"", b"", 0, 0),
    );
    let r = {
        c.send(&req(GET, &[], b"q", &[], 0, 0));
        read_response(&mut c)
    };
    assert_eq!((r.status, r.value.as_slice()), (0, &b"quiet"[..]));
}

#[test]
fn add_replace_cas_append_prepend() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let cas = set(&mut c, b"k", b"v", 0);
    c.roundtrip(
        &req(ADD, &set_extras(0, 0), b"k", b"x", 1, 0),
        &res(ADD, 2, b"", b"", b"Data exists for key.", 1, 0),
    );
    c.roundtrip(
        &req(REPLACE, &set_extras(0, 0), b"absent", b"x", 2, 0),
        &res(REPLACE, 1, b"", b"", b"Not found", 2, 0),
    );
    // ADDQ of an existing key: errors are sent even for quiet opcodes.
    c.roundtrip(
        &req(ADDQ, &set_extras(0, 0), b"k", b"x", 3, 0),
        &res(ADDQ, 2, b"", b"", b"Data exists for key.", 3, 0),
    );
    // A wrong CAS is refused; the right one stores and returns a new CAS.
    c.roundtrip(
        &req(SET, &set_extras(0, 0), b"k", b"x", 4, cas + 1000),
        &res(SET, 2, b"", b"", b"Data exists for key.", 4, 0),
    );
    c.roundtrip(
        &req(SET, &set_extras(0, 0), b"absent", b"x", 4, 77),
        &res(SET, 1, b"", b"", b"Not found", 4, 0),
    );
    c.send(&req(SET, &set_extras(0, 0), b"k", b"w", 5, cas));
    let r = read_response(&mut c);
    assert_eq!((r.status, r.opaque), (0, 5));
    assert!(r.cas > cas);
    c.send(&req(APPEND, &[], b"k", b"++", 6, 0));
    assert_eq!(read_response(&mut c).status, 0);
    c.send(&req(PREPEND, &[], b"k", b"--", 7, 0));
    assert_eq!(read_response(&mut c).status, 0);
    c.send(&req(APPENDQ, &[], b"k", b"!", 8, 0));
    c.roundtrip(
        &req(APPEND, &[], b"absent", b"x", 9, 0),
        &res(APPEND, 5, b"", b"", b"Not stored.", 9, 0),
    );
    c.send(&req(GET, &[], b"k", &[], 0, 0));
    assert_eq!(read_response(&mut c).value, b"--w++!");
}

#[test]
fn delete_incr_decr() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let cas = set(&mut c, b"n", b"10", 0);
    c.roundtrip(
        &req(DELETE, &[], b"n", &[], 1, cas + 5),
        &res(DELETE, 2, b"", b"", b"Data exists for key.", 1, 0),
    );
    c.roundtrip(
        &req(DELETE, &[], b"n", &[], 2, cas),
        &res(DELETE, 0, b"", b"", b"", 2, 0),
    );
    c.roundtrip(
        &req(DELETE, &[], b"n", &[], 3, 0),
        &res(DELETE, 1, b"", b"", b"Not found", 3, 0),
    );
    c.send(&req(DELETEQ, &[], b"n", &[], 4, 0));
    assert_eq!(read_response(&mut c).status, 1);

    // A miss with expiration 0xffffffff is "Not found"; otherwise the initial value is
    // stored and returned (not incremented).
    c.roundtrip(
        &req(INCREMENT, &arith_extras(1, 5, u32::MAX), b"c", &[], 5, 0),
        &res(INCREMENT, 1, b"", b"", b"Not found", 5, 0),
    );
    c.send(&req(INCREMENT, &arith_extras(1, 5, 0), b"c", &[], 6, 0));
    let r = read_response(&mut c);
    assert_eq!((r.status, r.value.as_slice()), (0, &5u64.to_be_bytes()[..]));
    assert_ne!(r.cas, 0);
    c.send(&req(INCREMENT, &arith_extras(10, 0, 0), b"c", &[], 7, 0));
    assert_eq!(read_response(&mut c).value, 15u64.to_be_bytes());
    c.send(&req(DECREMENT, &arith_extras(100, 0, 0), b"c", &[], 8, 0));
    assert_eq!(read_response(&mut c).value, 0u64.to_be_bytes());
    c.send(&req(INCREMENTQ, &arith_extras(3, 0, 0), b"c", &[], 9, 0));
    c.roundtrip(
        &req(NOOP, &[], b"", &[], 10, 0),
        &res(NOOP, 0, b"", b"", b"", 10, 0),
    );
    set(&mut c, b"text", b"abc", 0);
    c.roundtrip(
        &req(INCREMENT, &arith_extras(1, 0, 0), b"text", &[], 11, 0),
        &res(
            INCREMENT,
            6,
            b"",
            b"",
            b"Non-numeric server-side value for incr or decr",
            11,
            0,
        ),
    );
    // incr/decr rewrite in place, padding a shorter number with spaces, as memcached does.
    c.send(&req(GET, &[], b"c", &[], 0, 0));
    assert_eq!(read_response(&mut c).value, b"3 ");
}

#[test]
fn touch_gat_and_their_variants() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let cas = set(&mut c, b"t", b"val", 3);
    let flags = 3u32.to_be_bytes();
    let exp = 100u32.to_be_bytes();
    c.roundtrip(
        &req(TOUCH, &exp, b"t", &[], 1, 0),
        &res(TOUCH, 0, &flags, b"", b"", 1, cas),
    );
    c.roundtrip(
        &req(GAT, &exp, b"t", &[], 2, 0),
        &res(GAT, 0, &flags, b"", b"val", 2, cas),
    );
    c.roundtrip(
        &req(GATK, &exp, b"t", &[], 3, 0),
        &res(GATK, 0, &flags, b"t", b"val", 3, cas),
    );
    c.roundtrip(
        &req(TOUCH, &exp, b"none", &[], 4, 0),
        &res(TOUCH, 1, b"", b"", b"Not found", 4, 0),
    );
    c.roundtrip(
        &req(GATK, &exp, b"none", &[], 5, 0),
        &res(GATK, 1, b"", b"none", b"", 5, 0),
    );
    let mut batch = req(GATQ, &exp, b"none", &[], 6, 0);
    batch.extend(req(GATKQ, &exp, b"none", &[], 7, 0));
    batch.extend(req(GATKQ, &exp, b"t", &[], 8, 0));
    batch.extend(req(NOOP, &[], b"", &[], 9, 0));
    let mut want = res(GATKQ, 0, &flags, b"t", b"val", 8, cas);
    want.extend(res(NOOP, 0, b"", b"", b"", 9, 0));
    c.roundtrip(&batch, &want);
    // An expiration in the past (absolute time 1) expires the item.
    c.roundtrip(
        &req(TOUCH, &(31 * 86400u32).to_be_bytes(), b"t", &[], 10, 0),
        &res(TOUCH, 0, &flags, b"", b"", 10, cas),
    );
    c.roundtrip(
        &req(GET, &[], b"t", &[], 11, 0),
        &res(GET, 1, b"", b"", b"Not found", 11, 0),
    );
}

#[test]
fn version_noop_flush_quit() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(
        &req(VERSION, &[], b"", &[], 1, 0),
        &res(VERSION, 0, b"", b"", b"1.6.18", 1, 0),
    );
    set(&mut c, b"f", b"1", 0);
    c.roundtrip(
        &req(FLUSH, &[], b"", &[], 2, 0),
        &res(FLUSH, 0, b"", b"", b"", 2, 0),
    );
    c.roundtrip(
        &req(GET, &[], b"f", &[], 3, 0),
        &res(GET, 1, b"", b"", b"Not found", 3, 0),
    );
    // FLUSHQ with a delay: silent, and the item survives until then.
    set(&mut c, b"f", b"1", 0);
    c.send(&req(FLUSHQ, &1000u32.to_be_bytes(), b"", &[], 4, 0));
    c.send(&req(GET, &[], b"f", &[], 5, 0));
    assert_eq!(read_response(&mut c).status, 0);
    c.roundtrip(
        &req(QUIT, &[], b"", &[], 6, 0),
        &res(QUIT, 0, b"", b"", b"", 6, 0),
    );
    assert!(c.closed());
    let mut c = d.connect();
    c.send(&req(QUITQ, &[], b"", &[], 7, 0));
    assert!(c.closed());
}

#[test]
fn flush_refused_with_dash_f() {
    let d = Daemon::start(&["-F"]);
    let mut c = d.connect();
    c.roundtrip(
        &req(FLUSH, &[], b"", &[], 1, 0),
        &res(FLUSH, 0x20, b"", b"", b"Auth failure.", 1, 0),
    );
}

/// Reads STAT packets up to the empty one; returns (name, value) pairs.
fn read_stats(c: &mut Conn, opaque: u32) -> Vec<(String, String)> {
    let mut v = Vec::new();
    loop {
        let r = read_response(c);
        assert_eq!((r.opcode, r.status, r.opaque), (STAT, 0, opaque));
        if r.key.is_empty() {
            assert!(r.value.is_empty());
            return v;
        }
        v.push((
            String::from_utf8(r.key).unwrap(),
            String::from_utf8(r.value).unwrap(),
        ));
    }
}

#[test]
fn stat_groups() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    set(&mut c, b"a", b"1", 0);
    c.send(&req(STAT, &[], b"", &[], 1, 0));
    let general = read_stats(&mut c, 1);
    assert_eq!(general[0].0, "pid");
    assert!(general.contains(&("cmd_set".into(), "1".into())));
    assert!(general.contains(&("curr_items".into(), "1".into())));
    c.send(&req(STAT, &[], b"settings", &[], 2, 0));
    let settings = read_stats(&mut c, 2);
    assert!(settings.contains(&("binding_protocol".into(), "auto-negotiate".into())));
    c.send(&req(STAT, &[], b"items", &[], 3, 0));
    assert!(read_stats(&mut c, 3).contains(&("items:1:number".into(), "1".into())));
    c.send(&req(STAT, &[], b"slabs", &[], 4, 0));
    assert!(read_stats(&mut c, 4).contains(&("active_slabs".into(), "1".into())));
    c.send(&req(STAT, &[], b"detail on", &[], 5, 0));
    assert!(read_stats(&mut c, 5).is_empty());
    c.send(&req(STAT, &[], b"reset", &[], 6, 0));
    assert!(read_stats(&mut c, 6).is_empty());
    c.roundtrip(
        &req(STAT, &[], b"bogus", &[], 7, 0),
        &res(STAT, 1, b"", b"", b"Not found", 7, 0),
    );
}

#[test]
fn bad_input_gets_memcached_errors_and_the_server_stays_up() {
    let d = Daemon::start(&["-I", "2k"]);
    // Unknown opcode: answered, the body thrown away, the connection stays.
    let mut c = d.connect();
    c.roundtrip(
        &req(0x1b, &[], b"", b"junk", 1, 0),
        &res(0x1b, 0x81, b"", b"", b"Unknown command", 1, 0),
    );
    c.roundtrip(
        &req(NOOP, &[], b"", &[], 2, 0),
        &res(NOOP, 0, b"", b"", b"", 2, 0),
    );
    // SASL without -S is an unknown command.
    c.roundtrip(
        &req(SASL_LIST_MECHS, &[], b"", &[], 3, 0),
        &res(SASL_LIST_MECHS, 0x81, b"", b"", b"Unknown command", 3, 0),
    );
    // A value over -I: "Too large.", the value is swallowed without being buffered.
    let big = vec![b'x'; 4096];
    c.roundtrip(
        &req(SET, &set_extras(0, 0), b"big", &big, 4, 0),
        &res(SET, 3, b"", b"", b"Too large.", 4, 0),
    );
    c.roundtrip(
        &req(NOOP, &[], b"", &[], 5, 0),
        &res(NOOP, 0, b"", b"", b"", 5, 0),
    );
    // Malformed for its opcode (GET with extras): "Invalid arguments", then closed.
    c.roundtrip(
        &req(GET, &[1, 2, 3, 4], b"k", &[], 6, 0),
        &res(GET, 4, b"", b"", b"Invalid arguments", 6, 0),
    );
    assert!(c.closed());
    // Key and extras longer than the body: "Unknown command", then closed.
    let mut c = d.connect();
    let mut lying = req(GET, &[], b"abcdef", &[], 8, 0);
    lying[8..12].copy_from_slice(&2u32.to_be_bytes());
    c.roundtrip(&lying, &res(GET, 0x81, b"", b"", b"Unknown command", 8, 0));
    assert!(c.closed());
    // A key over 250 bytes: "Invalid arguments", closed.
    let mut c = d.connect();
    c.roundtrip(
        &req(GET, &[], &[b'k'; 251], &[], 9, 0),
        &res(GET, 4, b"", b"", b"Invalid arguments", 9, 0),
    );
    assert!(c.closed());
    // A header claiming a 4 GB body costs nothing: "Too large." straight away.
    let mut c = d.connect();
    let mut huge = req(SET, &set_extras(0, 0), b"h", &[], 10, 0);
    huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    c.roundtrip(&huge, &res(SET, 3, b"", b"", b"Too large.", 10, 0));
    // Bad magic after a good request: closed without a reply.
    let mut c = d.connect();
    c.send(&req(NOOP, &[], b"", &[], 11, 0));
    c.send(&[0x81; 24]);
    assert_eq!(read_response(&mut c).opaque, 11);
    assert!(c.closed());
    let mut c = d.connect();
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
}

#[test]
fn binding_binary_refuses_text() {
    let d = Daemon::start(&["-B", "binary"]);
    let mut c = d.connect();
    // A whole header's worth of text: not the binary magic, closed without a reply.
    c.send(b"get aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    assert!(c.closed());
    let mut c = d.connect();
    c.roundtrip(
        &req(VERSION, &[], b"", &[], 1, 0),
        &res(VERSION, 0, b"", b"", b"1.6.18", 1, 0),
    );
}

#[test]
fn text_and_binary_share_the_store_and_cas() {
    let d = Daemon::start(&[]);
    let mut b = d.connect();
    let cas = set(&mut b, b"shared", b"from-binary", 5);
    let mut t = d.connect();
    t.roundtrip(
        b"gets shared\r\n",
        format!("VALUE shared 5 11 {cas}\r\nfrom-binary\r\nEND\r\n").as_bytes(),
    );
}

fn sasl_plain(user: &str, pass: &str) -> Vec<u8> {
    format!("\0{user}\0{pass}").into_bytes()
}

#[test]
fn sasl_plain_login() {
    let dir = std::env::temp_dir().join(format!("slabd-sasl-{}", std::process::id()));
    std::fs::write(&dir, "alice:wonderland\n").unwrap();
    std::env::set_var("MEMCACHED_SASL_PWDB", &dir);
    let d = Daemon::start(&["-S"]);
    let mut c = d.connect();
    // Before a login only VERSION and SASL run; anything else is refused and closed.
    c.roundtrip(
        &req(VERSION, &[], b"", &[], 1, 0),
        &res(VERSION, 0, b"", b"", b"1.6.18", 1, 0),
    );
    c.roundtrip(
        &req(SASL_LIST_MECHS, &[], b"", &[], 2, 0),
        &res(SASL_LIST_MECHS, 0, b"", b"", b"PLAIN", 2, 0),
    );
    c.roundtrip(
        &req(SASL_AUTH, &[], b"PLAIN", &sasl_plain("alice", "nope"), 3, 0),
        &res(SASL_AUTH, 0x20, b"", b"", b"Auth failure.", 3, 0),
    );
    c.roundtrip(
        &req(
            SASL_STEP,
            &[],
            b"PLAIN",
            &sasl_plain("alice", "wonderland"),
            4,
            0,
        ),
        &res(SASL_STEP, 0x20, b"", b"", b"Auth failure.", 4, 0),
    );
    c.roundtrip(
        &req(GET, &[], b"k", &[], 5, 0),
        &res(GET, 0x20, b"", b"", b"Auth failure.", 5, 0),
    );
    assert!(c.closed());
    // PLAIN in one step.
    let mut c = d.connect();
    c.roundtrip(
        &req(
            SASL_AUTH,
            &[],
            b"PLAIN",
            &sasl_plain("alice", "wonderland"),
            6,
            0,
        ),
        &res(SASL_AUTH, 0, b"", b"", b"Authenticated", 6, 0),
    );
    c.roundtrip(
        &req(GET, &[], b"k", &[], 7, 0),
        &res(GET, 1, b"", b"", b"Not found", 7, 0),
    );
    // PLAIN with the message in a SASL_STEP after an empty SASL_AUTH.
    let mut c = d.connect();
    c.roundtrip(
        &req(SASL_AUTH, &[], b"PLAIN", b"", 8, 0),
        &res(SASL_AUTH, 0x21, b"", b"", b"", 8, 0),
    );
    c.roundtrip(
        &req(
            SASL_STEP,
            &[],
            b"PLAIN",
            &sasl_plain("alice", "wonderland"),
            9,
            0,
        ),
        &res(SASL_STEP, 0, b"", b"", b"Authenticated", 9, 0),
    );
    c.send(&req(STAT, &[], b"", &[], 10, 0));
    let stats = read_stats(&mut c, 10);
    assert!(stats.contains(&("auth_cmds".into(), "4".into())));
    assert!(stats.contains(&("auth_errors".into(), "2".into())));
    // Text clients are not served at all with -S.
    let mut c = d.connect();
    c.send(b"get kkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\n");
    assert!(c.closed());
    let _ = std::fs::remove_file(dir);
}
