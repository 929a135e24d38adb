//! `/admin`: the user base at a glance, for administrators. The charts are SVG drawn here, on
//! the server (no script, no chart library), readable without colour: axes with labels, each
//! bar's value in its `<title>`, a pattern telling the two series apart, and every figure again
//! in a table.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::{format_time, Layout, PageResult};
use crate::auth::Visitor;
use crate::clerk::token::now;
use crate::clerk::Clerk;
use crate::db::stats::{self, DayCount};
use crate::db::Db;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// A bar chart of one series, as numbers ready for the template.
#[derive(Debug, Serialize)]
struct Chart {
    id: &'static str,
    title: &'static str,
    /// What one unit is called, for the bars' titles: "sign-ups", "active users".
    unit: &'static str,
    /// A sentence summing the series up, for the SVG's `<desc>`.
    summary: String,
    /// `solid` or `hatched`: the bars' fill, so that the series differ by more than colour.
    fill: &'static str,
    width: f64,
    height: f64,
    plot: Plot,
    bars: Vec<Bar>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    days: Vec<DayCount>,
}

#[derive(Debug, Serialize)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    middle_x: f64,
    middle_y: f64,
}

#[derive(Debug, Serialize)]
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    date: String,
    count: i64,
}

#[derive(Debug, Serialize)]
struct Tick {
    at: f64,
    label: String,
}

/// The smallest of 2, 4, 6, 8, 10, 20, 40, 60, … that is at least `max`: even, so that the middle
/// tick is a whole number too.
fn axis_top(max: i64) -> i64 {
    let mut scale = 1;
    loop {
        for step in [2, 4, 6, 8, 10] {
            if step * scale >= max {
                return step * scale;
            }
        }
        if scale >= i64::MAX / 100 {
            return max;
        }
        scale *= 10;
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[allow(clippy::cast_precision_loss)] // counts and day numbers far below 2^52
fn chart(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    fill: &'static str,
    days: Vec<DayCount>,
) -> Chart {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max = days.iter().map(|d| d.count).max().unwrap_or(0);
    let top = axis_top(max);
    let slot = plot_width / days.len().max(1) as f64;
    let y_of = |count: i64| TOP + plot_height - plot_height * count as f64 / top as f64;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            x: round1(LEFT + slot * i as f64 + slot * 0.15),
            y: round1(y_of(d.count)),
            width: round1(slot * 0.7),
            height: round1(TOP + plot_height - y_of(d.count)),
            date: d.date.clone(),
            count: d.count,
        })
        .collect();
    let y_ticks = [0, top / 2, top]
        .into_iter()
        .map(|n| Tick {
            at: round1(y_of(n)),
            label: thousands(n),
        })
        .collect();
    // A date every week, counted back from today (the last bar).
    let x_ticks = days
        .iter()
        .enumerate()
        .filter(|(i, _)| (days.len() - 1 - i).is_multiple_of(7))
        .map(|(i, d)| Tick {
            at: round1(LEFT + slot * i as f64 + slot / 2.0),
            label: short_date(&d.date),
        })
        .collect();
    let total: i64 = days.iter().map(|d| d.count).sum();
    let busiest = days.iter().max_by_key(|d| (d.count, d.day));
    let summary = match busiest {
        Some(d) if d.count > 0 => format!(
            "{title}, {} to {}: {} in all; the most, {}, on {}.",
            days[0].date,
            days[days.len() - 1].date,
            thousands(total),
            thousands(d.count),
            d.date
        ),
        _ => format!("{title}: none in these {} days.", days.len()),
    };
    Chart {
        id,
        title,
        unit,
        summary,
        fill,
        width: WIDTH,
        height: HEIGHT,
        plot: Plot {
            left: LEFT,
            top: TOP,
            right: WIDTH - RIGHT,
            bottom: TOP + plot_height,
            middle_x: round1(LEFT + plot_width / 2.0),
            middle_y: round1(TOP + plot_height / 2.0),
        },
        bars,
        y_ticks,
        x_ticks,
        days,
    }
}

/// `2026-11-05` → `Nov 5`.
fn short_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = iso.split('-').skip(1);
    let month = parts.next().and_then(|m| m.parse::<usize>().ok());
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(m @ 1..=12), Some(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => iso.to_owned(),
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[derive(Serialize)]
struct Figure {
    id: &'static str,
    label: &'static str,
    value: String,
}

#[rocket::get("/admin")]
async fn dashboard(visitor: Visitor, clerk: &State<Clerk>, db: &Db) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let stats = stats::user_stats(db, now()).await?;
    let t = &stats.totals;
    let figures = [
        ("total-users", "Users", t.users),
        ("active-7d", "Active, last 7 days", t.active_7d),
        ("active-30d", "Active, last 30 days", t.active_30d),
        ("banned", "Banned", t.banned),
        ("deleted", "Deleted", t.deleted),
    ]
    .map(|(id, label, n)| Figure {
        id,
        label,
        value: thousands(n),
    });
    let newest: Vec<_> = stats
        .newest
        .iter()
        .map(|u| {
            context! {
                id: u.id,
                email: &u.email,
                clerk_id: &u.clerk_id,
                created: format_time(u.created_at),
            }
        })
        .collect();
    let charts = [
        chart(
            "signups",
            "Sign-ups per day",
            "sign-ups",
            "solid",
            stats.signups,
        ),
        chart(
            "active",
            "Active users per day",
            "active users",
            "hatched",
            stats.active,
        ),
    ];
    Ok(Template::render(
        "admin/dashboard",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            figures,
            charts,
            newest,
        },
    ))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![dashboard]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_even_and_cover_the_maximum() {
        for (max, top) in [
            (0, 2),
            (1, 2),
            (2, 2),
            (3, 4),
            (7, 8),
            (9, 10),
            (11, 20),
            (41, 60),
            (1001, 2000),
        ] {
            assert_eq!(axis_top(max), top, "{max}");
        }
    }

    #[test]
    fn numbers_and_dates_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short_date("2026-11-05"), "Nov 5");
        assert_eq!(short_date("junk"), "junk");
    }

    #[test]
    fn bars_stand_on_the_axis_and_scale_to_the_top() {
        let days: Vec<DayCount> = (0..30)
            .map(|i| DayCount {
                date: stats::iso_date(20_759 + i),
                count: if i == 29 { 8 } else { i64::from(i == 0) * 4 },
                day: 20_759 + i,
            })
            .collect();
        let c = chart("x", "X", "x", "solid", days);
        let bottom = c.plot.bottom;
        assert_eq!(c.bars.len(), 30);
        for bar in &c.bars {
            assert!((bar.y + bar.height - bottom).abs() < 0.11, "{bar:?}");
        }
        assert!(
            (c.bars[29].y - TOP).abs() < 0.11,
            "the maximum reaches the top"
        );
        assert!((c.bars[0].height * 2.0 - c.bars[29].height).abs() < 0.3);
        assert!(c.bars[1].height.abs() < f64::EPSILON);
        let labels: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "4", "8"]);
        assert_eq!(c.x_ticks.len(), 5, "a date a week back from today");
        assert!(c.summary.contains("12 in all") && c.summary.contains("8, on 2026-12-01"));
    }
}
