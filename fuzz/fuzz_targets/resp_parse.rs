//! `slabd::fuzzing::resp_parse` under libFuzzer (the stable runner `slabd-fuzz` runs the same
//! target in CI).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| slabd::fuzzing::resp_parse(data));
