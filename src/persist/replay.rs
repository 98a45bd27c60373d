//! Replaying AOF files (an RDB preamble, then commands) into the store at start-up and
//! DEBUG LOADAOF.

use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::path::Path;

use super::aof::{encode, CommandReader};
use super::aof_log::MCSET;
use crate::commands::Context;
use crate::storage::{Expiry, Mode, Write};

/// Replays one AOF file (an RDB preamble, then commands). A torn last command is cut off
/// when `truncate_ok` (the file is truncated to its last whole command, with a warning);
/// anything else that is not a command stops start-up with the file name and offset.
pub(crate) fn replay_file(ctx: &Context, path: &Path, truncate_ok: bool) -> Result<u64, String> {
    let name = path.display().to_string();
    let mut head = [0u8; 5];
    let is_rdb = {
        use std::io::Read;
        let mut f = File::open(path).map_err(|e| {
            // Redis's words (integration/aof-multi-part looks for them).
            format!(
                "Fatal error: can't open the append log file {name} for reading: {}",
                super::strerror(&e)
            )
        })?;
        f.read(&mut head).map_err(|e| e.to_string())? == 5 && &head == b"REDIS"
    };
    let mut keys = 0;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let (reader, start) = if is_rdb {
        let mut function = |code: &[u8]| super::load::load_function(ctx, code, false);
        let mut sinks = super::load::Sinks {
            limits: &ctx.collections,
            function: &mut function,
        };
        let (report, used, rest) = super::load::load_rdb_stream(
            &ctx.store,
            BufReader::new(file),
            &name,
            super::unix_ms(),
            &mut sinks,
        )
        .map_err(|e| e.to_string())?;
        keys += report.keys_loaded;
        (rest, used)
    } else {
        (BufReader::new(file), 0)
    };
    let mut cmds = CommandReader::new(reader, start);
    let mut replayer = Replayer::new(ctx);
    // Where the open MULTI began: a file that ends inside one is torn there (Redis reverts
    // the incomplete transaction).
    let mut multi_at = None;
    loop {
        let at = cmds.offset();
        let next = match cmds.next() {
            Ok(None) => match multi_at {
                Some(valid_up_to) => Err(super::aof::AofError::Truncated { valid_up_to }),
                None => Ok(None),
            },
            other => other,
        };
        match next {
            Ok(Some(args)) => {
                if args[0].eq_ignore_ascii_case(b"MULTI") {
                    multi_at = Some(at);
                } else if args[0].eq_ignore_ascii_case(b"EXEC")
                    || args[0].eq_ignore_ascii_case(b"DISCARD")
                {
                    multi_at = None;
                }
                if !replayer.apply(&args, cmds.mc_flags()) {
                    // Redis refuses to start, whatever aof-load-truncated says.
                    return Err(format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(&args[0])
                    ));
                }
                keys += 1;
            }
            Ok(None) => break,
            Err(super::aof::AofError::Truncated { valid_up_to }) if truncate_ok => {
                eprintln!("!!! Warning: short read while loading the AOF file {name}!!!");
                eprintln!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
                let f = OpenOptions::new().write(true).open(path).map_err(|e| e.to_string())?;
                f.set_len(valid_up_to).map_err(|e| e.to_string())?;
                f.sync_all().map_err(|e| e.to_string())?;
                eprintln!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                break;
            }
            Err(super::aof::AofError::Truncated { valid_up_to }) => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {name} at offset {valid_up_to}. \
                     You can: 1) Make a backup of your AOF file, then use ./slabd check-aof --fix <filename.manifest>. \
                     2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                ));
            }
            Err(e) => {
                return Err(format!(
                    "Bad file format reading the append only file {name}: {e}. Make a backup of your AOF file, \
                     then use ./slabd check-aof --fix <filename.manifest>"
                ))
            }
        }
    }
    Ok(keys)
}

/// Runs logged commands: slabd's own records directly, everything else (a Redis AOF) through
/// the RESP command set as a trusted client.
pub(crate) struct Replayer<'a> {
    ctx: &'a Context,
    session: crate::commands::Session,
    db: u8,
    wire: Vec<u8>,
    out: Vec<u8>,
}

impl Drop for Replayer<'_> {
    fn drop(&mut self) {
        self.session.close(self.ctx);
        self.ctx.clients.close(self.session.info.id);
    }
}

impl<'a> Replayer<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        let info = ctx.clients.open("aof".into(), "aof".into(), 0);
        Replayer {
            ctx,
            session: crate::commands::Session::trusted(info, &ctx.users),
            db: 0,
            wire: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Stores a memcached item (a flagged SET or an old SLABD.MCSET record) as it was.
    fn store_mc(&self, key: &[u8], value: &[u8], flags: u32, expiry: Expiry) {
        let write = Write::new(self.db, key, value, flags, expiry, Mode::Set);
        self.ctx.store.store(&write);
    }

    /// Runs one command; `mc_flags`: memcached client flags its annotation gave (for a
    /// `SET key value [PXAT ms]` record). False when no such command exists.
    fn apply(&mut self, args: &[Vec<u8>], mc_flags: Option<u32>) -> bool {
        if let Some(flags) = mc_flags.filter(|_| args[0].eq_ignore_ascii_case(b"SET")) {
            let expiry = match args.len() {
                3 => Some(Expiry::Never),
                5 if args[3].eq_ignore_ascii_case(b"PXAT") => std::str::from_utf8(&args[4])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .map(Expiry::AtMs),
                _ => None,
            };
            if let Some(expiry) = expiry {
                self.store_mc(&args[1], &args[2], flags, expiry);
                return true;
            }
        }
        if args[0].eq_ignore_ascii_case(MCSET) && args.len() == 5 {
            let flags = std::str::from_utf8(&args[3])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let ms: u64 = std::str::from_utf8(&args[4])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let expiry = if ms == 0 {
                Expiry::Never
            } else {
                Expiry::AtMs(ms)
            };
            self.store_mc(&args[1], &args[2], flags, expiry);
            return true;
        }
        if args[0].eq_ignore_ascii_case(b"SELECT") && args.len() == 2 {
            if let Some(db) = std::str::from_utf8(&args[1])
                .ok()
                .and_then(|s| s.parse().ok())
            {
                self.db = db;
            }
        }
        self.wire.clear();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        encode(&mut self.wire, &refs);
        self.out.clear();
        let _ = crate::commands::process(self.ctx, &mut self.session, &self.wire, &mut self.out);
        !self.out.starts_with(b"-ERR unknown command")
    }
}
