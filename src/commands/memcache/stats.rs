//! `stats` groups, `slabs reassign` and `lru_crawler metadump`, with memcached 1.6's names,
//! order and number formats so monitoring tools read them unchanged.

use std::sync::atomic::Ordering;

use super::{PrefixCounts, MEMCACHED_VERSION};
use crate::commands::Context;
use crate::protocol::memcache::{binary, write_u64, ClassSelector, LruCommand, Reply, StatsGroup};
use crate::stats::{sum, sum_class};
use crate::storage::{Expiry, ReassignOutcome};

/// Writes statistics as memcached answers `stats`: `STAT name value\r\n` lines ended by
/// `END` over the text protocol, one `STAT` packet each (key = name, value = text) ended
/// by an empty packet over the binary protocol.
pub(super) struct StatWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Binary protocol: the request's opaque, echoed in every packet.
    binary: Option<u32>,
    /// Where the packet being written starts, and where its name ends.
    at: usize,
    name_end: usize,
}

impl<'a> StatWriter<'a> {
    pub(super) fn ascii(out: &'a mut Vec<u8>) -> StatWriter<'a> {
        StatWriter {
            out,
            binary: None,
            at: 0,
            name_end: 0,
        }
    }

    pub(super) fn binary(out: &'a mut Vec<u8>, opaque: u32) -> StatWriter<'a> {
        StatWriter {
            out,
            binary: Some(opaque),
            at: 0,
            name_end: 0,
        }
    }

    fn begin(&mut self) {
        self.at = self.out.len();
        match self.binary {
            Some(opaque) => binary::write_header(
                self.out,
                binary::opcode::STAT,
                binary::Status::Success,
                0,
                0,
                0,
                opaque,
                0,
            ),
            None => self.out.extend_from_slice(b"STAT "),
        }
    }

    /// Ends the name; what follows is the value.
    fn value(&mut self) {
        self.name_end = self.out.len();
        if self.binary.is_none() {
            self.out.push(b' ');
        }
    }

    fn end(&mut self) {
        if self.binary.is_some() {
            let start = self.at + binary::HEADER_LEN;
            let key = (self.name_end - start) as u16;
            let body = (self.out.len() - start) as u32;
            self.out[self.at + 2..self.at + 4].copy_from_slice(&key.to_be_bytes());
            self.out[self.at + 8..self.at + 12].copy_from_slice(&body.to_be_bytes());
        } else {
            self.out.extend_from_slice(b"\r\n");
        }
    }

    fn start(&mut self, name: &str) {
        self.begin();
        self.out.extend_from_slice(name.as_bytes());
        self.value();
    }

    fn num(&mut self, name: &str, v: u64) {
        self.start(name);
        write_u64(self.out, v);
        self.end();
    }

    fn text(&mut self, name: &str, v: &str) {
        self.bytes(name.as_bytes(), v.as_bytes());
    }

    fn bytes(&mut self, name: &[u8], v: &[u8]) {
        self.begin();
        self.out.extend_from_slice(name);
        self.value();
        self.out.extend_from_slice(v);
        self.end();
    }

    fn yes_no(&mut self, name: &str, v: bool) {
        self.text(name, if v { "yes" } else { "no" });
    }

    /// `STAT <prefix><id>:<name> <v>` as per-class and per-connection stats are named.
    fn prefixed(&mut self, prefix: &str, id: u64, name: &str, v: u64) {
        self.prefixed_text(prefix, id, name, |out| write_u64(out, v));
    }

    fn prefixed_text(&mut self, prefix: &str, id: u64, name: &str, v: impl FnOnce(&mut Vec<u8>)) {
        self.begin();
        self.out.extend_from_slice(prefix.as_bytes());
        write_u64(self.out, id);
        self.out.push(b':');
        self.out.extend_from_slice(name.as_bytes());
        self.value();
        v(self.out);
        self.end();
    }

    /// `END`, or the binary protocol's empty packet.
    pub(super) fn finish(&mut self) {
        match self.binary {
            Some(opaque) => binary::StatPackets {
                out: self.out,
                opaque,
            }
            .finish(),
            None => Reply::End.write(self.out),
        }
    }
}

/// Answers one `stats` group for client `me`.
pub(super) fn stats(ctx: &Context, me: u64, group: StatsGroup, w: &mut StatWriter<'_>) {
    match group {
        StatsGroup::General => general(ctx, w),
        StatsGroup::Settings => settings(ctx, w),
        StatsGroup::Items => items(ctx, w),
        StatsGroup::Slabs => slabs(ctx, w),
        StatsGroup::Sizes => sizes(ctx, w),
        // memcached sends these without a terminator.
        StatsGroup::SizesEnable => return sizes_toggle(ctx, true, w),
        StatsGroup::SizesDisable => return sizes_toggle(ctx, false, w),
        StatsGroup::Cachedump { class, limit } => return cachedump(ctx, class, limit, w.out),
        StatsGroup::Conns => conns(ctx, me, w),
        StatsGroup::Reset => {
            reset(ctx);
            if w.binary.is_none() {
                return Reply::Reset.write(w.out);
            }
        }
        StatsGroup::DetailOn | StatsGroup::DetailOff => {
            let on = group == StatsGroup::DetailOn;
            ctx.memcache.detail.store(on, Ordering::Relaxed);
            if w.binary.is_none() {
                return Reply::Ok.write(w.out);
            }
        }
        StatsGroup::DetailDump => {
            if w.binary.is_none() {
                detail_dump(ctx, w.out);
            } else {
                let mut dump = Vec::new();
                detail_dump(ctx, &mut dump);
                w.bytes(b"detailed", &dump);
            }
        }
    }
    w.finish();
}

/// `stats reset`: memcached resets its totals, not what is open now.
fn reset(ctx: &Context) {
    for t in &ctx.threads {
        t.reset();
    }
    ctx.store.reset_stats();
    let server = &ctx.server;
    for total in [
        &server.total_connections,
        &server.rejected_connections,
        &server.listen_disabled_num,
        &server.time_in_listen_disabled_us,
    ] {
        total.store(0, Ordering::Relaxed);
    }
    ctx.memcache.prefixes.lock().clear();
}

/// User and system CPU seconds of this process, from /proc (no FFI needed).
fn rusage() -> (String, String) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux reports these in USER_HZ, which is 100 on every supported architecture.
    let fmt = |t: u64| format!("{}.{:06}", t / 100, (t % 100) * 10_000);
    (fmt(ticks(11)), fmt(ticks(12)))
}

fn general(ctx: &Context, w: &mut StatWriter<'_>) {
    let clock = ctx.store.clock();
    let t = sum(&ctx.threads);
    let server = ctx.server.snapshot();
    let store = ctx.store.stats();
    let (user, system) = rusage();
    w.num("pid", u64::from(std::process::id()));
    w.num("uptime", u64::from(clock.now()));
    w.num("time", clock.unix_now());
    w.text("version", MEMCACHED_VERSION);
    // memcached's event library; slabd's loop is mio.
    w.text("libevent", "mio");
    w.num("pointer_size", usize::BITS as u64);
    w.text("rusage_user", &user);
    w.text("rusage_system", &system);
    w.num(
        "max_connections",
        ctx.maxconns.load(Ordering::Relaxed) as u64,
    );
    w.num("curr_connections", server.curr_connections);
    w.num("total_connections", server.total_connections);
    if ctx.settings.maxconns_fast {
        w.num("rejected_connections", server.rejected_connections);
    }
    w.num("connection_structures", server.connection_structures);
    // memcached's names; "free" buffers have no slabd equivalent (buffers belong to their
    // connection); response_obj_oom counts `-o read_buf_mem_limit` refusals.
    w.num("response_obj_oom", t.response_obj_oom);
    w.num("response_obj_count", server.response_obj_count);
    w.num("response_obj_bytes", server.response_obj_bytes);
    w.num("read_buf_count", server.read_buf_count);
    w.num("read_buf_bytes", server.read_buf_bytes);
    w.num("read_buf_bytes_free", 0);
    w.num("read_buf_oom", 0);
    w.num("reserved_fds", server.reserved_fds);
    w.num("cmd_get", t.cmd_get);
    w.num("cmd_set", t.cmd_set);
    w.num("cmd_flush", t.cmd_flush);
    w.num("cmd_touch", t.cmd_touch);
    w.num("cmd_meta", t.cmd_meta);
    w.num("get_hits", t.get_hits);
    w.num("get_misses", t.get_misses);
    w.num("get_expired", t.get_expired);
    w.num("get_flushed", t.get_flushed);
    w.num("delete_misses", t.delete_misses);
    w.num("delete_hits", t.delete_hits);
    w.num("incr_misses", t.incr_misses);
    w.num("incr_hits", t.incr_hits);
    w.num("decr_misses", t.decr_misses);
    w.num("decr_hits", t.decr_hits);
    w.num("cas_misses", t.cas_misses);
    w.num("cas_hits", t.cas_hits);
    w.num("cas_badval", t.cas_badval);
    w.num("touch_hits", t.touch_hits);
    w.num("touch_misses", t.touch_misses);
    w.num("store_too_large", t.store_too_large);
    w.num("store_no_memory", t.store_no_memory);
    w.num("auth_cmds", t.auth_cmds);
    w.num("auth_errors", t.auth_errors);
    if ctx.idle_timeout.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        w.num("idle_kicks", t.idle_kicks);
    }
    w.num("bytes_read", t.bytes_read);
    w.num("bytes_written", t.bytes_written);
    w.num("limit_maxbytes", store.limit_maxbytes);
    w.num("accepting_conns", u64::from(server.accept_paused == 0));
    w.num("listen_disabled_num", server.listen_disabled_num);
    w.num(
        "time_in_listen_disabled_us",
        server.time_in_listen_disabled_us,
    );
    w.num("threads", ctx.threads.len() as u64);
    w.num("conn_yields", t.conn_yields);
    w.num("hash_power_level", u64::from(store.hash_power_level));
    w.num("hash_bytes", store.hash_bytes);
    w.num("hash_is_expanding", u64::from(store.hash_is_expanding));
    // memcached prints these groups only when their machinery is on (stats.t counts them).
    let cfg = ctx.store.config();
    let maintainer = ctx.settings.lru_maintainer;
    if cfg.slab_reassign {
        w.num("slab_reassign_rescues", store.slab_reassign_rescues);
        w.num(
            "slab_reassign_chunk_rescues",
            store.slab_reassign_chunk_rescues,
        );
        w.num(
            "slab_reassign_evictions_nomem",
            store.slab_reassign_evictions_nomem,
        );
        // Page moves in slabd take no item references, so nothing is busy.
        zeros(
            w,
            &[
                "slab_reassign_inline_reclaim",
                "slab_reassign_busy_items",
                "slab_reassign_busy_deletes",
            ],
        );
        w.num(
            "slab_reassign_running",
            u64::from(store.slab_reassign_running),
        );
        w.num("slabs_moved", store.slabs_moved);
    }
    if cfg.lru_crawler {
        zeros(w, &["lru_crawler_running", "lru_crawler_starts"]);
    }
    if maintainer {
        w.num("lru_maintainer_juggles", 0);
    }
    w.num("malloc_fails", store.malloc_fails);
    // `watch` lines: a worker's lines are posted in batches that are never dropped (a
    // full hub mailbox disconnects the watcher instead), so log_worker_dropped stays 0.
    let watchers = &ctx.hub.watchers;
    w.num("log_worker_dropped", 0);
    w.num(
        "log_worker_written",
        watchers.written.load(Ordering::Relaxed),
    );
    w.num(
        "log_watcher_skipped",
        watchers.skipped.load(Ordering::Relaxed),
    );
    w.num("log_watcher_sent", watchers.sent.load(Ordering::Relaxed));
    w.num("log_watchers", watchers.log_watchers() as u64);
    // No NAPI ids or per-thread listener fallback in slabd.
    zeros(w, &["unexpected_napi_ids", "round_robin_fallback"]);
    w.num("bytes", store.bytes);
    w.num("curr_items", store.curr_items);
    w.num("total_items", store.total_items);
    w.num("slab_global_page_pool", store.slab_global_page_pool);
    w.num("expired_unfetched", store.expired_unfetched);
    w.num("evicted_unfetched", store.evicted_unfetched);
    if maintainer {
        w.num("evicted_active", store.evicted_active);
    }
    w.num("evictions", store.evictions);
    w.num("reclaimed", store.reclaimed);
    w.num("crawler_reclaimed", store.crawler_reclaimed);
    w.num("crawler_items_checked", store.crawler_items_checked);
    // memcached's segmented-LRU bookkeeping: slabd's CLOCK moves no items between lists.
    w.num("lrutail_reflocked", 0);
    if maintainer {
        zeros(
            w,
            &[
                "moves_to_cold",
                "moves_to_warm",
                "moves_within_lru",
                "direct_reclaims",
                "lru_bumps_dropped",
            ],
        );
    }
}

