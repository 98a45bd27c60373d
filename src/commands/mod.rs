//! The one place where protocol meets storage: a connection's bytes in, replies out.
//!
//! The server hands each connection's unread input to [`process`], which parses one request
//! with the connection's protocol, runs it against the [`Store`] and appends the reply to
//! `out`. It returns a [`Step`] saying how much input was used and what the connection does
//! next. Nothing here touches a socket.

pub mod gate;
pub mod memcache;
pub mod resp;
pub mod timing;
pub mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::auth::{Login, LoginState, Users};
use crate::config::Settings;
use crate::directives::Directives;
use crate::hub::{Hub, Target, Wait};
use crate::stats::{ServerStats, ThreadStats};
use crate::storage::Store;

/// State shared by every worker.
pub struct Context {
    pub store: Store,
    pub settings: Settings,
    /// One per worker thread; a session writes only to its own worker's.
    pub threads: Vec<ThreadStats>,
    pub server: ServerStats,
    /// `verbosity` command / `-v`.
    pub verbosity: AtomicU8,
    /// Users and their permissions for every protocol (`requirepass` is the default
    /// user's password); see [`crate::auth`].
    pub users: Users,
    /// TLS server configurations (reloadable); see [`crate::server::tls`].
    pub tls: Arc<crate::server::tls::Tls>,
    /// The RESP ports in force; CONFIG SET port / tls-port moves them.
    pub ports: Arc<crate::server::rebind::Ports>,
    /// `-c`, changeable by `CONFIG SET maxclients`.
    pub maxconns: AtomicUsize,
    /// Seconds a client may stay idle before it is closed (0: never): `-o idle_timeout`,
    /// Redis's `timeout`, which CONFIG SET changes at run time.
    pub idle_timeout: AtomicU32,
    /// `maxmemory-clients`: the bound on all clients' buffers together.
    pub client_memory: Arc<crate::server::limits::ClientMemory>,
    pub clients: Clients,
    /// memcached protocol state shared by all connections (`stats detail`).
    pub memcache: memcache::Shared,
    /// RESP state shared by all connections (EXEC of watched keys).
    pub resp: resp::Shared,
    /// Events between connections: Pub/Sub, blocked commands, MONITOR, CLIENT KILL (see
    /// [`crate::hub`]).
    pub hub: Arc<Hub>,
    /// Redis-style settings by name (CONFIG GET/SET, `--name value`).
    pub directives: Directives,
    /// Per-worker gates: EXEC and scripts run with no other command in between.
    pub gates: Arc<gate::Gates>,
    /// The Lua interpreter and its script cache (EVAL, FUNCTION).
    pub scripting: crate::scripting::Scripting,
    /// Collection encoding thresholds, kept in step with `directives`.
    pub collections: Arc<crate::collections::Thresholds>,
    /// RDB saves and loads, INFO persistence state.
    pub persist: crate::persist::Persistence,
    /// Keys clients WATCH, touched by every write (see [`watch`]).
    pub watches: watch::Watches,
}

impl Context {
    /// # Panics
    /// If `settings.directives` holds a value its directive refuses ([`crate::config`]
    /// checked them all before).
    pub fn new(store: Store, settings: Settings) -> Context {
        let directives =
            Directives::new(&settings.directives).expect("config::parse checks directive values");
        let hub = Arc::new(Hub::new(settings.threads.max(1)));
        hub.follow(&directives);
        store.observe(hub.clone());
        let resp = resp::Shared::new(settings.threads.max(1));
        resp.follow(&directives);
        resp.start_policy(&settings, &store);
        let users = Users::new();
        if let Some(p) = &settings.requirepass {
            users.set_requirepass(Some(p));
        }
        memcache::add_file_users(&users, &settings);
        let memcache = memcache::Shared::new(&settings);
        store.set_temporary_ttl(settings.temporary_ttl.and_then(|t| u32::try_from(t).ok()));
        let settings_threads = settings.threads.max(1);
        let gates = Arc::new(gate::Gates::new(settings_threads));
        let threads = (0..settings.threads.max(1))
            .map(|_| ThreadStats::default())
            .collect();
        let client_memory = Arc::<crate::server::limits::ClientMemory>::default();
        client_memory.follow(&directives);
        crate::server::oom::follow(&directives);
        let scripting = crate::scripting::Scripting::new(gates.clone());
        scripting.follow(&directives);
        Context {
            client_memory,
            verbosity: AtomicU8::new(settings.verbose),
            users,
            tls: Arc::default(),
            ports: Arc::default(),
            maxconns: AtomicUsize::new(settings.maxconns),
            idle_timeout: AtomicU32::new(settings.idle_timeout),
            store,
            settings,
            threads,
            server: ServerStats::default(),
            clients: Clients::default(),
            memcache,
            resp,
            hub,
            collections: crate::collections::Thresholds::from_directives(&directives),
            directives,
            scripting,
            gates,
            persist: Default::default(),
            watches: watch::Watches::default(),
        }
    }

