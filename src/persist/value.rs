//! The intermediate value model between the file formats and the store: the RDB reader
//! produces [`Entry`]s and the writer consumes them (or their borrowed parts), so neither
//! file layer depends on how the store lays items out.

/// A value of one of Redis's core types. Collection members keep their file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

impl Value {
    /// Redis's name for the type (`TYPE` reply, messages).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::ZSet(_) => "zset",
        }
    }

    /// Number of elements (1 for a string).
    pub fn len(&self) -> usize {
        match self {
            Value::String(_) => 1,
            Value::List(v) | Value::Set(v) => v.len(),
            Value::Hash(v) => v.len(),
            Value::ZSet(v) => v.len(),
        }
    }

    /// About how much heap the value takes (its bytes and one `Vec` header per element):
    /// what a save counts for a copy it holds.
    pub fn heap_bytes(&self) -> usize {
        const VEC: usize = std::mem::size_of::<Vec<u8>>();
        match self {
            Value::String(v) => v.len(),
            Value::List(v) | Value::Set(v) => v.iter().map(|e| e.len() + VEC).sum(),
            Value::Hash(v) => v.iter().map(|(f, e)| f.len() + e.len() + 2 * VEC).sum(),
            Value::ZSet(v) => v.iter().map(|(m, _)| m.len() + VEC + 8).sum(),
        }
    }

    /// True for an empty collection (Redis skips such keys when loading).
    pub fn is_empty(&self) -> bool {
        !matches!(self, Value::String(_)) && self.len() == 0
    }
}

/// One key as stored in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Redis database number (`SELECT`).
    pub db: u32,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry, Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// memcached client flags (slabd's `slabd-mc-flags` AUX field before the key; 0 when
    /// the file has none).
    pub mc_flags: u32,
}

impl Entry {
    /// A string entry in db 0 without expiry or flags.
    pub fn string(key: &[u8], value: &[u8]) -> Entry {
        Entry {
            db: 0,
            key: key.to_vec(),
            value: Value::String(value.to_vec()),
            expire_ms: None,
            mc_flags: 0,
        }
    }
}
