//! PostgreSQL `text` cannot hold U+0000, which a charger can send (a literal NUL in a
//! WebSocket text frame, or `\u0000` inside a JSON string). Text columns therefore store a
//! reversible escape: U+0000 becomes U+FFFF `0`, and U+FFFF itself becomes U+FFFF U+FFFF
//! (U+FFFF is a noncharacter and practically never sent). Strings without either
//! character — all real traffic — are stored unchanged and cost nothing to check.
//! Filter values go through the same escape, so equality filters keep their meaning.

use std::borrow::Cow;

const ESC: char = '\u{FFFF}';

pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESC]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => {
                out.push(ESC);
                out.push('0');
            }
            ESC => {
                out.push(ESC);
                out.push(ESC);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

pub(crate) fn unescape(s: String) -> String {
    if !s.contains(ESC) {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            match chars.next() {
                Some('0') => out.push('\0'),
                Some(ESC) | None => out.push(ESC),
                Some(other) => {
                    out.push(ESC);
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["", "plain", "a\0b", "\0", "\u{FFFF}", "\u{FFFF}0", "x\u{FFFF}\0\u{FFFF}\u{FFFF}y\0"] {
            let e = escape(s);
            assert!(!e.contains('\0'));
            assert_eq!(unescape(e.into_owned()), s);
        }
        assert!(matches!(escape("no escapes"), Cow::Borrowed(_)));
    }
}
