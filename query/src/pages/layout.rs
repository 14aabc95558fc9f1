//! The frame every page shares: the document head (one stylesheet, no script), the site bar,
//! how fresh the data is, the window selector, and the error page.

use maud::{html, Markup, DOCTYPE};

use crate::pages::format;
use crate::rules::Window;

/// What the freshness line says: when the view was computed and, where the view knows it, the
/// newest result it holds.
pub struct Freshness<'a> {
    pub generated_at: Option<&'a str>,
    pub newest: Option<&'a str>,
    pub newest_label: &'static str,
}

/// A whole page: `title` (escaped) in the head and the bar, `body` in `<main>`.
pub fn page(title: &str, now: i64, freshness: Option<Freshness<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · OOT HUD" }
                link rel="stylesheet" href="/static/oot.css";
            }
            body {
                header.site {
                    a.brand href="/oot" { "OOT HUD" }
                    span.tagline { "CI results of PyTorch out-of-tree backends" }
                }
                main {
                    @if let Some(f) = freshness {
                        p.freshness {
                            "data as of " (format::time(f.generated_at, now))
                            @if let Some(newest) = f.newest {
                                " · " (f.newest_label) " " (format::time(Some(newest), now))
                            }
                        }
                    }
                    (body)
                }
                footer.site {
                    "Times are UTC; hover a time for the exact instant. "
                    "JSON of every view under " code { "/api/oot/" } ", and CSV with "
                    code { "?format=csv" } "."
                }
            }
        }
    }
}

/// The window links: `href_of(Some(window))` for each window, plus `href_of(None)` first when
/// `all_label` is given (the PR view also works without a window).
pub fn window_selector(
    current: Option<&str>,
    all_label: Option<&str>,
    href_of: impl Fn(Option<Window>) -> String,
) -> Markup {
    let link = |label: &str, href: String, selected: bool| {
        html! {
            @if selected {
                a.selected href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        nav.windows aria-label="time window" {
            span.muted { "Window: " }
            @if let Some(all) = all_label {
                (link(all, href_of(None), current.is_none()))
            }
            @for window in Window::ALL {
                (link(window.as_str(), href_of(Some(window)), current == Some(window.as_str())))
            }
        }
    }
}

/// "Download CSV": a link to the data shown beside it as CSV (docs/contract.md §15), the JSON
/// endpoint `api_path` with the page's `pairs` and `format=csv`.
pub fn csv_link(api_path: &str, pairs: &[(&str, Option<&str>)]) -> Markup {
    html! {
        p.download { a href=(csv_href(api_path, pairs)) download { "Download CSV" } }
    }
}

/// The CSV of the JSON endpoint `api_path` with `pairs`.
pub fn csv_href(api_path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.push(("format", Some("csv")));
    format!("{api_path}{}", format::query(&pairs))
}

/// The page for a request that cannot be served: what went wrong, in words (escaped: the
/// message may quote the request).
pub fn error_page(status: u16, heading: &str, message: &str, now: i64) -> Markup {
    page(
        heading,
        now,
        None,
        html! {
            h1 { (heading) }
            p.error { (message) }
            p { "HTTP " (status) ". " a href="/oot" { "Back to the summary" } }
        },
    )
}
