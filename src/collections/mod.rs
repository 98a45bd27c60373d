//! Redis's collection types as data structures, independent of the store: each has a
//! packed form that fits one slab item and a large form kept as a heap object.

pub mod list;
pub mod zset;
