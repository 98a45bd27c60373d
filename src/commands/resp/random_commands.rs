//! Random commands against a real store: no handler panics, every reply is one well-formed
//! RESP value, and the connection only closes on QUIT.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::commands::Protocol;
use crate::config::Settings;
use crate::storage::{Clock, Store, StoreConfig};

/// Length of the RESP value at the start of `b`, if it is exactly one whole value.
fn value_len(b: &[u8]) -> Option<usize> {
    let nl = b.windows(2).position(|w| w == b"\r\n")?;
    let line = &b[..nl];
    let n = || std::str::from_utf8(&line[1..]).ok()?.parse::<i64>().ok();
    let mut at = nl + 2;
    match *line.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' => {}
        b'$' | b'=' => {
            let len = n()?;
            if len >= 0 {
                at += len as usize;
                (b.get(at..at + 2)? == b"\r\n").then_some(())?;
                at += 2;
            }
        }
        b'*' | b'~' | b'%' | b'>' => {
            let count = n()? * if line[0] == b'%' { 2 } else { 1 };
            for _ in 0..count.max(0) {
                at += value_len(&b[at..])?;
            }
        }
        _ => return None,
    }
    Some(at)
}

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"k".to_vec()),
        Just(b"k2".to_vec()),
        Just(b"".to_vec()),
        Just(b"EX".to_vec()),
        Just(b"PX".to_vec()),
        Just(b"EXAT".to_vec()),
        Just(b"NX".to_vec()),
        Just(b"XX".to_vec()),
        Just(b"GT".to_vec()),
        Just(b"LT".to_vec()),
        Just(b"GET".to_vec()),
        Just(b"KEEPTTL".to_vec()),
        Just(b"PERSIST".to_vec()),
        Just(b"MATCH".to_vec()),
        Just(b"COUNT".to_vec()),
        Just(b"TYPE".to_vec()),
        Just(b"*".to_vec()),
        Just(b"[a-".to_vec()),
        Just(b"0".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"3".to_vec()),
        Just(b"1.5".to_vec()),
        Just(b"1e308".to_vec()),
        Just(b"9223372036854775807".to_vec()),
        Just(b"-9223372036854775808".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"4294967296".to_vec()),
        Just(b"1048576".to_vec()),
        Just(b"SETNAME".to_vec()),
        Just(b"AUTH".to_vec()),
        Just(b"default".to_vec()),
        Just(b"LIST".to_vec()),
        Just(b"INFO".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn request() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let names: Vec<Vec<u8>> = registry()
        .specs()
        .iter()
        // QUIT and SHUTDOWN end the session; SAVE and BGSAVE would write dump.rdb here;
        // BLPOP & co park the connection (tests/resp_blocking.rs covers them); SYNC and
        // PSYNC send a dump after their reply and turn the session into a replica stream
        // (tests/resp_replication.rs).
        .filter(|s| {
            !matches!(
                s.name,
                "quit" | "shutdown" | "save" | "bgsave" | "sync" | "psync"
            )
        })
        .filter(|s| !s.flags.contains(&"blocking"))
        .map(|s| s.name.as_bytes().to_vec())
        .collect();
    (
        proptest::sample::select(names),
        proptest::collection::vec(word(), 0..6),
    )
        .prop_map(|(name, mut args)| {
            args.insert(0, name);
            args
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn commands_never_panic_and_reply_once(requests in proptest::collection::vec(request(), 1..40)) {
        let clock = Arc::new(Clock::manual(1_700_000_000));
        let config = StoreConfig { memory_limit: 4 << 20, ..StoreConfig::default() };
        let ctx = Context::new(Store::new(config, clock).unwrap(), Settings::default());
        let info = ctx.clients.open("test".into(), "test".into(), 0);
        let mut session = Session::new(info, Protocol::Resp, 0);
        for args in requests {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                wire.extend_from_slice(a);
                wire.extend_from_slice(b"\r\n");
            }
            let mut out = Vec::new();
            let step = process(&ctx, &mut session, &wire, &mut out);
            prop_assert_eq!(step, Step::Done(wire.len()), "{:?}", args);
            // (Un)subscribe commands confirm each channel with its own reply.
            let name = String::from_utf8_lossy(&args[0]).to_string();
            let replies_per_channel = name.ends_with("subscribe");
            let mut at = 0;
            let mut replies = 0;
            while at < out.len() {
                let Some(n) = value_len(&out[at..]) else { break };
                at += n;
                replies += 1;
            }
            prop_assert_eq!(at, out.len(),
                "{:?} -> {:?}", args, String::from_utf8_lossy(&out));
            prop_assert!(replies == 1 || (replies_per_channel && replies > 1),
                "{:?} -> {:?}", args, String::from_utf8_lossy(&out));
        }
    }
}
