//! memcached's administrative text commands: flush_all, version, verbosity, shutdown,
//! cache_memlimit, stats, slabs, lru and lru_crawler, refresh_certs. The data commands
//! (get, storage, delete, incr/decr, touch, meta) stay in `mod.rs`.

use std::sync::atomic::Ordering;

use super::{flush_delay, stats, Context, Session, Step, MEMCACHED_VERSION, MEMLIMIT_MIN_MB};
use crate::protocol::memcache::{Command, Error, Reply};
use crate::stats::bump;

/// Runs one administrative command; a data command is not expected here (it answers
/// nothing).
pub(super) fn execute(
    ctx: &Context,
    session: &Session,
    cmd: &Command<'_>,
    out: &mut Vec<u8>,
) -> Option<Step> {
    let stats = &ctx.threads[session.worker];
    let clock = ctx.store.clock();
    match *cmd {
        Command::FlushAll { delay, noreply } => {
            let reply: &[u8] = if ctx.settings.flush_enabled {
                bump(&stats.cmd_flush);
                ctx.store.flush(Some(0), flush_delay(clock, delay));
                b"OK\r\n"
            } else {
                b"CLIENT_ERROR flush_all not allowed\r\n"
            };
            if !noreply {
                out.extend_from_slice(reply);
            }
        }
        Command::RefreshCerts => match ctx.tls.refresh_memcache() {
            Ok(()) => out.extend_from_slice(b"OK\r\n"),
            Err(e) => {
                out.extend_from_slice(e.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        },
        Command::Version => {
            out.extend_from_slice(b"VERSION ");
            out.extend_from_slice(MEMCACHED_VERSION.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Command::Verbosity { level, noreply } => {
            ctx.verbosity.store(level.min(2) as u8, Ordering::Relaxed);
            if !noreply {
                Reply::Ok.write(out);
            }
        }
        Command::Quit => return Some(Step::Close),
        Command::Shutdown { graceful } => {
            if !ctx.settings.shutdown_enabled {
                out.extend_from_slice(b"ERROR: shutdown not enabled\r\n");
            } else if graceful.is_some() {
                return Some(Step::Shutdown);
            } else {
                Reply::Error(Error::InvalidShutdownMode).write(out);
            }
        }
        Command::CacheMemlimit { megabytes, noreply } => {
            let reply: &[u8] = if megabytes < MEMLIMIT_MIN_MB {
                b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
            } else {
                let bytes =
                    usize::try_from(megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
                match ctx.store.set_memory_limit(bytes) {
                    Ok(()) => b"OK\r\n",
                    Err(_) => b"MEMLIMIT_ADJUST_FAILED input value is not valid\r\n",
                }
            };
            if !noreply {
                out.extend_from_slice(reply);
            }
        }
        Command::Stats(group) => stats::stats(
            ctx,
            session.info.id,
            group,
            &mut stats::StatWriter::ascii(out),
        ),
        Command::SlabsReassign { src, dst } => stats::slabs_reassign(ctx, src, dst, out),
        Command::SlabsAutomove(mode) => {
            ctx.store.set_automove(mode);
            Reply::Ok.write(out);
        }
        Command::LruCrawlerCrawl(_) | Command::LruCrawlerMetadump(_)
            if !ctx.memcache.crawler.load(Ordering::Relaxed) =>
        {
            out.extend_from_slice(b"CLIENT_ERROR lru crawler disabled\r\n");
        }
        Command::LruCrawlerCrawl(_) => {
            ctx.store.crawl();
            Reply::Ok.write(out);
        }
        // memcached streams a dump after everything before it was sent, and refuses one
        // behind replies still pending.
        Command::LruCrawlerMetadump(_) if !out.is_empty() => {
            Reply::Error(Error::MetadumpPipelined).write(out)
        }
        Command::LruCrawlerMetadump(sel) => stats::metadump(ctx, sel, out),
        Command::LruCrawlerToggle(on) => {
            let was = ctx.memcache.crawler.swap(on, Ordering::Relaxed);
            if on && was {
                out.extend_from_slice(b"ERROR failed to start lru crawler thread\r\n");
            } else {
                Reply::Ok.write(out);
            }
        }
        Command::LruCrawlerSetting => Reply::Ok.write(out),
        Command::Lru(lru) => stats::lru(ctx, lru, out),
        _ => {}
    }
    None
}