    /// A keyspace event (`notify-keyspace-events`): `class` is one of
    /// [`crate::hub::notify`]'s constants (`STRING`, `GENERIC`, `LIST`...), `event` Redis's
    /// name for it (`set`, `del`, `expire`, `lpush`...). One atomic load when off.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: u8, key: &[u8]) {
        // Every event but a miss is a write: WATCH of the key fails (one load when no key is
        // watched).
        if class & crate::hub::notify::KEY_MISS == 0 {
            self.watches.touch(db, key);
        }
        self.hub.notify(class, event, db, key);
    }
}

/// What other connections can see of a connection (`stats conns`, `CLIENT LIST`).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    /// Peer address as text (`127.0.0.1:5555`, or the socket path).
    pub addr: String,
    /// Local address the connection arrived on.
    pub local_addr: String,
    /// Clock second the connection was accepted.
    pub created: u32,
    /// Clock second of the last request.
    pub last_cmd: AtomicU32,
    /// Selected Redis database.
    pub db: AtomicU8,
    /// Redis `CLIENT SETNAME`.
    pub name: Mutex<Option<Vec<u8>>>,
    /// Name of the last command, for `stats conns` state and `CLIENT LIST cmd=`.
    pub last_cmd_name: Mutex<&'static str>,
    /// Bytes received, for `CLIENT LIST`.
    pub bytes_in: AtomicU64,
    /// Where the connection lives: worker index << 32 | slot on that worker (set by the
    /// worker when it takes the connection).
    pub place: AtomicU64,
    /// What other connections may ask about it: [`crate::hub::flag`] bits (blocked,
    /// subscribed, MONITOR, tracking...).
    pub flags: AtomicU32,
    /// Channel, pattern and shard channel subscriptions (`CLIENT LIST sub= psub= ssub=`).
    pub subs: [AtomicU32; 3],
    /// Reply bytes not yet written at the end of the last turn (`CLIENT LIST obl=`).
    pub unsent: AtomicU64,
    /// The socket's file descriptor (memcached's `cfd` in `watch` lines), set by the worker.
    pub fd: std::sync::atomic::AtomicI32,
    /// A memcached request's data block is still arriving (`stats conns`: `conn_nread`).
    pub memcache_nread: AtomicBool,
    /// Bytes of buffer capacity the connection holds (`maxmemory-clients`).
    pub mem: AtomicU64,
    /// Its buffers in more detail, for `CLIENT LIST`'s memory fields.
    pub bufs: Buffers,
    /// The user it authenticated as (`CLIENT LIST user=`); `None`: the default user.
    pub user: Mutex<Option<Box<str>>>,
    /// Its MULTI queue as Redis would hold it (`CLIENT LIST multi=`, `multi-mem=`).
    pub multi: MultiQueue,
    /// Raised when a key it WATCHes is written (its transaction will fail): the flag its
    /// watches register, shown as `d` in `CLIENT LIST flags=` (Redis's `CLIENT_DIRTY_CAS`).
    pub dirty_cas: crate::commands::watch::DirtyFlag,
}

