//! `stats` groups, slabs and lru_crawler commands against the real binary: memcached's names,
//! order and formats, and counters that move as memcached's do.

mod common;

use common::{Conn, Daemon};

/// `stats [group]` as (name, value) pairs in reply order.
fn stats(c: &mut Conn, group: &str) -> Vec<(String, String)> {
    let req = if group.is_empty() {
        "stats\r\n".to_string()
    } else {
        format!("stats {group}\r\n")
    };
    c.send(req.as_bytes());
    let text = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn stat(s: &[(String, String)], name: &str) -> String {
    s.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no stat {name}"))
}

fn num(s: &[(String, String)], name: &str) -> u64 {
    stat(s, name).parse().unwrap()
}

#[test]
fn general_stats_names_order_and_counters() {
    let d = Daemon::start(&["-m", "8", "-t", "2", "-c", "77"]);
    let mut c = d.connect();
    let s = stats(&mut c, "");
    let names: Vec<&str> = s.iter().map(|(k, _)| k.as_str()).collect();
    // memcached's order for the names both print.
    let order = [
        "pid",
        "uptime",
        "time",
        "version",
        "pointer_size",
        "rusage_user",
        "rusage_system",
        "max_connections",
        "curr_connections",
        "total_connections",
        "cmd_get",
        "cmd_set",
        "cmd_flush",
        "cmd_touch",
        "cmd_meta",
        "get_hits",
        "get_misses",
        "get_expired",
        "get_flushed",
        "delete_misses",
        "delete_hits",
        "incr_misses",
        "incr_hits",
        "decr_misses",
        "decr_hits",
        "cas_misses",
        "cas_hits",
        "cas_badval",
        "touch_hits",
        "touch_misses",
        "store_too_large",
        "store_no_memory",
        "bytes_read",
        "bytes_written",
        "limit_maxbytes",
        "threads",
        "bytes",
        "curr_items",
        "total_items",
        "evictions",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|n| {
            names
                .iter()
                .position(|k| k == n)
                .unwrap_or_else(|| panic!("{n}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    assert_eq!(stat(&s, "version"), "1.6.18");
    assert_eq!(num(&s, "limit_maxbytes"), 8 << 20);
    assert_eq!(num(&s, "threads"), 2);
    assert_eq!(num(&s, "max_connections"), 77);
    assert_eq!(num(&s, "pid"), u64::from(d_pid(&s)));
    let rusage = stat(&s, "rusage_user");
    assert!(rusage.contains('.') && rusage.split('.').nth(1).unwrap().len() == 6);

    c.send(b"set a 0 0 1\r\n1\r\nget a b\r\ngets a\r\ndelete b\r\nincr a 1\r\ndecr zz 1\r\n");
    c.send(b"touch a 10\r\ntouch zz 10\r\ncas a 0 0 1 1\r\nx\r\ncas zz 0 0 1 1\r\nx\r\n");
    c.send(b"me a\r\nflush_all\r\nget a\r\n");
    c.read_until(b"OK\r\nEND\r\n");
    let s = stats(&mut c, "");
    for (name, want) in [
        ("cmd_get", 4),
        ("get_hits", 2),
        ("get_misses", 2),
        ("get_flushed", 1),
        ("cmd_set", 3),
        ("delete_misses", 1),
        ("incr_hits", 1),
        ("decr_misses", 1),
        ("cmd_touch", 2),
        ("touch_hits", 1),
        ("touch_misses", 1),
        ("cas_badval", 1),
        ("cas_misses", 1),
        ("cmd_flush", 1),
        ("cmd_meta", 1),
    ] {
        assert_eq!(num(&s, name), want, "{name}");
    }
    c.roundtrip(b"stats reset\r\n", b"RESET\r\n");
    let s = stats(&mut c, "");
    assert_eq!(num(&s, "cmd_get"), 0);
    assert_eq!(num(&s, "get_hits"), 0);
}

fn d_pid(s: &[(String, String)]) -> u32 {
    // The pid is the daemon's, not ours.
    let pid: u32 = stat(s, "pid").parse().unwrap();
    assert_ne!(pid, std::process::id());
    pid
}

#[test]
fn settings_reflect_flags() {
    let d = Daemon::start(&["-m", "16", "-t", "3", "-F", "-I", "2m", "-R", "7"]);
    let mut c = d.connect();
    let s = stats(&mut c, "settings");
    assert_eq!(s[0].0, "maxbytes");
    assert_eq!(num(&s, "maxbytes"), 16 << 20);
    assert_eq!(num(&s, "num_threads"), 3);
    assert_eq!(num(&s, "item_size_max"), 2 << 20);
    assert_eq!(num(&s, "reqs_per_event"), 7);
    assert_eq!(stat(&s, "flush_enabled"), "no");
    assert_eq!(stat(&s, "shutdown_command"), "no");
    assert_eq!(stat(&s, "growth_factor"), "1.25");
    assert_eq!(stat(&s, "evictions"), "on");
    assert_eq!(stat(&s, "cas_enabled"), "yes");
    assert_eq!(stat(&s, "detail_enabled"), "no");
    assert_eq!(stat(&s, "binding_protocol"), "auto-negotiate");
    c.roundtrip(b"verbosity 5\r\n", b"OK\r\n");
    assert_eq!(num(&stats(&mut c, "settings"), "verbosity"), 2);
    c.roundtrip(b"cache_memlimit 32\r\n", b"OK\r\n");
    assert_eq!(num(&stats(&mut c, "settings"), "maxbytes"), 32 << 20);
    assert_eq!(num(&stats(&mut c, ""), "limit_maxbytes"), 32 << 20);
    c.roundtrip(
        b"cache_memlimit 1\r\ncache_memlimit abc\r\ncache_memlimit\r\n",
        b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nERROR\r\nERROR\r\n",
    );
}

#[test]
fn idle_kicks_counts_idle_timeout_closes() {
    let d = Daemon::start(&["-o", "idle_timeout=1"]);
    let mut idle = d.connect();
    let s = stats(&mut d.connect(), "");
    let names: Vec<&str> = s.iter().map(|(k, _)| k.as_str()).collect();
    // memcached prints it only with an idle timeout, between auth_errors and bytes_read.
    let at = names.iter().position(|n| *n == "idle_kicks").unwrap();
    assert_eq!(
        names[at - 1..=at + 1],
        ["auth_errors", "idle_kicks", "bytes_read"]
    );
    assert_eq!(num(&s, "idle_kicks"), 0);
    assert!(idle.closed());
    assert_eq!(num(&stats(&mut d.connect(), ""), "idle_kicks"), 1);
    let plain = Daemon::start(&[]);
    let s = stats(&mut plain.connect(), "");
    assert!(s.iter().all(|(k, _)| k != "idle_kicks"));
}

#[test]
fn stats_reset_zeroes_counters_not_gauges() {
    let d = Daemon::start(&["-m", "3"]);
    let mut c = d.connect();
    let value = vec![b'B'; 66560];
    for k in 0..40 {
        c.send(format!("set key{k} 0 0 66560\r\n").as_bytes());
        c.send(&value);
        c.roundtrip(b"\r\n", b"STORED\r\n");
    }
    let evicted = |c: &mut Conn| -> u64 {
        let s = stats(c, "items");
        s.iter()
            .filter(|(k, _)| k.ends_with(":evicted"))
            .map(|(_, v)| v.parse::<u64>().unwrap())
            .sum()
    };
    assert!(evicted(&mut c) > 0);
    let before = stats(&mut c, "");
    c.roundtrip(b"stats reset\r\n", b"RESET\r\n");
    assert_eq!(evicted(&mut c), 0);
    let s = stats(&mut c, "");
    for counter in ["evictions", "total_items", "total_connections", "cmd_set"] {
        assert_eq!(num(&s, counter), 0, "{counter}");
    }
    assert_eq!(num(&s, "curr_items"), num(&before, "curr_items"));
    assert_eq!(
        num(&s, "curr_connections"),
        num(&before, "curr_connections")
    );
}

#[test]
fn metadump_refuses_to_follow_pending_replies() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    c.roundtrip(
        b"set a 0 0 1\r\nx\r\nlru_crawler metadump all\r\n",
        b"STORED\r\nERROR cannot pipeline other commands before metadump\r\n",
    );
    c.roundtrip(
        b"mg foo v\r\nlru_crawler metadump all\r\n",
        b"EN\r\nERROR cannot pipeline other commands before metadump\r\n",
    );
    c.send(b"lru_crawler metadump all\r\n");
    let dump = c.read_until(b"END\r\n");
    assert!(
        dump.starts_with(b"key=a exp=-1 la="),
        "{}",
        String::from_utf8_lossy(&dump)
    );
}

#[test]
fn slabs_automove_levels() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    c.roundtrip(b"slabs automove 2\r\n", b"OK\r\n");
    c.roundtrip(b"slabs automove 3\r\n", b"ERROR\r\n");
    c.roundtrip(b"slabs automove\r\n", b"ERROR\r\n");
    for bad in ["invalid", "-1", "2x"] {
        c.roundtrip(
            format!("slabs automove {bad}\r\n").as_bytes(),
            b"CLIENT_ERROR bad command line format\r\n",
        );
    }
    c.roundtrip(b"slabs automove 0\r\n", b"OK\r\n");
}

#[test]
fn binding_protocol_flag() {
    let d = Daemon::start(&["-B", "ascii"]);
    let mut c = d.connect();
    assert_eq!(
        stat(&stats(&mut c, "settings"), "binding_protocol"),
        "ascii"
    );
    c.roundtrip(b"get a\r\n", b"END\r\n");
}

#[test]
fn items_slabs_sizes_conns() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    assert!(stats(&mut c, "items").is_empty());
    c.roundtrip(
        b"set a 0 0 5\r\nhello\r\nset b 0 0 5\r\nworld\r\n",
        b"STORED\r\nSTORED\r\n",
    );
    let items = stats(&mut c, "items");
    let (name, _) = &items[0];
    let class = name
        .strip_prefix("items:")
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    assert_eq!(num(&items, &format!("items:{class}:number")), 2);
    for field in [
        "age",
        "mem_requested",
        "evicted",
        "outofmemory",
        "reclaimed",
    ] {
        num(&items, &format!("items:{class}:{field}"));
    }
    let slabs = stats(&mut c, "slabs");
    assert_eq!(num(&slabs, &format!("{class}:used_chunks")), 2);
    assert_eq!(num(&slabs, &format!("{class}:total_pages")), 1);
    assert!(num(&slabs, &format!("{class}:chunk_size")) >= 48);
    assert_eq!(num(&slabs, "active_slabs"), 1);
    assert!(num(&slabs, "total_malloced") >= 1 << 20);
    // Off unless -o track_sizes or `stats sizes_enable` (which has no END, as memcached).
    c.roundtrip(b"stats sizes\r\n", b"STAT sizes_status disabled\r\nEND\r\n");
    c.roundtrip(b"stats sizes_enable\r\n", b"STAT sizes_status enabled\r\n");
    let sizes = stats(&mut c, "sizes");
    assert_eq!(
        sizes
            .iter()
            .map(|(_, v)| v.parse::<u64>().unwrap())
            .sum::<u64>(),
        2
    );
    let conns = stats(&mut c, "conns");
    let local = c.stream.local_addr().unwrap();
    assert!(
        conns
            .iter()
            .any(|(k, v)| k.ends_with(":addr") && *v == format!("tcp:{local}")),
        "{conns:?}"
    );
    assert!(conns
        .iter()
        .any(|(k, v)| k.ends_with(":state") && v == "conn_parse_cmd"));
}

#[test]
fn detail_slabs_and_crawler() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    c.roundtrip(
        b"stats detail\r\n",
        b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
    );
    c.roundtrip(b"stats detail on\r\n", b"OK\r\n");
    c.send(b"set user:1 0 0 1\r\nx\r\nget user:1 user:2 other\r\ndelete user:1\r\n");
    c.read_until(b"DELETED\r\n");
    c.roundtrip(
        b"stats detail dump\r\n",
        b"PREFIX user get 2 hit 1 set 1 del 1\r\nEND\r\n",
    );
    c.roundtrip(b"stats detail off\r\nget user:3\r\n", b"OK\r\nEND\r\n");
    c.roundtrip(
        b"stats detail dump\r\n",
        b"PREFIX user get 2 hit 1 set 1 del 1\r\nEND\r\n",
    );
    c.roundtrip(b"stats foo\r\n", b"ERROR\r\n");
    c.roundtrip(
        b"slabs automove 1\r\nslabs automove 3\r\n",
        b"OK\r\nERROR\r\n",
    );
    c.roundtrip(b"slabs reassign a\r\nslabs\r\n", b"ERROR\r\nERROR\r\n");
    c.roundtrip(
        b"slabs reassign 1 1\r\n",
        b"SAME src and dst class are identical\r\n",
    );
    c.roundtrip(
        b"lru_crawler crawl all\r\nlru_crawler foo\r\n",
        b"OK\r\nERROR\r\n",
    );
    c.roundtrip(
        b"lru_crawler metadump foo\r\n",
        b"BADCLASS invalid class id\r\n",
    );
    c.roundtrip(
        b"set a:1/b 0 0 1\r\nx\r\nset n 0 100 1\r\ny\r\n",
        b"STORED\r\nSTORED\r\n",
    );
    c.send(b"lru_crawler metadump all\r\n");
    let dump = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    let mut lines: Vec<&str> = dump.split('\n').collect();
    lines.sort();
    assert_eq!(lines.len(), 4, "{dump}");
    assert_eq!(lines[0], "");
    assert_eq!(lines[1], "END\r");
    assert!(lines[2].starts_with("key=a%3A1%2Fb exp=-1 la="), "{dump}");
    assert!(lines[2].contains(" fetch=no cls=1 size="), "{dump}");
    assert!(lines[3].starts_with("key=n exp=17"), "{dump}");
}

/// `stats slabs` per class: the hit counters memcached 1.6 keeps per slab class, in its
/// order after the page figures, summing to the general counters (memcached's names).
#[test]
fn slabs_count_hits_per_class() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    let big = "x".repeat(5000);
    c.roundtrip(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n");
    c.send(format!("set big 0 0 {}\r\n{big}\r\n", big.len()).as_bytes());
    assert_eq!(c.read_line(), b"STORED\r\n");
    c.roundtrip(
        b"get a big nope\r\n",
        format!("VALUE a 0 1\r\n1\r\nVALUE big 0 5000\r\n{big}\r\nEND\r\n").as_bytes(),
    );
    c.roundtrip(b"gets a\r\n", b"VALUE a 0 1 1\r\n1\r\nEND\r\n");
    c.roundtrip(b"incr a 5\r\n", b"6\r\n");
    c.roundtrip(b"decr a 1\r\n", b"5\r\n");
    c.roundtrip(b"cas a 0 0 1 999\r\n7\r\n", b"EXISTS\r\n");
    c.roundtrip(b"touch a 100\r\n", b"TOUCHED\r\n");
    c.roundtrip(b"delete big\r\n", b"DELETED\r\n");
    let slabs = stats(&mut c, "slabs");
    let class_of = |suffix: &str, v: u64| -> String {
        let (k, _) = slabs
            .iter()
            .find(|(k, val)| k.ends_with(suffix) && val.parse::<u64>() == Ok(v))
            .unwrap_or_else(|| panic!("{suffix} {v}: {slabs:?}"));
        k.split(':').next().unwrap().to_string()
    };
    // The small class: 2 gets, 1 set, incr, decr, a bad cas, a touch.
    let small = class_of(":get_hits", 2);
    let fields: Vec<&str> = slabs
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(&format!("{small}:")))
        .collect();
    assert_eq!(
        fields,
        [
            "chunk_size",
            "chunks_per_page",
            "total_pages",
            "total_chunks",
            "used_chunks",
            "free_chunks",
            "free_chunks_end",
            "get_hits",
            "cmd_set",
            "delete_hits",
            "incr_hits",
            "decr_hits",
            "cas_hits",
            "cas_badval",
            "touch_hits",
        ]
    );
    for (f, v) in [
        ("cmd_set", 2),
        ("delete_hits", 0),
        ("incr_hits", 1),
        ("decr_hits", 1),
        ("cas_hits", 0),
        ("cas_badval", 1),
        ("touch_hits", 1),
    ] {
        assert_eq!(num(&slabs, &format!("{small}:{f}")), v, "{f}");
    }
    // The large class: one set, one get, one delete.
    let large = class_of(":delete_hits", 1);
    assert_ne!(small, large);
    for (f, v) in [("get_hits", 1), ("cmd_set", 1), ("touch_hits", 0)] {
        assert_eq!(num(&slabs, &format!("{large}:{f}")), v, "{f}");
    }
    let general = stats(&mut c, "");
    assert_eq!(num(&general, "get_hits"), 3);
    assert_eq!(num(&general, "cmd_set"), 3);
    c.roundtrip(b"stats reset\r\n", b"RESET\r\n");
    let slabs = stats(&mut c, "slabs");
    assert_eq!(num(&slabs, &format!("{small}:get_hits")), 0);
}

