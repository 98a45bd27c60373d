//! TLS below the protocol layer: a TLS connection is a [`TlsStream`] that the connection
//! loop reads and writes like a plain socket, so protocol code never knows.
//!
//! Two server configurations, both reloadable while running:
//! - memcached's: `-Z` turns TLS on for every memcached TCP listener, with
//!   `-o ssl_chain_cert=,ssl_key=,ssl_ca_cert=,ssl_verify_mode=,ssl_min_version=`;
//!   the `refresh_certs` command reloads the files;
//! - Redis's: `tls-port` adds RESP listeners with `tls-cert-file`, `tls-key-file`,
//!   `tls-ca-cert-file`, `tls-ca-cert-dir`, `tls-auth-clients` (yes/no/optional),
//!   `tls-protocols`, `tls-ciphersuites`, `tls-ciphers`, `tls-prefer-server-ciphers`;
//!   `CONFIG SET` of any of them rebuilds the configuration (and is refused, the old one
//!   kept, when the new one cannot be built).
//!
//! TLS 1.2 cipher lists (`tls-ciphers`, memcached's `ssl_ciphers`) are OpenSSL cipher
//! strings read by [`super::tls_ciphers`]; rustls offers only ECDHE suites with AES-GCM or
//! ChaCha20-Poly1305, so lists naming only others (CBC, RSA key exchange) are refused.
//!
//! rustls (with ring) provides TLS 1.2 and 1.3 only; older versions named in
//! `tls-protocols` or `ssl_min_version` are refused at start-up.

use std::collections::HashMap;
use std::io::{self, BufRead, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use parking_lot::{Mutex, RwLock};
use rustls::crypto::ring as provider;
use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};
use rustls::{RootCertStore, ServerConfig, ServerConnection, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsOptions;

/// Whether and how client certificates are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// Checked when sent (memcached's verify mode 1, Redis's `optional`).
    Optional,
    /// Required (memcached's 2 and 3, Redis's `yes`).
    Required,
}

/// What one server configuration is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsParams {
    pub cert: String,
    /// Empty: the key is in the certificate file (memcached allows that).
    pub key: String,
    /// Password of an encrypted (PKCS#8) key file: Redis's `tls-key-file-pass`.
    pub key_pass: String,
    pub ca: String,
    /// A directory of CA certificates (every PEM file in it).
    pub ca_dir: String,
    pub client_auth: ClientAuth,
    /// Protocol names as Redis writes them (`TLSv1.2 TLSv1.3`).
    pub protocols: String,
    /// TLS 1.3 suites, OpenSSL names separated by `:`; empty for all.
    pub ciphersuites: String,
    /// TLS 1.2 suites, an OpenSSL cipher list; empty for all.
    pub ciphers: String,
    /// Choose the suite by the server's order rather than the client's.
    pub prefer_server: bool,
}

fn versions(protocols: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if protocols.trim().is_empty() {
        return Ok(vec![&TLS12, &TLS13]);
    }
    let mut out = Vec::new();
    for p in protocols.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" => out.push(&TLS12),
            "tlsv1.3" => out.push(&TLS13),
            _ => {
                return Err(format!(
                    "unsupported TLS protocol '{p}' (slabd offers TLSv1.2 and TLSv1.3)"
                ))
            }
        }
    }
    Ok(out)
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate found"));
    }
    Ok(certs)
}

/// Every certificate in the PEM files of a directory (OpenSSL's CA path holds them as
/// `<hash>.0` links; any name is read here). Files holding no certificate are skipped.
fn read_cert_dir(dir: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut certs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        if let Ok(found) = CertificateDer::pem_file_iter(&path) {
            certs.extend(found.flatten());
        }
    }
    if certs.is_empty() {
        return Err(format!("{dir}: no certificate found"));
    }
    Ok(certs)
}

/// The private key in a PEM file: plain (PKCS#1, PKCS#8, SEC1), or PKCS#8 encrypted with
/// `pass` (PBES2: PBKDF2 with AES-CBC, what `openssl rsa -aes256` and `openssl pkcs8
/// -topk8` write). OpenSSL's older encrypted format (`Proc-Type: 4,ENCRYPTED`) is refused
/// with the command that converts it.
fn read_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{path}: OpenSSL's legacy encrypted key format is not read; convert it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc -in {path} -out NEWFILE`"
        ));
    }
    let Some(start) = text.find(BEGIN) else {
        return PrivateKeyDer::from_pem_file(Path::new(path)).map_err(|e| format!("{path}: {e}"));
    };
    if pass.is_empty() {
        return Err(format!(
            "{path}: the key is encrypted and no password is set"
        ));
    }
    let end = text[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or_else(|| format!("{path}: unterminated encrypted key"))?;
    let (_, der) =
        pkcs8::Document::from_pem(&text[start..end]).map_err(|e| format!("{path}: {e}"))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_bytes())
        .map_err(|e| format!("{path}: {e}"))?;
    let plain = info
        .decrypt(pass.as_bytes())
        .map_err(|_| format!("{path}: cannot decrypt the key (wrong password?)"))?;
    Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()))
}

