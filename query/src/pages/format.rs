//! How the pages show one value: a job state, a rate, a time, a duration, a link. Every helper
//! returns `maud` markup built from escaped text; none marks downstream text as safe.

use maud::{html, Markup};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::clock::parse_rfc3339;
use crate::job::{JobState, TestCounts};
use crate::tally::Ratio;

/// A state as a coloured badge whose text also says it (a symbol and a word), so it reads
/// without colour, in print and to a screen reader.
pub fn state(state: JobState) -> Markup {
    let (class, text) = match state {
        JobState::Running => ("running", "● running"),
        JobState::Success => ("success", "✔ success"),
        JobState::Failure => ("failure", "✘ failure"),
        JobState::TimedOut => ("timed-out", "◷ timed out"),
        JobState::Cancelled => ("cancelled", "⊘ cancelled"),
        JobState::Skipped => ("muted", "↷ skipped"),
        JobState::Neutral => ("muted", "– neutral"),
        JobState::ActionRequired => ("timed-out", "! action required"),
        JobState::Stale => ("muted", "… stale"),
        JobState::Unknown => ("muted", "? unknown"),
    };
    html! { span class={ "state state-" (class) } { (text) } }
}

/// "5/6 — 83.3%"; "no results" when there is no denominator (never shown as 100%).
pub fn ratio(rate: Option<&Ratio>) -> Markup {
    match rate {
        Some(r) => html! {
            span.ratio {
                span.fraction { (r.numerator) "/" (r.denominator) }
                " — " (format!("{:.1}%", r.percent))
            }
        },
        None => html! { span.muted { "no results" } },
    }
}

/// `2026-04-28 10:45:12 UTC`.
pub fn absolute(seconds: i64) -> Option<String> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()?
        .format(&format)
        .ok()
}

/// "3 h ago", "in 5 min": the age of `then` at `now`, in the largest whole unit.
pub fn relative(then: i64, now: i64) -> String {
    let delta = now.saturating_sub(then);
    let magnitude = delta.unsigned_abs();
    let amount = match magnitude {
        0..=59 => return "just now".to_owned(),
        60..=3_599 => format!("{} min", magnitude / 60),
        3_600..=86_399 => format!("{} h", magnitude / 3_600),
        _ => format!("{} d", magnitude / 86_400),
    };
    if delta >= 0 {
        format!("{amount} ago")
    } else {
        // A downstream clock ahead of ours.
        format!("in {amount}")
    }
}

/// A view's RFC 3339 time as `<time>`: relative text, the absolute time as its title, and the
/// machine-readable value; "—" when there is none. Text that does not parse is shown as is
/// (escaped): the views only produce RFC 3339, but a page must never fail on one value.
pub fn time(at: Option<&str>, now: i64) -> Markup {
    let Some(at) = at else {
        return html! { span.muted { "—" } };
    };
    match parse_rfc3339(at) {
        Some(seconds) => html! {
            time datetime=(at) title=[absolute(seconds)] { (relative(seconds, now)) }
        },
        None => html! { (at) },
    }
}

/// "1 h 5 min", "3 min 20 s", "45 s"; "—" when unknown.
pub fn duration(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "—".to_owned();
    };
    // Whole seconds are all a person reads here; the cast saturates on absurd values.
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3_600, (total % 3_600) / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// A downstream-supplied link: an `<a>` only for `https://` URLs, opened without handing the
/// target our page (`noopener`) or our address (`noreferrer`); anything else is plain text.
pub fn external_link(url: Option<&str>, text: &str) -> Markup {
    match url {
        Some(url) if url.starts_with("https://") => html! {
            a href=(url) rel="noopener noreferrer" { (text) }
        },
        Some(url) => html! { span.muted title=(url) { (text) " (no https link)" } },
        None => html! {},
    }
}

