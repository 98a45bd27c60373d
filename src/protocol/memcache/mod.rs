//! memcached text protocol (classic and meta commands): parser and reply composer.
//!
//! [`parse`] borrows the connection's unread input and returns one [`Command`] with the number
//! of bytes it used, [`Parsed::Incomplete`] when no whole request is buffered, or an [`Error`]
//! whose wire string lives in [`Error::wire`] (the one place error text is spelled). Nothing
//! is allocated: keys, values and flag tokens are slices of the input.
//!
//! Behaviour follows memcached 1.6.18 as observed on the wire: tokens are separated by
//! spaces, a line ends in `\n` with an optional `\r` before it, a storage command's data
//! block must end in `\r\n`, and a storage command rejected before its data (too large,
//! bad meta flag) has its data thrown away by the caller (`swallow`).

mod admin;
pub mod binary;
mod compose;
mod meta;

pub use admin::LruCommand;
pub use compose::{write_i64, write_u64, Reply, DIGIT_PAIRS};
pub use meta::{base64_encode, MetaFlags, MetaKind, MAX_OPAQUE};

use crate::storage::KEY_MAX;

/// A request line longer than this without a newline closes the connection (except get/gets).
pub const LINE_MAX: usize = 2048;

/// get/gets lines may carry many keys; past this the connection is closed all the same.
pub const GET_LINE_MAX: usize = 1 << 20;

/// Bytes an item costs beside its key and value, for the early "too large" check.
pub const ITEM_OVERHEAD: usize = 48;

/// What the parser needs to know about the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `-I`: largest item; bigger storage commands are refused before their data is read.
    pub item_size_max: usize,
}

/// How a classic storage command treats an existing item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreVerb {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

/// A key: a slice of the input, or a base64 key decoded into a fixed buffer.
#[derive(Clone, Copy)]
pub struct Key<'a> {
    /// The key as sent (base64 text for a `b` key).
    pub raw: &'a [u8],
    decoded: [u8; KEY_MAX],
    decoded_len: u8,
    pub base64: bool,
}

impl<'a> Key<'a> {
    fn plain(raw: &'a [u8]) -> Key<'a> {
        Key {
            raw,
            decoded: [0; KEY_MAX],
            decoded_len: 0,
            base64: false,
        }
    }

    /// The key bytes to look up.
    pub fn bytes(&self) -> &[u8] {
        if self.base64 {
            &self.decoded[..self.decoded_len as usize]
        } else {
            self.raw
        }
    }
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?})", String::from_utf8_lossy(self.bytes()))
    }
}

/// Space-separated keys of a get/gets/gat/gats line, validated by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys<'a>(&'a [u8]);

impl<'a> Keys<'a> {
    pub fn iter(&self) -> Tokens<'a> {
        Tokens(self.0)
    }
}

/// Iterator over space-separated tokens (runs of spaces count as one separator).
#[derive(Clone, Debug)]
pub struct Tokens<'a>(&'a [u8]);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.0.iter().position(|&b| b != b' ')?;
        let rest = &self.0[start..];
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        self.0 = &rest[end..];
        Some(&rest[..end])
    }
}

/// `stats` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsGroup {
    General,
    Settings,
    Items,
    Slabs,
    Sizes,
    SizesEnable,
    SizesDisable,
    Conns,
    Reset,
    /// `stats cachedump <class> <limit>` (limit 0: all).
    Cachedump {
        class: u8,
        limit: u32,
    },
    DetailOn,
    DetailOff,
    DetailDump,
}

/// Which classes an lru_crawler command applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassSelector<'a> {
    All,
    /// Comma-separated class ids, validated.
    Ids(&'a [u8]),
}

