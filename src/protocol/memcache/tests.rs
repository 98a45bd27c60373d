//! Parser tests with literal wire bytes. Expected outcomes were checked against memcached
//! 1.6.18 (`memcached -p PORT -U 0`) where memcached defines them.

use super::*;

const LIMITS: Limits = Limits {
    item_size_max: 1 << 20,
};

fn parse_ok(input: &[u8]) -> (Command<'_>, usize) {
    match parse(input, &LIMITS) {
        Parsed::Request { command, consumed } => (command, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn parse_err(input: &[u8]) -> (Error, usize, usize, bool) {
    match parse(input, &LIMITS) {
        Parsed::Rejected {
            error,
            consumed,
            swallow,
            noreply,
            ..
        } => (error, consumed, swallow, noreply),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// Every proper prefix of a whole request is Incomplete.
fn assert_prefixes_incomplete(input: &[u8]) {
    for n in 0..input.len() {
        assert!(
            matches!(parse(&input[..n], &LIMITS), Parsed::Incomplete),
            "prefix {:?} of {:?}",
            String::from_utf8_lossy(&input[..n]),
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn get_and_gets_with_many_keys() {
    let (c, n) = parse_ok(b"get a bb  ccc\r\nget x\r\n");
    assert_eq!(n, 15);
    let Command::Get { keys, cas, touch } = c else {
        panic!()
    };
    assert!(!cas && touch.is_none());
    assert_eq!(keys.iter().collect::<Vec<_>>(), [&b"a"[..], b"bb", b"ccc"]);
    let (c, _) = parse_ok(b"gets k\n");
    assert!(matches!(c, Command::Get { cas: true, .. }));
}

#[test]
fn gat_and_gats() {
    let (c, _) = parse_ok(b"gats 10 a b\r\n");
    let Command::Get { keys, cas, touch } = c else {
        panic!()
    };
    assert!(cas);
    assert_eq!(touch, Some(10));
    assert_eq!(keys.iter().count(), 2);
    // memcached answers a bare END to a gat without keys.
    let (c, _) = parse_ok(b"gat 10\r\n");
    assert!(matches!(
        c,
        Command::Get {
            touch: Some(10),
            ..
        }
    ));
    assert_eq!(parse_err(b"gat abc a\r\n").0, Error::InvalidExptime);
    assert_eq!(parse_err(b"gat\r\n").0, Error::UnknownCommand);
}

#[test]
fn get_errors() {
    assert_eq!(parse_err(b"get\r\n"), (Error::UnknownCommand, 5, 0, false));
    let mut long = b"get ".to_vec();
    long.extend(std::iter::repeat(b'k').take(251));
    long.extend_from_slice(b"\r\n");
    assert_eq!(parse_err(&long).0, Error::BadFormat);
}

#[test]
fn keys_may_hold_control_characters_as_in_memcached() {
    let input = b"get a\x01\x7f\tb\r\n";
    let (c, n) = parse_ok(input);
    assert_eq!(n, input.len());
    assert!(matches!(c, Command::Get { .. }), "{c:?}");
}

#[test]
fn set_with_data() {
    let input = b"set foo 5 100 3\r\nbar\r\n";
    let (c, n) = parse_ok(input);
    assert_eq!(n, input.len());
    let Command::Store {
        verb,
        key,
        flags,
        exptime,
        data,
        noreply,
        ..
    } = c
    else {
        panic!()
    };
    assert_eq!(
        (verb, key, flags, exptime, data, noreply),
        (StoreVerb::Set, &b"foo"[..], 5, 100, &b"bar"[..], false)
    );
    assert_prefixes_incomplete(input);
}

#[test]
fn every_storage_verb_and_noreply() {
    for (word, verb) in [
        ("set", StoreVerb::Set),
        ("add", StoreVerb::Add),
        ("replace", StoreVerb::Replace),
        ("append", StoreVerb::Append),
        ("prepend", StoreVerb::Prepend),
    ] {
        let input = format!("{word} k 0 0 1 noreply\r\nx\r\n");
        let (c, _) = parse_ok(input.as_bytes());
        assert!(matches!(c, Command::Store { verb: v, noreply: true, .. } if v == verb));
    }
    let (c, _) = parse_ok(b"cas k 1 2 1 99\r\nx\r\n");
    assert!(matches!(
        c,
        Command::Store {
            verb: StoreVerb::Cas,
            cas_unique: 99,
            noreply: false,
            ..
        }
    ));
    // A last word other than noreply is ignored, as memcached does.
    let (c, _) = parse_ok(b"set k 0 0 1 foo\r\nx\r\n");
    assert!(matches!(c, Command::Store { noreply: false, .. }));
}

#[test]
fn storage_line_errors() {
    // Bad numbers: error, the data line is left to be read as a command (memcached does so).
    for line in [
        &b"set a 0 0 -1\r\n"[..],
        b"set a abc 0 1\r\n",
        b"set a -1 0 1\r\n",
        b"set a 0 abc 1\r\n",
        b"set a 0 0 abc\r\n",
        b"set a 0 0 1x\r\n",
        b"set a 99999999999999999999 0 1\r\n",
        b"set a 0 0 2147483647\r\n",
        b"cas a 0 0 1 abc\r\n",
    ] {
        assert_eq!(
            parse_err(line),
            (Error::BadFormat, line.len(), 0, false),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(parse_err(b"set a 0 0\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"set a 0 0 1 2 3\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"cas a 0 0 1\r\n").0, Error::UnknownCommand);
    let mut long = b"set ".to_vec();
    long.extend(std::iter::repeat(b'k').take(251));
    long.extend_from_slice(b" 0 0 1\r\n");
    assert_eq!(parse_err(&long).0, Error::BadFormat);
}

#[test]
fn flags_wrap_at_32_bits_and_exptime_may_be_negative() {
    let (c, _) = parse_ok(b"set a 4294967297 -1 1\r\nx\r\n");
    assert!(matches!(
        c,
        Command::Store {
            flags: 1,
            exptime: -1,
            ..
        }
    ));
}

#[test]
fn bad_data_chunk_uses_len_plus_two() {
    assert_eq!(
        parse_err(b"set a 0 0 1\r\nxy\r\n"),
        (Error::BadDataChunk, 13 + 3, 0, false)
    );
    assert_eq!(
        parse_err(b"set a 0 0 1 noreply\r\nxy\r\n"),
        (Error::BadDataChunk, 21 + 3, 0, true)
    );
    // Telnet-style bare \n after data is not a valid terminator.
    assert_eq!(parse_err(b"set a 0 0 1\nx\nget a\n").0, Error::BadDataChunk);
}

#[test]
fn too_large_is_rejected_before_the_data_arrives() {
    let line = b"set a 0 0 2000000\r\n";
    assert_eq!(
        parse_err(line),
        (Error::TooLarge, line.len(), 2_000_002, false)
    );
    let line = b"set a 0 0 2000000 noreply\r\n";
    assert!(parse_err(line).3);
}

#[test]
fn bare_newlines_and_spaces() {
    let (c, n) = parse_ok(b"set  a  0 0 1\nx\r\n");
    assert_eq!(n, 17);
    assert!(matches!(c, Command::Store { key: b"a", .. }));
    let (c, _) = parse_ok(b" mg foo v\r\n");
    assert!(matches!(c, Command::MetaGet { .. }));
    assert_eq!(parse_err(b"\r\n"), (Error::UnknownCommand, 2, 0, false));
    assert_eq!(parse_err(b"\n"), (Error::UnknownCommand, 1, 0, false));
    assert_eq!(parse_err(b"GET a\r\n").0, Error::UnknownCommand);
}

#[test]
fn long_lines() {
    assert!(matches!(parse(&[b'x'; 2048], &LIMITS), Parsed::Incomplete));
    assert_eq!(parse_err(&[b'x'; 2049]), (Error::LineTooLong, 0, 0, false));
    assert!(Error::LineTooLong.closes());
    // get/gets may carry long key lists.
    let mut get = b"get ".to_vec();
    get.extend(std::iter::repeat(b"k ").take(3000).flatten());
    assert!(matches!(parse(&get, &LIMITS), Parsed::Incomplete));
    get.extend_from_slice(b"\r\n");
    let (c, _) = parse_ok(&get);
    let Command::Get { keys, .. } = c else {
        panic!()
    };
    assert_eq!(keys.iter().count(), 3000);
    // A long line that did arrive with its newline is parsed (memcached: ERROR).
    let mut junk = vec![b'x'; 3000];
    junk.extend_from_slice(b"\r\n");
    assert_eq!(parse_err(&junk).0, Error::UnknownCommand);
}

#[test]
fn delete_forms() {
    assert!(matches!(
        parse_ok(b"delete a\r\n").0,
        Command::Delete { noreply: false, .. }
    ));
    assert!(matches!(
        parse_ok(b"delete a 0\r\n").0,
        Command::Delete { noreply: false, .. }
    ));
    assert!(matches!(
        parse_ok(b"delete a noreply\r\n").0,
        Command::Delete { noreply: true, .. }
    ));
    assert!(matches!(
        parse_ok(b"delete a 0 noreply\r\n").0,
        Command::Delete { noreply: true, .. }
    ));
    assert_eq!(parse_err(b"delete a 5\r\n").0, Error::DeleteUsage);
    assert_eq!(parse_err(b"delete a b c\r\n").0, Error::DeleteUsage);
    assert_eq!(parse_err(b"delete\r\n").0, Error::UnknownCommand);
    assert_eq!(
        Error::DeleteUsage.wire(),
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
    );
}

#[test]
fn incr_decr() {
    assert!(matches!(
        parse_ok(b"incr n 5\r\n").0,
        Command::Arith {
            incr: true,
            delta: 5,
            noreply: false,
            ..
        }
    ));
    assert!(matches!(
        parse_ok(b"decr n 18446744073709551615 noreply\r\n").0,
        Command::Arith {
            incr: false,
            delta: u64::MAX,
            noreply: true,
            ..
        }
    ));
    for bad in [
        &b"incr n abc\r\n"[..],
        b"incr n -1\r\n",
        b"incr n 18446744073709551616\r\n",
    ] {
        assert_eq!(parse_err(bad).0, Error::InvalidDelta);
    }
    assert_eq!(parse_err(b"incr n\r\n").0, Error::UnknownCommand);
}

#[test]
fn touch_flush_verbosity_misc() {
    assert!(matches!(
        parse_ok(b"touch a 10 noreply\r\n").0,
        Command::Touch {
            exptime: 10,
            noreply: true,
            ..
        }
    ));
    assert_eq!(parse_err(b"touch a abc\r\n").0, Error::InvalidExptime);
    assert_eq!(parse_err(b"touch a\r\n").0, Error::UnknownCommand);
    for (line, delay, noreply) in [
        (&b"flush_all\r\n"[..], 0, false),
        (b"flush_all 0\r\n", 0, false),
        (b"flush_all noreply\r\n", 0, true),
        (b"flush_all 10 noreply\r\n", 10, true),
        (b"flush_all 1 2\r\n", 1, false),
        (b"flush_all -1\r\n", -1, false),
    ] {
        let (c, _) = parse_ok(line);
        assert!(
            matches!(c, Command::FlushAll { delay: d, noreply: n } if d == delay && n == noreply),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(parse_err(b"flush_all abc\r\n").0, Error::InvalidExptime);
    assert_eq!(
        parse_err(b"flush_all noreply x\r\n").0,
        Error::InvalidExptime
    );
    assert_eq!(parse_err(b"flush_all 1 2 3\r\n").0, Error::UnknownCommand);
    assert!(matches!(parse_ok(b"version\r\n").0, Command::Version));
    assert!(matches!(parse_ok(b"quit\r\n").0, Command::Quit));
    assert!(matches!(
        parse_ok(b"verbosity 1 noreply\r\n").0,
        Command::Verbosity {
            level: 1,
            noreply: true
        }
    ));
    assert_eq!(parse_err(b"verbosity\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"verbosity abc\r\n").0, Error::BadFormat);
    assert_eq!(parse_err(b"verbosity 1 2 3\r\n").0, Error::UnknownCommand);
    // A lone `noreply` still silences the error it causes, as memcached does.
    for line in [
        &b"verbosity noreply\r\n"[..],
        b"incr a noreply\r\n",
        b"touch a noreply\r\n",
        b"cache_memlimit noreply\r\n",
        b"set a 0 0 noreply\r\n",
    ] {
        assert!(parse_err(line).3, "{:?}", String::from_utf8_lossy(line));
    }
    assert!(matches!(
        parse_ok(b"shutdown\r\n").0,
        Command::Shutdown {
            graceful: Some(false)
        }
    ));
    // Refused at run time, after the -A check, as memcached does.
    assert!(matches!(
        parse_ok(b"shutdown foo\r\n").0,
        Command::Shutdown { graceful: None }
    ));
    assert!(matches!(
        parse_ok(b"cache_memlimit 100\r\n").0,
        Command::CacheMemlimit { megabytes: 100, .. }
    ));
    assert_eq!(parse_err(b"cache_memlimit abc\r\n").0.wire(), b"ERROR");
}

#[test]
fn stats_slabs_lru_crawler() {
    for (line, group) in [
        (&b"stats\r\n"[..], StatsGroup::General),
        (b"stats settings\r\n", StatsGroup::Settings),
        (b"stats items\r\n", StatsGroup::Items),
        (b"stats slabs\r\n", StatsGroup::Slabs),
        (b"stats sizes\r\n", StatsGroup::Sizes),
        (b"stats conns\r\n", StatsGroup::Conns),
        (b"stats reset\r\n", StatsGroup::Reset),
        (b"stats detail on\r\n", StatsGroup::DetailOn),
        (b"stats detail off\r\n", StatsGroup::DetailOff),
        (b"stats detail dump\r\n", StatsGroup::DetailDump),
    ] {
        assert!(matches!(parse_ok(line).0, Command::Stats(g) if g == group));
    }
    assert_eq!(parse_err(b"stats foo\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"stats detail\r\n").0, Error::StatsDetailUsage);
    assert!(matches!(
        parse_ok(b"slabs reassign 1 2\r\n").0,
        Command::SlabsReassign { src: 1, dst: 2 }
    ));
    assert!(matches!(
        parse_ok(b"slabs reassign -1 2\r\n").0,
        Command::SlabsReassign { src: -1, dst: 2 }
    ));
    assert_eq!(parse_err(b"slabs reassign a\r\n").0, Error::UnknownCommand);
    assert!(matches!(
        parse_ok(b"slabs automove 2\r\n").0,
        Command::SlabsAutomove(2)
    ));
    assert_eq!(parse_err(b"slabs automove 3\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"slabs\r\n").0, Error::UnknownCommand);
    assert!(matches!(
        parse_ok(b"lru_crawler crawl all\r\n").0,
        Command::LruCrawlerCrawl(ClassSelector::All)
    ));
    assert!(matches!(
        parse_ok(b"lru_crawler metadump 1,2\r\n").0,
        Command::LruCrawlerMetadump(ClassSelector::Ids(b"1,2"))
    ));
    assert_eq!(
        parse_err(b"lru_crawler metadump foo\r\n").0.wire(),
        b"BADCLASS invalid class id"
    );
    assert_eq!(parse_err(b"lru_crawler\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"lru_crawler foo\r\n").0, Error::UnknownCommand);
}

#[test]
fn meta_get() {
    let input = b"mg foo k v f t c s l h O123 q\r\n";
    let (c, n) = parse_ok(input);
    assert_eq!(n, input.len());
    let Command::MetaGet { key, flags } = c else {
        panic!()
    };
    assert_eq!(key.bytes(), b"foo");
    assert_eq!(flags.opaque, Some(&b"123"[..]));
    assert!(flags.quiet && flags.return_value);
    assert_prefixes_incomplete(input);
    assert_eq!(parse_err(b"mg\r\n").0, Error::UnknownCommand);
    assert_eq!(parse_err(b"mg foo zz\r\n").0, Error::InvalidFlag);
    assert_eq!(parse_err(b"mg foo v v\r\n").0, Error::DuplicateFlag);
    assert_eq!(parse_err(b"mg foo Tabc\r\n").0, Error::BadToken);
    let (c, _) = parse_ok(b"mg Zm9v b k v\r\n");
    let Command::MetaGet { key, .. } = c else {
        panic!()
    };
    assert_eq!(
        (key.bytes(), key.raw, key.base64),
        (&b"foo"[..], &b"Zm9v"[..], true)
    );
    assert_eq!(parse_err(b"mg Zm9 b v\r\n").0, Error::KeyDecode);
}

#[test]
fn meta_set() {
    let input = b"ms foo 2 T100 F5 c k O9\r\nhi\r\n";
    let (c, n) = parse_ok(input);
    assert_eq!(n, input.len());
    let Command::MetaSet { key, flags, data } = c else {
        panic!()
    };
    assert_eq!((key.bytes(), data), (&b"foo"[..], &b"hi"[..]));
    assert_eq!((flags.ttl, flags.client_flags), (Some(100), Some(5)));
    assert_prefixes_incomplete(input);
    // Bad length or key: no data block is assumed (memcached then reads it as a command).
    assert_eq!(
        parse_err(b"ms foo abc\r\n"),
        (Error::BadFormat, 12, 0, false)
    );
    assert_eq!(parse_err(b"ms foo\r\n").0, Error::BadFormat);
    assert_eq!(parse_err(b"ms foo S2\r\n").0, Error::BadFormat);
    // Bad flags: the announced data block is thrown away.
    assert_eq!(
        parse_err(b"ms foo 2 X\r\n"),
        (Error::InvalidFlag, 12, 4, false)
    );
    assert_eq!(parse_err(b"ms foo 2 MZ\r\n").0, Error::InvalidSetMode);
    assert_eq!(parse_err(b"ms foo 2 b\r\n").0, Error::KeyDecode);
    assert_eq!(
        parse_err(b"ms foo 2000000\r\n"),
        (Error::TooLarge, 16, 2_000_002, false)
    );
    assert_eq!(parse_err(b"ms foo 2\r\nzzz\r\n").0, Error::BadDataChunk);
}

#[test]
fn meta_delete_arith_debug_noop() {
    let (c, _) = parse_ok(b"md foo I T30 q\r\n");
    let Command::MetaDelete { flags, .. } = c else {
        panic!()
    };
    assert!(flags.invalidate && flags.quiet);
    assert_eq!(flags.ttl, Some(30));
    assert_eq!(parse_err(b"md foo v\r\n").0, Error::InvalidOrDuplicateFlag);
    let (c, _) = parse_ok(b"ma cnt N0 J13 v MD D5\r\n");
    let Command::MetaArith { flags, .. } = c else {
        panic!()
    };
    assert_eq!(
        (flags.delta, flags.initial, flags.mode),
        (Some(5), Some(13), Some(b'D'))
    );
    assert_eq!(parse_err(b"ma cnt MX\r\n").0, Error::InvalidArithMode);
    assert!(matches!(
        parse_ok(b"me foo\r\n").0,
        Command::MetaDebug { .. }
    ));
    assert_eq!(parse_err(b"me\r\n").0, Error::BadFormat);
    assert_eq!(parse_err(b"me foo b\r\n").0, Error::BadFormat);
    assert!(matches!(parse_ok(b"mn\r\n").0, Command::MetaNoop));
    assert!(matches!(parse_ok(b"mn foo\r\n").0, Command::MetaNoop));
}

#[test]
fn every_prefix_of_every_request_is_incomplete() {
    for input in [
        &b"get a b\r\n"[..],
        b"gets a\n",
        b"gat 1 a\r\n",
        b"set k 1 2 5\r\nhello\r\n",
        b"cas k 1 2 5 7 noreply\r\nhello\r\n",
        b"delete k\r\n",
        b"incr k 1\r\n",
        b"touch k 1\r\n",
        b"flush_all\r\n",
        b"stats slabs\r\n",
        b"ms k 3 T1\r\nabc\r\n",
        b"md k q\r\n",
        b"ma k v\r\n",
        b"mn\r\n",
    ] {
        assert_prefixes_incomplete(input);
        assert!(
            matches!(parse(input, &LIMITS), Parsed::Request { consumed, .. } if consumed == input.len())
        );
    }
}

#[test]
fn parser_never_panics_on_junk() {
    // A cheap deterministic fuzz: every single-byte mutation of a few requests.
    let seeds: [&[u8]; 4] = [
        b"set k 1 2 3\r\nabc\r\n",
        b"ms Zm9v 2 b T5 MA\r\nzz\r\n",
        b"ma k N0 J1 D2 MD\r\n",
        b"gats 5 a b c\r\n",
    ];
    for seed in seeds {
        for i in 0..seed.len() {
            for b in [0u8, b' ', b'\n', b'\r', b'-', b'9', b'=', 0xff] {
                let mut m = seed.to_vec();
                m[i] = b;
                match parse(&m, &LIMITS) {
                    Parsed::Request { consumed, .. } => {
                        assert!(consumed > 0 && consumed <= m.len())
                    }
                    Parsed::Rejected {
                        error, consumed, ..
                    } => {
                        assert!(consumed <= m.len());
                        assert!(consumed > 0 || error.closes());
                    }
                    Parsed::Incomplete => {}
                }
            }
        }
    }
}

proptest::proptest! {
    /// Arbitrary bytes never panic the parser, and what it reports used fits the input.
    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        match parse(&input, &LIMITS) {
            Parsed::Request { consumed, .. } => {
                proptest::prop_assert!(consumed > 0 && consumed <= input.len());
            }
            Parsed::Rejected { error, consumed, .. } => {
                proptest::prop_assert!(consumed <= input.len());
                proptest::prop_assert!(consumed > 0 || error.closes());
            }
            Parsed::Incomplete => {
                proptest::prop_assert!(!input.contains(&b'\n'));
            }
        }
    }

    /// Command words followed by arbitrary tokens: same guarantees, more grammar reached.
    #[test]
    fn commands_with_arbitrary_arguments(
        word in proptest::sample::select(vec![
            "get", "gets", "gat", "gats", "set", "add", "cas", "append", "delete", "incr",
            "decr", "touch", "flush_all", "verbosity", "stats", "slabs", "lru_crawler",
            "cache_memlimit", "shutdown", "mg", "ms", "md", "ma", "me", "mn",
        ]),
        args in proptest::collection::vec("[a-zA-Z0-9+=/ -]{0,12}", 0..6),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
    ) {
        let mut input = word.as_bytes().to_vec();
        for a in &args {
            input.push(b' ');
            input.extend_from_slice(a.as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(&tail);
        match parse(&input, &LIMITS) {
            Parsed::Request { consumed, .. } => {
                proptest::prop_assert!(consumed > 0 && consumed <= input.len());
            }
            Parsed::Rejected { consumed, .. } => {
                proptest::prop_assert!(consumed > 0 && consumed <= input.len());
            }
            Parsed::Incomplete => {}
        }
    }
}