/// Builds a rustls server configuration; the error names the file or setting at fault.
pub fn build(p: &TlsParams) -> Result<Arc<ServerConfig>, String> {
    if p.cert.is_empty() {
        return Err("no certificate file configured".into());
    }
    let certs = read_certs(&p.cert)?;
    let key_path = if p.key.is_empty() { &p.cert } else { &p.key };
    let key = read_key(key_path, &p.key_pass)?;
    let mut crypto = provider::default_provider();
    if !p.ciphersuites.trim().is_empty() {
        let wanted: Vec<String> = p
            .ciphersuites
            .split(':')
            .map(|s| s.trim().to_ascii_uppercase().replacen("TLS_", "TLS13_", 1))
            .collect();
        crypto
            .cipher_suites
            .retain(|s| s.version() != &TLS13 || wanted.contains(&format!("{:?}", s.suite())));
        if !crypto.cipher_suites.iter().any(|s| s.version() == &TLS13) {
            return Err(format!(
                "no supported TLS 1.3 cipher suite in '{}'",
                p.ciphersuites
            ));
        }
    }
    if !p.ciphers.trim().is_empty() {
        let tls12 = super::tls_ciphers::select(&p.ciphers)?;
        crypto.cipher_suites.retain(|s| s.version() == &TLS13);
        crypto.cipher_suites.extend(tls12);
    }
    let crypto = Arc::new(crypto);
    let builder = ServerConfig::builder_with_provider(crypto.clone())
        .with_protocol_versions(&versions(&p.protocols)?)
        .map_err(|e| e.to_string())?;
    let builder = match p.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            if p.ca.is_empty() && p.ca_dir.is_empty() {
                return Err("client certificates are checked but no CA file is configured".into());
            }
            let mut roots = RootCertStore::empty();
            if !p.ca.is_empty() {
                for c in read_certs(&p.ca)? {
                    roots.add(c).map_err(|e| format!("{}: {e}", p.ca))?;
                }
            }
            if !p.ca_dir.is_empty() {
                for c in read_cert_dir(&p.ca_dir)? {
                    roots.add(c).map_err(|e| format!("{}: {e}", p.ca_dir))?;
                }
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto);
            let v = if auth == ClientAuth::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", p.cert))?;
    config.ignore_client_order = p.prefer_server;
    Ok(Arc::new(config))
}

/// memcached's `-Z` / `-o ssl_*` as build parameters.
pub fn memcache_params(o: &TlsOptions) -> Result<TlsParams, String> {
    let protocols = match o
        .min_version
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("tlsv1.2") => "TLSv1.2 TLSv1.3",
        Some("tlsv1.3") => "TLSv1.3",
        Some(v) => {
            return Err(format!(
                "ssl_min_version {v}: slabd offers tlsv1.2 and tlsv1.3"
            ))
        }
    };
    Ok(TlsParams {
        cert: o.chain_cert.clone().unwrap_or_default(),
        key: o.key.clone().unwrap_or_default(),
        // memcached 1.6 has no key password option.
        key_pass: String::new(),
        ca: o.ca_cert.clone().unwrap_or_default(),
        ca_dir: String::new(),
        client_auth: match o.verify_mode {
            0 => ClientAuth::None,
            1 => ClientAuth::Optional,
            _ => ClientAuth::Required,
        },
        protocols: protocols.into(),
        ciphersuites: String::new(),
        ciphers: o.ciphers.clone().unwrap_or_default(),
        prefer_server: false,
    })
}

/// Directives a RESP TLS configuration is built from.
pub const RESP_DIRECTIVES: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-ca-cert-file",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-ciphers",
    "tls-ca-cert-dir",
    "tls-prefer-server-ciphers",
];

