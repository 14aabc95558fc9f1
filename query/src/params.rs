//! Reading a view's path and query parameters, each refused with a 400 that names it.
//!
//! Query strings are parsed here rather than by axum's `Query` extractor, whose rejections are
//! plain text and do not say which parameter was wrong. Unknown parameters are ignored (cache
//! busters, newer clients); a parameter given twice is refused rather than guessed at.

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

/// Why `owner/name` is not a GitHub repository name (GitHub's rules, as ingest checks them:
/// the owner 1-39 ASCII letters, digits or single inner hyphens; the name 1-100 of
/// `[A-Za-z0-9._-]`, not `.` or `..`).
fn repo_problem(owner: &str, name: &str) -> Option<&'static str> {
    if owner.is_empty() || owner.len() > 39 {
        return Some("the owner must be 1 to 39 characters");
    }
    if !owner
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        || owner.starts_with('-')
        || owner.ends_with('-')
        || owner.contains("--")
    {
        return Some("the owner may hold ASCII letters, digits and single inner hyphens only");
    }
    if name.is_empty() || name.len() > 100 {
        return Some("the repository name must be 1 to 100 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        || name == "."
        || name == ".."
    {
        return Some("the repository name may hold ASCII letters, digits, `.`, `_` and `-` only");
    }
    None
}

/// The `{org}/{repo}` of a path, as `owner/name`.
pub fn downstream_repo(org: &str, repo: &str) -> Result<String, ApiError> {
    match repo_problem(org, repo) {
        None => Ok(format!("{org}/{repo}")),
        Some(problem) => Err(ApiError::invalid(
            "repo",
            format!("{org:?}/{repo:?} is not a GitHub repository: {problem}"),
        )),
    }
}

/// `upstream_repo`, [`DEFAULT_UPSTREAM_REPO`] when absent.
pub fn upstream_repo(params: &QueryParams) -> Result<String, ApiError> {
    let Some(text) = params.get("upstream_repo")? else {
        return Ok(DEFAULT_UPSTREAM_REPO.to_owned());
    };
    let problem = match text.split_once('/') {
        None => Some("expected owner/name"),
        Some((owner, name)) => repo_problem(owner, name),
    };
    match problem {
        None => Ok(text.to_owned()),
        Some(problem) => Err(ApiError::invalid(
            "upstream_repo",
            format!("{text:?} is not a GitHub repository: {problem}"),
        )),
    }
}

/// The `{number}` of a PR path: a positive integer.
pub fn pr_number(text: &str) -> Result<u64, ApiError> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ApiError::invalid(
            "number",
            format!("a PR number is a positive integer, got {text:?}"),
        )),
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
            downstream_repo("intel", "torch-xpu-ops").unwrap(),
            "intel/torch-xpu-ops"
        );
        assert_eq!(downstream_repo("a-b", "x.y_z").unwrap(), "a-b/x.y_z");
        for (org, repo) in [
            ("", "x"),
            ("-intel", "x"),
            ("in--tel", "x"),
            ("intel", ".."),
            ("intel", "a b"),
            ("intel", "<script>"),
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
            upstream_repo(&QueryParams::parse(None)).unwrap(),
            "pytorch/pytorch"
        );
        assert_eq!(
            upstream_repo(&QueryParams::parse(Some("upstream_repo=pytorch%2Faudio"))).unwrap(),
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
        assert_eq!(pr_number("179565").unwrap(), 179_565);
        for bad in ["0", "-3", "12a", ""] {
            assert_eq!(parameter_of(pr_number(bad).unwrap_err()), "number");
        }
    }
}
