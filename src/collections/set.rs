//! Redis sets, as Redis 7.0 keeps them: an [`intset`](super::intset) (OBJECT ENCODING
//! `intset`) while every member is a canonical integer and there are at most
//! `set-max-intset-entries` of them; otherwise a [`Table`] of members without values
//! (`hashtable`), for good. (Redis 7.2's listpack sets are not followed.)
//!
//! [`SetRef`] reads either form; [`SetMut`] edits one and reports what the store must do
//! with the result ([`SetMut::finish`]).

use super::hash::distinct_picks;
use super::intset::{format_member, parse_member, IntSet, IntSetBuf};
use super::table::{table_object, Outcome, Table};
use super::{random_below, SetLimits};

/// One member as a form holds it: intset members are numbers until they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes (decimal text for a number, written into `buf`).
    pub fn bytes<'b>(&self, buf: &'b mut [u8; 20]) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Member::Int(v) => format_member(v, buf),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = [0u8; 20];
        self.bytes(&mut buf).to_vec()
    }
}

/// Either form of a set, read-only.
#[derive(Clone, Copy, Debug)]
pub enum SetRef<'a> {
    IntSet(IntSet<'a>),
    Table(&'a Table),
}

impl<'a> SetRef<'a> {
    pub fn encoding(&self) -> &'static str {
        match self {
            SetRef::IntSet(_) => "intset",
            SetRef::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetRef::IntSet(s) => s.len(),
            SetRef::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetRef::IntSet(s) => parse_member(member).is_some_and(|v| s.contains(v)),
            SetRef::Table(t) => t.contains(member),
        }
    }

    /// The `i`-th member (0..len) in the form's order.
    pub fn at(&self, i: usize) -> Member<'a> {
        match *self {
            SetRef::IntSet(s) => Member::Int(s.get(i)),
            SetRef::Table(t) => Member::Bytes(t.at(i).0),
        }
    }

    /// Members in the form's order (ascending for an intset).
    pub fn iter(&self) -> impl Iterator<Item = Member<'a>> + 'a {
        let view = *self;
        (0..view.len()).map(move |i| view.at(i))
    }

    /// SRANDMEMBER's picks: distinct when `count` is positive, with repetition when
    /// negative (as [`super::hash::HashRef::random`]).
    pub fn random(&self, count: i64, mut f: impl FnMut(Member<'a>)) {
        let len = self.len();
        if len == 0 || count == 0 {
            return;
        }
        if count < 0 {
            for _ in 0..count.unsigned_abs() {
                f(self.at(random_below(len)));
            }
        } else {
            for i in distinct_picks(len, count as u64) {
                f(self.at(i));
            }
        }
    }
}

/// A set being edited (see [`super::hash::HashMut`] for the three cases).
#[derive(Debug)]
pub enum SetMut<'a> {
    IntSet(IntSetBuf),
    Table(&'a mut Table),
    NewTable(Table),
}

/// What to do with an edited set.
pub type SetOutcome = Outcome<IntSetBuf>;

impl<'a> SetMut<'a> {
    /// A new empty set, in the form its first member calls for.
    pub fn new_for(first: &[u8]) -> SetMut<'a> {
        if parse_member(first).is_some() {
            SetMut::IntSet(IntSetBuf::new())
        } else {
            SetMut::NewTable(Table::default())
        }
    }

    pub fn view(&self) -> SetRef<'_> {
        match self {
            SetMut::IntSet(s) => SetRef::IntSet(s.view()),
            SetMut::Table(t) => SetRef::Table(t),
            SetMut::NewTable(t) => SetRef::Table(t),
        }
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.view().contains(member)
    }

    fn convert(&mut self) {
        if let SetMut::IntSet(s) = self {
            let mut t = Table::with_capacity(s.len() + 1);
            let mut buf = [0u8; 20];
            for v in s.view().iter() {
                t.insert(format_member(v, &mut buf), b"");
            }
            *self = SetMut::NewTable(t);
        }
    }

    /// Adds `member`; true when it is new.
    pub fn add(&mut self, member: &[u8], limits: SetLimits) -> bool {
        match self {
            SetMut::IntSet(s) => match parse_member(member) {
                Some(v) => {
                    let new = s.insert(v);
                    if new && s.len() > limits.intset_entries {
                        self.convert();
                    }
                    new
                }
                None => {
                    self.convert();
                    self.add(member, limits)
                }
            },
            SetMut::Table(t) => t.insert_new(member, b""),
            SetMut::NewTable(t) => t.insert_new(member, b""),
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetMut::IntSet(s) => parse_member(member).is_some_and(|v| s.remove(v)),
            SetMut::Table(t) => t.remove(member),
            SetMut::NewTable(t) => t.remove(member),
        }
    }

    /// Removes a random member and returns its bytes (None when empty).
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let i = random_below(len);
        Some(match self {
            SetMut::IntSet(s) => {
                let mut buf = [0u8; 20];
                format_member(s.remove_at(i), &mut buf).to_vec()
            }
            SetMut::Table(t) => t.remove_at(i),
            SetMut::NewTable(t) => t.remove_at(i),
        })
    }

    /// Removes a random member, appending its bytes to `out`; false when empty.
    pub fn pop_random_into(&mut self, out: &mut Vec<u8>) -> bool {
        let len = self.len();
        if len == 0 {
            return false;
        }
        let i = random_below(len);
        match self {
            SetMut::IntSet(s) => {
                let mut buf = [0u8; 20];
                out.extend_from_slice(format_member(s.remove_at(i), &mut buf));
            }
            SetMut::Table(t) => t.remove_at_into(i, out),
            SetMut::NewTable(t) => t.remove_at_into(i, out),
        }
        true
    }

    pub fn finish(self, changed: bool) -> SetOutcome {
        if self.is_empty() {
            return if changed {
                SetOutcome::Delete
            } else {
                SetOutcome::Unchanged
            };
        }
        match self {
            SetMut::NewTable(t) => SetOutcome::NewTable(t),
            _ if !changed => SetOutcome::Unchanged,
            SetMut::IntSet(s) => SetOutcome::Bytes(s),
            SetMut::Table(t) => {
                t.shrink();
                SetOutcome::TableChanged
            }
        }
    }
}

