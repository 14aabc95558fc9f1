//! A backend's status badge (`GET /badge/{org}/{repo}.svg`, docs/contract.md §14.10): a flat
//! two-part SVG in the style of shields.io, for a downstream README to embed.
//!
//! - Left: `OOT L2` (the backend's current level, §14.5), or `OOT` when no job reported one.
//! - Right: the pass rate over the readiness promotion window (`96.7% pass`, the pass-rate
//!   gate's n/d, §14.3), or `no results` when no job of the window is rated (never 100%).
//! - Colour: the readiness verdict that applies at the level (the summary's rule,
//!   [`crate::pages::scorecard::verdict_cell`]): at L2 promotion (eligible green, not eligible
//!   red), at L3 demotion (keeps green, meets the demotion rule red); not enough data, and any
//!   other level or none, grey.
//! - `<title>` and `aria-label`: the same in a sentence with the repo, the n/d, the window and
//!   the verdict in words, for screen readers (the drawn texts are `aria-hidden`).
//!
//! Everything written into the SVG is escaped ([`escape`]): the level and repo come from the
//! stores or the request. Text widths are estimated from Verdana's advance widths at 11 px
//! ([`text_width_tenths`]), as the badge draws its text in Verdana (or the closest font the
//! viewer has) and pins each text to the estimated width (`textLength`), so the badge looks
//! the same wherever it is drawn.
//!
//! Pure: [`Badge::of_scorecard`] decides what the badge says, [`render`] draws it, [`answer`]
//! wraps it in an HTTP response (content type, caching, `ETag` and `304`).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use oot_readiness::{DemotionVerdict, GateName, PromotionVerdict};

use crate::error::RETRY_AFTER_SECS;
use crate::pages::scorecard::{demotion_words, promotion_words};
use crate::tally::Ratio;
use crate::views::scorecard::ScorecardView;

/// `Cache-Control` of a badge: five minutes, as shields.io's own badges and the stylesheet;
/// shared caches (GitHub's image proxy) may keep it too.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// The right part's colour: what the verdict says, in shields.io's colours (white text reads
/// on each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Eligible for L3, or keeps L3.
    Green,
    /// Not eligible for L3, or meets the demotion rule; and a bad request.
    Red,
    /// Not enough data, no verdict at the level, no level.
    Grey,
}

impl Colour {
    pub fn hex(self) -> &'static str {
        match self {
            Colour::Green => "#4c1",
            Colour::Red => "#e05d44",
            Colour::Grey => "#9f9f9f",
        }
    }
}

/// The label's background.
const LABEL_COLOUR: &str = "#555";

/// What a badge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// The left part: `OOT L2`.
    pub label: String,
    /// The right part: `96.7% pass`.
    pub message: String,
    pub colour: Colour,
    /// The whole, in a sentence: the SVG's `<title>` and `aria-label`.
    pub title: String,
}

impl Badge {
    /// The badge of a backend's scorecard (module docs).
    pub fn of_scorecard(view: &ScorecardView) -> Badge {
        let card = &view.scorecard;
        let level = card.level.map(|l| l.level.as_str());
        let label = match level {
            Some(level) => format!("OOT {level}"),
            None => "OOT".to_owned(),
        };
        let rate = card
            .promotion
            .gates
            .iter()
            .find(|g| g.gate == GateName::PassRate)
            .and_then(|g| g.rate)
            .and_then(|r| Ratio::of(r.numerator(), r.denominator()));
        let (message, fraction) = match rate {
            Some(r) => (
                format!("{:.1}% pass", r.percent),
                format!(" ({}/{})", r.numerator, r.denominator),
            ),
            None => ("no results".to_owned(), String::new()),
        };
        let (colour, verdict) = match (card.promotion.verdict, card.demotion.verdict) {
            (PromotionVerdict::NotApplicable, DemotionVerdict::NotApplicable) => (
                Colour::Grey,
                match level {
                    Some(level) => format!("no readiness verdict at {level}"),
                    None => "no level reported".to_owned(),
                },
            ),
            (PromotionVerdict::NotApplicable, demotion) => {
                let colour = match demotion {
                    DemotionVerdict::Keep => Colour::Green,
                    DemotionVerdict::Demote => Colour::Red,
                    DemotionVerdict::NotEnoughData | DemotionVerdict::NotApplicable => Colour::Grey,
                };
                (colour, demotion_words(demotion).to_owned())
            }
            (promotion, _) => {
                let colour = match promotion {
                    PromotionVerdict::Eligible => Colour::Green,
                    PromotionVerdict::NotEligible => Colour::Red,
                    PromotionVerdict::NotEnoughData | PromotionVerdict::NotApplicable => {
                        Colour::Grey
                    }
                };
                (colour, promotion_words(promotion).to_owned())
            }
        };
        let title = format!(
            "{}: {label}, {message}{fraction} over the last {} days; {verdict}",
            view.downstream_repo, card.promotion.window_days
        );
        Badge {
            label,
            message,
            colour,
            title,
        }
    }