/// Counters of memcached machinery slabd does not have: printed as 0 so that tools reading
/// memcached's full list find every name (listed in docs/architecture.md).
fn zeros(w: &mut StatWriter<'_>, names: &[&str]) {
    for name in names {
        w.num(name, 0);
    }
}

fn settings(ctx: &Context, w: &mut StatWriter<'_>) {
    let s = &ctx.settings;
    let cfg = ctx.store.config();
    w.num("maxbytes", ctx.store.stats().limit_maxbytes);
    w.num("maxconns", ctx.maxconns.load(Ordering::Relaxed) as u64);
    w.num("tcpport", u64::from(s.port));
    w.num("udpport", u64::from(s.udp_port));
    let inter = s.listen.join(",");
    w.text("inter", if inter.is_empty() { "NULL" } else { &inter });
    w.num(
        "verbosity",
        u64::from(ctx.verbosity.load(Ordering::Relaxed)),
    );
    w.num("oldest", 0);
    w.text("evictions", if cfg.evict { "on" } else { "off" });
    let socket = s.unix_socket.as_ref().map(|p| p.display().to_string());
    w.text("domain_socket", socket.as_deref().unwrap_or("NULL"));
    w.text("umask", &format!("{:o}", s.unix_mask));
    w.yes_no("shutdown_command", s.shutdown_enabled);
    w.text("growth_factor", &format!("{:.2}", cfg.growth_factor));
    w.num("chunk_size", cfg.chunk_size as u64);
    w.num("num_threads", ctx.threads.len() as u64);
    w.num("num_threads_per_udp", ctx.threads.len() as u64);
    w.text("stat_key_prefix", ":");
    w.yes_no(
        "detail_enabled",
        ctx.memcache.detail.load(Ordering::Relaxed),
    );
    w.num("reqs_per_event", s.reqs_per_event as u64);
    w.yes_no("cas_enabled", cfg.use_cas);
    w.num("tcp_backlog", s.backlog.max(0) as u64);
    w.text("binding_protocol", s.binding_protocol.name());
    w.yes_no("auth_enabled_sasl", s.sasl);
    let auth_file = s.auth_file.as_ref().map(|p| p.display().to_string());
    w.text("auth_enabled_ascii", auth_file.as_deref().unwrap_or("no"));
    w.num("item_size_max", cfg.item_size_max as u64);
    w.yes_no("maxconns_fast", ctx.settings.maxconns_fast);
    w.num("hashpower_init", u64::from(cfg.hashpower));
    w.yes_no("slab_reassign", cfg.slab_reassign);
    w.num("slab_automove", u64::from(cfg.slab_automove));
    w.text("slab_automove_ratio", "0.80");
    w.num("slab_automove_window", 30);
    w.num("slab_chunk_max", cfg.slab_chunk_max as u64);
    w.yes_no("lru_crawler", ctx.memcache.crawler.load(Ordering::Relaxed));
    w.num("lru_crawler_sleep", 100);
    w.num("lru_crawler_tocrawl", 0);
    w.num("tail_repair_time", 0);
    w.yes_no("flush_enabled", s.flush_enabled);
    w.yes_no("dump_enabled", true);
    w.text("hash_algorithm", "foldhash");
    w.yes_no("lru_maintainer_thread", s.lru_maintainer);
    let lru = *ctx.memcache.lru.lock();
    w.yes_no("lru_segmented", lru.segmented);
    w.num("hot_lru_pct", u64::from(lru.hot_pct));
    w.num("warm_lru_pct", u64::from(lru.warm_pct));
    w.text("hot_max_factor", &format!("{:.2}", lru.hot_factor));
    w.text("warm_max_factor", &format!("{:.2}", lru.warm_factor));
    w.yes_no("temp_lru", lru.temp_lru);
    w.text("temporary_ttl", &lru.temporary_ttl.to_string());
    w.num(
        "idle_timeout",
        u64::from(ctx.idle_timeout.load(std::sync::atomic::Ordering::Relaxed)),
    );
    w.num("watcher_logbuf_size", s.watcher_logbuf_size as u64);
    w.num("worker_logbuf_size", s.worker_logbuf_size as u64);
    w.num("read_buf_mem_limit", s.read_buf_mem_limit as u64);
    w.yes_no(
        "track_sizes",
        ctx.memcache.track_sizes.load(Ordering::Relaxed),
    );
    w.yes_no("inline_ascii_response", false);
    // Debian's memcached is built with extstore and TLS; slabd has neither: defaults.
    for (name, v) in [
        ("ext_item_size", "512"),
        ("ext_item_age", "4294967295"),
        ("ext_low_ttl", "0"),
        ("ext_recache_rate", "2000"),
        ("ext_wbuf_size", "4194304"),
        ("ext_compact_under", "0"),
        ("ext_drop_under", "0"),
        ("ext_max_sleep", "1000000"),
        ("ext_max_frag", "0.80"),
        ("slab_automove_freeratio", "0.010"),
        ("ext_drop_unread", "no"),
        ("ssl_enabled", "no"),
        ("ssl_chain_cert", "(null)"),
        ("ssl_key", "(null)"),
        ("ssl_verify_mode", "0"),
        ("ssl_keyformat", "1"),
        ("ssl_ciphers", "NULL"),
        ("ssl_ca_cert", "NULL"),
        ("ssl_wbuf_size", "16384"),
        ("ssl_session_cache", "no"),
        ("ssl_kernel_tls", "no"),
        ("ssl_min_version", "tlsv1.2"),
        ("num_napi_ids", "(null)"),
        ("memory_file", "(null)"),
    ] {
        w.text(name, v);
    }
}

