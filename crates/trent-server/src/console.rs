//! The web console (`console/`: a single-page application built into
//! `console/dist`, embedded by `build.rs`), served at `/console/`. It is a
//! client of the public API like any other: it signs every call with SigV4
//! in the browser, so these routes serve only static files, never data.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles
//! and connections to this origin only; no inline code, no frames, no
//! forms posting elsewhere) and the usual hardening headers.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

pub(crate) const PREFIX: &str = "/console";

pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether `path` is the console's.
pub(crate) fn is_console(path: &str) -> bool {
    path == PREFIX
        || path
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /console/…`: `/console` redirects to `/console/`, which is
/// `index.html`; other paths are the built files, or 404.
pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if path == PREFIX {
        return hardened(
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, "/console/")],
            )
                .into_response(),
        );
    }
    let name = match path.strip_prefix("/console/") {
        Some("") | None => "index.html",
        Some(name) => name,
    };
    let Some((_, bytes)) = ASSETS.iter().find(|(asset, _)| *asset == name) else {
        return hardened((StatusCode::NOT_FOUND, "no such file of the console\n").into_response());
    };
    // Built files carry their content's hash in their name: cached for
    // good. The page itself is always asked again.
    let cache = if name == "index.html" {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    hardened(
        (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CACHE_CONTROL, cache),
            ],
            *bytes,
        )
            .into_response(),
    )
}

fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_console_s_paths_are_the_console_s() {
        for path in ["/console", "/console/", "/console/assets/index-abc.js"] {
            assert!(is_console(path), "{path}");
        }
        for path in ["/", "/consoles", "/console.html", "/health", "/consolex/"] {
            assert!(!is_console(path), "{path}");
        }
    }

    #[tokio::test]
    async fn files_carry_the_policy_and_unknown_paths_are_404() {
        let missing = serve(Uri::from_static("/console/no/such/file.js")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        let redirect = serve(Uri::from_static("/console")).await;
        assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(redirect.headers()[header::LOCATION], "/console/");
        if ASSETS.iter().any(|(name, _)| *name == "index.html") {
            let index = serve(Uri::from_static("/console/")).await;
            assert_eq!(index.status(), StatusCode::OK);
            assert_eq!(
                index.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert_eq!(index.headers()[header::X_FRAME_OPTIONS], "DENY");
        }
    }
}
