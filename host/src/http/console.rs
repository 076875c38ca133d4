//! `/console`: the web console, a directory of plain files (`host/assets/console/`: HTML, one
//! stylesheet, ES modules, no build step) compiled into the binary with `include_dir`, so a new
//! page is a new file and no Rust change.
//!
//! Every path without a file extension (`/console`, `/console/`, `/console/reset-password`)
//! answers `index.html`: the console routes by the URL fragment, and links mailed to people
//! (`/console/accept-invite#token=...`) land on the shell. A path with an extension is a file
//! of the directory or a 404. The headers are the API reference's (`docs`): a strict
//! Content-Security-Policy (nothing inline, nothing from another host), `nosniff`, no framing,
//! and `no-cache` so a new binary's files are used at once.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use include_dir::{Dir, include_dir};

use super::AppState;

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets/console");

/// Only this server's own files and API; no inline script or style, no framing.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                      form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(shell))
        .route("/console/", get(shell))
        .route("/console/{*path}", get(file))
}

async fn shell() -> Response {
    serve("index.html")
}

async fn file(Path(path): Path<String>) -> Response {
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        serve(&path)
    } else {
        serve("index.html")
    }
}

fn serve(path: &str) -> Response {
    // `include_dir` looks paths up by name, so `..` or an absolute path finds nothing.
    let (Some(found), Some(content_type)) = (FILES.get_file(path), content_type(path)) else {
        return super::problem::response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such console file",
            &[],
        );
    };
    let mut response =
        super::docs::static_file(found.contents().into_response(), content_type, POLICY);
    // Links mailed to people carry a token in the fragment: never leak the page's URL.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The kinds of file the console is made of; anything else is not served.
fn content_type(path: &str) -> Option<&'static str> {
    Some(match path.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body_of(response: Response) -> String {
        String::from_utf8(
            to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn paths_without_an_extension_answer_the_shell() {
        for path in ["reset-password", "accept-invite", "a/b"] {
            let response = file(Path(path.to_owned())).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(
                body_of(response).await.contains("/console/app.js"),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn the_shell_forbids_inline_script_and_framing() {
        let response = shell().await;
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
    }

    #[tokio::test]
    async fn unknown_and_escaping_files_are_not_found() {
        for path in [
            "nope.js",
            "../Cargo.toml",
            "pages/nope.js",
            "/etc/passwd.txt",
        ] {
            assert_eq!(
                file(Path(path.to_owned())).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn each_file_has_its_type() {
        let response = file(Path("app.js".to_owned())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
    }
}