/// A connection's MULTI queue as Redis 7.0 counts it (multi.c `queueMultiCommand`), kept
/// by its worker for `CLIENT LIST`: the commands queued (`multi=`, Redis's `mstate.count`;
/// `-1` outside MULTI from the `x` flag) and their memory (`multi-mem=`, Redis's
/// `mstate.argv_len_sums`: each command's argument bytes plus one 8-byte `robj*` per
/// argument).
#[derive(Debug, Default)]
pub struct MultiQueue {
    commands: AtomicU32,
    mem: AtomicU64,
}

impl MultiQueue {
    /// Size of a pointer to an argument in Redis's `argv` (a 64-bit build).
    const ARG_POINTER: u64 = 8;

    /// A command with these arguments was queued.
    pub fn queued(&self, args: crate::protocol::resp::Args<'_>) {
        let bytes: u64 = args.iter_from(0).map(|a| a.len() as u64).sum();
        let mem = bytes + Self::ARG_POINTER * args.len() as u64;
        self.commands.fetch_add(1, Ordering::Relaxed);
        self.mem.fetch_add(mem, Ordering::Relaxed);
    }

    /// The transaction ended (EXEC, DISCARD, RESET, close).
    pub fn clear(&self) {
        self.commands.store(0, Ordering::Relaxed);
        self.mem.store(0, Ordering::Relaxed);
    }

    /// `(multi=, multi-mem=)` for a client inside MULTI or not.
    pub fn fields(&self, in_multi: bool) -> (i64, u64) {
        if !in_multi {
            return (-1, 0);
        }
        (
            i64::from(self.commands.load(Ordering::Relaxed)),
            self.mem.load(Ordering::Relaxed),
        )
    }
}

/// A connection's buffers as its worker last published them (at the end of a turn, stored
/// only when they changed), for `CLIENT LIST`'s `qbuf`, `qbuf-free`, `rbs`, `rbp`, `obl`,
/// `oll`, `omem`.
#[derive(Debug, Default)]
pub struct Buffers {
    /// Input received and not yet used: a partial request (`qbuf=`).
    pub unread: AtomicU64,
    /// Capacity of the input buffer (`qbuf-free=` is what `unread` leaves of it).
    pub read_cap: AtomicU64,
    /// Capacity of the output buffer.
    pub write_cap: AtomicU64,
    /// Bytes of the pending output already written (the socket took them, not the rest).
    pub written: AtomicU64,
    /// Redis's reply buffer as modelled for this connection (`rbs=`, `rbp=`; see
    /// `server::connection::reply_buffer`).
    pub reply_size: AtomicU64,
    pub reply_peak: AtomicU64,
}

/// Redis's per-client reply buffer (`PROTO_REPLY_CHUNK_BYTES`): the first 16 KiB of output
/// go there (`obl=`), the rest to a list of reply blocks (`oll=`, `omem=`).
pub const REPLY_CHUNK: u64 = 16 * 1024;
/// Bytes a reply block holds: Redis asks jemalloc for 16 KiB plus the block's 16-byte
/// header and uses the whole size class it gets (20 KiB), less the header.
const REPLY_BLOCK: u64 = 20 * 1024 - 16;
/// What Redis counts in `omem` for each reply block besides its bytes: `sizeof(listNode) +
/// sizeof(clientReplyBlock)` on a 64-bit build.
const REPLY_BLOCK_OVERHEAD: u64 = 24 + 16;

/// A connection's pending output as redis-server 7.0 (built with jemalloc, as Debian's
/// and Redis's own builds are) would hold it (networking.c): the first [`REPLY_CHUNK`]
/// bytes since the output was last empty in the reply buffer, which is freed once written
/// whole; the rest in blocks of [`REPLY_BLOCK`] bytes, each freed once written and counted
/// whole however full. slabd holds the bytes in one buffer; this is how `CLIENT LIST`
/// reports them and what `client-output-buffer-limit` is compared with (Redis's
/// `getClientOutputBufferMemoryUsage`, which leaves the reply buffer out). Redis gives a
/// reply larger than a block a block of its own size; slabd does not know where replies
/// end, so such output counts as full blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLayout {
    /// Bytes in the reply buffer (`obl=`, Redis's `bufpos`).
    pub obl: u64,
    /// Reply blocks (`oll=`).
    pub oll: u64,
    /// The blocks' sizes and bookkeeping (`omem=`).
    pub omem: u64,
}

