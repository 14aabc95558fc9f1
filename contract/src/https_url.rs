//! [`HttpsUrl`]: the only kind of link the contract carries.

use url::Url;

use crate::limits::MAX_URL_BYTES;
use crate::text::{invalid, string_type};
use crate::InvalidValue;

/// An absolute `https://` URL with a host and no user/password part: these are rendered as
/// links, and `https://github.com@evil.example/` style credentials exist only to mislead.
/// Holds the `url` crate's normalized form (lower-case scheme and host, percent-encoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl(Url);

impl HttpsUrl {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() > MAX_URL_BYTES {
            return invalid(format!("must be at most {MAX_URL_BYTES} bytes"));
        }
        // The url crate forgives `https:host/path` and surrounding whitespace; the contract asks
        // for an absolute `https://` URL, so the spelling is checked first.
        let has_prefix = s
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"));
        if !has_prefix {
            return invalid(format!("must be an absolute https:// URL, got {s:?}"));
        }
        // WHATWG parsing also turns `https:///host/x` into `https://host/x`; an empty authority
        // in what was sent is a broken link, whatever a browser would guess.
        if s.get(8..)
            .unwrap_or_default()
            .starts_with(['/', '\\', '?', '#'])
        {
            return invalid("must have a host");
        }
        let url = Url::parse(s).map_err(|e| InvalidValue::new(format!("is not a URL: {e}")))?;
        if url.scheme() != "https" {
            return invalid("must use the https scheme");
        }
        if url.host_str().is_none_or(str::is_empty) {
            return invalid("must have a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return invalid("must not contain a user name or password");
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }
}
string_type!(HttpsUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_must_be_absolute_https_with_a_host() {
        let u = HttpsUrl::parse("HTTPS://GitHub.com/a/b?x=1#f").expect("valid");
        assert_eq!(u.as_str(), "https://github.com/a/b?x=1#f");
        for bad in [
            "",
            "http://github.com/",
            "ftp://github.com/",
            "javascript:alert(1)",
            "//github.com/x",
            "/relative/path",
            "https:github.com/x",
            "https://",
            "https:///path",
            "https:////host/path",
            "https://\\host/path",
            "https://?q",
            "https://user:pw@github.com/",
            "https://github.com@evil.example/",
            " https://github.com/",
            "https://exa mple.com/",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(HttpsUrl::parse(&format!("https://a.b/{}", "x".repeat(MAX_URL_BYTES))).is_err());
    }
}
