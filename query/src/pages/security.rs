//! The headers every page (and the stylesheet) is served with. The pages hold downstream text;
//! the template engine escapes it, and these headers are the second line should an escape ever
//! be missed: no script runs at all (`default-src 'none'`, no `script-src`), styles come only
//! from this site, nothing may frame the pages, and forms only submit here.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
    img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers, name and value.
pub fn headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// `router` with the headers set on every response it gives (errors included), overriding any
/// a handler set.
pub fn secured(router: Router) -> Router {
    headers().into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(name, value))
    })
}
