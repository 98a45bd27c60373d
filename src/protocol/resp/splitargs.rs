//! Redis's `sdssplitargs`: one line split into words, with `"…"` and `'…'` quoting.
//!
//! Used for inline commands (the RESP parser), FUNCTION LOAD's `#!lua name=…` header and
//! the AOF manifest's lines, which Redis 7.0 all split with this one function. The rules:
//! - The line is a C string: a NUL byte ends it.
//! - Words are separated by C's `isspace` (space, `\t`, `\n`, `\v`, `\f`, `\r`); inside an
//!   unquoted word only space, `\t`, `\n` and `\r` end it (`\v` and `\f` are kept).
//! - A `"` or `'` anywhere in an unquoted word opens a quoted part of that word.
//! - In `"…"`: `\xHH` (two hex digits, either case) is that byte; `\n`, `\r`, `\t`, `\b`, `\a`
//!   their control characters; `\` before any other byte is that byte (`\"`, `\\`).
//! - In `'…'`: only `\'` is an escape; every other byte is itself.
//! - A closing quote must be followed by whitespace or the end of the line, and a quote
//!   left open is an error: both are [`Unbalanced`].

/// The line's quotes do not balance (Redis: "unbalanced quotes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unbalanced;

/// C's `isspace` in the C locale, which separates words.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `line`, appending each word's unescaped bytes to `out` and its `(start, end)`
/// range in `out` to `ranges`. On [`Unbalanced`], what was appended is to be ignored.
pub fn split_into(
    line: &[u8],
    out: &mut Vec<u8>,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<(), Unbalanced> {
    let line = &line[..line.iter().position(|&c| c == 0).unwrap_or(line.len())];
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p == line.len() {
            return Ok(());
        }
        let start = out.len();
        let mut quote = None;
        loop {
            let c = line.get(p).copied();
            match (quote, c) {
                (Some(_), None) => return Err(Unbalanced),
                (None, None) => break,
                (Some(b'"'), Some(b'\\')) => {
                    let hex = line
                        .get(p + 1)
                        .filter(|&&x| x == b'x')
                        .and(line.get(p + 2).copied().and_then(hex_value))
                        .zip(line.get(p + 3).copied().and_then(hex_value));
                    if let Some((hi, lo)) = hex {
                        out.push(hi << 4 | lo);
                        p += 4;
                    } else if let Some(&e) = line.get(p + 1) {
                        out.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        p += 2;
                    } else {
                        // A backslash ending the line: the quote is left open.
                        return Err(Unbalanced);
                    }
                }
                (Some(b'\''), Some(b'\\')) if line.get(p + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    p += 2;
                }
                (Some(q), Some(c)) if c == q => {
                    if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                        return Err(Unbalanced);
                    }
                    p += 1;
                    break;
                }
                (Some(_), Some(c)) => {
                    out.push(c);
                    p += 1;
                }
                (None, Some(b' ' | b'\n' | b'\r' | b'\t')) => break,
                (None, Some(q @ (b'"' | b'\''))) => {
                    quote = Some(q);
                    p += 1;
                }
                (None, Some(c)) => {
                    out.push(c);
                    p += 1;
                }
            }
        }
        ranges.push((start, out.len()));
    }
}

/// [`split_into`] returning each word as its own vector (for lines read once: FUNCTION
/// headers, AOF manifests).
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, Unbalanced> {
    let mut bytes = Vec::new();
    let mut ranges = Vec::new();
    split_into(line, &mut bytes, &mut ranges)?;
    Ok(ranges.iter().map(|&(s, e)| bytes[s..e].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &[u8]) -> Result<Vec<Vec<u8>>, Unbalanced> {
        split_args(line)
    }

    fn ok(line: &[u8], expected: &[&[u8]]) {
        let got = words(line).unwrap_or_else(|_| panic!("{line:?} should split"));
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(line));
    }

    // Each expectation below was checked against redis-server 7.0.15, sending the line as
    // an inline `RPUSH l <line>` and reading the list back (or the protocol error).

    #[test]
    fn blanks_separate_words_and_vertical_tab_and_form_feed_only_between_words() {
        ok(b"", &[]);
        ok(b" \t\x0b\x0c ", &[]);
        ok(b"  a  b\tc ", &[b"a", b"b", b"c"]);
        ok(b"a\x0bb \x0cc", &[b"a\x0bb", b"c"]);
    }

    #[test]
    fn double_quotes_take_c_escapes_and_hex_bytes() {
        ok(br#""a b" "x\n\r\t\b\ay""#, &[b"a b", b"x\n\r\t\x08\x07y"]);
        ok(br#""\x41\x6a\x6A\xff""#, &[b"Ajj\xff"]);
        // Not two hex digits: `\x` is a plain `x`.
        ok(br#""\x4g" "\x" "\xz1""#, &[b"x4g", b"x", b"xz1"]);
        ok(br#""\"\\\q""#, &[b"\"\\q"]);
        ok(br#""""#, &[b""]);
    }

    #[test]
    fn single_quotes_take_only_escaped_single_quotes() {
        ok(br#"'a\'b' 'c\nd' '\x41'"#, &[b"a'b", b"c\\nd", b"\\x41"]);
        ok(b"''", &[b""]);
    }

    #[test]
    fn a_quote_inside_a_word_opens_a_quoted_part() {
        ok(br#"ab"c d" x'y z'"#, &[b"abc d", b"xy z"]);
    }

    #[test]
    fn a_nul_byte_ends_the_line() {
        ok(b"a b\0c d", &[b"a", b"b"]);
        assert_eq!(words(b"\"open\0\""), Err(Unbalanced));
    }

    #[test]
    fn unbalanced_quotes_are_refused() {
        for line in [
            &br#""abc"#[..],
            br#"'abc"#,
            br#""abc"d"#,
            br#"'abc'd"#,
            br#""abc\"#,
            br#"a "b"#,
        ] {
            assert_eq!(
                words(line),
                Err(Unbalanced),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        // A closing quote followed by any isspace byte is fine.
        ok(b"\"a\"\x0bb", &[b"a", b"b"]);
    }
}
