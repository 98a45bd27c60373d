//! Replication commands (the master's side, see [`crate::repl`]): SYNC and PSYNC start a
//! full resync and turn the connection into a replica stream; REPLCONF takes what replicas
//! announce; WAIT counts the replicas that acknowledged the stream so far. After a command
//! ran, [`after_command`] hands what it changed to the stream.

use super::registry::{flag, spec, Spec};
use super::Call;
use crate::hub::flag as client_flag;
use crate::protocol::resp::{parse_i64, Args};
use crate::repl::{propagate, sync, Replication};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("sync", 1, ["admin", "noscript", "no_async_loading", "no_multi"], (0, 0, 0),
        "server", "1.0.0", "Internal command used for replication", sync),
    spec!("psync", -3, ["admin", "noscript", "no_async_loading", "no_multi"], (0, 0, 0),
        "server", "2.8.0", "Internal command used for replication", psync),
    spec!("replconf", -1, ["admin", "noscript", "loading", "stale", "allow_busy"], (0, 0, 0),
        "server", "3.0.0", "An internal command for configuring the replication stream",
        replconf),
    spec!("wait", 3, ["noscript"], (0, 0, 0), "generic", "3.0.0",
        "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        wait),
];

/// A command ran while a replica is attached: what it changed goes to the stream
/// (collected until the client's own command ends). `start` is where its reply begins,
/// `dirty_before` the thread's write count before it ran.
#[cold]
pub(super) fn after_command(
    call: &mut Call<'_>,
    spec: &Spec,
    args: Args<'_>,
    start: usize,
    dirty_before: u64,
) {
    let reply = &call.w.out[start.min(call.w.out.len())..];
    let ok = reply.first() != Some(&b'-');
    let changed = spec.has(flag::WRITE) && propagate::dirty() != dirty_before;
    if ok && (changed || propagate::always(spec.name, args)) {
        let expiry = |key: &[u8]| call.expiry_of(key);
        for cmd in propagate::rewrite(spec.name, args, reply, &expiry) {
            let parts: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            propagate::collect(call.conn.db, &parts);
        }
    }
    if call.depth == 0 {
        let commands = propagate::take();
        call.ctx.hub.repl.feed(&call.ctx.hub, &commands);
    }
}

/// `SYNC`: the RDB as a bulk (`$<len>` and the bytes, no CRLF after them), then the stream.
fn sync(call: &mut Call<'_>, _args: Args<'_>) {
    full_resync(call, false);
}

/// `PSYNC <replid> <offset>`: slabd keeps no backlog, so every PSYNC is a full resync:
/// `+FULLRESYNC <replid> <offset>`, the RDB, the stream.
fn psync(call: &mut Call<'_>, _args: Args<'_>) {
    full_resync(call, true);
}

fn full_resync(call: &mut Call<'_>, psync: bool) {
    if call.info.has_flag(client_flag::REPLICA) {
        // Redis ignores SYNC from a connection that already is a replica.
        return;
    }
    let Some(info) = call.ctx.clients.get(call.info.id) else {
        return call
            .w
            .error(b"ERR full resync failed: the connection is not registered");
    };
    let done = match sync::full_sync(call.ctx, &info) {
        Ok(done) => done,
        Err(e) => {
            return call.w.error_fmt(format_args!(
                "ERR full resync failed: {}",
                crate::persist::strerror(&e)
            ));
        }
    };
    let repl = &call.ctx.hub.repl;
    let out = &mut *call.w.out;
    if psync {
        out.extend_from_slice(b"+FULLRESYNC ");
        out.extend_from_slice(repl.replid().as_bytes());
        out.extend_from_slice(format!(" {}\r\n", done.offset).as_bytes());
    }
    out.extend_from_slice(format!("${}\r\n", done.rdb.len()).as_bytes());
    out.extend_from_slice(&done.rdb);
    if call.conn.rdb_only {
        // `redis-cli --rdb`: the dump only, no stream.
        repl.detach(info.id);
        info.set_flag(client_flag::REPLICA, false);
        return;
    }
    if call.conn.listening_port != 0 {
        repl.replconf(info.id, Some(call.conn.listening_port), None);
    }
    Replication::start_ticking(&call.ctx.hub);
}

