//! RESP2/RESP3 frames and inline commands: parser and encoder.
//!
//! The parser reads requests (arrays of bulk strings, or an inline line as typed at a telnet
//! prompt) and reports argument positions in the caller's buffer; the encoder appends replies
//! in RESP2 or RESP3 to an output `Vec` with no intermediate allocation.

mod encode;
mod parse;
pub mod splitargs;

pub use encode::Writer;
pub use parse::{
    parse_i64, Args, Limits, Parsed, Parser, ProtocolError, INLINE_MAX, MULTIBULK_MAX,
};
