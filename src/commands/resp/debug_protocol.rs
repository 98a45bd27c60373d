//! `DEBUG PROTOCOL type`: one reply of each RESP type, as Redis 7.0's debug.c sends them,
//! so clients (and Redis's unit/protocol) can test their parsers against the server.
//! RESP3-only types fall back as Redis's do on RESP2: a big number becomes a bulk string,
//! an attribute is left out, a push is refused.

use super::Call;

const TYPES: &[u8] = b"ERR Wrong protocol type name. Please use one of the following: \
string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false";

/// The number Redis sends (not meant as π).
#[allow(clippy::approx_constant)]
const DOUBLE: f64 = 3.141;

/// Replies to `DEBUG PROTOCOL name`.
pub(super) fn protocol(call: &mut Call<'_>, name: &[u8]) {
    let resp3 = call.w.resp3;
    let w = &mut call.w;
    match name.to_ascii_lowercase().as_slice() {
        b"string" => w.bulk(b"Hello World"),
        b"integer" => w.integer(12345),
        b"double" => w.double(DOUBLE),
        b"bignum" if resp3 => w
            .out
            .extend_from_slice(b"(1234567999999999999999999999999999999\r\n"),
        b"bignum" => w.bulk(b"1234567999999999999999999999999999999"),
        b"null" => w.null(),
        b"array" => {
            w.array(3);
            (0..3).for_each(|j| w.integer(j));
        }
        b"set" => {
            w.set(3);
            (0..3).for_each(|j| w.integer(j));
        }
        b"map" => {
            w.map(3);
            for j in 0..3 {
                w.integer(j);
                w.boolean(j == 1);
            }
        }
        b"attrib" => {
            if resp3 {
                w.out.extend_from_slice(b"|1\r\n");
                w.bulk(b"key-popularity");
                w.array(2);
                w.bulk(b"key:123");
                w.integer(90);
            }
            w.bulk(b"Some real reply following the attribute");
        }
        b"push" if !resp3 => w.error(b"ERR RESP2 is not supported by this command"),
        b"push" => {
            w.push(2);
            w.bulk(b"server-cpu-usage");
            w.integer(42);
            w.bulk(b"Some real reply following the push reply");
        }
        b"true" => w.boolean(true),
        b"false" => w.boolean(false),
        b"verbatim" => w.verbatim(b"txt", b"This is a verbatim\nstring"),
        _ => w.error(TYPES),
    }
}