/// Items that expire untouched are reclaimed in the background and counted as memcached
/// 1.6.18 counts them by default (its LRU maintainer's `reclaimed`); an explicit
/// `lru_crawler crawl` counts `crawler_reclaimed`.
#[test]
fn background_expiry_counts_reclaimed() {
    let d = Daemon::start(&["-m", "8"]);
    let mut c = d.connect();
    for i in 0..50 {
        c.send(format!("set k{i} 0 1 1 noreply\r\nx\r\n").as_bytes());
    }
    c.roundtrip(b"mn\r\n", b"MN\r\n");
    let mut general = stats(&mut c, "");
    for _ in 0..100 {
        if num(&general, "curr_items") == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        general = stats(&mut c, "");
    }
    assert_eq!(num(&general, "curr_items"), 0);
    assert_eq!(num(&general, "reclaimed"), 50);
    assert_eq!(num(&general, "expired_unfetched"), 50);
    assert_eq!(num(&general, "crawler_reclaimed"), 0);
}

/// `stats conns` states as memcached 1.6.18 shows them: the asking client in
/// `conn_parse_cmd`, a client whose data block is still arriving in `conn_nread`, an idle
/// client or one mid-line in `conn_read`.
#[test]
fn conns_show_connection_states() {
    let d = Daemon::start(&["-m", "8"]);
    let mut asking = d.connect();
    let mut nread = d.connect();
    let mut partial = d.connect();
    let idle = d.connect();
    nread.send(b"set foo 0 0 6\r\nab");
    partial.send(b"get fo");
    let find = |conns: &[(String, String)], c: &Conn| -> Option<String> {
        let local = format!("tcp:{}", c.stream.local_addr().unwrap());
        let (k, _) = conns
            .iter()
            .find(|(k, v)| k.ends_with(":addr") && *v == local)?;
        let id = k.split(':').next().unwrap();
        Some(stat(conns, &format!("{id}:state")))
    };
    let state_of = |conns: &[(String, String)], c: &Conn| -> String {
        find(conns, c).unwrap_or_else(|| panic!("{:?}: {conns:?}", c.stream.local_addr()))
    };
    // Accepted connections reach their worker, and bytes their parser, a moment later.
    let mut conns = stats(&mut asking, "conns");
    for _ in 0..100 {
        let settled = find(&conns, &nread).as_deref() == Some("conn_nread")
            && find(&conns, &partial).is_some()
            && find(&conns, &idle).is_some();
        if settled {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        conns = stats(&mut asking, "conns");
    }
    assert_eq!(state_of(&conns, &asking), "conn_parse_cmd");
    assert_eq!(state_of(&conns, &nread), "conn_nread");
    assert_eq!(state_of(&conns, &partial), "conn_read");
    assert_eq!(state_of(&conns, &idle), "conn_read");
    nread.send(b"cdef\r\n");
    assert_eq!(nread.read_line(), b"STORED\r\n");
    let conns = stats(&mut asking, "conns");
    assert_eq!(state_of(&conns, &nread), "conn_read");
}
