//! Command tests through [`process`] with a real store, asserting exact reply bytes.

use std::sync::Arc;

use super::*;
use crate::commands::{Protocol, Session};
use crate::config::Settings;
use crate::storage::{Clock, Store, StoreConfig};

struct Rig {
    ctx: Context,
    session: Session,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(Settings::default())
    }

    fn with(mut settings: Settings) -> Rig {
        settings.threads = 1;
        let clock = Arc::new(Clock::manual(1_700_000_000));
        let store = Store::new(
            StoreConfig {
                memory_limit: settings.memory_limit,
                item_size_max: settings.item_size_max,
                slab_chunk_max: settings.slab_chunk_max.min(settings.item_size_max),
                ..StoreConfig::default()
            },
            clock,
        )
        .unwrap();
        let ctx = Context::new(store, settings);
        let info = ctx
            .clients
            .open("127.0.0.1:5000".into(), "127.0.0.1:11211".into(), 0);
        let session = Session::new(info, Protocol::Memcache, 0);
        Rig { ctx, session }
    }

    /// Feeds `input` as the server would, returning the replies and the last step.
    fn run(&mut self, input: &[u8]) -> (Vec<u8>, Step) {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let step = process(&self.ctx, &mut self.session, &input[at..], &mut out);
            match step {
                Step::Done(n) => {
                    assert!(n > 0 && at + n <= input.len(), "bad consumed {n}");
                    at += n;
                }
                other => return (out, other),
            }
        }
    }

    fn reply(&mut self, input: &[u8]) -> String {
        let (out, step) = self.run(input);
        assert_eq!(
            step,
            Step::Incomplete,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[test]
fn errors_without_touching_the_store() {
    let mut r = Rig::new();
    assert_eq!(r.reply(b"foo\r\n"), "ERROR\r\n");
    assert_eq!(r.reply(b"\r\n"), "ERROR\r\n");
    assert_eq!(
        r.reply(b"set a 0 0 -1\r\nxy\r\n"),
        "CLIENT_ERROR bad command line format\r\nERROR\r\n"
    );
    assert_eq!(
        r.reply(b"incr a abc\r\n"),
        "CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert_eq!(
        r.reply(b"touch a abc\r\n"),
        "CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(
        r.reply(b"delete a 5\r\n"),
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    );
    assert_eq!(r.reply(b"version\r\n"), "VERSION 1.6.18\r\n");
    assert_eq!(r.reply(b"verbosity 1\r\nverbosity 1 noreply\r\n"), "OK\r\n");
    assert_eq!(r.reply(b"mn\r\n"), "MN\r\n");
    assert_eq!(r.reply(b"mg foo zz\r\n"), "CLIENT_ERROR invalid flag\r\n");
    assert_eq!(r.reply(b"shutdown\r\n"), "ERROR: shutdown not enabled\r\n");
    assert_eq!(
        r.reply(b"cache_memlimit 1\r\n"),
        "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
    );
    assert_eq!(
        r.reply(b"stats detail\r\n"),
        "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
    );
    assert_eq!(
        r.reply(b"stats detail on\r\nstats detail dump\r\n"),
        "OK\r\nEND\r\n"
    );
}

#[test]
fn too_large_data_is_swallowed_as_it_arrives() {
    let mut r = Rig::new();
    let line = b"set a 0 0 2000000\r\n";
    let (out, step) = r.run(line);
    assert_eq!(out, b"SERVER_ERROR object too large for cache\r\n");
    assert_eq!(step, Step::Incomplete);
    // The data comes in pieces; none of it is taken for a command.
    let chunk = vec![b'x'; 100_000];
    for _ in 0..20 {
        let (out, _) = r.run(&chunk);
        assert!(out.is_empty());
    }
    assert_eq!(r.reply(b"\r\nversion\r\n"), "VERSION 1.6.18\r\n");
    // noreply hides the error but the data is still thrown away.
    let mut input = b"set a 0 0 2000000 noreply\r\n".to_vec();
    input.extend(std::iter::repeat(b'y').take(2_000_002));
    input.extend_from_slice(b"mn\r\n");
    assert_eq!(r.reply(&input), "MN\r\n");
    // A bad meta flag throws the data away too.
    assert_eq!(
        r.reply(b"ms foo 2 X\r\nzz\r\nmn\r\n"),
        "CLIENT_ERROR invalid flag\r\nMN\r\n"
    );
}

#[test]
fn quit_shutdown_and_long_lines() {
    let mut r = Rig::new();
    assert_eq!(r.run(b"quit\r\nversion\r\n"), (Vec::new(), Step::Close));
    assert_eq!(r.run(&[b'x'; 2100]), (Vec::new(), Step::Close));
    let mut r = Rig::with(Settings {
        shutdown_enabled: true,
        ..Settings::default()
    });
    assert_eq!(r.run(b"shutdown\r\n").1, Step::Shutdown);
}

#[test]
fn flush_all_refused_with_flush_disabled() {
    let mut r = Rig::with(Settings {
        flush_enabled: false,
        ..Settings::default()
    });
    assert_eq!(
        r.reply(b"flush_all\r\nflush_all noreply\r\n"),
        "CLIENT_ERROR flush_all not allowed\r\n"
    );
}

#[test]
fn expiry_follows_the_clock() {
    let mut r = Rig::new();
    assert_eq!(
        r.reply(b"set a 0 10 1\r\nx\r\nset b 0 0 1\r\ny\r\n"),
        "STORED\r\nSTORED\r\n"
    );
    assert_eq!(r.reply(b"get a\r\n"), "VALUE a 0 1\r\nx\r\nEND\r\n");
    r.ctx.store.clock().advance(11);
    assert_eq!(r.reply(b"get a b\r\n"), "VALUE b 0 1\r\ny\r\nEND\r\n");
    let t = crate::stats::sum(&r.ctx.threads);
    assert_eq!((t.get_expired, t.get_misses, t.get_hits), (1, 1, 2));
    // gat sets a new expiry on a hit.
    assert_eq!(r.reply(b"gat 5 b\r\n"), "VALUE b 0 1\r\ny\r\nEND\r\n");
    r.ctx.store.clock().advance(6);
    assert_eq!(r.reply(b"get b\r\n"), "END\r\n");
    // An absolute unix time in the past expires at once.
    assert_eq!(
        r.reply(b"set c 0 2592001 1\r\nz\r\nget c\r\n"),
        "STORED\r\nEND\r\n"
    );
}

#[test]
fn delayed_flush() {
    let mut r = Rig::new();
    assert_eq!(
        r.reply(b"set a 0 0 1\r\nx\r\nflush_all 10\r\nget a\r\n"),
        "STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
    );
    r.ctx.store.clock().advance(11);
    assert_eq!(r.reply(b"get a\r\n"), "END\r\n");
    assert_eq!(crate::stats::sum(&r.ctx.threads).cmd_flush, 1);
}

#[test]
fn meta_ttl_reported_in_flag_order() {
    let mut r = Rig::new();
    assert_eq!(
        r.reply(b"ms foo 2 T100\r\nhi\r\nmg foo t T50\r\nmg foo t\r\nmg foo T20 t\r\n"),
        "HD\r\nHD t100\r\nHD t50\r\nHD t20\r\n"
    );
    r.ctx.store.clock().advance(5);
    assert_eq!(r.reply(b"mg foo t\r\n"), "HD t15\r\n");
    assert_eq!(r.reply(b"ma n N0 J1 T30 t v\r\n"), "VA 1 t30\r\n1\r\n");
}

#[test]
fn gets_reports_the_cas_that_cas_accepts() {
    let mut r = Rig::new();
    r.reply(b"set a 0 0 1\r\nx\r\n");
    let reply = r.reply(b"gets a\r\n");
    let cas: u64 = reply
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let req = format!("cas a 0 0 1 {cas}\r\ny\r\ncas a 0 0 1 {cas}\r\nz\r\n");
    assert_eq!(r.reply(req.as_bytes()), "STORED\r\nEXISTS\r\n");
    let t = crate::stats::sum(&r.ctx.threads);
    assert_eq!((t.cas_hits, t.cas_badval, t.cmd_set), (1, 1, 3));
}

/// Feeds `input` in pieces of the given sizes the way the server does (append, then process
/// until a request is incomplete) and returns all replies.
fn run_chunked(input: &[u8], sizes: &[usize]) -> Vec<u8> {
    // A small -I so that a refused value's discarded data is short enough to be followed by
    // more requests.
    let mut r = Rig::with(Settings {
        item_size_max: 4096,
        ..Settings::default()
    });
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < input.len() {
        let n = (*sizes.next().unwrap()).clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            match process(&r.ctx, &mut r.session, &buf, &mut out) {
                Step::Done(used) => {
                    buf.drain(..used);
                }
                Step::Incomplete => break,
                Step::Close | Step::Shutdown | Step::Blocked => return out,
            }
        }
    }
    out
}

proptest::proptest! {
    /// However the bytes are split, the replies are the same as for one write.
    #[test]
    fn replies_do_not_depend_on_how_input_is_split(
        picks in proptest::collection::vec(0usize..REQUESTS.len(), 1..40),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let input: Vec<u8> = picks.iter().flat_map(|&i| REQUESTS[i].iter().copied()).collect();
        let whole = run_chunked(&input, &[input.len()]);
        let split = run_chunked(&input, &sizes);
        proptest::prop_assert_eq!(
            String::from_utf8_lossy(&whole),
            String::from_utf8_lossy(&split)
        );
    }
}

/// Requests, good and bad, that the split test strings together.
const REQUESTS: &[&[u8]] = &[
    b"set a 1 0 3\r\nabc\r\n",
    b"set b 0 0 2 noreply\r\nxy\r\n",
    b"get a b c\r\n",
    b"gets a\r\n",
    b"append a 0 0 1\r\n!\r\n",
    b"incr n 7\r\n",
    b"set n 0 0 1\r\n5\r\n",
    b"decr n 2\r\n",
    b"delete b\r\n",
    b"touch a 100\r\n",
    b"gat 50 a n\r\n",
    b"set a 0 0 1\r\nxyz\r\n",
    b"set a 0 0 -1\r\n",
    b"set big 0 0 5000\r\n",
    b"set big 0 0 5000 noreply\r\n",
    b"bogus\r\n",
    b"\n",
    b"mg a v f t k O1\r\n",
    b"ms m 2 T0 c\r\nhi\r\n",
    b"ms m 2 X\r\nhi\r\n",
    b"md m q\r\n",
    b"ma c N0 J3 v\r\n",
    b"mg nope v q\r\n",
    b"mn\r\n",
    b"version\r\n",
    b"verbosity 1 noreply\r\n",
];