fn items(ctx: &Context, w: &mut StatWriter<'_>) {
    for c in ctx.store.slab_stats().iter().filter(|c| c.number > 0) {
        let id = u64::from(c.id);
        for (name, v) in [
            ("number", c.number),
            ("age", c.age),
            ("mem_requested", c.mem_requested),
            ("evicted", c.evicted),
            ("evicted_nonzero", c.evicted_nonzero),
            ("evicted_time", c.evicted_time),
            ("outofmemory", c.outofmemory),
            ("reclaimed", c.reclaimed),
            ("expired_unfetched", c.expired_unfetched),
            ("evicted_unfetched", c.evicted_unfetched),
            ("evicted_active", c.evicted_active),
            ("crawler_reclaimed", c.crawler_reclaimed),
        ] {
            w.prefixed("items:", id, name, v);
        }
    }
}

fn slabs(ctx: &Context, w: &mut StatWriter<'_>) {
    let classes = ctx.store.slab_stats();
    let mut active = 0;
    for c in classes.iter().filter(|c| c.total_pages > 0) {
        active += 1;
        let id = u64::from(c.id);
        for (name, v) in [
            ("chunk_size", c.chunk_size),
            ("chunks_per_page", c.chunks_per_page),
            ("total_pages", c.total_pages),
            ("total_chunks", c.total_chunks),
            ("used_chunks", c.used_chunks),
            ("free_chunks", c.free_chunks),
            ("free_chunks_end", c.free_chunks_end),
        ] {
            w.prefixed("", id, name, v);
        }
        let hits = sum_class(&ctx.threads, c.id);
        for (name, v) in [
            ("get_hits", hits.get_hits),
            ("cmd_set", hits.cmd_set),
            ("delete_hits", hits.delete_hits),
            ("incr_hits", hits.incr_hits),
            ("decr_hits", hits.decr_hits),
            ("cas_hits", hits.cas_hits),
            ("cas_badval", hits.cas_badval),
            ("touch_hits", hits.touch_hits),
        ] {
            w.prefixed("", id, name, v);
        }
    }
    w.num("active_slabs", active);
    w.num("total_malloced", ctx.store.stats().total_malloced);
}

