//! The memcached binary protocol's packets, for the tests that speak it.

use super::Conn;

/// A request packet.
pub fn req(op: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
    let mut v = vec![0x80, op];
    v.extend_from_slice(&(key.len() as u16).to_be_bytes());
    v.push(extras.len() as u8);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    v.extend_from_slice(&opaque.to_be_bytes());
    v.extend_from_slice(&cas.to_be_bytes());
    v.extend_from_slice(extras);
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    v
}

/// One response: header, then its body.
#[derive(Debug, PartialEq)]
pub struct Response {
    pub opcode: u8,
    pub status: u16,
    pub extras: Vec<u8>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub opaque: u32,
    pub cas: u64,
}

/// Reads one response: its 24-byte header, then its body.
pub fn read_response(c: &mut Conn) -> Response {
    let h = c.read_exact(24);
    assert_eq!(h[0], 0x81, "response magic");
    let key_len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let extras_len = h[4] as usize;
    let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
    let b = c.read_exact(body);
    Response {
        opcode: h[1],
        status: u16::from_be_bytes([h[6], h[7]]),
        extras: b[..extras_len].to_vec(),
        key: b[extras_len..extras_len + key_len].to_vec(),
        value: b[extras_len + key_len..].to_vec(),
        opaque: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
        cas: u64::from_be_bytes(h[16..24].try_into().unwrap()),
    }
}
