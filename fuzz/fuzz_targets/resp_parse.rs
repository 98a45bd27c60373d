//! The RESP parser on arbitrary bytes, fed as a connection receives them: a growing prefix
//! until a request is whole, then the rest of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slabd::protocol::resp::{Limits, Parsed, Parser};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk: if control & 1 == 1 { 64 } else { 1 << 20 },
        authenticated: control & 2 == 0,
    };
    // Arrival chunk size, 1..=16 bytes, so partial multibulks resume often.
    let chunk = usize::from(control >> 4) + 1;
    let mut parser = Parser::default();
    let mut start = 0;
    let mut end = 0;
    while start < data.len() {
        end = (end + chunk).min(data.len()).max(start);
        let input = &data[start..end];
        match parser.parse(input, limits) {
            Err(_) => return,
            Ok(Parsed::Incomplete) => {
                if end == data.len() {
                    return;
                }
            }
            Ok(Parsed::Empty { consumed }) => {
                assert!(consumed > 0 && consumed <= input.len());
                start += consumed;
            }
            Ok(Parsed::Command { consumed }) => {
                assert!(consumed > 0 && consumed <= input.len());
                let args = parser.args(input);
                for i in 0..args.len() {
                    let _ = args.get(i);
                }
                parser.trim();
                start += consumed;
            }
        }
    }
});