/// memcached with `-o track_sizes` (or after `stats sizes_enable`): one line per 32-byte
/// size bucket that holds items; otherwise `sizes_status disabled`.
fn sizes(ctx: &Context, w: &mut StatWriter<'_>) {
    if !ctx.memcache.track_sizes.load(Ordering::Relaxed) {
        return w.text("sizes_status", "disabled");
    }
    for (size, count) in ctx.store.size_histogram() {
        w.begin();
        write_u64(w.out, size);
        w.value();
        write_u64(w.out, count);
        w.end();
    }
}

fn sizes_toggle(ctx: &Context, on: bool, w: &mut StatWriter<'_>) {
    if on && !ctx.store.config().use_cas {
        w.text("sizes_status", "error");
        return w.text("sizes_error", "cas_support_disabled");
    }
    ctx.memcache.track_sizes.store(on, Ordering::Relaxed);
    w.text("sizes_status", if on { "enabled" } else { "disabled" });
}

/// `stats cachedump <class> <limit>`: `ITEM <key> [<bytes> b; <unix exptime or 0> s]` per
/// item of the class (limit 0: all), at most 2 MB of lines as memcached, then `END`.
fn cachedump(ctx: &Context, class: u8, limit: u32, out: &mut Vec<u8>) {
    const MEMLIMIT: usize = 2 << 20;
    let start = out.len();
    let mut shown = 0u32;
    let mut full = false;
    ctx.store.for_each(|db, item| {
        if full || db != 0 || item.slab_class() != class || (limit != 0 && shown >= limit) {
            return;
        }
        let at = out.len();
        out.extend_from_slice(b"ITEM ");
        out.extend_from_slice(item.key());
        out.extend_from_slice(b" [");
        write_u64(out, item.value_len() as u64);
        out.extend_from_slice(b" b; ");
        match item.expiry() {
            Expiry::Never => out.push(b'0'),
            Expiry::AtMs(ms) => write_u64(out, ms / 1000),
        }
        out.extend_from_slice(b" s]\r\n");
        if out.len() - start + 6 > MEMLIMIT {
            out.truncate(at);
            full = true;
            return;
        }
        shown += 1;
    });
    Reply::End.write(out);
}