/// One parsed request. Slices borrow the input.
#[derive(Clone, Copy, Debug)]
pub enum Command<'a> {
    /// get, gets (`cas`), gat, gats (`touch`).
    Get {
        keys: Keys<'a>,
        cas: bool,
        touch: Option<i64>,
    },
    Store {
        verb: StoreVerb,
        key: &'a [u8],
        flags: u32,
        exptime: i64,
        data: &'a [u8],
        cas_unique: u64,
        noreply: bool,
    },
    Delete {
        key: &'a [u8],
        noreply: bool,
    },
    Arith {
        incr: bool,
        key: &'a [u8],
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: &'a [u8],
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        delay: i64,
        noreply: bool,
    },
    Version,
    /// `refresh_certs`: reload the TLS certificate and key (`-Z`).
    RefreshCerts,
    Verbosity {
        level: u64,
        noreply: bool,
    },
    Quit,
    /// `graceful: None` is a mode memcached does not know (refused once shutdown is allowed).
    Shutdown {
        graceful: Option<bool>,
    },
    CacheMemlimit {
        megabytes: u64,
        noreply: bool,
    },
    Stats(StatsGroup),
    SlabsReassign {
        src: i32,
        dst: i32,
    },
    SlabsAutomove(u8),
    LruCrawlerCrawl(ClassSelector<'a>),
    LruCrawlerMetadump(ClassSelector<'a>),
    LruCrawlerToggle(bool),
    /// `lru_crawler tocrawl N` / `sleep N`: tunables of memcached's crawler thread.
    LruCrawlerSetting,
    Lru(LruCommand),
    MetaGet {
        key: Key<'a>,
        flags: MetaFlags<'a>,
    },
    MetaSet {
        key: Key<'a>,
        flags: MetaFlags<'a>,
        data: &'a [u8],
    },
    MetaDelete {
        key: Key<'a>,
        flags: MetaFlags<'a>,
    },
    MetaArith {
        key: Key<'a>,
        flags: MetaFlags<'a>,
    },
    MetaDebug {
        key: Key<'a>,
    },
    MetaNoop,
}

/// A request the protocol rejects. [`Error::wire`] is its reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("unknown command")]
    UnknownCommand,
    #[error("bad command line format")]
    BadFormat,
    #[error("bad data chunk")]
    BadDataChunk,
    #[error("invalid exptime argument")]
    InvalidExptime,
    #[error("invalid numeric delta argument")]
    InvalidDelta,
    #[error("bad delete usage")]
    DeleteUsage,
    #[error("object too large for cache")]
    TooLarge,
    /// A line over [`LINE_MAX`] without a newline: the connection is closed, no reply.
    #[error("line too long")]
    LineTooLong,
    /// An unknown command whose last word starts with `HTTP/`: closed, no reply.
    #[error("HTTP request")]
    HttpRequest,
    #[error("invalid meta flag")]
    InvalidFlag,
    #[error("duplicate meta flag")]
    DuplicateFlag,
    #[error("invalid or duplicate meta flag")]
    InvalidOrDuplicateFlag,
    #[error("bad meta token")]
    BadToken,
    #[error("opaque token too long")]
    OpaqueTooLong,
    #[error("bad base64 key")]
    KeyDecode,
    #[error("invalid ms mode")]
    InvalidSetMode,
    #[error("invalid ma mode")]
    InvalidArithMode,
    #[error("invalid shutdown mode")]
    InvalidShutdownMode,
    #[error("bad command line")]
    BadCommandLine,
    #[error("illegal slab id")]
    IllegalSlabId,
    #[error("crawler sleep too long")]
    CrawlerSleep,
    #[error("crawler error")]
    CrawlerError,
    #[error("stats detail usage")]
    StatsDetailUsage,
    #[error("bad class id")]
    BadClass,
    /// `lru_crawler metadump` after other requests whose replies are still pending.
    #[error("metadump pipelined")]
    MetadumpPipelined,
    /// `cache_memlimit` with a non-number: memcached answers a bare ERROR.
    #[error("bad memory limit")]
    BadMemlimit,
}

