//! Requests end to end through `commands::process` against a real store, fed in chunks the
//! way the server reads them. The first byte picks the protocol and the chunk sizes.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use slabd::commands::{process, Context, Protocol, Session, Step};
use slabd::config::Settings;
use slabd::storage::{Clock, Store, StoreConfig};

/// Input the server would hold before giving up on a connection; bounds each run.
const INPUT_MAX: usize = 64 * 1024;

fn context() -> Context {
    let settings = Settings {
        threads: 1,
        memory_limit: 4 << 20,
        ..Settings::default()
    };
    let store = Store::new(
        StoreConfig {
            memory_limit: settings.memory_limit,
            item_size_max: settings.item_size_max,
            slab_chunk_max: settings.slab_chunk_max.min(settings.item_size_max),
            ..StoreConfig::default()
        },
        Arc::new(Clock::manual(1_700_000_000)),
    )
    .expect("store");
    Context::new(store, settings)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    if data.len() > INPUT_MAX {
        return;
    }
    let protocol = if control & 1 == 0 {
        Protocol::Memcache
    } else {
        Protocol::Resp
    };
    // Chunk sizes follow a small pseudo-random sequence seeded from the control byte.
    let mut seed = u32::from(control >> 1) | 1;
    let ctx = context();
    let info = ctx
        .clients
        .open("127.0.0.1:5000".into(), "127.0.0.1:11211".into(), 0);
    let mut session = Session::new(info, protocol, 0);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    'conn: while fed < data.len() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let chunk = 1 + (seed as usize % 64);
        let end = (fed + chunk).min(data.len());
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
        let mut at = 0;
        loop {
            match process(&ctx, &mut session, &buf[at..], &mut out) {
                Step::Done(n) => {
                    assert!(n > 0 && n <= buf.len() - at, "bad consumed {n}");
                    at += n;
                }
                Step::Incomplete => break,
                Step::Close | Step::Shutdown => break 'conn,
            }
            if out.len() > 1 << 20 {
                out.clear();
            }
        }
        buf.drain(..at);
        ctx.store.clock().advance(u32::from(control & 0x3));
    }
    ctx.clients.close(session.info.id);
});
