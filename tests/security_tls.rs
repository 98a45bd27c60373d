//! TLS on both protocols: handshakes with valid, expired and wrong-CA certificates, client
//! certificates, plain and TLS ports side by side, and reloading with CONFIG SET.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Issued {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    Issued {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

fn leaf(issuer: &Issued, client: bool, expired: bool) -> Issued {
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    if expired {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2020, 2, 1);
    }
    let key = KeyPair::generate().unwrap();
    Issued {
        cert: p.signed_by(&key, &issuer.cert, &issuer.key).unwrap(),
        key,
    }
}

/// Every certificate the tests use, written as PEM files in a fresh directory.
struct Pki {
    dir: PathBuf,
    ca: Issued,
    client: Issued,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("slabd-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = ca("slabd test CA");
        let other = ca_for_other();
        let write = |name: &str, i: &Issued| {
            std::fs::write(dir.join(format!("{name}.crt")), i.cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), i.key.serialize_pem()).unwrap();
        };
        write("ca", &ca);
        write("server", &leaf(&ca, false, false));
        write("expired-server", &leaf(&ca, false, true));
        let client = leaf(&ca, true, false);
        write("client", &client);
        write("expired-client", &leaf(&ca, true, true));
        write("other-client", &leaf(&other, true, false));
        Pki { dir, ca, client }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// A client trusting the test CA, presenting `cert` (a file stem) when given.
    fn client(&self, cert: Option<&str>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.cert.der().clone()).unwrap();
        let b = ClientConfig::builder().with_root_certificates(roots);
        let config = match cert {
            None => b.with_no_client_auth(),
            Some(stem) => {
                let certs: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_file_iter(self.path(&format!("{stem}.crt")))
                        .unwrap()
                        .map(|c| c.unwrap())
                        .collect();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{stem}.key"))).unwrap();
                b.with_client_auth_cert(certs, key).unwrap()
            }
        };
        let _ = &self.client;
        Arc::new(config)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca_for_other() -> Issued {
    ca("some other CA")
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A started slabd and its listeners as (kind, address).
type Started = (Running, Vec<(String, SocketAddr)>);

/// Starts slabd on 127.0.0.1 with `args`; its listeners as (kind, address).
///
/// A `--tls-port` comes from [`free_port`], which lets the port go before slabd binds it;
/// when another test's server took it meanwhile ("Address already in use"), the start is
/// retried with a new port (seen once in CI).
fn start(args: &[&str]) -> Started {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let tls_port = args.iter().position(|a| a == "--tls-port").map(|i| i + 1);
    for _ in 0..5 {
        match try_start(&args) {
            Ok(started) => return started,
            Err(lines) => {
                let taken = lines.iter().any(|l| l.contains("Address already in use"));
                match tls_port {
                    Some(i) if taken && i < args.len() => args[i] = free_port().to_string(),
                    _ => panic!("slabd did not start: {lines:?}"),
                }
            }
        }
    }
    panic!("slabd did not start: its --tls-port was taken five times");
}

/// One start of slabd; its stderr lines when it did not start listening.
fn try_start(args: &[String]) -> Result<Started, Vec<String>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for line in err.lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        if let Some((kind, addr)) = line
            .strip_prefix("listening on ")
            .and_then(|r| r.split_once(' '))
        {
            out.push((kind.to_string(), addr.parse().unwrap()));
        }
        lines.push(line);
    }
    let running = Running(child);
    if out.is_empty() {
        return Err(lines);
    }
    Ok((running, out))
}