impl Error {
    /// The exact reply line memcached sends (without `\r\n`); empty when nothing is sent.
    pub fn wire(self) -> &'static [u8] {
        match self {
            Error::UnknownCommand | Error::BadMemlimit => b"ERROR",
            Error::BadFormat => b"CLIENT_ERROR bad command line format",
            Error::BadDataChunk => b"CLIENT_ERROR bad data chunk",
            Error::InvalidExptime => b"CLIENT_ERROR invalid exptime argument",
            Error::InvalidDelta => b"CLIENT_ERROR invalid numeric delta argument",
            Error::DeleteUsage => {
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
            }
            Error::TooLarge => b"SERVER_ERROR object too large for cache",
            Error::LineTooLong | Error::HttpRequest => b"",
            Error::InvalidFlag => b"CLIENT_ERROR invalid flag",
            Error::DuplicateFlag => b"CLIENT_ERROR duplicate flag",
            Error::InvalidOrDuplicateFlag => b"CLIENT_ERROR invalid or duplicate flag",
            Error::BadToken => b"CLIENT_ERROR bad token in command line format",
            Error::OpaqueTooLong => b"CLIENT_ERROR opaque token too long",
            Error::KeyDecode => b"CLIENT_ERROR error decoding key",
            Error::InvalidSetMode => b"CLIENT_ERROR invalid mode for ms M token",
            Error::InvalidArithMode => b"CLIENT_ERROR invalid mode for ma M token",
            Error::InvalidShutdownMode => b"CLIENT_ERROR invalid shutdown mode",
            Error::BadCommandLine => b"CLIENT_ERROR bad command line",
            Error::IllegalSlabId => b"CLIENT_ERROR Illegal slab id",
            Error::CrawlerSleep => b"CLIENT_ERROR sleep must be one second or less",
            Error::CrawlerError => b"ERROR an unknown error happened",
            Error::StatsDetailUsage => b"CLIENT_ERROR usage: stats detail on|off|dump",
            Error::BadClass => b"BADCLASS invalid class id",
            Error::MetadumpPipelined => b"ERROR cannot pipeline other commands before metadump",
        }
    }

    /// Whether the connection must be closed after this error.
    pub fn closes(self) -> bool {
        matches!(self, Error::LineTooLong | Error::HttpRequest)
    }
}

/// Result of one [`parse`] call.
// A request carries a decoded-key buffer inline: boxing it would cost an allocation per
// request, which the hot path must not do.
#[allow(clippy::large_enum_variant)]
impl Command<'_> {
    /// The request's `noreply` flag, for the commands that take one.
    pub fn noreply_mut(&mut self) -> Option<&mut bool> {
        match self {
            Command::Store { noreply, .. }
            | Command::Delete { noreply, .. }
            | Command::Arith { noreply, .. }
            | Command::Touch { noreply, .. }
            | Command::FlushAll { noreply, .. }
            | Command::Verbosity { noreply, .. }
            | Command::CacheMemlimit { noreply, .. } => Some(noreply),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub enum Parsed<'a> {
    Request {
        command: Command<'a>,
        consumed: usize,
    },
    /// No whole request yet; nothing used.
    Incomplete,
    Rejected {
        error: Error,
        /// Bytes of input the rejected request used.
        consumed: usize,
        /// Bytes of a data block still to be read and thrown away after `consumed`.
        swallow: usize,
        /// The client asked for no reply (classic `noreply`).
        noreply: bool,
        /// A `set` or `ms` refused as too large: memcached unlinks the key's old item, so
        /// that a failed write leaves no stale value behind.
        stale: Option<Key<'a>>,
    },
}

fn reject<'a>(error: Error, consumed: usize) -> Parsed<'a> {
    Parsed::Rejected {
        error,
        consumed,
        swallow: 0,
        noreply: false,
        stale: None,
    }
}

/// Finds the end of the first line: (line without its `\r\n` or `\n`, bytes including it).
fn split_line(input: &[u8]) -> Option<(&[u8], usize)> {
    let nl = memchr::memchr(b'\n', input)?;
    let line = &input[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, nl + 1))
}