/// `lru tune|mode|temp_ttl`, with memcached's checks and replies.
pub(super) fn lru(ctx: &Context, cmd: LruCommand, out: &mut Vec<u8>) {
    let mut t = ctx.memcache.lru.lock();
    let reply: &[u8] = match cmd {
        LruCommand::Tune {
            hot_pct, warm_pct, ..
        } if u64::from(hot_pct) + u64::from(warm_pct) > 80 => {
            b"ERROR hot and warm pcts must not exceed 80"
        }
        LruCommand::Tune {
            hot_factor,
            warm_factor,
            ..
        } if !(hot_factor > 0.0 && warm_factor > 0.0) => {
            b"ERROR hot/warm age factors must be greater than 0"
        }
        LruCommand::Tune {
            hot_pct,
            warm_pct,
            hot_factor,
            warm_factor,
        } => {
            (t.hot_pct, t.warm_pct) = (hot_pct, warm_pct);
            (t.hot_factor, t.warm_factor) = (hot_factor, warm_factor);
            b"OK"
        }
        // Mode and temp_ttl need memcached's LRU maintainer thread.
        _ if !ctx.settings.lru_maintainer => b"ERROR",
        LruCommand::Mode { segmented } => {
            t.segmented = segmented;
            b"OK"
        }
        LruCommand::TempTtl(ttl) => {
            ctx.store.set_temporary_ttl(u32::try_from(ttl).ok());
            t.temp_lru = ttl >= 0;
            if ttl >= 0 {
                t.temporary_ttl = ttl;
            }
            b"OK"
        }
    };
    out.extend_from_slice(reply);
    out.extend_from_slice(b"\r\n");
}