impl ReplyLayout {
    /// `unsent` bytes waiting after `written` bytes of the same output went out.
    pub fn of(written: u64, unsent: u64) -> ReplyLayout {
        let total = written.saturating_add(unsent);
        let buf = total.min(REPLY_CHUNK);
        let (obl, list) = if unsent == 0 {
            (0, 0)
        } else if written >= buf {
            // The reply buffer went out whole: Redis empties it (`bufpos` 0).
            (0, unsent)
        } else {
            (buf, total - buf)
        };
        let oll = list.div_ceil(REPLY_BLOCK);
        ReplyLayout {
            obl,
            oll,
            omem: oll * (REPLY_BLOCK + REPLY_BLOCK_OVERHEAD),
        }
    }
}

impl ClientInfo {
    /// A client no registry knows of (the metrics endpoint's own requests).
    pub fn detached(addr: &str, local_addr: &str) -> ClientInfo {
        ClientInfo {
            id: 0,
            addr: addr.to_string(),
            local_addr: local_addr.to_string(),
            created: 0,
            last_cmd: AtomicU32::new(0),
            db: AtomicU8::new(0),
            name: Mutex::new(None),
            last_cmd_name: Mutex::new("NULL"),
            bytes_in: AtomicU64::new(0),
            place: AtomicU64::new(0),
            flags: AtomicU32::new(0),
            subs: Default::default(),
            unsent: AtomicU64::new(0),
            fd: std::sync::atomic::AtomicI32::new(-1),
            memcache_nread: AtomicBool::new(false),
            mem: AtomicU64::new(0),
            bufs: Buffers::default(),
            user: Mutex::new(None),
            multi: MultiQueue::default(),
            dirty_cas: Default::default(),
        }
    }

    /// The address [`crate::hub::Hub::post`] delivers to.
    pub fn target(&self) -> Target {
        let place = self.place.load(Ordering::Relaxed);
        Target {
            worker: (place >> 32) as u32,
            slot: place as u32,
            id: self.id,
        }
    }

    /// Sets or clears [`crate::hub::flag`] bits.
    pub fn set_flag(&self, bit: u32, on: bool) {
        if on {
            self.flags.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// The connection logged in as `name` (AUTH, HELLO AUTH, memcached's login).
    pub fn set_user(&self, name: &[u8]) {
        *self.user.lock() = Some(String::from_utf8_lossy(name).into());
    }

    /// Who the connection is logged in as, for CLIENT LIST.
    pub fn user_name(&self) -> String {
        self.user.lock().as_deref().unwrap_or("default").to_string()
    }

    pub fn has_flag(&self, bit: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & bit != 0
    }

    /// Whether the connection is logged in as `name` (ACL changes find its connections).
    pub fn is_user(&self, name: &[u8]) -> bool {
        self.user.lock().as_deref().unwrap_or("default").as_bytes() == name
    }

    pub fn set_place(&self, worker: usize, slot: usize) {
        let place = ((worker as u64) << 32) | (slot as u64 & 0xffff_ffff);
        self.place.store(place, Ordering::Relaxed);
    }
}

/// Registry of open connections. Touched on connect and close, never per request.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    /// Registers a new connection.
    pub fn open(&self, addr: String, local_addr: String, now: u32) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            local_addr,
            created: now,
            last_cmd: AtomicU32::new(now),
            db: AtomicU8::new(0),
            name: Mutex::new(None),
            last_cmd_name: Mutex::new("NULL"),
            bytes_in: AtomicU64::new(0),
            place: AtomicU64::new(0),
            flags: AtomicU32::new(0),
            subs: Default::default(),
            unsent: AtomicU64::new(0),
            fd: std::sync::atomic::AtomicI32::new(-1),
            memcache_nread: AtomicBool::new(false),
            mem: AtomicU64::new(0),
            bufs: Buffers::default(),
            user: Mutex::new(None),
            multi: MultiQueue::default(),
            dirty_cas: Default::default(),
        });
        self.open.lock().insert(id, info.clone());
        info
    }

    pub fn close(&self, id: u64) {
        self.open.lock().remove(&id);
    }

    /// The open connection with this id (CLIENT KILL ID, CLIENT UNBLOCK).
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.open.lock().get(&id).cloned()
    }

    /// Every open connection, oldest first.
    pub fn list(&self) -> Vec<Arc<ClientInfo>> {
        let mut v: Vec<_> = self.open.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }
}

