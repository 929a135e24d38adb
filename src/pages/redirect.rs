//! `redirect_url` values accepted for going back after sign-in: same-origin paths only.

const MAX_LEN: usize = 2048;

/// `candidate` when it is a plain same-origin path, else `/`. Refused: other origins
/// (`//evil`, `/\evil`, `https://evil`), schemes (`javascript:`), control characters (CR/LF),
/// and encodings of any of these; and anything a `Location` header cannot carry as it is
/// (non-ASCII, spaces, characters outside a URI reference).
pub fn safe_path(candidate: &str) -> String {
    let header_safe = candidate.bytes().all(|b| b.is_ascii_graphic())
        && rocket::http::uri::Reference::parse(candidate).is_ok();
    if header_safe && is_safe(candidate) && is_safe(&percent_decode(candidate)) {
        candidate.to_owned()
    } else {
        "/".to_owned()
    }
}

fn is_safe(path: &str) -> bool {
    path.len() <= MAX_LEN
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Decodes `%XX` sequences, repeatedly (double encoding), leaving malformed ones as they are.
fn percent_decode(input: &str) -> String {
    let mut current = input.to_owned();
    for _ in 0..3 {
        let bytes = current.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| {
                char::from(b)
                    .to_digit(16)
                    .and_then(|d| u8::try_from(d).ok())
            };
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        let decoded = String::from_utf8_lossy(&out).into_owned();
        if decoded == current {
            break;
        }
        current = decoded;
    }
    current
}

/// Percent-encodes a query parameter value.
#[must_use]
pub fn encode(value: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a constant URL");
    url.query_pairs_mut().append_pair("v", value);
    url.query()
        .unwrap_or("v=")
        .trim_start_matches("v=")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::safe_path;

    #[test]
    fn same_origin_paths_pass() {
        for ok in [
            "/",
            "/profile",
            "/admin/users?q=ada&cursor=abc",
            "/a/b#frag",
            "/caf%C3%A9",
        ] {
            assert_eq!(safe_path(ok), ok);
        }
    }

    #[test]
    fn everything_else_falls_back_to_root() {
        for bad in [
            "//evil.test",
            "/\\evil.test",
            "https://evil.test",
            "javascript:alert(1)",
            "evil.test",
            "",
            "/ok\r\nSet-Cookie: x=y",
            "/%2F%2Fevil.test",
            "/%2f/evil.test",
            "/%5Cevil.test",
            "%2F%2Fevil.test",
            "/%252F%252Fevil.test",
            "/%0d%0aLocation:%20x",
            "/\tx",
            "/café",
            "/a b",
            "/a\u{7f}b",
            "/a\u{85}b",
            "/a\"b",
            "/a<b>",
            "/a{b}",
            "/a|b",
            "/a^b",
            "/a`b",
        ] {
            assert_eq!(safe_path(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_path(&format!("/{}", "a".repeat(3000))), "/");
    }
}
