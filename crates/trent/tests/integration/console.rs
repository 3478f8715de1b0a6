//! The web console's files at `/console/`: served from the binary with a
//! strict Content-Security-Policy, nothing else reachable through its
//! paths, and not at all with `--no-console`. (The console itself, in a
//! browser: `tests/python/test_console.py`.)

use crate::common::*;
use aws_sdk_kms::Client;

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// `/console/` is the page; every file it names is served, each with the
/// policy and its content type.
#[tokio::test]
async fn the_console_and_its_files_are_served_under_a_strict_policy() {
    let server = Server::start();
    let (status, head, page) = http_get(&server, "/console/").await;
    assert_eq!(status, 200, "{head}");
    let policy = header(&head, "content-security-policy").expect("a policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"));
    assert_eq!(
        header(&head, "cross-origin-opener-policy"),
        Some("same-origin")
    );
    // The page is asked again each time; the files it names carry their
    // content's hash, and are cached for good.
    assert_eq!(header(&head, "cache-control"), Some("no-cache"));
    let files: Vec<&str> = page
        .split('"')
        .filter(|part| part.starts_with("/console/assets/"))
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".js")), "{page}");
    for file in files {
        let (status, head, body) = http_get(&server, file).await;
        assert_eq!(status, 200, "{file}: {head}");
        assert!(!body.is_empty());
        assert!(header(&head, "content-security-policy").is_some(), "{file}");
        let cache = header(&head, "cache-control").unwrap_or_default();
        assert!(cache.contains("immutable"), "{file}: {cache}");
        let kind = header(&head, "content-type").unwrap();
        assert!(
            kind.starts_with("text/javascript") || kind.starts_with("text/css"),
            "{file}: {kind}"
        );
    }
    let (status, head, _) = http_get(&server, "/console").await;
    assert_eq!(
        (status, header(&head, "location")),
        (301, Some("/console/"))
    );
}

/// Nothing but the console's own files comes out of its paths: not the
/// data directory, not a traversal, not another route.
#[tokio::test]
async fn the_console_s_paths_reach_nothing_else() {
    let server = Server::start();
    for path in [
        "/console/../root.key",
        "/console/%2e%2e/trent.db",
        "/console/assets/../../root-credentials",
        "/console/index.html/",
        "/console/assets/",
    ] {
        let (status, head, body) = http_get(&server, path).await;
        assert_eq!(status, 404, "{path}: {head}\n{body}");
        assert!(header(&head, "content-security-policy").is_some(), "{path}");
    }
}

/// A signed API call sent to the console's path (an SDK whose endpoint is
/// `/console/`) reaches no operation: the console's routes serve files to
/// GET, and refuse anything else.
#[tokio::test]
async fn an_api_call_on_the_console_s_path_reaches_no_operation() {
    let server = Server::start();
    let kms = server.client();
    let keys = |kms: &Client| {
        let kms = kms.clone();
        async move { kms.list_keys().send().await.unwrap().keys().len() }
    };
    let before = keys(&kms).await;
    let console_url = format!("{}/console/", server.url);
    let aimed = server.client_configured(|c| c.endpoint_url(&console_url));
    let err = aimed.create_key().send().await.unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(405), "{err:?}");
    assert_eq!(keys(&kms).await, before, "no key was created");
}

/// `--no-console`: no page (the API answers the request as any other it
/// does not know), so nothing of the console is served.
#[tokio::test]
async fn no_console_serves_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--no-console"]);
    let (status, head, body) = http_get(&server, "/console/").await;
    assert_ne!(status, 200, "{head}");
    assert!(!body.contains("<html"), "{body}");
    assert!(header(&head, "content-security-policy").is_none(), "{head}");
    for path in ["/console", "/console/index.html"] {
        let (status, head, _) = http_get(&server, path).await;
        assert!(status >= 400, "{path}: {head}");
        assert!(
            header(&head, "content-security-policy").is_none(),
            "{path}: {head}"
        );
    }
    let (status, _, _) = http_get(&server, "/health").await;
    assert_eq!(status, 200);
}