fn addr(listeners: &[(String, SocketAddr)], kind: &str) -> SocketAddr {
    listeners.iter().find(|(k, _)| k == kind).unwrap().1
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes the handshake (with one request, so client-certificate
/// refusals, which TLS 1.3 reports after the client's Finished, surface here).
fn request(
    config: Arc<ClientConfig>,
    to: SocketAddr,
    req: &[u8],
) -> Result<(Tls, Vec<u8>), String> {
    let tcp = TcpStream::connect(to).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(req).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut b = [0u8; 1024];
    while !got.ends_with(b"\r\n") {
        match tls.read(&mut b) {
            Ok(0) => return Err(format!("closed after {:?}", String::from_utf8_lossy(&got))),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok((tls, got))
}

fn resp_args<'a>(pki: &'a Pki, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "--resp-port".into(),
        "0".into(),
        "--tls-port".into(),
        free_port().to_string(),
        "--tls-cert-file".into(),
        pki.path("server.crt"),
        "--tls-key-file".into(),
        pki.path("server.key"),
        "--tls-ca-cert-file".into(),
        pki.path("ca.crt"),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_owned(args: &[String]) -> (Running, Vec<(String, SocketAddr)>) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    start(&refs)
}

#[test]
fn resp_tls_port_beside_the_plain_one_with_client_certificates() {
    let pki = Pki::new("resp");
    let (_d, l) = start_owned(&resp_args(&pki, &[]));
    let tls = addr(&l, "resp-tls");
    let (mut c, got) = request(pki.client(Some("client")), tls, b"SET k v\r\n").unwrap();
    assert_eq!(got, b"+OK\r\n");
    c.write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
    let mut b = [0u8; 64];
    let n = c.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"$1\r\nv\r\n");
    // The plain port serves the same keyspace at the same time.
    let mut plain = TcpStream::connect(addr(&l, "resp")).unwrap();
    plain.write_all(b"GET k\r\n").unwrap();
    let n = plain.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"$1\r\nv\r\n");
    // A plain client on the TLS port is closed on without a word (no TLS alert it could
    // mistake for a reply), as an OpenSSL server does.
    let mut wrong = TcpStream::connect(tls).unwrap();
    wrong.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut all = Vec::new();
    let _ = wrong.read_to_end(&mut all);
    assert_eq!(all, b"");
    // tls-auth-clients yes (Redis's default): no certificate, an expired one, or one from
    // another CA is refused.
    for cert in [None, Some("expired-client"), Some("other-client")] {
        let r = request(pki.client(cert), tls, b"PING\r\n");
        assert!(r.is_err(), "{cert:?} was accepted");
    }
    // A client that does not trust the server's CA refuses the server.
    let other = ClientConfig::builder()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    let err = request(Arc::new(other), tls, b"PING\r\n").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
}

/// Reads one TLS reply up to `end`.
fn reply_until(c: &mut Tls, end: &[u8]) -> Vec<u8> {
    let mut all = Vec::new();
    let mut b = [0u8; 256];
    while !all.ends_with(end) {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&all));
        all.extend_from_slice(&b[..n]);
    }
    all
}

#[test]
fn a_password_applies_on_both_tls_ports_as_on_the_plain_ones() {
    let pki = Pki::new("auth");
    let mut args = resp_args(&pki, &["--requirepass", "s3cret", "-Z", "-o"]);
    args.push(format!(
        "ssl_chain_cert={},ssl_key={}",
        pki.path("server.crt"),
        pki.path("server.key")
    ));
    let (_d, l) = start_owned(&args);
    // RESP over TLS: nothing but AUTH/HELLO before logging in.
    let client = pki.client(Some("client"));
    let (mut c, got) = request(client.clone(), addr(&l, "resp-tls"), b"SET k v\r\n").unwrap();
    assert_eq!(got, b"-NOAUTH Authentication required.\r\n");
    c.write_all(b"GET k\r\nAUTH wrong\r\nAUTH s3cret\r\nSET k v\r\nGET k\r\n")
        .unwrap();
    assert_eq!(
        reply_until(&mut c, b"$1\r\nv\r\n"),
        b"-NOAUTH Authentication required.\r\n\
          -WRONGPASS invalid username-password pair or user is disabled.\r\n\
          +OK\r\n+OK\r\n$1\r\nv\r\n"
    );
    // memcached text over TLS (-Z): refused until the login exchange.
    let (mut m, got) = request(client, addr(&l, "tls"), b"get k\r\n").unwrap();
    assert_eq!(got, b"CLIENT_ERROR unauthenticated\r\n");
    m.write_all(b"delete k\r\nset a 0 0 14\r\ndefault s3cret\r\nget k\r\n")
        .unwrap();
    assert_eq!(
        reply_until(&mut m, b"END\r\n"),
        b"CLIENT_ERROR unauthenticated\r\nSTORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n"
    );
}

