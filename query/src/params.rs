//! Reading a view's path and query parameters into what its loader takes ([`SummaryParams`],
//! [`BackendParams`], [`FailingTestsParams`], [`TestHistoryParams`], [`ReleaseDiffParams`],
//! [`PrParams`]), each parameter refused with a 400 that names it. Repo
//! names and PR numbers are the contract's own types, so they follow the rules ingest applies.
//!
//! Query strings are parsed here rather than by axum's `Query` extractor, whose rejections are
//! plain text and do not say which parameter was wrong. Unknown parameters are ignored (cache
//! busters, newer clients); a parameter given twice is refused rather than guessed at.

use oot_contract::{PrNumber, RepoName, UpstreamPr};
use oot_triage::{Status, TestId};

use crate::clock::parse_rfc3339;
use crate::error::ApiError;
use crate::rules::Window;

/// Rows per page of the per-backend matrix when the request names none, and at most.
pub const DEFAULT_PER_PAGE: usize = 25;
pub const MAX_PER_PAGE: usize = 100;

/// The upstream repo of the PR view when the request names none.
pub const DEFAULT_UPSTREAM_REPO: &str = "pytorch/pytorch";

/// The decoded `name=value` pairs of a query string.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> QueryParams {
        QueryParams(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`, if given once; a 400 if given more than once.
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "given more than once"));
        }
        Ok(first)
    }
}

fn window_named(text: &str) -> Result<Window, ApiError> {
    Window::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
        ApiError::invalid(
            "window",
            format!("unknown window {text:?}; one of {}", names.join(", ")),
        )
    })
}

/// `window`, [`Window::DEFAULT`] when absent.
pub fn window(params: &QueryParams) -> Result<Window, ApiError> {
    match params.get("window")? {
        None => Ok(Window::DEFAULT),
        Some(text) => window_named(text),
    }
}

/// `window` where the view also works without one (the PR view: all the PR's jobs retained).
pub fn optional_window(params: &QueryParams) -> Result<Option<Window>, ApiError> {
    params.get("window")?.map(window_named).transpose()
}

/// Which rows of a paginated list a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

fn positive(
    params: &QueryParams,
    name: &'static str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(text) = params.get(name)? else {
        return Ok(default);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            format!("expected an integer from 1 to {max}, got {text:?}"),
        )),
    }
}

/// `page` (default 1) and `per_page` (default [`DEFAULT_PER_PAGE`], at most [`MAX_PER_PAGE`]).
pub fn page(params: &QueryParams) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        // A page past the last is answered with no rows, not refused: the caller may have
        // paged while the window moved.
        page: positive(params, "page", 1, 1_000_000)?,
        per_page: positive(params, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?,
    })
}

/// The `{org}/{repo}` of a path, as `owner/name`.
pub fn downstream_repo(org: &str, repo: &str) -> Result<RepoName, ApiError> {
    RepoName::parse(&format!("{org}/{repo}")).map_err(|problem| {
        ApiError::invalid(
            "repo",
            format!("{org:?}/{repo:?} is not a GitHub repository: {problem}"),
        )
    })
}

/// `upstream_repo`, [`DEFAULT_UPSTREAM_REPO`] when absent.
pub fn upstream_repo(params: &QueryParams) -> Result<RepoName, ApiError> {
    let text = params
        .get("upstream_repo")?
        .unwrap_or(DEFAULT_UPSTREAM_REPO);
    RepoName::parse(text).map_err(|problem| {
        ApiError::invalid(
            "upstream_repo",
            format!("{text:?} is not a GitHub repository: {problem}"),
        )
    })
}

/// The `{number}` of a PR path.
pub fn pr_number(text: &str) -> Result<PrNumber, ApiError> {
    // The contract's messages read as the rest of a sentence: "must be a positive integer, ..."
    text.parse::<PrNumber>()
        .map_err(|problem| ApiError::invalid("number", format!("a PR number {problem}")))
}

/// What the summary is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryParams {
    pub window: Window,
}

impl SummaryParams {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let params = QueryParams::parse(query);
        Ok(Self {
            window: window(&params)?,
        })
    }
}

/// What the per-backend view is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendParams {
    pub repo: RepoName,
    pub window: Window,
    pub page: PageRequest,
}

impl BackendParams {
    /// From the path's `{org}` and `{repo}` and the query string, checked in that order.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        Ok(Self {
            repo,
            window: window(&params)?,
            page: page(&params)?,
        })
    }
}

/// What a backend's failing tests are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingTestsParams {
    pub repo: RepoName,
    pub window: Window,
    pub filter: FailingTestsFilter,
    /// `None`: every row the filter keeps (the JSON's and the CSV's default; the page shows
    /// [`FAILING_TESTS_PAGE`] when the request names none).
    pub page: Option<PageRequest>,
}

/// Which failing tests are listed; the headline counts them all whatever the filter. The view
/// echoes it (`null`: not filtered on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailingTestsFilter {
    /// `status`: `new`, `known` or `fixed`; every status when absent.
    pub status: Option<Status>,
    /// `flaky`: `true` for the flaky rows only, `false` for the others; both when absent.
    pub flaky: Option<bool>,
}

impl FailingTestsFilter {
    pub fn keeps(&self, status: Status, flaky: bool) -> bool {
        self.status.is_none_or(|wanted| wanted == status)
            && self.flaky.is_none_or(|wanted| wanted == flaky)
    }
}

/// Rows per page of the failing tests when the request names `page` but not `per_page`, and
/// on the page for people when it names neither: a busy backend's week has ~12,000 failing
/// (test, job) rows, 13.8 MB of HTML at once.
pub const FAILING_TESTS_PAGE: PageRequest = PageRequest {
    page: 1,
    per_page: 100,
};
/// The most rows a request may ask for per page.
pub const MAX_FAILING_TESTS_PER_PAGE: usize = 1_000;

impl FailingTestsParams {
    /// From the path's `{org}` and `{repo}` and the query string (`window`, `status`, `flaky`,
    /// `page`, `per_page`), checked in that order.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        let window = window(&params)?;
        let status = match params.get("status")? {
            None => None,
            Some(word) => Some(Status::parse(word).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("expected new, known or fixed, got {word:?}"),
                )
            })?),
        };
        let flaky = match params.get("flaky")? {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ApiError::invalid(
                    "flaky",
                    format!("expected true or false, got {other:?}"),
                ))
            }
        };
        let page = if params.get("page")?.is_some() || params.get("per_page")?.is_some() {
            Some(PageRequest {
                page: positive(&params, "page", 1, 1_000_000)?,
                per_page: positive(
                    &params,
                    "per_page",
                    FAILING_TESTS_PAGE.per_page,
                    MAX_FAILING_TESTS_PER_PAGE,
                )?,
            })
        } else {
            None
        };
        Ok(Self {
            repo,
            window,
            filter: FailingTestsFilter { status, flaky },
            page,
        })
    }
}

/// What one test's history is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestHistoryParams {
    pub repo: RepoName,
    pub test: TestId,
    pub window: Window,
}

impl TestHistoryParams {
    /// From the path's `{org}` and `{repo}` and the query string: `classname` (required, empty
    /// when the jobs sent none), `name` (required, not empty), `window`.
    ///
    /// The test is named in the query string, not the path: test names hold `/`, `::`, spaces
    /// and brackets, and a query value is one opaque form-encoded string that round-trips any
    /// text, where an encoded `/` in a path is decoded or refused by some proxies.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        let classname = params.get("classname")?.ok_or_else(|| {
            ApiError::invalid("classname", "required (empty when the job sent none)")
        })?;
        let name = match params.get("name")? {
            None => return Err(ApiError::invalid("name", "required")),
            Some("") => return Err(ApiError::invalid("name", "must not be empty")),
            Some(name) => name,
        };
        Ok(Self {
            repo,
            test: TestId {
                classname: classname.to_owned(),
                name: name.to_owned(),
            },
            window: window(&params)?,
        })
    }
}

/// The window whose nightly commits the release diff offers and looks commits up in, when the
/// request names none: a month, so that two releases a few weeks apart can be picked.
pub const DEFAULT_RELEASE_DIFF_WINDOW: Window = Window::Month;

/// The longest time range one side of the release diff may span: the longest window, so one
/// request reads at most that many hours of a backend's targets per side (docs/contract.md
/// §12.16), never its whole history.
pub const MAX_RELEASE_DIFF_RANGE_SECONDS: i64 = 30 * 86_400;

/// The fewest hex digits a commit prefix may have: GitHub's short form.
pub const MIN_COMMIT_PREFIX: usize = 7;

/// One side of the release diff as the request names it (docs/contract.md §12.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideRequest {
    /// A whole commit id (40 or 64 hex digits), lower-case as the stores hold commits.
    Commit(String),
    /// The first 7 to 39 hex digits of a commit, lower-case: found among the window's nightly
    /// commits.
    CommitPrefix(String),
    /// The nightlies first seen at or after `from` and before `until`, seconds since the epoch.
    Between { from: i64, until: i64 },
}

/// What a backend's release diff is asked for: the two sides (each absent when not named: the
/// loader then picks the defaults) and the window its nightly commits are listed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDiffParams {
    pub repo: RepoName,
    pub old: Option<SideRequest>,
    pub new: Option<SideRequest>,
    pub window: Window,
}

/// The names of one side's parameters.
struct SideNames {
    commit: &'static str,
    from: &'static str,
    until: &'static str,
}

const OLD: SideNames = SideNames {
    commit: "old",
    from: "old_from",
    until: "old_until",
};
const NEW: SideNames = SideNames {
    commit: "new",
    from: "new_from",
    until: "new_until",
};

impl ReleaseDiffParams {
    /// From the path's `{org}` and `{repo}` and the query string: each side as `old` (a commit)
    /// or `old_from` and `old_until` (a time range), the same for `new`, then `window` (default
    /// [`DEFAULT_RELEASE_DIFF_WINDOW`]). An empty value is no value: it is what an HTML form
    /// sends for a field left empty.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        let old = side(&params, &OLD)?;
        let new = side(&params, &NEW)?;
        let window = optional_window(&params)?.unwrap_or(DEFAULT_RELEASE_DIFF_WINDOW);
        // The old side's default is the nightly commit before the new one; a time range has no
        // commit to be before.
        if old.is_none() && matches!(new, Some(SideRequest::Between { .. })) {
            return Err(ApiError::invalid(
                OLD.commit,
                "required when the new side is a time range (new_from, new_until): give old, \
                 or old_from and old_until",
            ));
        }
        Ok(Self {
            repo,
            old,
            new,
            window,
        })
    }
}

/// The value of `name`, an empty one read as none.
fn non_empty_param<'a>(
    params: &'a QueryParams,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    Ok(params.get(name)?.filter(|value| !value.is_empty()))
}

/// One side: a commit, a time range, or nothing; both, or half a range, refused.
fn side(params: &QueryParams, names: &SideNames) -> Result<Option<SideRequest>, ApiError> {
    let commit = non_empty_param(params, names.commit)?;
    let from = non_empty_param(params, names.from)?;
    let until = non_empty_param(params, names.until)?;
    match (commit, from, until) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::invalid(
            names.commit,
            format!(
                "give either {} (a nightly commit) or {} and {} (a time range), not both",
                names.commit, names.from, names.until
            ),
        )),
        (Some(text), None, None) => commit_request(names.commit, text).map(Some),
        (None, Some(from), Some(until)) => {
            let from_at = instant(names.from, from)?;
            let until_at = instant(names.until, until)?;
            if until_at <= from_at {
                return Err(ApiError::invalid(
                    names.until,
                    format!(
                        "must be after {} ({from}); the range's end is excluded",
                        names.from
                    ),
                ));
            }
            if until_at - from_at > MAX_RELEASE_DIFF_RANGE_SECONDS {
                return Err(ApiError::invalid(
                    names.until,
                    format!(
                        "the range {from} to {until} is longer than 30 days: a side spans at most \
                         30 days"
                    ),
                ));
            }
            Ok(Some(SideRequest::Between {
                from: from_at,
                until: until_at,
            }))
        }
        (None, Some(_), None) => Err(ApiError::invalid(
            names.until,
            format!("required with {}", names.from),
        )),
        (None, None, Some(_)) => Err(ApiError::invalid(
            names.from,
            format!("required with {}", names.until),
        )),
        (None, None, None) => Ok(None),
    }
}

/// A commit id or its first digits, lower-case.
fn commit_request(name: &'static str, text: &str) -> Result<SideRequest, ApiError> {
    let hex = text.bytes().all(|b| b.is_ascii_hexdigit());
    let sha = text.to_ascii_lowercase();
    match text.len() {
        40 | 64 if hex => Ok(SideRequest::Commit(sha)),
        n if hex && (MIN_COMMIT_PREFIX..40).contains(&n) => Ok(SideRequest::CommitPrefix(sha)),
        _ => Err(ApiError::invalid(
            name,
            format!(
                "expected a commit id: 40 hex digits (or 64), or its first {MIN_COMMIT_PREFIX} \
                 or more; got {text:?}"
            ),
        )),
    }
}

/// An instant typed by a person: RFC 3339 (`2026-04-28T10:15:30Z`, any offset) or a day
/// (`2026-04-28`, its midnight UTC), in seconds since the epoch.
fn instant(name: &'static str, text: &str) -> Result<i64, ApiError> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    parse_rfc3339(text)
        .or_else(|| {
            time::Date::parse(text, &day)
                .ok()
                .map(|date| date.midnight().assume_utc().unix_timestamp())
        })
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                format!(
                    "expected a time as RFC 3339 (2026-04-28T10:15:30Z) or a day (2026-04-28, \
                     midnight UTC); got {text:?}"
                ),
            )
        })
}

/// What a backend's trends are asked for (docs/contract.md §14.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendsParams {
    pub repo: RepoName,
    pub days: crate::views::trends::TrendDays,
}

impl TrendsParams {
    /// From the path's `{org}` and `{repo}` and the query string's `days` (`30` or `90`,
    /// default `30`), checked in that order.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        use crate::views::trends::TrendDays;
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        let days = match params.get("days")? {
            None => TrendDays::DEFAULT,
            Some(text) => TrendDays::parse(text).ok_or_else(|| {
                let names: Vec<&str> = TrendDays::ALL.iter().map(|d| d.as_str()).collect();
                ApiError::invalid(
                    "days",
                    format!("expected {}, got {text:?}", names.join(" or ")),
                )
            })?,
        };
        Ok(Self { repo, days })
    }
}

/// What a backend's delivery log is asked for (docs/contract.md §16.7): `window` (default
/// `7d`), `outcome` (`accepted`, `refused` or one outcome; all when absent), `page` and
/// `per_page`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveriesParams {
    pub repo: RepoName,
    pub window: Window,
    pub outcome: crate::stores::deliveries::OutcomeFilter,
    pub page: PageRequest,
}

impl DeliveriesParams {
    /// From the path's `{org}` and `{repo}` and the query string, checked in that order.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        use crate::stores::deliveries::OutcomeFilter;
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        let outcome = match params.get("outcome")? {
            None | Some("") => OutcomeFilter::All,
            Some(text) => OutcomeFilter::parse(text).ok_or_else(|| {
                ApiError::invalid(
                    "outcome",
                    format!(
                        "unknown outcome {text:?}; one of {}",
                        OutcomeFilter::names().join(", ")
                    ),
                )
            })?,
        };
        Ok(Self {
            repo,
            window: window(&params)?,
            outcome,
            page: page(&params)?,
        })
    }
}

/// What a backend's alerts are asked for (docs/contract.md §17.6): `window` (default `7d`),
/// within which closed alerts are listed (open ones always are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsParams {
    pub repo: RepoName,
    pub window: Window,
}

impl AlertsParams {
    /// From the path's `{org}` and `{repo}` and the query string, checked in that order.
    pub fn parse(org: &str, repo: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let repo = downstream_repo(org, repo)?;
        let params = QueryParams::parse(query);
        Ok(Self {
            repo,
            window: window(&params)?,
        })
    }
}

/// What every backend's alerts are asked for: `window`, as [`AlertsParams`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllAlertsParams {
    pub window: Window,
}

impl AllAlertsParams {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let params = QueryParams::parse(query);
        Ok(Self {
            window: window(&params)?,
        })
    }
}

/// What the PR view is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrParams {
    pub pr: UpstreamPr,
    /// `None`: every job of the PR still retained.
    pub window: Option<Window>,
}

impl PrParams {
    /// From the path's `{number}` and the query string, checked in that order.
    pub fn parse(number: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let number = pr_number(number)?;
        let params = QueryParams::parse(query);
        let repo = upstream_repo(&params)?;
        Ok(Self {
            pr: UpstreamPr::new(repo, number),
            window: optional_window(&params)?,
        })
    }
}

/// The window "seen on other PRs" looks in when the request names none.
pub const DEFAULT_OTHER_PRS_WINDOW: Window = Window::Week;

/// What the PR view with its "is it mine?" triage is asked for: the PR view's parameters and
/// `other_prs_window` (default [`DEFAULT_OTHER_PRS_WINDOW`]), the window "seen on other PRs"
/// looks in, ending now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrTriageParams {
    pub view: PrParams,
    pub other_prs_window: Window,
}

impl PrTriageParams {
    /// As [`PrParams::parse`], then `other_prs_window`.
    pub fn parse(number: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let view = PrParams::parse(number, query)?;
        let params = QueryParams::parse(query);
        let other_prs_window = match params.get("other_prs_window")? {
            None => DEFAULT_OTHER_PRS_WINDOW,
            Some(text) => Window::parse(text).ok_or_else(|| {
                let names: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
                ApiError::invalid(
                    "other_prs_window",
                    format!("unknown window {text:?}; one of {}", names.join(", ")),
                )
            })?,
        };
        Ok(Self {
            view,
            other_prs_window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter_of(error: ApiError) -> &'static str {
        match error {
            ApiError::InvalidParameter { parameter, .. } => parameter,
            other => panic!("not a parameter error: {other}"),
        }
    }

    #[test]
    fn window_defaults_and_refuses_unknown_names() {
        assert_eq!(window(&QueryParams::parse(None)).unwrap(), Window::DEFAULT);
        assert_eq!(
            window(&QueryParams::parse(Some("window=24h"))).unwrap(),
            Window::Day
        );
        let error = window(&QueryParams::parse(Some("window=1y"))).unwrap_err();
        assert!(error.to_string().contains("24h, 7d, 30d"), "{error}");
        assert_eq!(parameter_of(error), "window");
        assert_eq!(
            optional_window(&QueryParams::parse(Some("x=1"))).unwrap(),
            None
        );
    }

    #[test]
    fn a_release_diff_side_is_a_commit_its_prefix_or_a_time_range() {
        let parse = |query: &str| ReleaseDiffParams::parse("intel", "x", Some(query));
        let sha = "AbCdEf0123".repeat(4);
        let diff = parse(&format!("old={sha}&new=abcdef0")).unwrap();
        assert_eq!(
            diff.old,
            Some(SideRequest::Commit(sha.to_ascii_lowercase())),
            "lower-case, as the stores hold commits"
        );
        assert_eq!(
            diff.new,
            Some(SideRequest::CommitPrefix("abcdef0".to_owned()))
        );
        assert_eq!(diff.window, DEFAULT_RELEASE_DIFF_WINDOW);
        let long = "f".repeat(64);
        assert_eq!(
            parse(&format!("new={long}&window=7d")).unwrap(),
            ReleaseDiffParams {
                repo: downstream_repo("intel", "x").unwrap(),
                old: None,
                new: Some(SideRequest::Commit(long)),
                window: Window::Week,
            }
        );

        let ranges = parse(
            "old_from=2026-04-01&old_until=2026-04-02\
             &new_from=2026-04-28T10:15:30Z&new_until=2026-04-28T13:15:30%2B02:00",
        )
        .unwrap();
        // 2026-04-01 00:00 UTC is 1775001600.
        assert_eq!(
            ranges.old,
            Some(SideRequest::Between {
                from: 1_775_001_600,
                until: 1_775_001_600 + 86_400
            })
        );
        assert_eq!(
            ranges.new,
            Some(SideRequest::Between {
                from: 1_777_371_330,
                until: 1_777_371_330 + 3_600
            }),
            "any offset: 13:15:30+02:00 is 11:15:30Z"
        );

        let none = parse("old=&new=&old_from=&window=24h").unwrap();
        assert_eq!(
            (none.old, none.new, none.window),
            (None, None, Window::Day),
            "an empty field is no value, as a form sends it"
        );
        assert_eq!(
            parse("old=abcdef0&new_from=2026-04-01&new_until=2026-04-02")
                .unwrap()
                .old,
            Some(SideRequest::CommitPrefix("abcdef0".to_owned())),
            "one side a commit, the other a time range"
        );
    }

    #[test]
    fn a_bad_missing_or_contradictory_release_diff_parameter_is_named() {
        for (query, name, says) in [
            ("old=xyz1234", "old", "hex digits"),
            ("new=abc", "new", "first 7"),
            (&format!("old={}", "a".repeat(41)), "old", "40 hex digits"),
            (
                "old=abcdef0&old_from=2026-04-01&old_until=2026-04-02",
                "old",
                "not both",
            ),
            ("new=abcdef0&new_until=2026-04-02", "new", "not both"),
            ("old_from=2026-04-01", "old_until", "required with old_from"),
            (
                "new_until=2026-04-01",
                "new_from",
                "required with new_until",
            ),
            (
                "old_from=yesterday&old_until=2026-04-02",
                "old_from",
                "RFC 3339",
            ),
            (
                "old_from=2026-04-01&old_until=2026-4-2",
                "old_until",
                "a day",
            ),
            (
                "old_from=2026-04-02&old_until=2026-04-02",
                "old_until",
                "must be after old_from",
            ),
            (
                "new_from=2026-04-02&new_until=2026-04-01&old=abcdef0",
                "new_until",
                "must be after new_from",
            ),
            (
                "old_from=2026-03-01&old_until=2026-04-01",
                "old_until",
                "longer than 30 days",
            ),
            (
                "new_from=2026-04-01&new_until=2026-04-02",
                "old",
                "required when the new side is a time range",
            ),
            ("old=abcdef0&old=abcdef1", "old", "more than once"),
            ("window=2d", "window", "24h, 7d, 30d"),
        ] {
            let error = ReleaseDiffParams::parse("intel", "x", Some(query)).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(says), "{query}: {message}");
            assert_eq!(parameter_of(error), name, "{query}");
        }
        // Exactly 30 days is allowed; the path is checked first.
        assert!(ReleaseDiffParams::parse(
            "intel",
            "x",
            Some("old_from=2026-03-02&old_until=2026-04-01")
        )
        .is_ok());
        let error = ReleaseDiffParams::parse("-x", "y", Some("old=zz")).unwrap_err();
        assert_eq!(parameter_of(error), "repo");
    }

    #[test]
    fn trends_are_asked_over_30_or_90_days() {
        use crate::views::trends::TrendDays;
        let parse = |query| TrendsParams::parse("intel", "x", query);
        assert_eq!(parse(None).unwrap().days, TrendDays::Month);
        assert_eq!(parse(Some("days=90")).unwrap().days, TrendDays::Quarter);
        for (query, says) in [
            ("days=7", "expected 30 or 90, got \"7\""),
            ("days=", "got \"\""),
            ("days=30&days=90", "more than once"),
        ] {
            let error = parse(Some(query)).unwrap_err();
            assert!(error.to_string().contains(says), "{query}: {error}");
            assert_eq!(parameter_of(error), "days", "{query}");
        }
        let error = TrendsParams::parse("-x", "y", Some("days=7")).unwrap_err();
        assert_eq!(parameter_of(error), "repo");
    }

    #[test]
    fn deliveries_are_filtered_by_a_known_outcome() {
        use crate::stores::deliveries::OutcomeFilter;
        let parse = |query| DeliveriesParams::parse("intel", "x", query);
        let all = parse(None).unwrap();
        assert_eq!(
            (all.outcome, all.window, all.page.page),
            (OutcomeFilter::All, Window::DEFAULT, 1)
        );
        assert_eq!(
            parse(Some("outcome=rate_limited&window=24h&page=2"))
                .unwrap()
                .outcome,
            OutcomeFilter::One("rate_limited")
        );
        assert_eq!(
            parse(Some("outcome=refused")).unwrap().outcome,
            OutcomeFilter::Refused
        );
        let error = parse(Some("outcome=unauthorized")).unwrap_err();
        assert!(
            error.to_string().contains("one of accepted, refused"),
            "{error}"
        );
        assert_eq!(parameter_of(error), "outcome");
        assert_eq!(
            parameter_of(parse(Some("window=1y")).unwrap_err()),
            "window"
        );
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let params = QueryParams::parse(Some("window=24h&window=7d"));
        assert_eq!(parameter_of(window(&params).unwrap_err()), "window");
    }

    #[test]
    fn pages_are_positive_and_bounded() {
        assert_eq!(
            page(&QueryParams::parse(None)).unwrap(),
            PageRequest {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        assert_eq!(
            page(&QueryParams::parse(Some("page=3&per_page=2"))).unwrap(),
            PageRequest {
                page: 3,
                per_page: 2
            }
        );
        for (query, name) in [
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=x", "page"),
            ("per_page=0", "per_page"),
            ("per_page=101", "per_page"),
        ] {
            let error = page(&QueryParams::parse(Some(query))).unwrap_err();
            assert_eq!(parameter_of(error), name, "{query}");
        }
    }

    #[test]
    fn repos_follow_githubs_rules() {
        assert_eq!(
            downstream_repo("intel", "torch-xpu-ops").unwrap().as_str(),
            "intel/torch-xpu-ops"
        );
        assert_eq!(
            downstream_repo("a-b", "x.y_z").unwrap().as_str(),
            "a-b/x.y_z"
        );
        for (org, repo) in [
            ("", "x"),
            ("-intel", "x"),
            ("in--tel", "x"),
            ("intel", ".."),
            ("intel", "a b"),
            ("intel", "<script>"),
            ("intel/x", "y"),
            (&"o".repeat(40), "x"),
        ] {
            assert_eq!(
                parameter_of(downstream_repo(org, repo).unwrap_err()),
                "repo"
            );
        }
    }

    #[test]
    fn upstream_repo_defaults_to_pytorch() {
        assert_eq!(
            upstream_repo(&QueryParams::parse(None)).unwrap().as_str(),
            "pytorch/pytorch"
        );
        assert_eq!(
            upstream_repo(&QueryParams::parse(Some("upstream_repo=pytorch%2Faudio")))
                .unwrap()
                .as_str(),
            "pytorch/audio"
        );
        for bad in ["pytorch", "a/b/c", "/x"] {
            let query = format!("upstream_repo={bad}");
            let error = upstream_repo(&QueryParams::parse(Some(&query))).unwrap_err();
            assert_eq!(parameter_of(error), "upstream_repo", "{bad}");
        }
    }

    #[test]
    fn pr_numbers_are_positive_integers() {
        assert_eq!(pr_number("179565").unwrap().get(), 179_565);
        for bad in ["0", "-3", "12a", "", "+1", "2147483648"] {
            assert_eq!(parameter_of(pr_number(bad).unwrap_err()), "number");
        }
        let error = pr_number("12a").unwrap_err().to_string();
        assert_eq!(
            error,
            "number: a PR number must be a positive integer, got \"12a\""
        );
    }

    #[test]
    fn each_view_parses_its_path_then_its_query() {
        assert_eq!(
            SummaryParams::parse(Some("window=30d")).unwrap().window,
            Window::Month
        );
        let backend =
            BackendParams::parse("intel", "torch-xpu-ops", Some("page=2&window=24h")).unwrap();
        assert_eq!(backend.repo.as_str(), "intel/torch-xpu-ops");
        assert_eq!((backend.window, backend.page.page), (Window::Day, 2));
        // Both wrong: the path is named, as it was checked first.
        let error = BackendParams::parse("-x", "y", Some("window=1y")).unwrap_err();
        assert_eq!(parameter_of(error), "repo");

        let tests =
            FailingTestsParams::parse("intel", "torch-xpu-ops", Some("window=30d")).unwrap();
        assert_eq!(
            (tests.repo.as_str(), tests.window),
            ("intel/torch-xpu-ops", Window::Month)
        );
        let error = FailingTestsParams::parse("intel", "x", Some("window=2d")).unwrap_err();
        assert_eq!(parameter_of(error), "window");
        let error =
            FailingTestsParams::parse("intel", "x", Some("window=7d&window=7d")).unwrap_err();
        assert_eq!(parameter_of(error), "window");
        assert_eq!(
            (tests.filter, tests.page),
            (FailingTestsFilter::default(), None),
            "every row when no page is named"
        );

        let history = TestHistoryParams::parse(
            "intel",
            "x",
            Some("classname=test%2Ftest_ops.py%3A%3AT&name=test+a+%5Bf32%5D+%2F+b%2Bc&window=30d"),
        )
        .unwrap();
        assert_eq!(
            (history.test.classname.as_str(), history.test.name.as_str()),
            ("test/test_ops.py::T", "test a [f32] / b+c")
        );
        assert_eq!(history.window, Window::Month);
        let history = TestHistoryParams::parse("intel", "x", Some("classname=&name=t")).unwrap();
        assert_eq!(
            (history.test.classname.as_str(), history.window),
            ("", Window::DEFAULT)
        );
        for (query, name) in [
            (Some("name=t"), "classname"),
            (None, "classname"),
            (Some("classname=C"), "name"),
            (Some("classname=C&name="), "name"),
            (Some("classname=C&name=t&name=u"), "name"),
            (Some("classname=C&name=t&window=2d"), "window"),
        ] {
            let error = TestHistoryParams::parse("intel", "x", query).unwrap_err();
            assert_eq!(parameter_of(error), name, "{query:?}");
        }

        let pr = PrParams::parse("179565", None).unwrap();
        assert_eq!(pr.pr.key(), "pytorch/pytorch#179565");
        assert_eq!(pr.window, None);
        let pr = PrParams::parse("7", Some("upstream_repo=pytorch/audio&window=7d")).unwrap();
        assert_eq!(pr.pr.key(), "pytorch/audio#7");
        assert_eq!(pr.window, Some(Window::Week));
        let error = PrParams::parse("0", Some("upstream_repo=x")).unwrap_err();
        assert_eq!(parameter_of(error), "number");
        let error = PrParams::parse("1", Some("upstream_repo=x&window=2d")).unwrap_err();
        assert_eq!(parameter_of(error), "upstream_repo");
        let error = PrParams::parse("1", Some("window=2d")).unwrap_err();
        assert_eq!(parameter_of(error), "window");

        let triage = PrTriageParams::parse("7", Some("window=24h")).unwrap();
        assert_eq!(triage.other_prs_window, DEFAULT_OTHER_PRS_WINDOW);
        assert_eq!(triage.view.window, Some(Window::Day));
        let triage = PrTriageParams::parse("7", Some("other_prs_window=30d")).unwrap();
        assert_eq!(triage.other_prs_window, Window::Month);
        let error = PrTriageParams::parse("7", Some("other_prs_window=2d")).unwrap_err();
        assert_eq!(parameter_of(error), "other_prs_window");
    }

    #[test]
    fn failing_tests_filter_by_status_and_flakiness_and_page_only_when_asked() {
        let parse = |query| FailingTestsParams::parse("a", "b", Some(query));
        let asked = parse("status=known&flaky=true&page=3").unwrap();
        assert_eq!(
            asked.filter,
            FailingTestsFilter {
                status: Some(Status::Known),
                flaky: Some(true)
            }
        );
        assert_eq!(
            asked.page,
            Some(PageRequest {
                page: 3,
                per_page: FAILING_TESTS_PAGE.per_page
            })
        );
        assert_eq!(
            parse("per_page=1000").unwrap().page,
            Some(PageRequest {
                page: 1,
                per_page: 1_000
            })
        );
        assert!(asked.filter.keeps(Status::Known, true));
        assert!(!asked.filter.keeps(Status::New, true));
        assert!(!asked.filter.keeps(Status::Known, false));
        assert!(FailingTestsFilter::default().keeps(Status::Fixed, false));
        for (query, parameter) in [
            ("status=broken", "status"),
            ("status=New", "status"),
            ("flaky=yes", "flaky"),
            ("per_page=1001", "per_page"),
            ("page=0", "page"),
        ] {
            assert_eq!(
                parameter_of(parse(query).unwrap_err()),
                parameter,
                "{query}"
            );
        }
    }
}