/// Redis's `tls-*` directives (by name) as build parameters.
pub fn resp_params(values: &HashMap<String, String>) -> TlsParams {
    let v = |n: &str| values.get(n).cloned().unwrap_or_default();
    TlsParams {
        cert: v("tls-cert-file"),
        key: v("tls-key-file"),
        key_pass: v("tls-key-file-pass"),
        ca: v("tls-ca-cert-file"),
        ca_dir: v("tls-ca-cert-dir"),
        client_auth: match v("tls-auth-clients").to_ascii_lowercase().as_str() {
            "no" => ClientAuth::None,
            "optional" => ClientAuth::Optional,
            _ => ClientAuth::Required,
        },
        protocols: v("tls-protocols"),
        ciphersuites: v("tls-ciphersuites"),
        ciphers: v("tls-ciphers"),
        prefer_server: v("tls-prefer-server-ciphers").eq_ignore_ascii_case("yes"),
    }
}

/// The current server configurations, swapped whole on reload (connections keep the
/// one they started with).
#[derive(Default)]
pub struct Tls {
    memcache: RwLock<Option<Arc<ServerConfig>>>,
    resp: RwLock<Option<Arc<ServerConfig>>>,
    memcache_params: Mutex<Option<TlsParams>>,
    /// The `tls-*` directive values the RESP configuration was built from.
    resp_values: Mutex<HashMap<String, String>>,
}

impl Tls {
    /// Builds what the settings turn on; an error stops start-up.
    pub fn start(
        &self,
        options: &TlsOptions,
        resp_values: HashMap<String, String>,
        resp_port: bool,
    ) -> Result<(), String> {
        if options.enabled {
            let p = memcache_params(options)?;
            *self.memcache.write() = Some(build(&p).map_err(|e| format!("-Z: {e}"))?);
            *self.memcache_params.lock() = Some(p);
        }
        if resp_port {
            let config = build(&resp_params(&resp_values)).map_err(|e| format!("tls-port: {e}"))?;
            *self.resp.write() = Some(config);
        }
        *self.resp_values.lock() = resp_values;
        Ok(())
    }

    /// memcached's `refresh_certs`: reread the files named at start-up; the error is
    /// memcached's reply line.
    pub fn refresh_memcache(&self) -> Result<(), String> {
        let Some(p) = self.memcache_params.lock().clone() else {
            return Err("Error TLS not enabled".into());
        };
        let config = build(&p).map_err(|e| format!("Error loading the certificate chain: {e}"))?;
        *self.memcache.write() = Some(config);
        Ok(())
    }

    /// A `tls-*` directive changed (CONFIG SET): rebuild, or refuse and keep the old one.
    pub fn resp_changed(&self, name: &str, value: &str) -> Result<(), String> {
        let mut values = self.resp_values.lock().clone();
        values.insert(name.to_string(), value.to_string());
        if self.resp.read().is_some() {
            match build(&resp_params(&values)) {
                Ok(config) => *self.resp.write() = Some(config),
                // `CONFIG SET tls-cert-file a tls-key-file b` changes one file at a time:
                // a pair that does not match yet keeps the configuration in force until
                // the other half arrives.
                Err(e) if e.contains("KeyMismatch") => {}
                Err(e) => {
                    return Err(format!(
                        "Unable to update TLS configuration. Check server logs. ({e})"
                    ))
                }
            }
        }
        *self.resp_values.lock() = values;
        Ok(())
    }

    /// Builds the RESP configuration if there is none yet (`CONFIG SET tls-port` on a
    /// server started without one).
    pub fn enable_resp(&self) -> Result<(), String> {
        if self.resp.read().is_some() {
            return Ok(());
        }
        let params = resp_params(&self.resp_values.lock());
        let config = build(&params)
            .map_err(|e| format!("Unable to update TLS configuration. Check server logs. ({e})"))?;
        *self.resp.write() = Some(config);
        Ok(())
    }

    pub fn memcache(&self) -> Option<Arc<ServerConfig>> {
        self.memcache.read().clone()
    }

    pub fn resp(&self) -> Option<Arc<ServerConfig>> {
        self.resp.read().clone()
    }
}

/// Memory charged to `maxmemory-clients` for each open TLS session: rustls's record
/// buffers and session state. rustls does not report its allocations, so this is measured:
/// 1,000 idle RESP clients after one SET each hold 20.7 KB of slabd's RSS apiece over TLS
/// and 5.9 KB over plain TCP; the difference, rounded up, is the session's share.
pub const SESSION_BYTES: usize = 16 * 1024;

/// A TLS connection over a non-blocking TCP socket.
pub struct TlsStream {
    pub tcp: TcpStream,
    conn: ServerConnection,
    /// The peer does not speak TLS: nothing more is sent (not even rustls's alert).
    mute: bool,
    /// The connection is closing: its session is no longer counted.
    pub ended: bool,
    /// Decrypted bytes rustls holds that have not been read yet.
    plain: usize,
    /// The peer sent close_notify.
    peer_closed: bool,
    /// The last socket read returned less than it asked for.
    drained: bool,
}