#[test]
fn config_set_reloads_and_refuses_bad_files() {
    let pki = Pki::new("reload");
    let (_d, l) = start_owned(&resp_args(&pki, &["--tls-auth-clients", "optional"]));
    let tls = addr(&l, "resp-tls");
    let mut admin = TcpStream::connect(addr(&l, "resp")).unwrap();
    let mut cmd = |line: &str| {
        admin.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut b = [0u8; 512];
        let n = admin.read(&mut b).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    // optional: a client without a certificate is served.
    assert_eq!(
        request(pki.client(None), tls, b"PING\r\n").unwrap().1,
        b"+PONG\r\n"
    );
    // An expired server certificate: clients refuse it.
    let expired = pki.path("expired-server.crt");
    let key = pki.path("expired-server.key");
    assert_eq!(
        cmd(&format!(
            "CONFIG SET tls-cert-file {expired} tls-key-file {key}"
        )),
        "+OK\r\n"
    );
    let err = request(pki.client(None), tls, b"PING\r\n").unwrap_err();
    assert!(err.contains("certificate expired"), "{err}");
    // A file that does not exist: refused, the configuration in force stays.
    let reply = cmd("CONFIG SET tls-cert-file /nonexistent/server.crt");
    assert!(reply.starts_with("-ERR CONFIG SET failed"), "{reply}");
    assert_eq!(
        cmd("CONFIG GET tls-cert-file"),
        format!(
            "*2\r\n$13\r\ntls-cert-file\r\n${}\r\n{expired}\r\n",
            expired.len()
        )
    );
    let (cert, key) = (pki.path("server.crt"), pki.path("server.key"));
    assert_eq!(
        cmd(&format!(
            "CONFIG SET tls-cert-file {cert} tls-key-file {key}"
        )),
        "+OK\r\n"
    );
    assert_eq!(
        request(pki.client(None), tls, b"PING\r\n").unwrap().1,
        b"+PONG\r\n"
    );
    // Client certificates are still checked when sent.
    assert!(request(pki.client(Some("other-client")), tls, b"PING\r\n").is_err());
}

#[test]
fn memcached_tls_with_z_and_ssl_options() {
    let pki = Pki::new("mc");
    let opts = format!(
        "ssl_chain_cert={},ssl_key={},ssl_ca_cert={},ssl_verify_mode=2",
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt")
    );
    let (_d, l) = start(&["-Z", "-o", &opts]);
    let port = addr(&l, "tls");
    let (mut c, got) = request(pki.client(Some("client")), port, b"set k 0 0 1\r\nv\r\n").unwrap();
    assert_eq!(got, b"STORED\r\n");
    c.write_all(b"get k\r\n").unwrap();
    let mut all = Vec::new();
    let mut b = [0u8; 256];
    while !all.ends_with(b"END\r\n") {
        let n = c.read(&mut b).unwrap();
        all.extend_from_slice(&b[..n]);
    }
    assert_eq!(all, b"VALUE k 0 1\r\nv\r\nEND\r\n");
    // refresh_certs rereads the files (memcached's reply); here they are unchanged.
    c.write_all(b"refresh_certs\r\n").unwrap();
    let n = c.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"OK\r\n");
    // Removing the key file: the reload fails and says why, the old configuration stays.
    std::fs::rename(pki.path("server.key"), pki.path("server.key.moved")).unwrap();
    c.write_all(b"refresh_certs\r\n").unwrap();
    let n = c.read(&mut b).unwrap();
    assert!(
        b[..n].starts_with(b"Error loading the certificate chain: "),
        "{:?}",
        &b[..n]
    );
    std::fs::rename(pki.path("server.key.moved"), pki.path("server.key")).unwrap();
    // ssl_verify_mode=2 requires a client certificate, current and from ssl_ca_cert's CA.
    for cert in [None, Some("expired-client"), Some("other-client")] {
        let r = request(pki.client(cert), port, b"version\r\n");
        assert!(r.is_err(), "{cert:?} was accepted");
    }
    // Large values cross many TLS records both ways.
    let big = vec![b'x'; 300_000];
    let mut req = format!("set big 0 0 {}\r\n", big.len()).into_bytes();
    req.extend_from_slice(&big);
    req.extend_from_slice(b"\r\nget big\r\n");
    let (mut c, mut all) = request(pki.client(Some("client")), port, &req).unwrap();
    while !all.ends_with(b"END\r\n") {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&b[..n]);
    }
    assert!(all.starts_with(b"STORED\r\nVALUE big 0 300000\r\nxxx"));
    assert_eq!(
        all.len(),
        8 + "VALUE big 0 300000\r\n".len() + big.len() + 2 + 5
    );
}

