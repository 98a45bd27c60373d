//! memcached text protocol commands (classic and meta) against the store.

use super::{Context, Session, Step};

/// Per connection state of the memcached protocol.
#[derive(Debug, Default)]
pub struct State {}

pub fn process(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    let _ = (ctx, session, input, out);
    todo!()
}
