//! `/admin/users.csv`: the admin search (the same `q` as `/admin/users`), every page of it, as a
//! CSV file for spreadsheets.
//!
//! The body is streamed: pages of [`CHUNK`] users are read through the same keyset pagination as
//! the list (newest first; users added meanwhile are newer than the walk and not included), each
//! written as it is read, so memory stays flat whatever the number of users. The `csv` crate is
//! not in the dependency tree, and one function, [`push_cell`], is all the format needs.
//!
//! The status line is sent before the last page is read, so a failure midway cannot change it:
//! the file ends with a [`trailer`] row only when every page was written, and a file without one
//! (the database failed, the connection was cut) is known to be cut short.

use std::fmt::Write as _;

use rocket::futures::stream::Stream;
use rocket::http::ContentType;
use rocket::request::Request;
use rocket::response::stream::{stream, TextStream};
use rocket::response::{self, Responder, Response};
use rocket::{Route, State};

use super::PageResult;
use crate::auth::Visitor;
use crate::clerk::Clerk;
use crate::db::pagination::PageStart;
use crate::db::pagination::Window;
use crate::db::users::{self, rfc3339, User};
use crate::db::Db;
use crate::directory::ListParams;

/// Users read per query.
pub const CHUNK: u32 = 1000;

/// The header row (the columns of [`push_row`]).
pub const HEADER: &str = "id,clerk_id,email,username,first_name,last_name,role,state,\
                          created_at,updated_at,last_seen_at,deleted_at\r\n";

/// Appends `value` as one CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF,
/// with its quotes doubled. A value a spreadsheet would run as a formula (starting with `=`,
/// `+`, `-`, `@`, tab or CR: OWASP's list) gets a leading `'`, which spreadsheets show as text.
pub fn push_cell(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = value.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quoted {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Appends one user as a CSV record, CRLF-terminated.
pub fn push_row(out: &mut String, user: &User) {
    let _ = write!(out, "{},", user.id);
    for text in [
        user.clerk_id.as_str(),
        &user.email,
        &user.username,
        user.first_name.as_deref().unwrap_or(""),
        user.last_name.as_deref().unwrap_or(""),
        user.role.as_deref().unwrap_or(""),
        user.state(),
    ] {
        push_cell(out, text);
        out.push(',');
    }
    let times = [
        Some(user.created_at),
        Some(user.updated_at),
        user.last_seen_at,
        user.deleted_at,
    ];
    let last = times.len() - 1;
    for (i, at) in times.into_iter().enumerate() {
        out.push_str(&at.map(rfc3339::format).unwrap_or_default());
        out.push_str(if i == last { "\r\n" } else { "," });
    }
}

/// The last row of a complete export: `#end` and the number of users, then empty fields to the
/// header's width (no user row starts with `#`: the first column is a number).
#[must_use]
pub fn trailer(users: u64) -> String {
    format!(
        "#end,{users}{}\r\n",
        ",".repeat(HEADER.matches(',').count() - 1)
    )
}

fn chunk(page: &Window<User>) -> String {
    let mut out = String::with_capacity(page.rows.len() * 200);
    for user in &page.rows {
        push_row(&mut out, user);
    }
    out
}

/// A streamed CSV attachment named `users.csv`.
pub struct CsvDownload<S>(TextStream<S>);

impl<'r, S> Responder<'r, 'r> for CsvDownload<S>
where
    S: Stream<Item = String> + Send + 'r,
{
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'r> {
        Response::build_from(self.0.respond_to(request)?)
            .header(ContentType::new("text", "csv").with_params(("charset", "utf-8")))
            .raw_header("Content-Disposition", "attachment; filename=\"users.csv\"")
            .raw_header("Cache-Control", "no-store")
            .ok()
    }
}

#[rocket::get("/admin/users.csv?<q>")]
async fn export(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    q: Option<&str>,
) -> PageResult<CsvDownload<impl Stream<Item = String>>> {
    visitor.require_admin(clerk)?;
    let params = ListParams::parse(q, None, None)?;
    let query = params.query.to_owned();
    let pool: sqlx::AnyPool = (***db).clone();
    // The first page before the answer starts, so that a database that does not answer gets
    // its error page rather than an empty file.
    let first = users::search(&pool, &query, PageStart::First, CHUNK)
        .await
        .map_err(crate::error::ApiError::from)?;
    let body = stream! {
        yield HEADER.to_owned();
        let mut page = first;
        let mut written = 0u64;
        loop {
            yield chunk(&page);
            written += page.rows.len() as u64;
            let Some(start) = page.next() else {
                yield trailer(written);
                break;
            };
            page = match users::search(&pool, &query, start, CHUNK).await {
                Ok(next) => next,
                Err(e) => {
                    // The status line is sent already: the file ends here without its trailer,
                    // and the log says why.
                    rocket::error!("GET /admin/users.csv: export cut short: {e}");
                    break;
                }
            };
        }
    };
    Ok(CsvDownload(TextStream(body)))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![export]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = String::new();
        push_cell(&mut out, value);
        out
    }

    #[test]
    fn plain_values_are_written_as_they_are() {
        for value in [
            "",
            "ada@example.com",
            "Zoë 東京",
            "user_2abc",
            "a;b",
            "it's",
            "1+1=",
        ] {
            assert_eq!(cell(value), value);
        }
    }

    #[test]
    fn rfc_4180_quoting() {
        assert_eq!(cell("Smith, John"), "\"Smith, John\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("\""), "\"\"\"\"");
        assert_eq!(cell("line1\nline2"), "\"line1\nline2\"");
        assert_eq!(cell("a\r\nb"), "\"a\r\nb\"");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+SUM(A1:A2)"), "'+SUM(A1:A2)");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@cmd"), "'@cmd");
        assert_eq!(cell("\tx"), "'\tx");
        // Quoted and defused: the quote comes first, so the apostrophe is inside the field.
        assert_eq!(cell("\rx"), "\"'\rx\"");
        assert_eq!(
            cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Only the first character counts.
        assert_eq!(cell("a=1"), "a=1");
    }

    #[test]
    fn a_row_has_every_column_and_ends_in_crlf() {
        let user = User {
            id: 7,
            clerk_id: "user_7".into(),
            email: "a,b@example.com".into(),
            username: "ab".into(),
            first_name: Some("=cmd".into()),
            last_name: None,
            image_url: None,
            role: Some("admin".into()),
            banned: true,
            created_at: 1_796_083_200,
            updated_at: 1_796_083_201,
            last_seen_at: None,
            clerk_updated_at: None,
            claims_iat: None,
            deleted_at: None,
            sessions_revoked_at: None,
            role_changed_at: None,
        };
        let mut out = String::new();
        push_row(&mut out, &user);
        assert_eq!(
            out,
            "7,user_7,\"a,b@example.com\",ab,'=cmd,,admin,banned,\
             2026-12-01T00:00:00Z,2026-12-01T00:00:01Z,,\r\n"
        );
        assert_eq!(HEADER.matches(',').count(), 11);
    }

    #[test]
    fn the_trailer_has_the_header_s_width() {
        assert_eq!(trailer(3), "#end,3,,,,,,,,,,\r\n");
        assert_eq!(trailer(0).matches(',').count(), HEADER.matches(',').count());
    }
}