/// The socket as rustls reads it, noting whether a read came back short.
struct Probe<'a> {
    tcp: &'a mut TcpStream,
    short: bool,
}

impl Read for Probe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// The socket as rustls writes it: a lone record (the usual case: one reply, or one
/// turn's replies, per flush) goes out with `send(2)` rather than `writev(2)`, the plain
/// path's system call; `writev` walks the VFS layer and imports an iovec first
/// (`vfs_writev` + `sock_write_iter` were 1.5% of a TLS GET's server CPU). Several records
/// still share one `writev`.
struct Sender<'a>(&'a mut TcpStream);

impl Write for Sender<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match bufs {
            [one] => self.0.write(one),
            _ => self.0.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsStream {
    pub fn new(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            tcp,
            conn,
            mute: false,
            ended: false,
            plain: 0,
            peer_closed: false,
            drained: false,
        })
    }

    /// Appends up to `max` (> 0) decrypted bytes to `buf`: `Ok(0)` at the end of the
    /// stream, `WouldBlock` when the socket has no more records (reading stops only there,
    /// as mio's edge-triggered readiness needs). Each decrypted record is copied from
    /// rustls's buffer once, straight from the record (no zeroed scratch space first).
    pub fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        loop {
            if self.plain > 0 {
                let mut reader = self.conn.reader();
                let mut n = 0;
                while n < max && n < self.plain {
                    let record = match reader.fill_buf() {
                        Ok(record) if !record.is_empty() => record,
                        Ok(_) => break,
                        Err(e) if n == 0 => return Err(e),
                        Err(_) => break,
                    };
                    let take = record.len().min(max - n);
                    buf.extend_from_slice(&record[..take]);
                    reader.consume(take);
                    n += take;
                }
                if n == 0 {
                    // rustls said it held bytes but has none: read the socket instead.
                    self.plain = 0;
                    continue;
                }
                self.plain -= n.min(self.plain);
                return Ok(n);
            }
            if self.peer_closed {
                return Ok(0);
            }
            let mut socket = Probe {
                tcp: &mut self.tcp,
                short: false,
            };
            match self.conn.read_tls(&mut socket) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    self.drained = socket.short;
                    match self.conn.process_new_packets() {
                        Ok(state) => {
                            self.plain = state.plaintext_bytes_to_read();
                            self.peer_closed = state.peer_has_closed();
                        }
                        Err(e) => {
                            // Send the alert that says why, then give up on the connection;
                            // except to a peer that does not speak TLS at all (a plain
                            // client on the TLS port), which OpenSSL servers just close on.
                            let plain_peer = self.conn.is_handshaking()
                                && matches!(e, rustls::Error::InvalidMessage(_));
                            self.mute = plain_peer;
                            let _ = self.send_records();
                            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                        }
                    }
                    // Handshake replies and session tickets go out as soon as they exist.
                    self.send_records()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Everything decrypted has been taken and the last socket read came back short: bytes
    /// arriving later raise a new readiness edge, so reading again now would only say
    /// `WouldBlock` (a system call per request saved, as for plain sockets).
    pub fn exhausted(&self) -> bool {
        self.plain == 0 && self.drained && !self.peer_closed
    }

    /// Writes pending TLS records until done or the socket is full.
    pub fn send_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() && !self.mute {
            match self.conn.write_tls(&mut Sender(&mut self.tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Bytes charged for the session (see [`SESSION_BYTES`]).
    pub fn memory(&self) -> usize {
        if self.ended {
            0
        } else {
            SESSION_BYTES
        }
    }

    /// Records are waiting for the socket to drain.
    pub fn has_pending(&self) -> bool {
        self.conn.wants_write() && !self.mute
    }

    /// Encrypts what fits in rustls's buffer; `WouldBlock` while earlier records are still
    /// unsent, so output waits in the connection's own buffer, which the limits bound.
    pub fn write_plain(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_records()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.send_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

impl TlsStream {
    /// [`TlsStream::write_plain`] for several pieces at once: they share records, so a
    /// large value sent from its item (the reply line, the value, its trailer) goes out
    /// as full 16 KiB records in one system call, not a record and a call per piece.
    pub fn write_plain_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.send_records()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write_vectored(bufs)?;
        self.send_records()?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

impl mio::event::Source for TlsStream {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        self.tcp.register(r, t, i)
    }

    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        self.tcp.reregister(r, t, i)
    }

    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        self.tcp.deregister(r)
    }
}
