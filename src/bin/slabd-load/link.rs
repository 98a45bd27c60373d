//! A connection to the server: plain TCP, or TLS over it (`--tls`, for memcached's `-Z`
//! and Redis's `tls-port`). Both read and write like a non-blocking socket, so the driver
//! does not know which it has.
//!
//! The TLS client does not check the server's certificate: this is a loopback-only
//! benchmark tool, and test certificates seldom carry a name rustls would accept.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring as provider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

pub enum Link {
    Plain(TcpStream),
    Tls(Box<(ClientConnection, TcpStream)>),
}

/// Accepts any server certificate, checking only that the handshake is signed by it.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration every TLS connection of a run shares.
pub fn tls_config() -> Arc<ClientConfig> {
    let provider = Arc::new(provider::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring offers the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

impl Link {
    pub fn new(tcp: TcpStream, tls: Option<&Arc<ClientConfig>>) -> io::Result<Link> {
        Ok(match tls {
            None => Link::Plain(tcp),
            Some(config) => {
                let name = ServerName::try_from("localhost").expect("a valid name");
                let conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
                Link::Tls(Box::new((conn, tcp)))
            }
        })
    }

    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(b) => &mut b.1,
        }
    }

    /// Sends TLS records waiting for the socket (handshake messages, encrypted requests).
    pub fn send_records(&mut self) -> io::Result<()> {
        if let Link::Tls(b) = self {
            let (conn, tcp) = &mut **b;
            while conn.wants_write() {
                match conn.write_tls(tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (conn, tcp) = match self {
            Link::Plain(s) => return s.read(buf),
            Link::Tls(b) => {
                let (conn, tcp) = &mut **b;
                (conn, tcp)
            }
        };
        loop {
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if conn.read_tls(tcp)? == 0 {
                return Ok(0);
            }
            conn.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            // Handshake replies go out at once; so do requests buffered before it ended.
            while conn.wants_write() {
                match conn.write_tls(tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Link::Plain(s) = self {
            return s.write(buf);
        }
        self.send_records()?;
        let Link::Tls(b) = self else { unreachable!() };
        if b.0.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = b.0.writer().write(buf)?;
        self.send_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Plain: one `writev`. TLS: the pieces share records, as `write` of their
    /// concatenation would.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if let Link::Plain(s) = self {
            return s.write_vectored(bufs);
        }
        self.send_records()?;
        let Link::Tls(b) = self else { unreachable!() };
        if b.0.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = b.0.writer().write_vectored(bufs)?;
        self.send_records()?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
