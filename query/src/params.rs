//! Reading a view's path and query parameters into what its loader takes ([`SummaryParams`],
//! [`BackendParams`], [`FailingTestsParams`], [`TestHistoryParams`], [`PrParams`]), each
//! parameter refused with a 400 that names it. Repo
//! names and PR numbers are the contract's own types, so they follow the rules ingest applies.
//!
//! Query strings are parsed here rather than by axum's `Query` extractor, whose rejections are
//! plain text and do not say which parameter was wrong. Unknown parameters are ignored (cache
//! busters, newer clients); a parameter given twice is refused rather than guessed at.

use oot_contract::{PrNumber, RepoName, UpstreamPr};
use oot_triage::TestId;

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
}

impl FailingTestsParams {
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
}