/// `stats conns`: the listening sockets first, then each client, all numbered by file
/// descriptor as memcached numbers them, clients in the state memcached would show:
/// `conn_parse_cmd` for the client asking, `conn_nread` while a data block is arriving,
/// `conn_mwrite` while replies wait for the socket, else `conn_read`.
fn conns(ctx: &Context, me: u64, w: &mut StatWriter<'_>) {
    let now = ctx.store.clock().now();
    for l in ctx.memcache.listeners.lock().iter() {
        let id = u64::from(l.fd);
        if l.udp {
            w.prefixed_text("", id, "UDP", |out| out.extend_from_slice(b"UDP"));
        }
        w.prefixed_text("", id, "addr", |out| {
            out.extend_from_slice(l.addr.as_bytes())
        });
        let state: &[u8] = if l.udp {
            b"conn_read"
        } else {
            b"conn_listening"
        };
        w.prefixed_text("", id, "state", |out| out.extend_from_slice(state));
        w.prefixed("", id, "secs_since_last_cmd", u64::from(now));
    }
    for c in ctx.clients.list() {
        let kind = |a: &str| {
            if a.parse::<std::net::SocketAddr>().is_ok() {
                format!("tcp:{a}")
            } else if a.starts_with("unix:") {
                a.to_string()
            } else {
                format!("unix:{a}")
            }
        };
        // Numbered by file descriptor as memcached numbers them (and the listeners). A
        // client the acceptor has not yet handed to its worker has no descriptor here yet
        // (-1): it is listed a moment later, never under a number a listener may hold.
        let Ok(id) = u64::try_from(c.fd.load(Ordering::Relaxed)) else {
            continue;
        };
        for (name, v) in [
            ("addr", kind(&c.addr)),
            ("listen_addr", kind(&c.local_addr)),
            ("state", conn_state(me, &c).to_string()),
        ] {
            w.prefixed_text("", id, name, |out| out.extend_from_slice(v.as_bytes()));
        }
        let idle = now.saturating_sub(c.last_cmd.load(Ordering::Relaxed));
        w.prefixed("", id, "secs_since_last_cmd", u64::from(idle));
    }
}