/// Which protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Decided by the first byte and `-B`: 0x80 is memcached's binary protocol, `*` RESP,
    /// anything else the memcached text protocol.
    Detect,
    Memcache,
    MemcacheBinary,
    Resp,
}

/// Per connection protocol state.
pub struct Session {
    pub info: Arc<ClientInfo>,
    pub protocol: Protocol,
    /// Index of this connection's worker in [`Context::threads`].
    pub worker: usize,
    pub memcache: memcache::State,
    pub resp: resp::State,
    /// A parked request (blocked command, CLIENT PAUSE): see [`crate::hub::blocking`].
    pub wait: Option<Wait>,
    /// Who the connection is logged in as; taken from [`Users::new_login`] at its first
    /// request (see [`Session::login`]).
    login: Option<Login>,
}

impl Session {
    pub fn new(info: Arc<ClientInfo>, protocol: Protocol, worker: usize) -> Session {
        Session {
            info,
            protocol,
            worker,
            memcache: memcache::State::default(),
            resp: resp::State::default(),
            wait: None,
            login: None,
        }
    }

    /// A session logged in as the default user whatever its password (replaying the
    /// append-only file at start-up).
    pub fn trusted(info: Arc<ClientInfo>, users: &Users) -> Session {
        let mut s = Session::new(info, Protocol::Resp, 0);
        let mut login = users.new_login();
        login.authenticated = true;
        s.login = Some(login);
        s.resp.set_replay();
        s
    }

    /// The connection's login, brought up to date with ACL changes (one atomic load when
    /// nothing changed). `None` when its user was deleted: the connection must close, as
    /// Redis closes such clients.
    #[inline]
    pub fn login(&mut self, users: &Users) -> Option<&mut Login> {
        let login = self.login.get_or_insert_with(|| users.new_login());
        match login.current(users) {
            LoginState::Ok => Some(login),
            LoginState::Gone => None,
        }
    }

    /// The connection is closing: leave every channel, key queue and list it is on.
    pub fn close(&mut self, ctx: &Context) {
        ctx.hub.tracking.target_gone(self.info.id);
        if self.info.has_flag(crate::hub::flag::MONITOR) {
            ctx.hub.watchers.remove(self.info.target());
        }
        if let Some(wait) = self.wait.take() {
            ctx.hub
                .waiters
                .leave(&ctx.hub, self.info.target(), &wait.keys, wait.woken);
        }
        memcache::close(ctx, self);
        resp::close(ctx, self);
    }
}

/// What the connection does after one call to [`process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// One request (or part of a discarded data block) used this many bytes of input.
    Done(usize),
    /// The input holds no whole request yet; nothing was used.
    Incomplete,
    /// Send what is in `out`, then close the connection.
    Close,
    /// Send what is in `out`, close, and stop the server (`shutdown`).
    Shutdown,
    /// The request waits ([`Session::wait`] says for what); its input stays unread.
    Blocked,
}

/// Redis's protected mode, decided at a connection's first request: with no password
/// and `protected-mode yes`, a client not on this host gets one refusal in its protocol
/// and is closed.
fn refused_by_protected_mode(
    ctx: &Context,
    session: &Session,
    input: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    if input.is_empty()
        || !crate::auth::startup::protected_refuses(&ctx.users, &ctx.directives, &session.info.addr)
    {
        return false;
    }
    let resp = session.protocol == Protocol::Resp
        || (session.protocol == Protocol::Detect && input[0] == b'*');
    out.extend_from_slice(if resp {
        crate::auth::startup::DENIED_RESP
    } else {
        crate::auth::startup::DENIED_MEMCACHE
    });
    true
}