/// Key rules: 1..=250 bytes. Spaces and newlines cannot occur in a token; other bytes,
/// control characters included, are stored as memcached 1.6 stores them (protocol.txt asks
/// clients not to send them, but memcached does not refuse them, and clients such as
/// memcaslap rely on that).
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX
}

/// Unsigned decimal as `strtoull` accepts it: optional `+`, digits, no overflow, and
/// trailing whitespace such as a stray `\r` (memcached's number check allows it).
pub fn parse_u64(t: &[u8]) -> Option<u64> {
    let end = t
        .iter()
        .rposition(|b| !matches!(b, b'\t' | b'\r' | 0x0b | 0x0c))
        .map_or(0, |p| p + 1);
    let t = &t[..end];
    let digits = t.strip_prefix(b"+").unwrap_or(t);
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Signed decimal as `strtol` accepts it.
pub fn parse_i64(t: &[u8]) -> Option<i64> {
    match t.strip_prefix(b"-") {
        Some(digits) => {
            if digits.starts_with(b"+") {
                return None;
            }
            let v = parse_u64(digits)?;
            if v <= i64::MAX as u64 + 1 {
                Some((v as i64).wrapping_neg())
            } else {
                None
            }
        }
        None => i64::try_from(parse_u64(t)?).ok(),
    }
}

/// An exptime as memcached 1.6 reads it: `strtol`, then stored in a 32-bit signed int, so
/// 4294967295 (libmemcached's -1) is -1 (already expired) and 4294967296 is 0 (never).
pub fn parse_exptime(t: &[u8]) -> Option<i64> {
    parse_i64(t).map(|v| i64::from(v as i32))
}

/// memcached's client flags: an unsigned number, kept modulo 2^32 as memcached does.
fn parse_client_flags(t: &[u8]) -> Option<u32> {
    parse_u64(t).map(|v| v as u32)
}

/// A data block length: non-negative and small enough that adding `\r\n` cannot overflow.
fn parse_data_len(t: &[u8]) -> Option<usize> {
    let v = parse_i64(t)?;
    if (0..i64::from(i32::MAX) - 2).contains(&v) {
        usize::try_from(v).ok()
    } else {
        None
    }
}

/// Parses one request from the start of `input`.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Parsed<'a> {
    let Some((line, line_len)) = split_line(input) else {
        return incomplete_line(input);
    };
    let mut tokens = Tokens(line);
    let Some(name) = tokens.next() else {
        return reject(Error::UnknownCommand, line_len);
    };
    let rest = tokens.0;
    // Words after the command name; memcached's grammar is mostly about how many there are.
    let args = Tokens(rest);
    match name {
        b"get" | b"gets" => parse_get(rest, name == b"gets", None, line_len),
        b"gat" | b"gats" => {
            let mut args = args;
            let Some(exp) = args.next() else {
                return reject(Error::UnknownCommand, line_len);
            };
            let Some(exptime) = parse_exptime(exp) else {
                return reject(Error::InvalidExptime, line_len);
            };
            parse_get(args.0, name == b"gats", Some(exptime), line_len)
        }
        b"set" => parse_store(StoreVerb::Set, args, input, line_len, limits),
        b"add" => parse_store(StoreVerb::Add, args, input, line_len, limits),
        b"replace" => parse_store(StoreVerb::Replace, args, input, line_len, limits),
        b"append" => parse_store(StoreVerb::Append, args, input, line_len, limits),
        b"prepend" => parse_store(StoreVerb::Prepend, args, input, line_len, limits),
        b"cas" => parse_store(StoreVerb::Cas, args, input, line_len, limits),
        b"delete" => parse_delete(args, line_len),
        b"incr" | b"decr" => parse_arith(name == b"incr", args, line_len),
        b"touch" => parse_touch(args, line_len),
        b"flush_all" => parse_flush(args, line_len),
        b"version" => ok(Command::Version, line_len),
        b"refresh_certs" => ok(Command::RefreshCerts, line_len),
        b"quit" => ok(Command::Quit, line_len),
        b"verbosity" => parse_verbosity(args, line_len),
        b"shutdown" => admin::parse_shutdown(args, line_len),
        b"cache_memlimit" => parse_memlimit(args, line_len),
        b"stats" => admin::parse_stats(args, line_len),
        b"slabs" => admin::parse_slabs(args, line_len),
        b"lru_crawler" => admin::parse_lru_crawler(args, line_len),
        b"lru" => admin::parse_lru(args, line_len),
        b"mn" => ok(Command::MetaNoop, line_len),
        b"mg" | b"md" | b"ma" | b"me" | b"ms" => meta::parse(name, args, input, line_len, limits),
        // memcached hangs up on what looks like an HTTP request line.
        _ if Tokens(line).last().is_some_and(|t| t.starts_with(b"HTTP/")) => {
            reject(Error::HttpRequest, line_len)
        }
        _ => reject(Error::UnknownCommand, line_len),
    }
}

