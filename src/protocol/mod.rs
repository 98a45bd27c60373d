//! Wire formats. Parsers borrow the input and report how much they used; nothing here knows
//! about storage or sockets.

pub mod memcache;
pub mod resp;