    /// The badge of a request naming no valid repo (answered 400): it still draws, so a README
    /// with a mistyped name shows what is wrong.
    pub fn invalid(problem: &str) -> Badge {
        Badge {
            label: "OOT".to_owned(),
            message: "invalid repo".to_owned(),
            colour: Colour::Red,
            title: format!("OOT badge: {problem}"),
        }
    }

    /// The badge when a store did not answer (answered 503, not cached).
    pub fn unavailable(store: &str) -> Badge {
        Badge {
            label: "OOT".to_owned(),
            message: "unavailable".to_owned(),
            colour: Colour::Grey,
            title: format!("OOT badge: {store} did not answer; try again shortly"),
        }
    }
}

/// `text` for an XML text node or a quoted attribute: the five special characters as entities,
/// and characters XML 1.0 cannot hold at all (most control characters, `U+FFFE`, `U+FFFF`) as
/// `U+FFFD`, since not even a character reference may name them.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The advance width of `c` in Verdana at 11 px, in tenths of a pixel (Verdana's own metrics,
/// rounded); characters outside ASCII count as the widest letters, so a badge is never too
/// narrow for its text.
fn char_width_tenths(c: char) -> u32 {
    match c {
        ' ' => 39,
        '!' => 43,
        '"' => 50,
        '\'' => 30,
        '(' | ')' | '-' | '/' | '[' | '\\' | ']' | '|' | ':' | ';' => 50,
        ',' | '.' => 40,
        '#' | '+' | '<' | '=' | '>' | '^' | '~' => 90,
        '$' | '*' | '_' | '`' | '0'..='9' => 70,
        '%' => 118,
        '&' => 80,
        '?' => 60,
        '@' => 110,
        '{' | '}' => 70,
        'i' | 'l' => 30,
        'j' => 38,
        'f' => 39,
        't' => 43,
        'r' => 47,
        'c' | 's' | 'z' => 57,
        'k' | 'v' | 'x' | 'y' => 65,
        'a' | 'e' | 'o' => 66,
        'b' | 'd' | 'g' | 'n' | 'h' | 'p' | 'q' | 'u' => 69,
        'w' => 90,
        'm' => 107,
        'I' => 46,
        'J' => 50,
        'L' => 61,
        'F' => 63,
        'P' => 66,
        'T' | 'Y' => 68,
        'E' => 70,
        'A' | 'B' | 'K' | 'R' | 'S' | 'V' | 'X' | 'Z' => 75,
        'C' => 77,
        'U' => 80,
        'N' | 'H' => 83,
        'D' => 85,
        'G' | 'O' | 'Q' => 87,
        'M' => 93,
        'W' => 109,
        _ => 110,
    }
}

/// The width `text` takes in Verdana at 11 px, in tenths of a pixel.
pub fn text_width_tenths(text: &str) -> u32 {
    text.chars()
        .map(char_width_tenths)
        .fold(0u32, u32::saturating_add)
}

/// The width of one part: its text and 5 px either side, in whole pixels.
fn part_width(text: &str) -> u32 {
    text_width_tenths(text).div_ceil(10).saturating_add(10)
}

/// The badge as an SVG document.
pub fn render(badge: &Badge) -> String {
    let (label_w, message_w) = (part_width(&badge.label), part_width(&badge.message));
    let width = label_w.saturating_add(message_w);
    let title = escape(&badge.title);
    let (label, message) = (escape(&badge.label), escape(&badge.message));
    // Texts are drawn at 10× and scaled down (as shields.io does) for sub-pixel placement; each
    // twice, the first as a shadow.
    let text = |x: u32, length: u32, content: &str| {
        format!(
            r##"<text aria-hidden="true" x="{x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{length}">{content}</text><text aria-hidden="true" x="{x}" y="140" transform="scale(.1)" fill="#fff" textLength="{length}">{content}</text>"##
        )
    };
    let label_text = text(
        label_w.saturating_mul(5),
        text_width_tenths(&badge.label),
        &label,
    );
    let message_text = text(
        label_w
            .saturating_mul(10)
            .saturating_add(message_w.saturating_mul(5)),
        text_width_tenths(&badge.message),
        &message,
    );
    let colour = badge.colour.hex();
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{title}">"##,
            r##"<title>{title}</title>"##,
            r##"<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##,
            r##"<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>"##,
            r##"<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="{label_colour}"/><rect x="{label_w}" width="{message_w}" height="20" fill="{colour}"/><rect width="{width}" height="20" fill="url(#s)"/></g>"##,
            r##"<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">{label_text}{message_text}</g>"##,
            "</svg>\n"
        ),
        width = width,
        title = title,
        label_w = label_w,
        message_w = message_w,
        label_colour = LABEL_COLOUR,
        colour = colour,
        label_text = label_text,
        message_text = message_text,
    )
}

