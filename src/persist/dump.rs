//! DUMP payloads (Redis 7.0's `createDumpPayload` / `verifyDumpPayload`), shared by DUMP /
//! RESTORE of keys and FUNCTION DUMP / RESTORE.
//!
//! # Format
//!
//! ```text
//! <body> <RDB version u16le> <CRC-64 u64le of body and version>
//! ```
//!
//! A key's body is its RDB type byte and value, exactly as in an RDB file (so a payload
//! of redis-server 7.0 restores in slabd and the other way round); a FUNCTION DUMP body
//! is one `RDB_OPCODE_FUNCTION2` record per library. A payload whose version is newer
//! than 10 or whose checksum does not match is refused, as Redis 7.0 refuses it.

use super::crc64::crc64;
use super::rdb::{Reader, Writer, RDB_VERSION};
use super::value::Value;

/// Appends the footer (RDB version and CRC-64) to a payload body.
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// The body of a payload whose footer checks out (version at most 10, right CRC-64);
/// None gets Redis's `DUMP payload version or checksum are wrong`.
pub fn verify(payload: &[u8]) -> Option<&[u8]> {
    verify_with(payload, true)
}

/// [`verify`], checking the CRC-64 only when `check_crc` (false under Redis's
/// `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`, which skips the checksum, not the version).
pub fn verify_with(payload: &[u8], check_crc: bool) -> Option<&[u8]> {
    let body_len = payload.len().checked_sub(10)?;
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().ok()?);
    (u32::from(version) <= RDB_VERSION && (!check_crc || crc64(0, &payload[..body_len + 2]) == crc))
        .then_some(&payload[..body_len])
}

/// DUMP's payload for a value (`compress`: Redis's `rdbcompression`).
pub fn encode(value: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::bare(Vec::new(), compress);
    // Writing to a Vec cannot fail.
    let _ = w.typed_value(value);
    let body = w.finish_bare();
    seal(body)
}

/// The value in a verified payload body; None gets Redis's `Bad data format` (an unknown
/// or unsupported type, a malformed encoding, or an empty collection, which Redis refuses
/// too). Lengths are checked against the bytes present: nothing is allocated for what
/// the payload merely claims.
pub fn decode(body: &[u8]) -> Option<Value> {
    let mut r = Reader::bare(body);
    let value = r.typed_value().ok()?;
    (!value.is_empty()).then_some(value)
}

/// Why a payload body was refused, for the log (Redis logs it at `verbose` in RESTORE):
/// the reader's error, which names a damaged compact encoding as Redis names it ("Zset
/// ziplist integrity check failed"). A body that decodes was refused when its value was
/// built (a member or field twice, a NaN score: Redis's loader's words, as a load gives
/// them) or is empty.
pub fn refusal(body: &[u8]) -> String {
    match Reader::bare(body).typed_value() {
        Err(e) => e.to_string(),
        Ok(v) if v.is_empty() => "empty keys are not allowed".into(),
        Ok(v) => {
            let limits = crate::collections::Thresholds::default();
            super::defects::of_refused(body[0], &v, &limits).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_payload_is_redis_bytes() {
        // redis-server 7.0.15: SET foo bar; DUMP foo
        let redis = b"\x00\x03bar\n\x00\xe6\xbeI`\xeef\xfd\x17";
        assert_eq!(
            encode(&Value::String(b"bar".to_vec()), true),
            redis.to_vec()
        );
        let body = verify(redis).unwrap();
        assert_eq!(decode(body), Some(Value::String(b"bar".to_vec())));
    }

    #[test]
    fn refuses_bad_footer_and_bad_body() {
        let mut p = encode(&Value::List(vec![b"a".to_vec(), b"12".to_vec()]), true);
        assert!(verify(&p).is_some());
        let last = p.len() - 1;
        p[last] ^= 1;
        assert!(verify(&p).is_none());
        assert!(verify(b"short").is_none());
        // Version 11 (Redis 7.2) is refused as 7.0 refuses it.
        let mut body = vec![0u8, 1, b'x'];
        body.extend_from_slice(&11u16.to_le_bytes());
        let crc = crc64(0, &body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert!(verify(&body).is_none());
        // A string claiming 2^32 bytes with 1 present: refused, nothing reserved.
        assert_eq!(decode(b"\x00\x80\xff\xff\xff\xffx"), None);
        // A list claiming 2^62 elements.
        assert_eq!(decode(b"\x01\x81\x40\0\0\0\0\0\0\0\x01a"), None);
        // An opcode is not a value; an empty set is refused.
        assert_eq!(decode(b"\xf5\x01a"), None);
        assert_eq!(decode(b"\x02\x00"), None);
    }

    #[test]
    fn every_type_round_trips() {
        let values = [
            Value::String(b"12345".to_vec()),
            Value::String(vec![b'x'; 300]),
            Value::List((0..1000).map(|i| format!("e{i}").into_bytes()).collect()),
            Value::Set(vec![b"1".to_vec(), b"a".to_vec()]),
            Value::Hash(vec![(b"f".to_vec(), b"v".to_vec())]),
            Value::ZSet(vec![(b"m".to_vec(), 1.5), (b"n".to_vec(), 2.0)]),
            Value::ZSet(
                (0..200)
                    .map(|i| (format!("m{i}").into_bytes(), f64::from(i)))
                    .collect(),
            ),
        ];
        for v in values {
            let p = encode(&v, true);
            assert_eq!(decode(verify(&p).unwrap()).as_ref(), Some(&v));
        }
    }
}
