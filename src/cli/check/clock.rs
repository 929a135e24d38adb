//! The clock, measured against the `Date` header of Clerk's answers.

use super::finding::Finding;
use super::instance::Sample;

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) into unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The least clock offset (the server's clock less ours, in seconds) consistent with a `Date`
/// of `date` (whole seconds) written between `sent` and `received` by our clock.
#[allow(clippy::cast_precision_loss)] // unix seconds are exact in f64
pub fn clock_offset(date: i64, sent: f64, received: f64) -> f64 {
    let low = date as f64 - received;
    let high = date as f64 + 1.0 - sent;
    if low > 0.0 {
        low
    } else if high < 0.0 {
        high
    } else {
        0.0
    }
}

#[allow(clippy::cast_precision_loss)] // a skew of seconds is exact in f64
pub(super) fn clock(skew: u64, sample: Option<&Sample>, out: &mut Vec<Finding>) {
    // Without an answer there is nothing to measure; the failed fetch is reported already.
    let Some(sample) = sample else {
        return;
    };
    let host = reqwest::Url::parse(&sample.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| sample.url.clone());
    let Some(date) = sample.jwks.date.as_deref().and_then(parse_http_date) else {
        out.push(Finding::warning(
            "clock",
            format!("{host} sent no readable Date header: the clock offset cannot be measured"),
            "keep this server's clock synchronized with NTP (timedatectl set-ntp true, or chrony)",
        ));
        return;
    };
    let offset = clock_offset(date, sample.sent, sample.received);
    let seconds = offset.abs().ceil();
    let skew_f = skew as f64;
    let message = if seconds == 0.0 {
        format!("this server's clock agrees with the Date header of {host} (allowed skew {skew} s)")
    } else if offset > 0.0 {
        format!(
            "this server's clock is {seconds:.0} s behind the Date header of {host} (allowed \
             skew {skew} s)"
        )
    } else {
        format!(
            "this server's clock is {seconds:.0} s ahead of the Date header of {host} (allowed \
             skew {skew} s)"
        )
    };
    let fix = "synchronize this server's clock with NTP (timedatectl set-ntp true, or chrony); \
               CLERK_CLOCK_SKEW_SECS absorbs a few seconds, no more (session tokens live 60 s)";
    out.push(if seconds > skew_f {
        Finding::error("clock", message, Some(fix.into()))
    } else if seconds > skew_f / 2.0 {
        Finding::warning("clock", message, fix)
    } else {
        Finding::ok("clock", message)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    #[allow(clippy::float_cmp)] // exactly zero is the claim
    fn clock_offset_is_the_least_consistent_one() {
        // A Date written within the request's second: no offset.
        assert_eq!(clock_offset(100, 100.2, 100.4), 0.0);
        assert_eq!(clock_offset(100, 100.9, 101.2), 0.0);
        // Their clock 60 s ahead: ours is behind.
        assert!((clock_offset(160, 100.2, 100.4) - 59.6).abs() < 1e-9);
        // Their clock 60 s behind.
        assert!((clock_offset(40, 100.2, 100.4) + 59.2).abs() < 1e-9);
    }
}
