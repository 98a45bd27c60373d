//! Administrative text commands: `stats` groups, `slabs`, `lru`, `lru_crawler` and
//! `shutdown`, with memcached 1.6.18's word counts and errors (checked side by side).

use super::{
    ok, parse_i64, parse_u64, reject, ClassSelector, Command, Error, Parsed, StatsGroup, Tokens,
};

/// memcached's `MAX_NUMBER_OF_SLAB_CLASSES`: `stats cachedump` refuses ids from here on.
const CLASS_ID_LIMIT: u64 = 64;

/// `lru` subcommands (memcached's segmented-LRU tuning).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LruCommand {
    /// `lru tune <hot pct> <warm pct> <hot factor> <warm factor>`.
    Tune {
        hot_pct: u32,
        warm_pct: u32,
        hot_factor: f64,
        warm_factor: f64,
    },
    /// `lru mode flat|segmented`.
    Mode { segmented: bool },
    /// `lru temp_ttl <secs>`: negative turns the temporary LRU off.
    TempTtl(i32),
}

/// memcached's `safe_strtoul` into 32 bits: a non-negative decimal.
fn parse_u32(t: &[u8]) -> Option<u32> {
    parse_u64(t).map(|v| v as u32)
}

fn parse_f64(t: &[u8]) -> Option<f64> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

pub(super) fn parse_shutdown(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let mode = args.next();
    let graceful = match (mode, args.next()) {
        (None, _) => Some(false),
        (Some(b"graceful"), None) => Some(true),
        _ => None,
    };
    ok(Command::Shutdown { graceful }, line_len)
}

pub(super) fn parse_stats(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let group = match args.next() {
        None => StatsGroup::General,
        Some(b"settings") => StatsGroup::Settings,
        Some(b"items") => StatsGroup::Items,
        Some(b"slabs") => StatsGroup::Slabs,
        Some(b"sizes") => StatsGroup::Sizes,
        Some(b"sizes_enable") => StatsGroup::SizesEnable,
        Some(b"sizes_disable") => StatsGroup::SizesDisable,
        Some(b"conns") => StatsGroup::Conns,
        Some(b"reset") => StatsGroup::Reset,
        Some(b"cachedump") => {
            let (Some(id), Some(limit)) = (args.next(), args.next()) else {
                return reject(Error::BadCommandLine, line_len);
            };
            let (Some(class), Some(limit)) = (parse_u64(id), parse_u32(limit)) else {
                return reject(Error::BadFormat, line_len);
            };
            if class >= CLASS_ID_LIMIT {
                return reject(Error::IllegalSlabId, line_len);
            }
            StatsGroup::Cachedump {
                class: class as u8,
                limit,
            }
        }
        Some(b"detail") => match args.next() {
            Some(b"on") => StatsGroup::DetailOn,
            Some(b"off") => StatsGroup::DetailOff,
            Some(b"dump") => StatsGroup::DetailDump,
            _ => return reject(Error::StatsDetailUsage, line_len),
        },
        Some(_) => return reject(Error::UnknownCommand, line_len),
    };
    ok(Command::Stats(group), line_len)
}

pub(super) fn parse_slabs(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    match args.next() {
        Some(b"reassign") => {
            // memcached: exactly two words, each read by strtol into a 32-bit int.
            let (src, dst) = (args.next(), args.next());
            let (Some(src), Some(dst), None) = (src, dst, args.next()) else {
                return reject(Error::UnknownCommand, line_len);
            };
            match (parse_i64(src), parse_i64(dst)) {
                (Some(s), Some(d)) => ok(
                    Command::SlabsReassign {
                        src: s as i32,
                        dst: d as i32,
                    },
                    line_len,
                ),
                _ => reject(Error::BadFormat, line_len),
            }
        }
        Some(b"automove") => match args.next() {
            None | Some(b"ratio") => reject(Error::UnknownCommand, line_len),
            // memcached: a word that is no number is a format error, a number out of range
            // an unknown command.
            Some(level) => match parse_u64(level) {
                Some(m @ 0..=2) => ok(Command::SlabsAutomove(m as u8), line_len),
                Some(_) => reject(Error::UnknownCommand, line_len),
                None => reject(Error::BadFormat, line_len),
            },
        },
        _ => reject(Error::UnknownCommand, line_len),
    }
}

fn class_selector(t: Option<&[u8]>) -> Option<ClassSelector<'_>> {
    match t? {
        b"all" => Some(ClassSelector::All),
        // memcached 1.6.19+: walk the hash table instead of the classes (every item).
        b"hash" => Some(ClassSelector::All),
        ids => {
            let valid = ids
                .split(|&b| b == b',')
                .all(|id| matches!(parse_u64(id), Some(1..=63)));
            valid.then_some(ClassSelector::Ids(ids))
        }
    }
}

pub(super) fn parse_lru_crawler(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let (sub, arg, extra) = (args.next(), args.next(), args.next());
    if extra.is_some() {
        return reject(Error::UnknownCommand, line_len);
    }
    match (sub, arg) {
        // 1.6.18 cannot crawl the hash table (only dump it, from 1.6.19).
        (Some(b"crawl"), Some(b"hash")) => reject(Error::CrawlerError, line_len),
        (Some(b"crawl"), Some(_)) => match class_selector(arg) {
            Some(sel) => ok(Command::LruCrawlerCrawl(sel), line_len),
            None => reject(Error::BadClass, line_len),
        },
        (Some(b"metadump"), Some(_)) => match class_selector(arg) {
            Some(sel) => ok(Command::LruCrawlerMetadump(sel), line_len),
            None => reject(Error::BadClass, line_len),
        },
        (Some(b"tocrawl"), Some(n)) => match parse_u32(n) {
            Some(_) => ok(Command::LruCrawlerSetting, line_len),
            None => reject(Error::BadFormat, line_len),
        },
        (Some(b"sleep"), Some(n)) => match parse_u32(n) {
            Some(0..=1_000_000) => ok(Command::LruCrawlerSetting, line_len),
            Some(_) => reject(Error::CrawlerSleep, line_len),
            None => reject(Error::BadFormat, line_len),
        },
        (Some(b"enable"), None) => ok(Command::LruCrawlerToggle(true), line_len),
        (Some(b"disable"), None) => ok(Command::LruCrawlerToggle(false), line_len),
        _ => reject(Error::UnknownCommand, line_len),
    }
}

pub(super) fn parse_lru(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let sub = args.next();
    let words: [Option<&[u8]>; 4] = [args.next(), args.next(), args.next(), args.next()];
    let lru = match (sub, words) {
        (Some(b"tune"), [Some(a), Some(b), Some(c), Some(d)]) => {
            match (parse_u32(a), parse_u32(b), parse_f64(c), parse_f64(d)) {
                (Some(hot_pct), Some(warm_pct), Some(hot_factor), Some(warm_factor)) => {
                    LruCommand::Tune {
                        hot_pct,
                        warm_pct,
                        hot_factor,
                        warm_factor,
                    }
                }
                _ => return reject(Error::UnknownCommand, line_len),
            }
        }
        (Some(b"mode"), [Some(b"flat"), ..]) => LruCommand::Mode { segmented: false },
        (Some(b"mode"), [Some(b"segmented"), ..]) => LruCommand::Mode { segmented: true },
        (Some(b"temp_ttl"), [Some(t), ..]) => match parse_i64(t) {
            Some(ttl) => LruCommand::TempTtl(ttl as i32),
            None => return reject(Error::UnknownCommand, line_len),
        },
        _ => return reject(Error::UnknownCommand, line_len),
    };
    ok(Command::Lru(lru), line_len)
}