fn ok(command: Command<'_>, consumed: usize) -> Parsed<'_> {
    Parsed::Request { command, consumed }
}

/// No newline yet: wait, unless the line is already longer than memcached tolerates.
fn incomplete_line(input: &[u8]) -> Parsed<'_> {
    let limit = if input.starts_with(b"get ") || input.starts_with(b"gets ") {
        GET_LINE_MAX
    } else {
        LINE_MAX
    };
    if input.len() > limit {
        reject(Error::LineTooLong, 0)
    } else {
        Parsed::Incomplete
    }
}

fn is_noreply(t: Option<&[u8]>) -> bool {
    t == Some(b"noreply".as_slice())
}

fn parse_get(keys: &[u8], cas: bool, touch: Option<i64>, line_len: usize) -> Parsed<'_> {
    let mut n = 0;
    for key in Tokens(keys) {
        if !valid_key(key) {
            return reject(Error::BadFormat, line_len);
        }
        n += 1;
    }
    if n == 0 && touch.is_none() {
        return reject(Error::UnknownCommand, line_len);
    }
    ok(
        Command::Get {
            keys: Keys(keys),
            cas,
            touch,
        },
        line_len,
    )
}

/// A storage command's line (`set`, `add`, `replace`, `cas`...), its data block aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLine<'a> {
    pub verb: StoreVerb,
    pub key: &'a [u8],
    pub flags: u32,
    pub exptime: i64,
    /// The data block's announced length (without its `\r\n`), at most `-I`.
    pub len: usize,
    pub cas_unique: u64,
    pub noreply: bool,
    /// Bytes of the line with its `\r\n`.
    pub line_len: usize,
}

// The rejection is the `Parsed` the caller returns as is (a request keeps its key inline).
#[allow(clippy::result_large_err)]
fn store_line<'a>(
    verb: StoreVerb,
    args: Tokens<'a>,
    line_len: usize,
    limits: &Limits,
) -> Result<StoreLine<'a>, Parsed<'a>> {
    let mut words = [&[][..]; 6];
    let mut n = 0;
    for t in args {
        if n == words.len() {
            return Err(reject(Error::UnknownCommand, line_len));
        }
        words[n] = t;
        n += 1;
    }
    let fixed = if verb == StoreVerb::Cas { 5 } else { 4 };
    if n != fixed && n != fixed + 1 {
        return Err(reject(Error::UnknownCommand, line_len));
    }
    // memcached looks only at the last word, whatever position it is in.
    let noreply = is_noreply(Some(words[n - 1]));
    let key = words[0];
    let bad = || Parsed::Rejected {
        error: Error::BadFormat,
        consumed: line_len,
        swallow: 0,
        noreply,
        stale: None,
    };
    let fields = (
        parse_client_flags(words[1]),
        parse_exptime(words[2]),
        parse_data_len(words[3]),
    );
    let (Some(flags), Some(exptime), Some(len)) = fields else {
        return Err(bad());
    };
    let cas_unique = if verb == StoreVerb::Cas {
        parse_u64(words[4]).ok_or_else(bad)?
    } else {
        0
    };
    if !valid_key(key) {
        return Err(bad());
    }
    if key.len() + len + 2 + ITEM_OVERHEAD > limits.item_size_max {
        return Err(Parsed::Rejected {
            error: Error::TooLarge,
            consumed: line_len,
            swallow: len + 2,
            noreply,
            stale: (verb == StoreVerb::Set).then(|| Key::plain(key)),
        });
    }
    Ok(StoreLine {
        verb,
        key,
        flags,
        exptime,
        len,
        cas_unique,
        noreply,
        line_len,
    })
}

