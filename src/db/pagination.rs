//! Keyset pages: where a page starts, what it holds, and the opaque cursors that carry a start
//! between requests.

use base64::Engine as _;

/// Where a page of a list starts, in the list's order (newest first, by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    First,
    /// The users older than this id (the next page).
    After(i64),
    /// The users newer than this id (the previous page).
    Before(i64),
}

/// One page of rows, newest first, and whether the list goes on either side of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<T> {
    pub rows: Vec<T>,
    pub has_older: bool,
    pub has_newer: bool,
}

/// A row of a keyset list: its `id`, the list's key.
pub trait Keyed {
    fn key(&self) -> i64;
}

impl<T: Keyed> Window<T> {
    /// Where the page after this one starts, if there is one.
    pub fn next(&self) -> Option<PageStart> {
        self.rows
            .last()
            .filter(|_| self.has_older)
            .map(|row| PageStart::After(row.key()))
    }

    /// Where the page before this one starts, if there is one.
    pub fn previous(&self) -> Option<PageStart> {
        self.rows
            .first()
            .filter(|_| self.has_newer)
            .map(|row| PageStart::Before(row.key()))
    }
}

impl PageStart {
    /// The SQL of this start for a list keyed on `id`, newest first: the comparison with the
    /// anchor (`id {bound} $anchor`), the order to walk in, and the anchor.
    #[must_use]
    pub fn keyset(self) -> (&'static str, &'static str, i64) {
        match self {
            PageStart::First => ("<", "DESC", i64::MAX),
            PageStart::After(id) => ("<", "DESC", id),
            PageStart::Before(id) => (">", "ASC", id),
        }
    }

    /// The page of `fetched`: up to `limit + 1` rows in the order the query for this start
    /// returns them (towards older ids, or towards newer ones for `Before`); the extra row only
    /// says that there is more.
    #[must_use]
    pub fn window<T>(self, mut fetched: Vec<T>, limit: u32) -> Window<T> {
        let more = fetched.len() > limit as usize;
        fetched.truncate(limit as usize);
        let (has_older, has_newer) = match self {
            PageStart::Before(_) => {
                fetched.reverse();
                (true, more)
            }
            PageStart::After(_) => (more, true),
            PageStart::First => (more, false),
        };
        Window {
            rows: fetched,
            has_older,
            has_newer,
        }
    }
}

/// A cursor this server did not hand out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one this server handed out (use next_cursor as it came)")]
pub struct InvalidCursor;

/// Encodes a page start; `First` has no cursor.
#[must_use]
pub fn encode(start: PageStart) -> Option<String> {
    let text = match start {
        PageStart::First => return None,
        PageStart::After(id) => format!("a{id}"),
        PageStart::Before(id) => format!("b{id}"),
    };
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text))
}

/// Decodes a cursor made by [`encode`]; anything else is an error for the client to fix.
pub fn decode(cursor: &str) -> Result<PageStart, InvalidCursor> {
    let invalid = || InvalidCursor;
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
