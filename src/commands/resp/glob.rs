//! Redis's glob patterns (`KEYS`, `SCAN MATCH`, `CONFIG GET`): `*`, `?`, `[abc]`, `[^a-z]`,
//! and `\` to escape.

/// Whether `s` matches `pattern`; `nocase` folds ASCII case (CONFIG GET does).
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, string index it covers to).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            let step = match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' if i < s.len() => Some(p + 1),
                b'[' if i < s.len() => class(pattern, p, s[i], nocase),
                b'\\' if p + 1 < pattern.len() && i < s.len() => {
                    eq(pattern[p + 1], s[i]).then_some(p + 2)
                }
                c if i < s.len() => eq(c, s[i]).then_some(p + 1),
                _ => None,
            };
            if let Some(next) = step {
                p = next;
                i += 1;
                continue;
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting at `pattern[p] == b'['`; returns the index after
/// the class on a match.
fn class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    p += 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut hit = false;
    loop {
        match pattern.get(p) {
            // An unterminated class ends at the end of the pattern, as in Redis.
            None => break,
            Some(b']') => {
                p += 1;
                break;
            }
            Some(b'\\') if p + 1 < pattern.len() => {
                hit |= fold(pattern[p + 1]) == c;
                p += 2;
            }
            Some(&lo) if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let (mut a, mut b) = (fold(lo), fold(pattern[p + 2]));
                if a > b {
                    std::mem::swap(&mut a, &mut b);
                }
                hit |= (a..=b).contains(&c);
                p += 3;
            }
            Some(&x) => {
                hit |= fold(x) == c;
                p += 1;
            }
        }
    }
    (hit != negate).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn glob_cases() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"*", b""),
            (b"*", b"abc"),
            (b"h?llo", b"hello"),
            (b"h*llo", b"heeeello"),
            (b"h*llo", b"hllo"),
            (b"h[ae]llo", b"hallo"),
            (b"h[^e]llo", b"hallo"),
            (b"h[a-b]llo", b"hbllo"),
            (b"h[b-a]llo", b"hbllo"),
            (b"h\\*llo", b"h*llo"),
            (b"a*b*c", b"axxbyyc"),
            (b"*c", b"abcbc"),
            (b"user:*", b"user:1"),
        ];
        for (p, s) in yes {
            assert!(matches(p, s, false), "{:?} {:?}", p, s);
        }
        let no: &[(&[u8], &[u8])] = &[
            (b"h?llo", b"hllo"),
            (b"h[ae]llo", b"hillo"),
            (b"h[^e]llo", b"hello"),
            (b"h\\*llo", b"hello"),
            (b"a*b*c", b"axxbyy"),
            (b"abc", b"abcd"),
            (b"", b"a"),
            (b"MAX*", b"maxmemory"),
        ];
        for (p, s) in no {
            assert!(!matches(p, s, false), "{:?} {:?}", p, s);
        }
        assert!(matches(b"MAX*", b"maxmemory", true));
        assert!(matches(b"[A-C]x", b"bx", true));
    }
}