#[test]
fn refresh_certs_without_tls() {
    let (_d, l) = start(&[]);
    let mut c = TcpStream::connect(addr(&l, "tcp")).unwrap();
    c.write_all(b"refresh_certs\r\n").unwrap();
    let mut b = [0u8; 64];
    let n = c.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"Error TLS not enabled\r\n");
}

#[test]
fn a_bad_tls_setup_stops_start_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args([
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "-Z",
            "-o",
            "ssl_chain_cert=/nonexistent.crt",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-Z: /nonexistent.crt"), "{err}");
    let _ = Path::new("/");
}

/// A TLS 1.2 client offering only `suites`, in that order (the test certificates are
/// ECDSA, so the ECDSA suites are the ones that can be agreed).
fn tls12_client(pki: &Pki, suites: &[rustls::SupportedCipherSuite]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.cert.der().clone()).unwrap();
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: suites.to_vec(),
        ..rustls::crypto::ring::default_provider()
    };
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn suite_of(c: &Tls) -> String {
    format!("{:?}", c.conn.negotiated_cipher_suite().unwrap().suite())
}

#[test]
fn tls12_cipher_lists_choose_the_suites_and_unknown_lists_are_refused() {
    use rustls::crypto::ring::cipher_suite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 as AES128,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 as AES256,
    };
    let pki = Pki::new("ciphers");
    let args = resp_args(
        &pki,
        &[
            "--tls-auth-clients",
            "no",
            "--tls-ciphers",
            "DEFAULT:-AES128",
        ],
    );
    let (_d, l) = start_owned(&args);
    let tls = addr(&l, "resp-tls");
    let mut admin = TcpStream::connect(addr(&l, "resp")).unwrap();
    let mut cmd = |line: &str| {
        admin.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut b = [0u8; 512];
        let n = admin.read(&mut b).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    // Redis's tls.tcl case with the suites rustls has: AES128 taken out of the list.
    assert!(request(tls12_client(&pki, &[AES128]), tls, b"PING\r\n").is_err());
    let (c, got) = request(tls12_client(&pki, &[AES256]), tls, b"PING\r\n").unwrap();
    assert_eq!(got, b"+PONG\r\n");
    assert_eq!(suite_of(&c), "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(cmd("CONFIG SET tls-ciphers DEFAULT"), "+OK\r\n");
    assert!(request(tls12_client(&pki, &[AES128]), tls, b"PING\r\n").is_ok());
    // A list that selects nothing rustls offers is refused; the one in force stays.
    let reply = cmd("CONFIG SET tls-ciphers AES128-SHA256");
    assert!(
        reply.starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-ciphers') - Unable to update TLS configuration."),
        "{reply}"
    );
    assert_eq!(
        cmd("CONFIG GET tls-ciphers"),
        "*2\r\n$11\r\ntls-ciphers\r\n$7\r\nDEFAULT\r\n"
    );
    // tls-prefer-server-ciphers: the server's order decides, else the client's.
    let both = [AES256, AES128];
    assert_eq!(
        cmd("CONFIG SET tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"),
        "+OK\r\n"
    );
    let (c, _) = request(tls12_client(&pki, &both), tls, b"PING\r\n").unwrap();
    assert_eq!(suite_of(&c), "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(cmd("CONFIG SET tls-prefer-server-ciphers yes"), "+OK\r\n");
    let (c, _) = request(tls12_client(&pki, &both), tls, b"PING\r\n").unwrap();
    assert_eq!(suite_of(&c), "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

#[test]
fn client_certificates_checked_against_a_ca_directory() {
    let pki = Pki::new("cadir");
    let dir = pki.dir.join("cas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(pki.path("ca.crt"), dir.join("5a1bd0e1.0")).unwrap();
    std::fs::write(dir.join("README"), "not a certificate\n").unwrap();
    let args: Vec<String> = [
        "--resp-port",
        "0",
        "--tls-port",
        &free_port().to_string(),
        "--tls-cert-file",
        &pki.path("server.crt"),
        "--tls-key-file",
        &pki.path("server.key"),
        "--tls-ca-cert-dir",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_d, l) = start_owned(&args);
    let tls = addr(&l, "resp-tls");
    let (_, got) = request(pki.client(Some("client")), tls, b"PING\r\n").unwrap();
    assert_eq!(got, b"+PONG\r\n");
    assert!(request(pki.client(Some("other-client")), tls, b"PING\r\n").is_err());
    assert!(request(pki.client(None), tls, b"PING\r\n").is_err());
}

#[test]
fn memcached_ssl_ciphers_limits_tls12_and_a_bad_list_stops_start_up() {
    use rustls::crypto::ring::cipher_suite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 as AES128,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 as CHACHA,
    };
    let pki = Pki::new("mcciphers");
    let opts = format!(
        "ssl_chain_cert={},ssl_key={},ssl_ciphers=ECDHE-ECDSA-CHACHA20-POLY1305",
        pki.path("server.crt"),
        pki.path("server.key"),
    );
    let (_d, l) = start(&["-Z", "-o", &opts]);
    let port = addr(&l, "tls");
    assert!(request(tls12_client(&pki, &[AES128]), port, b"version\r\n").is_err());
    let (c, got) = request(tls12_client(&pki, &[CHACHA]), port, b"version\r\n").unwrap();
    assert!(got.starts_with(b"VERSION "));
    assert_eq!(
        suite_of(&c),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    );
    let bad = format!(
        "ssl_chain_cert={},ssl_key={},ssl_ciphers=RC4-MD5",
        pki.path("server.crt"),
        pki.path("server.key"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1", "-Z", "-o", &bad])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-Z: no cipher match in 'RC4-MD5'"), "{err}");
}

/// `key` (a PKCS#8 PEM file) encrypted with `pass`, as `openssl rsa -aes256` writes it
/// with OpenSSL 3 (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC).
fn encrypt_key(key: &str, pass: &str, out: &str) {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::der::EncodePem;
    let der = PrivateKeyDer::from_pem_file(key).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.secret_der()).unwrap();
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
        2048,
        b"saltsalt",
        b"0123456789abcdef",
    )
    .unwrap();
    let encrypted = info.encrypt_with_params(params, pass).unwrap();
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(encrypted.as_bytes()).unwrap();
    std::fs::write(out, info.to_pem(LineEnding::LF).unwrap()).unwrap();
}

#[test]
fn encrypted_key_files_need_tls_key_file_pass() {
    let pki = Pki::new("keypass");
    let encrypted = pki.path("server.key.enc");
    encrypt_key(&pki.path("server.key"), "1234", &encrypted);
    // At start-up: without the password slabd does not start; with it, it serves.
    let mut args = resp_args(&pki, &["--tls-auth-clients", "no"]);
    let key_at = args.iter().position(|a| a == "--tls-key-file").unwrap() + 1;
    args[key_at] = encrypted.clone();
    let out = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1"])
        .args(&args)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the key is encrypted and no password is set"),
        "{err}"
    );
    args.extend(["--tls-key-file-pass".to_string(), "1234".to_string()]);
    let (d, l) = start_owned(&args);
    assert_eq!(
        request(pki.client(None), addr(&l, "resp-tls"), b"PING\r\n")
            .unwrap()
            .1,
        b"+PONG\r\n"
    );
    drop(d);
    // At run time, as Redis's unit/tls "Working with an encrypted keyfile".
    let (_d, l) = start_owned(&resp_args(&pki, &["--tls-auth-clients", "no"]));
    let mut admin = TcpStream::connect(addr(&l, "resp")).unwrap();
    let mut cmd = |line: &str| {
        admin.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut b = [0u8; 512];
        let n = admin.read(&mut b).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    let reply = cmd(&format!("CONFIG SET tls-key-file {encrypted}"));
    assert!(reply.starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-key-file') - Unable to update TLS configuration"), "{reply}");
    assert_eq!(cmd("CONFIG SET tls-key-file-pass wrong"), "+OK\r\n");
    let reply = cmd(&format!("CONFIG SET tls-key-file {encrypted}"));
    assert!(reply.contains("cannot decrypt the key"), "{reply}");
    assert_eq!(cmd("CONFIG SET tls-key-file-pass 1234"), "+OK\r\n");
    assert_eq!(
        cmd(&format!("CONFIG SET tls-key-file {encrypted}")),
        "+OK\r\n"
    );
    assert_eq!(
        request(pki.client(None), addr(&l, "resp-tls"), b"PING\r\n")
            .unwrap()
            .1,
        b"+PONG\r\n"
    );
}

/// A plain RESP request on `to`; the first reply line, or why not.
fn plain_request(to: SocketAddr, req: &[u8]) -> Result<String, String> {
    let mut s = TcpStream::connect(to).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).map_err(|e| e.to_string())?;
    let mut b = [0u8; 512];
    let n = s.read(&mut b).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&b[..n]).into_owned())
}