/// A strong `ETag` of a badge: FNV-1a (64 bits) of its bytes, stable across builds and
/// restarts, so a cache's copy stays valid while the badge says the same.
pub fn etag(svg: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in svg.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

/// Whether an `If-None-Match` value names `tag` (or is `*`): entity tags compared weakly, as
/// RFC 9110 asks for this header.
fn none_match_names(if_none_match: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(tag))
}

/// The HTTP answer of `badge` with `status`: `image/svg+xml`, cacheable for five minutes when
/// `status` is 200 or 400 (a bad name stays bad), never when it is a 503 (which carries
/// `Retry-After`); a 200 carries an `ETag`, and is a bodiless 304 when `if_none_match` names it.
pub fn answer(status: StatusCode, badge: &Badge, if_none_match: Option<&HeaderValue>) -> Response {
    let svg = render(badge);
    let tag = etag(&svg);
    let unchanged = status == StatusCode::OK
        && if_none_match
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| none_match_names(v, &tag));
    let cache = if status == StatusCode::SERVICE_UNAVAILABLE {
        "no-store"
    } else {
        CACHE_CONTROL
    };
    let (status, body) = if unchanged {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (status, Body::from(svg))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if matches!(status, StatusCode::OK | StatusCode::NOT_MODIFIED) {
        if let Ok(value) = HeaderValue::from_str(&tag) {
            headers.insert(header::ETAG, value);
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use oot_readiness::Thresholds;
    use oot_rollup::{Contribution, Figures, Outcome};

    use super::*;
    use crate::stores::rollups::LevelDay;
    use crate::views::scorecard::build;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    /// Checks `svg` is one well-formed XML document (xmlparser tokenizes it; what it leaves to
    /// its caller is checked here: matching tags, one root, no attribute twice, only the
    /// predefined entities and character references) and returns its root element's name, its
    /// `<title>` text (entities decoded) and the `fill` of each `rect`.
    fn parse(svg: &str) -> (String, String, Vec<String>) {
        use xmlparser::{ElementEnd, Token, Tokenizer};
        let mut open: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut root = String::new();
        let mut attributes: Vec<String> = Vec::new();
        let mut title = String::new();
        let mut fills = Vec::new();
        let mut current = String::new();
        for token in Tokenizer::from(svg) {
            match token.unwrap_or_else(|e| panic!("not XML ({e}): {svg}")) {
                Token::ElementStart { prefix, local, .. } => {
                    assert!(prefix.is_empty(), "{svg}");
                    if open.is_empty() {
                        roots += 1;
                        root = local.to_string();
                    }
                    current = local.to_string();
                    attributes.clear();
                }
                Token::Attribute { local, value, .. } => {
                    assert!(
                        !attributes.contains(&local.to_string()),
                        "{local} twice: {svg}"
                    );
                    attributes.push(local.to_string());
                    let value = decode(value.as_str());
                    if current == "rect" && local.as_str() == "fill" {
                        fills.push(value);
                    }
                }
                Token::ElementEnd { end, .. } => match end {
                    ElementEnd::Open => open.push(current.clone()),
                    ElementEnd::Empty => {}
                    ElementEnd::Close(_, local) => {
                        assert_eq!(open.pop().as_deref(), Some(local.as_str()), "{svg}");
                    }
                },
                Token::Text { text } => {
                    let text = decode(text.as_str());
                    if open.last().map(String::as_str) == Some("title") {
                        title.push_str(&text);
                    } else {
                        assert!(text.trim().is_empty() || open.len() > 1, "{svg}");
                    }
                }
                Token::Cdata { .. } | Token::Comment { .. } | Token::Declaration { .. } => {}
                other => panic!("unexpected {other:?} in {svg}"),
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}: {svg}");
        assert_eq!(roots, 1, "{svg}");
        (root, title, fills)
    }

    /// Text with its references decoded; panics on a reference XML does not define.
    fn decode(text: &str) -> String {
        assert!(!text.contains('<'), "a bare < in {text:?}");
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let end = rest[at..]
                .find(';')
                .unwrap_or_else(|| panic!("a bare & in {text:?}"));
            let name = &rest[at + 1..at + end];
            let decoded = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => name
                    .strip_prefix('#')
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(char::from_u32)
                    .unwrap_or_else(|| panic!("&{name}; is no XML reference in {text:?}")),
            };
            out.push(decoded);
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn badge(label: &str, message: &str) -> Badge {
        Badge {
            label: label.to_owned(),
            message: message.to_owned(),
            colour: Colour::Green,
            title: format!("{label}: {message}"),
        }
    }

    fn width(svg: &str) -> u32 {
        let start = svg.find("width=\"").map(|i| i + 7).unwrap_or(0);
        let end = svg[start..].find('"').map_or(start, |e| start + e);
        svg[start..end].parse().unwrap_or(0)
    }

    #[test]
    fn a_badge_is_one_svg_document_with_its_title_and_colours() {
        let svg = render(&badge("OOT L2", "96.7% pass"));
        let (root, title, fills) = parse(&svg);
        assert_eq!(root, "svg");
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert_eq!(title, "OOT L2: 96.7% pass");
        assert!(svg.contains(r#"aria-label="OOT L2: 96.7% pass""#));
        assert_eq!(fills, ["#fff", "#555", "#4c1", "url(#s)"]);
    }

    #[test]
    fn widths_grow_with_the_text() {
        let short = width(&render(&badge("OOT", "no results")));
        let longer_label = width(&render(&badge("OOT L2", "no results")));
        let longer_message = width(&render(&badge("OOT", "no results at all")));
        assert!(short < longer_label, "{short} {longer_label}");
        assert!(short < longer_message, "{short} {longer_message}");
        // Every character adds width, wide ones more.
        let mut previous = text_width_tenths("");
        for text in ["9", "99", "99.", "99.9", "99.9%", "99.9% pass"] {
            let now = text_width_tenths(text);
            assert!(now > previous, "{text}");
            previous = now;
        }
        assert!(text_width_tenths("W") > text_width_tenths("i"));
        assert!(text_width_tenths("日本") >= 2 * text_width_tenths("W"));
        // The parts hold their texts: 5 px either side.
        let svg = render(&badge("OOT L2", "96.7% pass"));
        let drawn =
            text_width_tenths("OOT L2").div_ceil(10) + text_width_tenths("96.7% pass").div_ceil(10);
        assert_eq!(width(&svg), drawn + 20);
    }

    #[test]
    fn odd_names_and_levels_are_escaped() {
        let odd = Badge {
            label: "OOT <L2> & \"x\"".to_owned(),
            message: "it's </text><script>alert(1)</script>".to_owned(),
            colour: Colour::Red,
            title: "o'dd/re\"po <b>&amp; \u{1}\u{FFFF} ü".to_owned(),
        };
        let svg = render(&odd);
        let (root, title, fills) = parse(&svg);
        assert_eq!(root, "svg");
        assert_eq!(title, "o'dd/re\"po <b>&amp; \u{FFFD}\u{FFFD} ü");
        assert!(!svg.contains("<script") && !svg.contains("<b>") && !svg.contains("<L2>"));
        assert!(svg.contains("OOT &lt;L2&gt; &amp; &quot;x&quot;"));
        assert!(svg.contains("it&#39;s &lt;/text&gt;&lt;script&gt;"));
        assert_eq!(fills[2], "#e05d44");
        let invalid = render(&Badge::invalid("\"a b/c\" is not a <GitHub> repository"));
        let (_, title, _) = parse(&invalid);
        assert_eq!(title, "OOT badge: \"a b/c\" is not a <GitHub> repository");
    }

    fn figures(successes: usize, failures: usize) -> Figures {
        let mut total = Figures::default();
        let job = |outcome| {
            Figures::of(&Contribution {
                outcome,
                duration_us: Some(3_000 * 1_000_000),
                queue_us: Some(300 * 1_000_000),
            })
        };
        for _ in 0..successes {
            total.add(&job(Outcome::Success));
        }
        for _ in 0..failures {
            total.add(&job(Outcome::Failure));
        }
        total
    }

    fn level_day(level: &str, first_seen: i64, last_seen: i64) -> LevelDay {
        LevelDay {
            downstream_repo: "acme/npu".into(),
            level: level.into(),
            day_start: u32::try_from(first_seen - first_seen.rem_euclid(DAY)).unwrap_or(0),
            first_seen: u32::try_from(first_seen).unwrap_or(0),
            last_seen: u32::try_from(last_seen).unwrap_or(0),
        }
    }

    fn of(level: Option<&str>, successes: usize, failures: usize) -> Badge {
        let days: Vec<LevelDay> = level
            .map(|l| vec![level_day(l, NOW - 40 * DAY, NOW - 60)])
            .unwrap_or_default();
        let window = figures(successes, failures);
        let view = build(
            "acme/npu",
            NOW,
            &Thresholds::default(),
            &window,
            &window,
            &days,
        );
        Badge::of_scorecard(&view)
    }

    #[test]
    fn the_colour_is_the_verdict_at_the_level() {
        let eligible = of(Some("L2"), 29, 1);
        assert_eq!(
            (
                eligible.label.as_str(),
                eligible.message.as_str(),
                eligible.colour
            ),
            ("OOT L2", "96.7% pass", Colour::Green)
        );
        assert_eq!(
            eligible.title,
            "acme/npu: OOT L2, 96.7% pass (29/30) over the last 14 days; eligible for L3"
        );
        let not_eligible = of(Some("L2"), 15, 15);
        assert_eq!(
            (not_eligible.message.as_str(), not_eligible.colour),
            ("50.0% pass", Colour::Red)
        );
        let keep = of(Some("L3"), 30, 0);
        assert_eq!(
            (keep.label.as_str(), keep.colour),
            ("OOT L3", Colour::Green)
        );
        assert!(keep.title.ends_with("; keeps L3"), "{}", keep.title);
        let demote = of(Some("L3"), 10, 20);
        assert_eq!(demote.colour, Colour::Red);
        assert!(
            demote.title.ends_with("meets the demotion rule"),
            "{}",
            demote.title
        );
        let few = of(Some("L2"), 5, 0);
        assert_eq!(
            (few.message.as_str(), few.colour),
            ("100.0% pass", Colour::Grey)
        );
        let l1 = of(Some("L1"), 30, 0);
        assert_eq!(l1.colour, Colour::Grey);
        assert!(
            l1.title.ends_with("no readiness verdict at L1"),
            "{}",
            l1.title
        );
        let nothing = of(None, 0, 0);
        assert_eq!(
            (
                nothing.label.as_str(),
                nothing.message.as_str(),
                nothing.colour
            ),
            ("OOT", "no results", Colour::Grey)
        );
        assert_eq!(
            nothing.title,
            "acme/npu: OOT, no results over the last 14 days; no level reported"
        );
        for b in [eligible, not_eligible, keep, demote, few, l1, nothing] {
            parse(&render(&b));
        }
    }

    #[test]
    fn answers_carry_the_type_caching_and_a_304_for_a_known_tag() {
        let b = badge("OOT", "no results");
        let ok = answer(StatusCode::OK, &b, None);
        assert_eq!(ok.status(), StatusCode::OK);
        let header = |r: &Response, name: header::HeaderName| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header(&ok, header::CONTENT_TYPE).as_deref(),
            Some("image/svg+xml")
        );
        assert_eq!(
            header(&ok, header::CACHE_CONTROL).as_deref(),
            Some(CACHE_CONTROL)
        );
        let tag = header(&ok, header::ETAG).unwrap_or_default();
        assert_eq!(tag, etag(&render(&b)));
        assert_eq!(tag.len(), 18);

        for matching in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            let value = HeaderValue::from_str(&matching).ok();
            let again = answer(StatusCode::OK, &b, value.as_ref());
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{matching}");
            assert_eq!(header(&again, header::ETAG), Some(tag.clone()));
        }
        let other = HeaderValue::from_static("\"0000000000000000\"");
        assert_eq!(
            answer(StatusCode::OK, &b, Some(&other)).status(),
            StatusCode::OK
        );

        let bad = answer(
            StatusCode::BAD_REQUEST,
            &Badge::invalid("x"),
            Some(&HeaderValue::from_static("*")),
        );
        assert_eq!(
            bad.status(),
            StatusCode::BAD_REQUEST,
            "only a 200 turns into a 304"
        );
        assert_eq!(header(&bad, header::ETAG), None);
        let down = answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &Badge::unavailable("clickhouse"),
            None,
        );
        assert_eq!(
            header(&down, header::CACHE_CONTROL).as_deref(),
            Some("no-store")
        );
        assert_eq!(header(&down, header::RETRY_AFTER).as_deref(), Some("5"));
    }

    #[test]
    fn a_different_badge_has_a_different_tag() {
        assert_ne!(
            etag(&render(&badge("OOT L2", "96.7% pass"))),
            etag(&render(&badge("OOT L2", "96.6% pass")))
        );
    }
}
