//! What of a client's own, unverified text may be echoed back in an answer (a JSON message, a
//! header) or written to the log: printable ASCII only, and not much of it.
//!
//! A header cannot hold CR, LF or other control bytes (hyper refuses to build the response, and
//! the client gets an empty reply); a log line holding them can forge lines of its own; and
//! bidirectional overrides or look-alike letters make a message say something other than what it
//! shows. Every such character becomes `?`, whatever layer the text is later written to.

use std::borrow::Cow;

/// The replacement of every character that is not printable ASCII.
const REPLACEMENT: char = '?';

/// `text` shortened to `max_chars` characters, each that is not printable ASCII (`' '` to `'~'`)
/// replaced by `?`.
#[must_use]
pub fn printable(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .map(|c| {
            if matches!(c, ' '..='~') {
                c
            } else {
                REPLACEMENT
            }
        })
        .collect()
}

/// `text` as a header value or a log field may carry it: unchanged when it is printable ASCII
/// already (no copy: the access line calls this on every request), else every other byte
/// replaced by `?`. Our own messages' typography (`…`, `−`) becomes `?` too, in headers only.
#[must_use]
pub fn header_safe(text: &str) -> Cow<'_, str> {
    if text.bytes().all(|b| matches!(b, b' '..=b'~')) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(printable(text, usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_printable_ascii_is_echoed() {
        assert_eq!(printable("a\r\nb", 10), "a??b");
        assert_eq!(printable("x\u{0}\u{1b}[31m", 10), "x??[31m");
        assert_eq!(printable("user_\u{202e}é", 10), "user_??");
        assert_eq!(printable("abcdef", 3), "abc");
        assert_eq!(printable("", 3), "");
        assert!(matches!(header_safe("plain text"), Cow::Borrowed(_)));
        assert_eq!(header_safe("exp − iat, user_…\r\n"), "exp ? iat, user_???");
    }
}
