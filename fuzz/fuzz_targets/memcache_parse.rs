//! The memcached text parser on arbitrary bytes: every request it reports must lie inside the
//! input, and the rest of the input is parsed again the way a connection would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slabd::protocol::memcache::{parse, Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    // A small item limit makes the "too large" paths reachable with short inputs.
    let item_size_max = if data.first().is_some_and(|b| b & 1 == 1) {
        1024
    } else {
        1 << 20
    };
    let limits = Limits { item_size_max };
    let mut at = 0;
    while at < data.len() {
        let used = match parse(&data[at..], &limits) {
            Parsed::Incomplete => break,
            Parsed::Request { consumed, .. } => consumed,
            Parsed::Rejected {
                consumed, swallow, ..
            } => consumed.saturating_add(swallow),
        };
        assert!(used > 0, "a parsed request used no input");
        at = at.saturating_add(used);
    }
});
