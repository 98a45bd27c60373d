//! `slabd::fuzzing::session_auth` under libFuzzer: whole sessions with a password set and a
//! restricted ACL user (the stable runner `slabd-fuzz` runs the same target in CI).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| slabd::fuzzing::session_auth(data));
