//! Dispatching a request to the manifest route that matches it.
//!
//! The host has already matched the route and sends its pattern (`route`) and parameters
//! (`params`): those are used as given. Matching the path against the patterns here is the
//! fallback for a request that does not carry them (older hosts, hand-built test requests).

use crate::http::{Request, Response};
use crate::manifest::{Manifest, Route};
use crate::problem::Problem;

/// Runs the matching route's handler and renders a failure as problem+json.
pub fn dispatch(manifest: &Manifest, mut request: Request) -> Response {
    let route = match find(manifest.routes, &mut request) {
        Ok(route) => route,
        Err(problem) => return problem.into_response(),
    };
    if let Err(problem) = request.unstorable_parameters() {
        return problem.into_response();
    }
    match (route.handler)(&request) {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// The route for the request, filling in `route` and `params` when the host did not.
fn find<'a>(routes: &'a [Route], request: &mut Request) -> Result<&'a Route, Problem> {
    if !request.route.is_empty()
        && let Some(route) = routes
            .iter()
            .find(|route| route.method == request.method && route.path == request.route)
    {
        return Ok(route);
    }
    let mut path_matched = false;
    for route in routes {
        let Some(params) = match_pattern(route.path, &request.path) else {
            continue;
        };
        path_matched = true;
        if route.method == request.method {
            request.route = route.path.to_owned();
            request.params = params;
            return Ok(route);
        }
    }
    Err(if path_matched {
        Problem::new(
            405,
            "method_not_allowed",
            "the route does not take this method",
        )
    } else {
        Problem::new(404, "not_found", "no such route")
    })
}

/// The parameters of `pattern` (`/customers/{id}`) in `path`, if the path matches it.
pub fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    let mut params = Vec::new();
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some(expected), Some(actual)) => {
                match expected
                    .strip_prefix('{')
                    .and_then(|rest| rest.strip_suffix('}'))
                {
                    Some(name) if !actual.is_empty() => {
                        params.push((name.to_owned(), actual.to_owned()));
                    }
                    Some(_) => return None,
                    None if expected == actual => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(request: &Request) -> Result<Response, Problem> {
        Ok(Response::json(200, &request.params))
    }

    fn fails(_: &Request) -> Result<Response, Problem> {
        Err(Problem::not_found("customer"))
    }

    const MANIFEST: Manifest = Manifest {
        routes: &[
            Route::get("/customers", "read", named),
            Route::get("/customers/{id}", "read", named),
            Route::delete("/customers/{id}", "write", fails),
            Route::get("/customers/{id}/locations/{location}", "read", named),
        ],
        ..Manifest::EMPTY
    };

    fn request(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            ..Request::default()
        }
    }

    fn params(response: &Response) -> Vec<(String, String)> {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn matches_patterns() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(match_pattern("/customers", "/customers"), Some(vec![]));
        assert_eq!(
            match_pattern("/customers/{id}", "/customers/42"),
            Some(vec![pair("id", "42")])
        );
        assert_eq!(
            match_pattern(
                "/customers/{id}/locations/{location}",
                "/customers/1/locations/2"
            ),
            Some(vec![pair("id", "1"), pair("location", "2")])
        );
        assert_eq!(match_pattern("/customers/{id}", "/customers/"), None);
        assert_eq!(match_pattern("/customers/{id}", "/customers/1/x"), None);
        assert_eq!(match_pattern("/customers", "/contacts"), None);
    }

    #[test]
    fn prefers_the_hosts_route_and_params() {
        let mut from_host = request("GET", "/customers/ignored");
        from_host.route = "/customers/{id}".into();
        from_host.params = vec![("id".into(), "from-host".into())];
        let response = dispatch(&MANIFEST, from_host);
        assert_eq!(params(&response), vec![("id".into(), "from-host".into())]);
    }

    #[test]
    fn falls_back_to_matching_the_path() {
        let response = dispatch(&MANIFEST, request("GET", "/customers/7"));
        assert_eq!(response.status, 200);
        assert_eq!(params(&response), vec![("id".into(), "7".into())]);
    }

    #[test]
    fn renders_misses_and_handler_problems() {
        assert_eq!(dispatch(&MANIFEST, request("GET", "/nope")).status, 404);
        assert_eq!(
            dispatch(&MANIFEST, request("POST", "/customers/7")).status,
            405
        );
        let failed = dispatch(&MANIFEST, request("DELETE", "/customers/7"));
        assert_eq!(failed.status, 404);
        assert_eq!(
            failed.header("content-type"),
            Some("application/problem+json")
        );
    }
}
