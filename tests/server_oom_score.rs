//! `oom-score-adj` and `oom-score-adj-values` change the process's
//! `/proc/<pid>/oom_score_adj` as Redis 7.0 does (relative to the score found, absolute, or
//! back to that score when turned off).

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

fn score(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn oom_score_follows_the_settings() {
    let d = daemon(&[]);
    let pid = d.pid();
    let mut c = d.connect_resp();
    let base = score(pid);
    c.check(
        &["CONFIG", "GET", "oom-score-adj-values"],
        "*2\r\n$20\r\noom-score-adj-values\r\n$9\r\n0 200 800\r\n",
    );
    // Off: changing the values leaves the score alone.
    c.check(
        &["CONFIG", "SET", "oom-score-adj-values", "7 7 7"],
        "+OK\r\n",
    );
    assert_eq!(score(pid), base);
    c.check(&["CONFIG", "SET", "oom-score-adj", "relative"], "+OK\r\n");
    c.check(
        &["CONFIG", "GET", "oom-score-adj"],
        "*2\r\n$13\r\noom-score-adj\r\n$3\r\nyes\r\n",
    );
    assert_eq!(score(pid), base + 7);
    c.check(
        &["CONFIG", "SET", "oom-score-adj-values", "9 9 9"],
        "+OK\r\n",
    );
    assert_eq!(score(pid), base + 9);
    c.check(&["CONFIG", "SET", "oom-score-adj", "absolute"], "+OK\r\n");
    assert_eq!(score(pid), 9);
    c.check(&["CONFIG", "SET", "oom-score-adj", "no"], "+OK\r\n");
    assert_eq!(score(pid), base);
    c.check(
        &["CONFIG", "SET", "oom-score-adj-values", "2001 0 0"],
        "-ERR CONFIG SET failed (possibly related to argument 'oom-score-adj-values') - \
         Invalid oom-score-adj-values, elements must be between -2000 and 2000.\r\n",
    );
}