#[test]
fn config_set_port_and_tls_port_rebind_the_listeners() {
    // Redis's unit/tls "switch between tcp and tls ports", plus the failure cases.
    let pki = Pki::new("ports");
    let args = resp_args(&pki, &["--tls-auth-clients", "no"]);
    let tls_port: u16 = args[args.iter().position(|a| a == "--tls-port").unwrap() + 1]
        .parse()
        .unwrap();
    let (_d, l) = start_owned(&args);
    let memcache = addr(&l, "tcp");
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let cmd = |to: SocketAddr, tls: bool, line: &str| -> String {
        // As a RESP array: the memcached port tells RESP from memcached text by its `*`.
        let words: Vec<&str> = line.split(' ').collect();
        let mut req = format!("*{}\r\n", words.len());
        for w in words {
            req.push_str(&format!("${}\r\n{w}\r\n", w.len()));
        }
        if tls {
            String::from_utf8(request(pki.client(None), to, req.as_bytes()).unwrap().1).unwrap()
        } else {
            plain_request(to, req.as_bytes()).unwrap()
        }
    };
    let plain_port = addr(&l, "resp").port();
    assert_eq!(
        cmd(at(plain_port), false, "CONFIG GET port"),
        format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{plain_port}\r\n",
            plain_port.to_string().len()
        )
    );
    // TLS port closed, plain RESP moved onto it.
    assert_eq!(cmd(at(tls_port), true, "CONFIG SET tls-port 0"), "+OK\r\n");
    assert!(TcpStream::connect(at(tls_port)).is_err());
    assert_eq!(
        cmd(
            at(plain_port),
            false,
            &format!("CONFIG SET port {tls_port}")
        ),
        "+OK\r\n"
    );
    assert!(TcpStream::connect(at(plain_port)).is_err());
    assert_eq!(cmd(at(tls_port), false, "PING"), "+PONG\r\n");
    // A port in use: refused with Redis's reason, the listener in force kept.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    assert_eq!(
        cmd(at(tls_port), false, &format!("CONFIG SET port {busy}")),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port\r\n"
    );
    assert_eq!(
        cmd(at(tls_port), false, &format!("CONFIG SET tls-port {busy}")),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port\r\n"
    );
    assert_eq!(cmd(at(tls_port), false, "PING"), "+PONG\r\n");
    // And back: plain closed, TLS on the port again.
    assert_eq!(cmd(at(tls_port), false, "CONFIG SET port 0"), "+OK\r\n");
    assert!(TcpStream::connect(at(tls_port)).is_err());
    assert_eq!(
        cmd(memcache, false, &format!("CONFIG SET tls-port {tls_port}")),
        "+OK\r\n"
    );
    assert_eq!(cmd(at(tls_port), true, "PING"), "+PONG\r\n");
    assert_eq!(
        cmd(at(tls_port), true, "CONFIG GET tls-port"),
        format!(
            "*2\r\n$8\r\ntls-port\r\n${}\r\n{tls_port}\r\n",
            tls_port.to_string().len()
        )
    );
    // memcached's own port never moves.
    assert_eq!(cmd(memcache, false, "PING"), "+PONG\r\n");
}

