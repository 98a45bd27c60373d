//! A fuzz runner on the stable toolchain: each target of `slabd::fuzzing` gets inputs made
//! by mutating the seed corpus (`fuzz/seeds/<target>`) and protocol tokens, for a bounded
//! number of executions or seconds. A panic is a bug: the input is written to
//! `fuzz/crashes/<target>-<n>` and the run fails.
//!
//! ```text
//! slabd-fuzz [--target NAME]... [--runs N] [--seconds S] [--seed N] [--seeds DIR]
//! ```
//!
//! Coverage-guided runs for long sessions stay with cargo-fuzz (`fuzz/`, nightly); this
//! runner is what `.ci/run` runs on every change.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use slabd::fuzzing::TARGETS;

/// Words worth splicing into inputs: commands and options of both protocols.
const TOKENS: &[&[u8]] = &[
    b"get ",
    b"gets ",
    b"set ",
    b"add ",
    b"cas ",
    b"append ",
    b"incr ",
    b"delete ",
    b"touch ",
    b"gat ",
    b"mg ",
    b"ms ",
    b"md ",
    b"ma ",
    b"mn\r\n",
    b"me ",
    b"stats",
    b"flush_all",
    b"version",
    b"verbosity ",
    b"noreply",
    b" 0 0 ",
    b"\r\n",
    b"\n",
    b" ",
    b"*1\r\n",
    b"*2\r\n",
    b"*3\r\n",
    b"$3\r\n",
    b"$-1\r\n",
    b"$0\r\n",
    b"AUTH",
    b"HELLO",
    b"ACL",
    b"SETUSER",
    b"GETUSER",
    b"DRYRUN",
    b"LOG",
    b"MULTI",
    b"EXEC",
    b"GET",
    b"SET",
    b"DEL",
    b"CONFIG",
    b"CLIENT",
    b"default",
    b"pw",
    b"r",
    b"a1",
    b"~*",
    b"+@all",
    b"-@all",
    b"%R~",
    b"(",
    b")",
    b"\x80",
    b"\x00",
    b"\xff",
    b"-1",
    b"18446744073709551615",
    b"9223372036854775807",
    b"4294967296",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to eight random edits of a seed: bit flips, byte changes, inserted tokens,
/// deletions, duplicated slices, and splices of another seed.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    if !seeds.is_empty() {
        out.extend_from_slice(&seeds[rng.below(seeds.len())]);
    }
    for _ in 0..=rng.below(8) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                out.splice(at..at, t.iter().copied());
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = rng.below((len - at).min(32) + 1);
                out.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = rng.below((len - at).min(64) + 1);
                let copy = out[at..at + n].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            5 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = rng.below(16);
                for _ in 0..n {
                    out.push(rng.next() as u8);
                }
            }
        }
        if out.len() > 4096 {
            out.truncate(4096);
        }
    }
}

fn read_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok().map(|b| (e.path(), b)))
        .collect();
    seeds.sort();
    seeds.into_iter().map(|(_, b)| b).collect()
}

struct Options {
    targets: Vec<String>,
    runs: u64,
    seconds: u64,
    seed: u64,
    seeds: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        targets: Vec::new(),
        runs: u64::MAX,
        seconds: 10,
        seed: 0x5eed,
        seeds: PathBuf::from("fuzz/seeds"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--target" => o.targets.push(value()?),
            "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--seeds" => o.seeds = PathBuf::from(value()?),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.targets.is_empty() {
        o.targets = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("slabd-fuzz: {e}");
            return ExitCode::from(64);
        }
    };
    // Report the panic's message once; the input is saved below.
    let mut failed = 0;
    for name in &o.targets {
        let Some(&(_, target)) = TARGETS.iter().find(|(n, _)| n == name) else {
            eprintln!("slabd-fuzz: no target {name}");
            return ExitCode::from(64);
        };
        // `session_auth` shares the `session` seeds.
        let dir = o.seeds.join(name.strip_suffix("_auth").unwrap_or(name));
        let seeds = read_seeds(&dir);
        let mut rng = Rng(o.seed | 1);
        let deadline = Instant::now() + Duration::from_secs(o.seconds);
        let mut input = Vec::new();
        let mut runs = 0u64;
        let mut crashes = 0;
        // Every seed once as it is, then mutations.
        for s in &seeds {
            target(s);
            runs += 1;
        }
        while runs < o.runs && (runs % 256 != 0 || Instant::now() < deadline) {
            mutate(&mut rng, &seeds, &mut input);
            let data = input.clone();
            if std::panic::catch_unwind(move || target(&data)).is_err() {
                crashes += 1;
                let dir = PathBuf::from("fuzz/crashes");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{name}-{crashes}"));
                let _ = std::fs::write(&path, &input);
                eprintln!(
                    "slabd-fuzz: {name}: crash, input saved to {}",
                    path.display()
                );
                if crashes >= 5 {
                    break;
                }
            }
            runs += 1;
        }
        println!(
            "slabd-fuzz: {name}: {runs} executions, {crashes} crashes ({} seeds)",
            seeds.len()
        );
        failed += crashes;
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