/// Handles at most one request from the start of `input`, appending its reply to `out`.
pub fn process(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    // The worker's gate, given back while it did socket I/O (commands::gate).
    ctx.gates.resume();
    crate::hub::tracking::begin_command(session.info.id);
    let step = process_one(ctx, session, input, out);
    crate::hub::tracking::end_command(&ctx.hub);
    step
}

fn process_one(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    if session.login.is_none() && refused_by_protected_mode(ctx, session, input, out) {
        return Step::Close;
    }
    if session.protocol == Protocol::Detect {
        let Some(&first) = input.first() else {
            return Step::Incomplete;
        };
        session.protocol = memcache::detect(&ctx.settings, first);
        if ctx.verbosity.load(Ordering::Relaxed) >= 2 {
            crate::server::trace::negotiated(&session.info, session.protocol);
        }
    }
    if session.protocol != Protocol::Resp && ctx.gates.busy() {
        // memcached has no -BUSY: its requests wait for the busy script to end (unread,
        // on the script's own worker: served again once it ends; server::nest).
        if ctx.gates.on_busy_thread() {
            return Step::Incomplete;
        }
        ctx.gates.exclusive(|_| ());
    }
    match session.protocol {
        Protocol::Resp => resp::process(ctx, session, input, out),
        Protocol::MemcacheBinary => memcache::binary::process(ctx, session, input, out),
        _ => memcache::process(ctx, session, input, out),
    }
}

#[cfg(test)]
mod tests {
    use super::{ReplyLayout, REPLY_BLOCK, REPLY_CHUNK};

    #[test]
    fn pending_output_is_laid_out_as_redis_holds_it() {
        let of = ReplyLayout::of;
        let layout = |obl, oll, omem| ReplyLayout { obl, oll, omem };
        // One block as Redis counts it: 20,464 bytes of room plus 40 of bookkeeping.
        let block = REPLY_BLOCK + 40;
        assert_eq!(block, 20_504);
        // Nothing pending: nothing reported, whatever went before.
        assert_eq!(of(0, 0), layout(0, 0, 0));
        assert_eq!(of(5000, 0), layout(0, 0, 0));
        // Up to 16 KiB: the reply buffer only (Redis's omem leaves it out).
        assert_eq!(of(0, 100), layout(100, 0, 0));
        assert_eq!(of(0, REPLY_CHUNK), layout(REPLY_CHUNK, 0, 0));
        // Past it: whole blocks, however full.
        assert_eq!(of(0, REPLY_CHUNK + 1), layout(REPLY_CHUNK, 1, block));
        assert_eq!(
            of(0, REPLY_CHUNK + REPLY_BLOCK),
            layout(REPLY_CHUNK, 1, block)
        );
        assert_eq!(
            of(0, REPLY_CHUNK + REPLY_BLOCK + 1),
            layout(REPLY_CHUNK, 2, 2 * block)
        );
        // Part of the reply buffer written: it stays whole until all of it is.
        assert_eq!(of(1000, 2 * REPLY_CHUNK), layout(REPLY_CHUNK, 1, block));
        // Written whole: only blocks are left.
        assert_eq!(of(REPLY_CHUNK, 100), layout(0, 1, block));
        // Redis's obuf-limits "KEYS stopped mid-run": 1,000 keys of 103 bytes (about
        // 110 KB of reply) pass a 100,000-byte hard limit, 90 values of 1,000 do not.
        let keys = 7 + 1000 * (6 + 103 + 2);
        assert!(of(0, keys).omem > 100_000);
        assert!(of(0, 5 + 90 * 1009).omem < 100_000);
        assert_eq!(
            of(1 << 20, 10 << 20).oll,
            (10u64 << 20).div_ceil(REPLY_BLOCK)
        );
    }
}