fn conn_state(me: u64, c: &crate::commands::ClientInfo) -> &'static str {
    if c.id == me {
        "conn_parse_cmd"
    } else if c.memcache_nread.load(Ordering::Relaxed) {
        "conn_nread"
    } else if c.unsent.load(Ordering::Relaxed) > 0 {
        "conn_mwrite"
    } else {
        "conn_read"
    }
}

fn detail_dump(ctx: &Context, out: &mut Vec<u8>) {
    let map = ctx.memcache.prefixes.lock();
    let mut rows: Vec<(&Vec<u8>, &PrefixCounts)> = map.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (prefix, c) in rows {
        out.extend_from_slice(b"PREFIX ");
        out.extend_from_slice(prefix);
        for (name, v) in [
            (&b" get "[..], c.get),
            (b" hit ", c.hit),
            (b" set ", c.set),
            (b" del ", c.del),
        ] {
            out.extend_from_slice(name);
            write_u64(out, v);
        }
        out.extend_from_slice(b"\r\n");
    }
}

pub(super) fn slabs_reassign(ctx: &Context, src: i32, dst: i32, out: &mut Vec<u8>) {
    let line: &[u8] = match ctx.store.reassign(src, dst) {
        ReassignOutcome::Ok => b"OK",
        ReassignOutcome::Busy => b"BUSY currently processing reassign request",
        ReassignOutcome::BadClass => b"BADCLASS invalid src or dst class id",
        ReassignOutcome::NoSpare => b"NOSPARE source class has no spare pages",
        ReassignOutcome::NotFull => b"NOTFULL dest class has no pages",
        ReassignOutcome::Same => b"SAME src and dst class are identical",
        ReassignOutcome::Unsafe => b"CLIENT_ERROR slab reassignment disabled",
    };
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

/// Whether class `cls` is picked by a metadump selector.
fn selected(sel: ClassSelector<'_>, cls: u8) -> bool {
    match sel {
        ClassSelector::All => true,
        ClassSelector::Ids(ids) => ids
            .split(|&b| b == b',')
            .any(|id| crate::protocol::memcache::parse_u64(id) == Some(u64::from(cls))),
    }
}

/// `lru_crawler metadump`: one `key=… exp=… la=… cas=… fetch=… cls=… size=…` line per item
/// (ending in a bare `\n`, as memcached writes them), then `END`.
pub(super) fn metadump(ctx: &Context, sel: ClassSelector<'_>, out: &mut Vec<u8>) {
    let clock = ctx.store.clock();
    let now = clock.unix_now();
    ctx.store.for_each(|db, item| {
        if db != 0 || !selected(sel, item.slab_class()) {
            return;
        }
        out.extend_from_slice(b"key=");
        url_encode(item.key(), out);
        out.extend_from_slice(b" exp=");
        match item.expiry() {
            Expiry::Never => out.extend_from_slice(b"-1"),
            Expiry::AtMs(ms) => write_u64(out, ms / 1000),
        }
        out.extend_from_slice(b" la=");
        write_u64(out, now.saturating_sub(u64::from(item.last_access())));
        out.extend_from_slice(b" cas=");
        write_u64(out, item.cas());
        out.extend_from_slice(if item.hit_before() {
            b" fetch=yes"
        } else {
            b" fetch=no"
        });
        out.extend_from_slice(b" cls=");
        write_u64(out, u64::from(item.slab_class()));
        out.extend_from_slice(b" size=");
        write_u64(out, item.total_size() as u64);
        out.push(b'\n');
    });
    Reply::End.write(out);
}

/// Percent-encodes everything but unreserved URI characters, as memcached's metadump does.
fn url_encode(key: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_matches_memcached() {
        let mut out = Vec::new();
        url_encode(b"a\x01b:c~", &mut out);
        assert_eq!(out, b"a%01b%3Ac~");
    }

    #[test]
    fn class_selection() {
        assert!(selected(ClassSelector::All, 7));
        assert!(selected(ClassSelector::Ids(b"1,7"), 7));
        assert!(!selected(ClassSelector::Ids(b"1,2"), 7));
    }
}
