//! Every line this process writes to standard output, as text or JSON (`CLERK_LOG_FORMAT`).
//!
//! Lines are appended to a buffer that one writer thread writes out every 50 ms, so a request
//! never waits on the terminal or a log pipe (unless 4 MiB are waiting, when the request writes
//! them itself rather than lose them or grow memory). The `log` records of the app and of Rocket go the same way, except Rocket's indented
//! per-request notes (`>> Request guard … failed`, `>> Responding with registered … catcher`):
//! the access line already says what happened, once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

pub use crate::config::LogFormat as Format;

/// Lines wait at most this long before they are written.
const WRITE_EVERY: Duration = Duration::from_millis(50);

/// Past this much waiting text, the line's writer writes it all itself (and so slows down with
/// the terminal or pipe rather than growing memory).
const MAX_WAITING: usize = 4 * 1024 * 1024;

struct Writer {
    waiting: Mutex<String>,
    format: Format,
}

static WRITER: OnceLock<Writer> = OnceLock::new();

/// Starts the writer thread and routes `log` records through it, at `level`; the first call of
/// the process decides the format.
pub fn init(format: Format, level: log::LevelFilter) {
    let mut started = false;
    WRITER.get_or_init(|| {
        started = true;
        Writer {
            waiting: Mutex::new(String::with_capacity(64 * 1024)),
            format,
        }
    });
    if started {
        // NOTE: a timer, not a wake-up per line: waking a sleeping thread for every request cost
        // more than writing the line (a futex call on the request path, seen in `perf`).
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(|| loop {
                std::thread::sleep(WRITE_EVERY);
                flush();
            });
        if let Err(e) = spawned {
            eprintln!("warning: no log writer thread ({e}); lines are written as they come");
        }
        // Ours, not Rocket's: Rocket's logger steps aside when one is set already.
        let _ = log::set_logger(&Logger);
    }
    log::set_max_level(level);
}

/// Writes every waiting line now (at exit, and from the writer thread).
pub fn flush() {
    let Some(writer) = WRITER.get() else {
        return;
    };
    let text = {
        let mut waiting = lock(&writer.waiting);
        if waiting.is_empty() {
            return;
        }
        std::mem::replace(&mut *waiting, String::with_capacity(64 * 1024))
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn lock(waiting: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The format lines are written in.
pub fn format() -> Format {
    WRITER.get().map_or(Format::Text, |w| w.format)
}

/// Queues one line for standard output.
pub fn write_line(line: &str) {
    write_fmt_line(format_args!("{line}"));
}

/// Queues one line for standard output, formatted straight into the waiting text (no line of
/// its own is allocated: the access line is written this way on every request).
pub fn write_fmt_line(line: std::fmt::Arguments<'_>) {
    let Some(writer) = WRITER.get() else {
        println!("{line}");
        return;
    };
    let full = {
        let mut waiting = lock(&writer.waiting);
        let _ = waiting.write_fmt(line);
        waiting.push('\n');
        waiting.len() > MAX_WAITING
    };
    if full {
        flush();
    }
}

/// A message line in the chosen format.
pub fn message(level: log::Level, target: &str, text: &str) -> String {
    match format() {
        Format::Text => match level {
            log::Level::Error => format!("Error: {text}"),
            log::Level::Warn => format!("Warning: {text}"),
            _ => text.to_owned(),
        },
        Format::Json => json!({
            "ts": rfc3339_now(),
            "level": level.as_str().to_ascii_lowercase(),
            "target": target,
            "message": text,
        })
        .to_string(),
    }
}

/// Now, as `2026-12-01T16:08:25.123Z`.
pub(super) fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    );
    out
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || !wanted(record) {
            return;
        }
        let text = record.args().to_string();
        write_line(&message(record.level(), record.target(), &text));
    }

    fn flush(&self) {}
}

/// Drops Rocket's indented per-request notes and the chatter of the HTTP stack; keeps errors.
fn wanted(record: &log::Record<'_>) -> bool {
    let target = record.target();
    let indented = target.ends_with("::_");
    let stack = ["hyper", "rustls", "h2", "reqwest", "sqlx", "tokio"]
        .iter()
        .any(|prefix| target.starts_with(prefix));
    record.level() == log::Level::Error
        || !((indented && !target.starts_with("rocket::launch")) || stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: log::Level, target: &'static str) -> bool {
        wanted(
            &log::Record::builder()
                .level(level)
                .target(target)
                .args(format_args!("x"))
                .build(),
        )
    }

    #[test]
    fn rocket_request_notes_are_dropped_and_errors_kept() {
        assert!(!record(log::Level::Warn, "clerk_rocket::api::users::_"));
        assert!(!record(log::Level::Warn, "rocket::server::_"));
        assert!(!record(log::Level::Info, "hyper::proto"));
        assert!(record(log::Level::Error, "rocket::server::_"));
        assert!(record(log::Level::Warn, "clerk_rocket::clerk::keys"));
        assert!(record(log::Level::Info, "rocket::launch::_"));
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("JSON"), Some(Format::Json));
        assert_eq!(Format::parse("text"), Some(Format::Text));
        assert_eq!(Format::parse("yaml"), None);
    }
}
