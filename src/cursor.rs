//! Opaque cursors of the user list: which end of a page the next request starts from.

use base64::Engine as _;

use crate::users::PageStart;

/// Encodes a page start; `First` has no cursor.
pub fn encode(start: PageStart) -> Option<String> {
    let text = match start {
        PageStart::First => return None,
        PageStart::After(id) => format!("a{id}"),
        PageStart::Before(id) => format!("b{id}"),
    };
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text))
}

/// Decodes a cursor made by [`encode`]; anything else is an error for the client to fix.
pub fn decode(cursor: &str) -> Result<PageStart, String> {
    let invalid =
        || "cursor is not one this server handed out (use next_cursor as it came)".to_owned();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (kind, id) = text.split_at_checked(1).ok_or_else(invalid)?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    if id < 1 {
        return Err(invalid());
    }
    match kind {
        "a" => Ok(PageStart::After(id)),
        "b" => Ok(PageStart::Before(id)),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for start in [
            PageStart::After(1),
            PageStart::After(987_654_321),
            PageStart::Before(42),
        ] {
            assert_eq!(decode(&encode(start).unwrap()), Ok(start));
        }
        for bad in [
            "",
            "!!",
            "YQ",
            "YTA",
            "YS0x",
            "eDQy",
            "YWJj",
            "YTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
