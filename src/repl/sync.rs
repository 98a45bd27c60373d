//! A full resynchronization: the RDB a replica loads before the stream.
//!
//! The dump is made by persistence's RDB writer ([`crate::persist::save::save_rdb_with`]),
//! the same point-in-time snapshot as BGSAVE (no fork, no stop of the world), into a file
//! of its own that is read back and removed. The replica is attached to the stream at the
//! snapshot's point in time (every stripe locked), so every write that takes its stripe
//! lock after that point is in the stream, and every one before it is in the dump. A write
//! that took its stripe lock before the point but reached the stream after it is in both
//! (the stream is fed after a command's stripe locks are released): a replica may apply it
//! twice, which is harmless for the idempotent writes but not for INCR and the like
//! (docs/architecture.md, "Replication").

use std::path::PathBuf;
use std::sync::Arc;

use crate::commands::{ClientInfo, Context};
use crate::persist::rdb::WriterOptions;
use crate::persist::save::{save_rdb_with, Preamble};

/// The dump of a full resync and the stream offset it ends at.
pub struct FullSync {
    pub rdb: Vec<u8>,
    pub offset: u64,
}

/// Makes the dump and attaches `info`'s connection to the stream at its point in time
/// (on failure it is not attached).
pub fn full_sync(ctx: &Context, info: &Arc<ClientInfo>) -> std::io::Result<FullSync> {
    let dir = scratch_dir(info.id);
    std::fs::create_dir_all(&dir)?;
    let functions: Vec<Vec<u8>> = ctx
        .scripting
        .with_libraries(|libs| libs.iter().map(|l| l.code.clone()).collect());
    let opts = WriterOptions {
        compress: ctx.directives.int("rdbcompression") != 0,
        checksum: ctx.directives.int("rdbchecksum") != 0,
    };
    let pre = Preamble {
        functions: &functions,
        ..Preamble::default()
    };
    let mut offset = None;
    let saved = save_rdb_with(&ctx.store, &dir, "sync.rdb", opts, pre, &mut || {
        offset = Some(ctx.hub.repl.attach(info));
    });
    let rdb = saved.and_then(|_| std::fs::read(dir.join("sync.rdb")));
    let _ = std::fs::remove_dir_all(&dir);
    match (rdb, offset) {
        (Ok(rdb), Some(offset)) => Ok(FullSync { rdb, offset }),
        (Err(e), _) => {
            ctx.hub.repl.detach(info.id);
            Err(e)
        }
        (Ok(_), None) => Err(std::io::Error::other("the snapshot did not start")),
    }
}

/// A directory of this sync's own: the writer's temporary name (`temp-<pid>.rdb`) would
/// otherwise meet a BGSAVE's in `dir`.
fn scratch_dir(client: u64) -> PathBuf {
    std::env::temp_dir().join(format!("slabd-sync-{}-{client}", std::process::id()))
}