#[test]
fn tls_port_set_at_run_time_on_a_server_started_without_one() {
    let pki = Pki::new("late-tls");
    let (_d, l) = start_owned(&[
        "--resp-port".to_string(),
        "0".to_string(),
        "--tls-cert-file".to_string(),
        pki.path("server.crt"),
        "--tls-key-file".to_string(),
        pki.path("server.key"),
        "--tls-auth-clients".to_string(),
        "no".to_string(),
    ]);
    let port = free_port();
    let reply = plain_request(
        addr(&l, "resp"),
        format!("CONFIG SET tls-port {port}\r\n").as_bytes(),
    );
    assert_eq!(reply.unwrap(), "+OK\r\n");
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(
        request(pki.client(None), to, b"PING\r\n").unwrap().1,
        b"+PONG\r\n"
    );
}

/// INFO's `mem_clients_normal`, read over a plain RESP connection.
fn mem_clients(to: SocketAddr) -> u64 {
    let info = plain_request(to, b"INFO memory\r\n").unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("mem_clients_normal:"))
        .unwrap_or_else(|| panic!("no mem_clients_normal in {info}"));
    line["mem_clients_normal:".len()..].trim().parse().unwrap()
}

#[test]
fn tls_sessions_count_toward_client_memory() {
    let pki = Pki::new("tlsmem");
    let (_d, l) = start_owned(&resp_args(&pki, &["--tls-auth-clients", "no"]));
    let plain = addr(&l, "resp");
    let before = mem_clients(plain);
    let clients: Vec<Tls> = (0..10)
        .map(|_| {
            request(pki.client(None), addr(&l, "resp-tls"), b"PING\r\n")
                .unwrap()
                .0
        })
        .collect();
    let during = mem_clients(plain);
    // 16 KiB per session beside the buffers (which plain clients hold too).
    assert!(during >= before + 10 * 16384, "{before} -> {during}");
    drop(clients);
    let mut after = during;
    for _ in 0..100 {
        after = mem_clients(plain);
        if after < before + 16384 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(after < before + 16384, "{before} -> {during} -> {after}");
}

/// A TLS session moves between workers with its connection (`-o worker_shuffle` moves a
/// plain connection after every turn it read in): pipelined requests cut at odd sizes,
/// so records are split across reads and moves, come back whole and in order.
#[test]
fn a_tls_session_survives_moves_between_workers() {
    let pki = Pki::new("moves");
    let (_d, l) = start_owned(&resp_args(&pki, &["-t", "3", "-o", "worker_shuffle"]));
    let (mut c, got) = request(
        pki.client(Some("client")),
        addr(&l, "resp-tls"),
        b"PING\r\n",
    )
    .unwrap();
    assert_eq!(got, b"+PONG\r\n");
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for i in 1..=200 {
        wire.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
        want.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    for chunk in wire.chunks(41) {
        c.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let got = reply_until(&mut c, b":200\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    c.write_all(b"INFO stats\r\n").unwrap();
    let info = String::from_utf8_lossy(&reply_until(&mut c, b"\r\n\r\n")).into_owned();
    let moves: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("worker_moves:"))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(moves >= 20, "the session hardly moved: {moves}");
}