fn parse_store<'a>(
    verb: StoreVerb,
    args: Tokens<'a>,
    input: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    let l = match store_line(verb, args, line_len, limits) {
        Ok(l) => l,
        Err(rejected) => return rejected,
    };
    let Some(data) = data_block(input, line_len, l.len) else {
        return Parsed::Incomplete;
    };
    let consumed = line_len + l.len + 2;
    let Some(data) = data else {
        return Parsed::Rejected {
            error: Error::BadDataChunk,
            consumed,
            swallow: 0,
            noreply: l.noreply,
            stale: None,
        };
    };
    ok(
        Command::Store {
            verb,
            key: l.key,
            flags: l.flags,
            exptime: l.exptime,
            data,
            cas_unique: l.cas_unique,
            noreply: l.noreply,
        },
        consumed,
    )
}

/// A `set`, `add`, `replace` or `cas` whose line is whole and valid but whose data block
/// has not all arrived (what [`parse`] answers `Incomplete` for): its line, so that the
/// value can be received straight into a reserved item. `None` for anything else.
pub fn pending_store<'a>(input: &'a [u8], limits: &Limits) -> Option<StoreLine<'a>> {
    let (line, line_len) = split_line(input)?;
    let mut tokens = Tokens(line);
    let verb = match tokens.next()? {
        b"set" => StoreVerb::Set,
        b"add" => StoreVerb::Add,
        b"replace" => StoreVerb::Replace,
        b"cas" => StoreVerb::Cas,
        _ => return None,
    };
    let l = store_line(verb, Tokens(tokens.0), line_len, limits).ok()?;
    (input.len() < line_len + l.len + 2).then_some(l)
}

/// The data block after a storage line: `None` until `len + 2` bytes arrived, then the data
/// if it ends in `\r\n` (`Some(None)` otherwise).
fn data_block(input: &[u8], line_len: usize, len: usize) -> Option<Option<&[u8]>> {
    let block = input.get(line_len..line_len + len + 2)?;
    Some(block.strip_suffix(b"\r\n"))
}

fn parse_delete(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let Some(key) = args.next() else {
        return reject(Error::UnknownCommand, line_len);
    };
    let a = args.next();
    let b = args.next();
    if args.next().is_some() {
        return reject(Error::UnknownCommand, line_len);
    }
    // memcached takes a trailing `noreply` before it judges the line, so it silences even
    // the usage error of `delete <key> <n> noreply`.
    let noreply = is_noreply(b.or(a));
    let zero = |t: Option<&[u8]>| t == Some(b"0".as_slice());
    let valid = match (a, b) {
        (None, None) => true,
        (Some(_), None) => zero(a) || noreply,
        (Some(_), Some(_)) => zero(a) && noreply,
        (None, Some(_)) => false,
    };
    let error = if !valid {
        Error::DeleteUsage
    } else if !valid_key(key) {
        Error::BadFormat
    } else {
        return ok(Command::Delete { key, noreply }, line_len);
    };
    Parsed::Rejected {
        error,
        consumed: line_len,
        swallow: 0,
        noreply,
        stale: None,
    }
}