/// A path segment for a link on this site: only `[A-Za-z0-9._-]` kept as is, everything else
/// percent-encoded, so a segment can never add a segment, a query or another host.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The per-backend page of `owner/name`.
pub fn backend_path(repo: &str) -> String {
    let path: Vec<String> = repo.split('/').map(path_segment).collect();
    format!("/oot/{}", path.join("/"))
}

/// A query string (with its `?`) of the given pairs, those with a value only.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            serializer.append_pair(name, value);
        }
    }
    let query = serializer.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

/// "8430/8452 passed, 2 failed, 20 skipped"; empty when the job reported no counts.
pub fn tests(counts: &TestCounts) -> String {
    let mut parts = Vec::new();
    match (counts.passed, counts.total) {
        (Some(passed), Some(total)) => parts.push(format!("{passed}/{total} passed")),
        (Some(passed), None) => parts.push(format!("{passed} passed")),
        (None, Some(total)) => parts.push(format!("{total} tests")),
        (None, None) => {}
    }
    for (n, what) in [(counts.failed, "failed"), (counts.skipped, "skipped")] {
        if let Some(n) = n.filter(|n| *n > 0) {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// The newest of RFC 3339 UTC times (`Z` suffix, whole seconds: they order as text).
pub fn newest<'a>(times: impl IntoIterator<Item = Option<&'a str>>) -> Option<&'a str> {
    times.into_iter().flatten().max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_say_themselves_in_text() {
        let html = state(JobState::TimedOut).into_string();
        assert_eq!(
            html,
            r#"<span class="state state-timed-out">◷ timed out</span>"#
        );
    }

    #[test]
    fn an_empty_rate_is_no_results() {
        assert!(ratio(None).into_string().contains("no results"));
        let rate = Ratio::of(5, 6);
        let html = ratio(rate.as_ref()).into_string();
        assert!(html.contains("5/6") && html.contains("83.3%"), "{html}");
    }

    #[test]
    fn times_are_relative_with_the_absolute_as_title() {
        let html = time(Some("2026-04-28T10:45:12Z"), 1_777_373_112 + 3 * 3_600).into_string();
        assert_eq!(
            html,
            r#"<time datetime="2026-04-28T10:45:12Z" title="2026-04-28 10:45:12 UTC">3 h ago</time>"#
        );
        assert_eq!(relative(100, 100), "just now");
        assert_eq!(relative(1_000, 100), "in 15 min");
        assert_eq!(relative(0, 3 * 86_400), "3 d ago");
        assert!(time(Some("<b>"), 0).into_string().contains("&lt;b&gt;"));
    }

    #[test]
    fn durations_read_in_whole_units() {
        assert_eq!(duration(Some(45.2)), "45 s");
        assert_eq!(duration(Some(200.0)), "3 min 20 s");
        assert_eq!(duration(Some(3_900.0)), "1 h 5 min");
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(f64::NAN)), "—");
    }

    #[test]
    fn only_https_becomes_a_link() {
        let html = external_link(Some("https://x.test/a?b=1&c=\"2\""), "run").into_string();
        assert_eq!(
            html,
            r#"<a href="https://x.test/a?b=1&amp;c=&quot;2&quot;" rel="noopener noreferrer">run</a>"#
        );
        for url in ["javascript:alert(1)", "http://x.test/", "//x.test/"] {
            let html = external_link(Some(url), "run").into_string();
            assert!(!html.contains("<a"), "{html}");
        }
    }

    #[test]
    fn site_paths_cannot_escape_their_segment() {
        assert_eq!(
            backend_path("intel/torch-xpu-ops"),
            "/oot/intel/torch-xpu-ops"
        );
        assert_eq!(path_segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(
            query(&[("window", Some("7d")), ("page", None)]),
            "?window=7d"
        );
        assert_eq!(query(&[("page", None)]), "");
        assert_eq!(
            query(&[("upstream_repo", Some("a/b&c"))]),
            "?upstream_repo=a%2Fb%26c"
        );
    }
}