table_object!(
    /// A set in its large form, as the store keeps it: a heap object owned by the item.
    SetObject,
    Set
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const LIMITS: SetLimits = SetLimits { intset_entries: 4 };

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = SetMut::new_for(b"1");
        for m in [&b"3"[..], b"1", b"-2", b"1"] {
            s.add(m, LIMITS);
        }
        assert_eq!(s.view().encoding(), "intset");
        assert_eq!(s.len(), 3);
        assert!(s.contains(b"-2"));
        assert!(!s.contains(b"-02"));
        s.add(b"x", LIMITS);
        assert_eq!(s.view().encoding(), "hashtable");
        assert!(s.contains(b"-2") && s.contains(b"x"));

        let mut s = SetMut::new_for(b"1");
        for i in 0..5 {
            s.add(i.to_string().as_bytes(), LIMITS);
        }
        assert_eq!(s.view().encoding(), "hashtable");
        assert_eq!(SetMut::new_for(b"01").view().encoding(), "hashtable");
    }

    #[test]
    fn pop_returns_member_bytes() {
        for members in [vec!["1", "22"], vec!["a", "bb"]] {
            let mut s = SetMut::new_for(members[0].as_bytes());
            for m in &members {
                s.add(m.as_bytes(), LIMITS);
            }
            let mut got: Vec<Vec<u8>> = vec![s.pop_random().unwrap(), s.pop_random().unwrap()];
            got.sort();
            assert_eq!(got, vec![members[0].as_bytes(), members[1].as_bytes()]);
            assert_eq!(s.pop_random(), None);
        }
        let mut s = SetMut::new_for(b"x");
        let long = vec![b'z'; 300];
        s.add(&long, LIMITS);
        assert_eq!(s.pop_random(), Some(long));
    }

    enum Stored {
        None,
        Bytes(IntSetBuf),
        Table(Table),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-10i64..10).prop_map(|v| v.to_string().into_bytes()),
            "[a-c]{1,2}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_hashset(ops in proptest::collection::vec((0u8..3, member()), 0..100)) {
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            let mut stored = Stored::None;
            for (op, m) in ops {
                let mut s = match &mut stored {
                    Stored::None => SetMut::new_for(&m),
                    Stored::Bytes(b) => SetMut::IntSet(b.clone()),
                    Stored::Table(t) => SetMut::Table(t),
                };
                let changed = match op {
                    0 => {
                        let new = s.add(&m, LIMITS);
                        prop_assert_eq!(new, model.insert(m));
                        new
                    }
                    1 => {
                        let gone = s.remove(&m);
                        prop_assert_eq!(gone, model.remove(&m));
                        gone
                    }
                    _ => match s.pop_random() {
                        Some(p) => {
                            prop_assert!(model.remove(&p));
                            true
                        }
                        None => {
                            prop_assert!(model.is_empty());
                            false
                        }
                    },
                };
                let listed: HashSet<Vec<u8>> = s.view().iter().map(|m| m.to_vec()).collect();
                prop_assert_eq!(&listed, &model);
                match s.finish(changed) {
                    SetOutcome::Unchanged | SetOutcome::TableChanged => {}
                    SetOutcome::Delete => stored = Stored::None,
                    SetOutcome::Bytes(b) => stored = Stored::Bytes(b),
                    SetOutcome::NewTable(t) => stored = Stored::Table(t),
                }
                prop_assert_eq!(matches!(stored, Stored::None), model.is_empty());
            }
        }
    }
}
