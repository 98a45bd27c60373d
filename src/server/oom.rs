//! `oom-score-adj` and `oom-score-adj-values`, as Redis 7.0's setOOMScoreAdj: the Linux OOM
//! killer's score adjustment of the process (`/proc/self/oom_score_adj`).
//!
//! `no` leaves the score alone (and puts back the one found when slabd first changed it);
//! `yes`/`relative` adds the first of the three values (Redis's master class; slabd has no
//! replica role and saves from a thread, not a child, so the other two are kept and shown
//! only) to that base; `absolute` writes the value itself. The result is clamped to the
//! kernel's -1000..=1000.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::directives::Directives;

const PROC_FILE: &str = "/proc/self/oom_score_adj";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    No,
    Relative,
    Absolute,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    values: [i64; 3],
    /// The score before slabd first changed it (None: slabd has not changed it).
    base: Option<i64>,
}

/// `oom-score-adj`: Redis's enum, shown as its first name for the value (`relative` is
/// shown as `yes`).
pub fn canonical_mode(v: &str) -> Result<String, String> {
    match v.to_ascii_lowercase().as_str() {
        "no" => Ok("no".into()),
        "yes" | "relative" => Ok("yes".into()),
        "absolute" => Ok("absolute".into()),
        _ => Err("argument(s) must be one of the following: no, yes, relative, absolute".into()),
    }
}

/// `oom-score-adj-values`: three integers in -2000..=2000.
pub fn canonical_values(v: &str) -> Result<String, String> {
    let words: Vec<&str> = v.split_ascii_whitespace().collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = Vec::with_capacity(3);
    for w in words {
        match w.parse::<i64>() {
            Ok(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                )
            }
        }
    }
    Ok(out.join(" "))
}

fn mode(v: &str) -> Mode {
    match v {
        "yes" => Mode::Relative,
        "absolute" => Mode::Absolute,
        _ => Mode::No,
    }
}

fn values(v: &str) -> [i64; 3] {
    let mut out = [0; 3];
    for (o, w) in out.iter_mut().zip(v.split_ascii_whitespace()) {
        *o = w.parse().unwrap_or(0);
    }
    out
}

/// Writes the score the state asks for (nothing when off and never changed).
fn apply(st: &mut State) -> Result<(), String> {
    const FAILED: &str = "Failed to set current oom_score_adj. Check server logs.";
    let val = match st.mode {
        Mode::No => match st.base.take() {
            Some(base) => base,
            None => return Ok(()),
        },
        m => {
            let base = match st.base {
                Some(b) => b,
                None => {
                    let read = std::fs::read_to_string(PROC_FILE).map_err(|e| {
                        eprintln!("Unable to read oom_score_adj: {e}");
                        FAILED.to_string()
                    })?;
                    let b = read.trim().parse().unwrap_or(0);
                    st.base = Some(b);
                    b
                }
            };
            let v = st.values[0] + if m == Mode::Relative { base } else { 0 };
            v.clamp(-1000, 1000)
        }
    };
    std::fs::write(PROC_FILE, format!("{val}\n")).map_err(|e| {
        eprintln!("Unable to write oom_score_adj: {e}");
        FAILED.to_string()
    })
}

/// Applies the settings at start (a failure is logged, as Redis warns) and on every
/// CONFIG SET of either (a failure refuses the change).
pub fn follow(directives: &Directives) {
    let get = |name| directives.get(name).unwrap_or_default();
    let state = Arc::new(Mutex::new(State {
        mode: mode(&get("oom-score-adj")),
        values: values(&get("oom-score-adj-values")),
        base: None,
    }));
    if let Err(e) = apply(&mut state.lock()) {
        eprintln!("oom-score-adj: {e}");
    }
    let st = state.clone();
    directives.on_change("oom-score-adj", move |v| {
        let mut st = st.lock();
        let old = std::mem::replace(&mut st.mode, mode(v));
        apply(&mut st).inspect_err(|_| st.mode = old)
    });
    directives.on_change("oom-score-adj-values", move |v| {
        let mut st = state.lock();
        let old = std::mem::replace(&mut st.values, values(v));
        apply(&mut st).inspect_err(|_| st.values = old)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_as_redis_shows_them() {
        assert_eq!(canonical_mode("RELATIVE").unwrap(), "yes");
        assert_eq!(canonical_mode("absolute").unwrap(), "absolute");
        assert!(canonical_mode("maybe").is_err());
        assert_eq!(canonical_values("0  200 800").unwrap(), "0 200 800");
        assert_eq!(
            canonical_values("-2001 0 0").unwrap_err(),
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        );
        assert_eq!(
            canonical_values("1 2").unwrap_err(),
            "wrong number of arguments"
        );
    }
}
