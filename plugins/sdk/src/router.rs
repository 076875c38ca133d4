//! Dispatching a request to its handler.
//!
//! The host matches the request to a manifest route once (it must, to check the route's
//! permission) and sends the route's pattern (`route`) and path parameters (`params`). The
//! pattern and the method name exactly one entry of the route table, which is both the
//! manifest and this dispatcher: no path is matched here, so the table's order never matters.

use crate::http::{Request, Response};
use crate::manifest::{Manifest, Route};
use crate::problem::Problem;

/// Runs the handler of the request's route and renders a failure as problem+json.
pub fn dispatch(manifest: &Manifest, request: Request) -> Response {
    let Some(route) = find(manifest.routes, &request) else {
        // Only a host that did not route the request (or a route table that changed under
        // it) gets here.
        return Problem::new(404, "not_found", "no such route").into_response();
    };
    if let Err(problem) = request.unstorable_parameters() {
        return problem.into_response();
    }
    match (route.handler)(&request) {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// The route table's entry for the host's route and the request's method.
fn find<'a>(routes: &'a [Route], request: &Request) -> Option<&'a Route> {
    routes
        .iter()
        .find(|route| route.method == request.method && route.path == request.route)
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

    /// A request as the host sends it: routed, with its parameters.
    fn routed(method: &str, route: &str, params: &[(&str, &str)]) -> Request {
        Request {
            method: method.into(),
            route: route.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    fn params(response: &Response) -> Vec<(String, String)> {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn dispatches_on_the_hosts_route_and_params() {
        let response = dispatch(&MANIFEST, routed("GET", "/customers/{id}", &[("id", "7")]));
        assert_eq!(response.status, 200);
        assert_eq!(params(&response), vec![("id".into(), "7".into())]);
        let nested = routed(
            "GET",
            "/customers/{id}/locations/{location}",
            &[("id", "1"), ("location", "2")],
        );
        assert_eq!(params(&dispatch(&MANIFEST, nested)).len(), 2);
    }

    #[test]
    fn renders_misses_and_handler_problems() {
        let unrouted = Request {
            method: "GET".into(),
            path: "/customers".into(),
            ..Request::default()
        };
        assert_eq!(dispatch(&MANIFEST, unrouted).status, 404);
        assert_eq!(
            dispatch(&MANIFEST, routed("POST", "/customers/{id}", &[("id", "7")])).status,
            404
        );
        let failed = dispatch(
            &MANIFEST,
            routed("DELETE", "/customers/{id}", &[("id", "7")]),
        );
        assert_eq!(failed.status, 404);
        assert_eq!(
            failed.header("content-type"),
            Some("application/problem+json")
        );
    }
}