/// `REPLCONF <option> <value> ...`: listening-port, ip-address, capa and rdb-only are
/// taken (`+OK`); `ACK <offset>` records the replica's offset and is not answered;
/// GETACK (sent by a master) is ignored.
fn replconf(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() % 2 == 0 {
        return call.wrong_arity("replconf");
    }
    let id = call.info.id;
    let mut i = 1;
    while i < args.len() {
        let (opt, value) = (args.get(i), args.get(i + 1));
        let lower = opt.to_ascii_lowercase();
        match lower.as_slice() {
            b"listening-port" => {
                let Some(port) = parse_i64(value).and_then(|p| u16::try_from(p).ok()) else {
                    return call.not_integer();
                };
                call.ctx.hub.repl.replconf(id, Some(port), None);
                call.conn.listening_port = port;
            }
            b"ack" => {
                if let Some(offset) = parse_i64(value).and_then(|o| u64::try_from(o).ok()) {
                    call.ctx.hub.repl.replconf(id, None, Some(offset));
                }
                return;
            }
            b"getack" => return,
            b"rdb-only" => match value {
                b"0" | b"1" => call.conn.rdb_only = value == b"1",
                _ => return call.w.error(b"ERR rdb-only must be 0 or 1"),
            },
            b"ip-address" | b"capa" | b"rdb-filter-only" => {}
            _ => {
                return call.w.error_fmt(format_args!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(opt)
                ));
            }
        }
        i += 2;
    }
    call.w.ok();
}

/// `WAIT numreplicas timeout`: the number of replicas whose last acknowledged offset
/// covers the stream so far. It answers at once (it does not block for the timeout):
/// replicas acknowledge once a second (redis-server's REPLCONF ACK).
fn wait(call: &mut Call<'_>, args: Args<'_>) {
    if call.integer(args.get(1)).is_none() {
        return;
    }
    match parse_i64(args.get(2)) {
        None => {
            return call
                .w
                .error(b"ERR timeout is not an integer or out of range")
        }
        Some(t) if t < 0 => return call.w.error(b"ERR timeout is negative"),
        Some(_) => {}
    }
    let repl = &call.ctx.hub.repl;
    let acked = repl.acked(repl.offset());
    call.w.integer(acked as i64);
}

/// ROLE's reply for a master: `master`, the offset, each replica as `[ip, port, offset]`.
pub(super) fn role_master(call: &mut Call<'_>) {
    let repl = &call.ctx.hub.repl;
    let replicas = repl.replicas();
    call.w.array(3);
    call.w.bulk(b"master");
    call.w.integer(repl.offset() as i64);
    call.w.array(replicas.len());
    for r in &replicas {
        call.w.array(3);
        call.w.bulk(ip_of(&r.addr).as_bytes());
        call.w.bulk(r.port.to_string().as_bytes());
        call.w.bulk(r.ack.to_string().as_bytes());
    }
}

/// INFO's `# Replication` section.
pub(super) fn write_info(repl: &Replication, s: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Write as _;
    let replicas = repl.replicas();
    write!(
        s,
        "# Replication\r\nrole:master\r\nconnected_slaves:{}\r\n",
        replicas.len()
    )?;
    for (i, r) in replicas.iter().enumerate() {
        write!(
            s,
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            ip_of(&r.addr),
            r.port,
            r.ack,
            r.lag_secs
        )?;
    }
    write!(
        s,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\n\
         master_replid2:{:040}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:-1\r\n\
         repl_backlog_active:0\r\nrepl_backlog_size:1048576\r\n\
         repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
        repl.replid(),
        0,
        repl.offset()
    )
}

/// The host part of `host:port` (an IPv6 address keeps its colons).
fn ip_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(ip, _)| ip)
}