/// The shape incr/decr/touch share: `<key> <arg> [noreply]`. A trailing `noreply` also
/// silences the argument's own error, as in memcached.
fn key_and_arg(mut args: Tokens<'_>) -> Result<(&[u8], &[u8], bool), Error> {
    let (Some(key), Some(arg)) = (args.next(), args.next()) else {
        return Err(Error::UnknownCommand);
    };
    let last = args.next();
    if args.next().is_some() {
        return Err(Error::UnknownCommand);
    }
    if !valid_key(key) {
        return Err(Error::BadFormat);
    }
    Ok((key, arg, is_noreply(last.or(Some(arg)))))
}

/// A rejection whose error a trailing `noreply` silences.
fn reject_quietly(error: Error, consumed: usize, noreply: bool) -> Parsed<'static> {
    Parsed::Rejected {
        error,
        consumed,
        swallow: 0,
        noreply,
        stale: None,
    }
}

fn parse_arith(incr: bool, args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let (key, delta, noreply) = match key_and_arg(args) {
        Ok(parts) => parts,
        Err(error) => return reject(error, line_len),
    };
    match parse_u64(delta) {
        Some(delta) => ok(
            Command::Arith {
                incr,
                key,
                delta,
                noreply,
            },
            line_len,
        ),
        None => reject_quietly(Error::InvalidDelta, line_len, noreply),
    }
}

fn parse_touch(args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let (key, exp, noreply) = match key_and_arg(args) {
        Ok(parts) => parts,
        Err(error) => return reject(error, line_len),
    };
    match parse_exptime(exp) {
        Some(exptime) => ok(
            Command::Touch {
                key,
                exptime,
                noreply,
            },
            line_len,
        ),
        None => reject_quietly(Error::InvalidExptime, line_len, noreply),
    }
}

fn parse_flush(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let a = args.next();
    let b = args.next();
    if args.next().is_some() {
        return reject(Error::UnknownCommand, line_len);
    }
    // As memcached: `noreply` only counts as the last word; the delay is the first word
    // unless the only word is `noreply`.
    let noreply = is_noreply(b.or(a));
    let delay_token = if noreply && b.is_none() { None } else { a };
    let delay = match delay_token {
        None => 0,
        Some(t) => match parse_exptime(t) {
            Some(d) => d,
            None => {
                return Parsed::Rejected {
                    error: Error::InvalidExptime,
                    consumed: line_len,
                    swallow: 0,
                    noreply,
                    stale: None,
                }
            }
        },
    };
    ok(Command::FlushAll { delay, noreply }, line_len)
}

fn parse_verbosity(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let Some(level) = args.next() else {
        return reject(Error::UnknownCommand, line_len);
    };
    let last = args.next();
    if args.next().is_some() {
        return reject(Error::UnknownCommand, line_len);
    }
    let noreply = is_noreply(last.or(Some(level)));
    match parse_u64(level) {
        Some(level) => ok(Command::Verbosity { level, noreply }, line_len),
        None => Parsed::Rejected {
            error: Error::BadFormat,
            consumed: line_len,
            swallow: 0,
            noreply,
            stale: None,
        },
    }
}

fn parse_memlimit(mut args: Tokens<'_>, line_len: usize) -> Parsed<'_> {
    let Some(mb) = args.next() else {
        return reject(Error::UnknownCommand, line_len);
    };
    let last = args.next();
    if args.next().is_some() {
        return reject(Error::UnknownCommand, line_len);
    }
    let noreply = is_noreply(last.or(Some(mb)));
    match parse_u64(mb) {
        Some(megabytes) => ok(Command::CacheMemlimit { megabytes, noreply }, line_len),
        None => Parsed::Rejected {
            error: Error::BadMemlimit,
            consumed: line_len,
            swallow: 0,
            noreply,
            stale: None,
        },
    }
}

#[cfg(test)]
mod tests;
