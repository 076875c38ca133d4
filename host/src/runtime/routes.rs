//! Matching a request to a manifest route, once, in the host.
//!
//! The host must find the route before the module runs, to check the route's permission; it
//! then hands the module the route's pattern and parameters, and the SDK dispatches on them
//! without matching again. The most specific pattern wins whatever the manifest's order: at
//! the first segment where two matching patterns differ, a literal beats a `{parameter}`, so
//! `/service-types` serves before `/{id}` even when it is declared after it. A parameter may
//! carry a literal suffix (`/invoices/{id}.pdf`): it matches segments ending so, with the
//! suffix left out of the value, and ranks between a literal and a bare parameter. Two routes with
//! the same method and the same shape (`/{id}` and `/{key}`) would be ambiguous; the manifest
//! check refuses them at publication ([`check_patterns`]).

use std::cmp::Ordering;

use crate::error::Error;

use super::manifest::{Manifest, Route};

/// The route serving a request: its index in the manifest and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub index: usize,
    pub params: Vec<(String, String)>,
}

/// Why no manifest route serves a request.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoute {
    /// No pattern matches the path (404).
    NotFound,
    /// Patterns match the path, for these methods only (405 with `Allow`, RFC 9110 15.5.6).
    MethodNotAllowed(Vec<String>),
}

impl From<NoRoute> for Error {
    fn from(miss: NoRoute) -> Self {
        match miss {
            NoRoute::NotFound => Error::not_found("route"),
            NoRoute::MethodNotAllowed(methods) => Error::method_not_allowed(methods),
        }
    }
}

impl Manifest {
    /// The most specific route for a method (compared exactly: methods are case-sensitive)
    /// and a path relative to the slot, or why there is none.
    pub fn route(&self, method: &str, path: &str) -> Result<RouteMatch, NoRoute> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, Vec<(String, String)>)> = None;
        let mut allowed: Vec<String> = Vec::new();
        for (index, route) in self.routes.iter().enumerate() {
            let Some(params) = match_segments(&route.path, &segments) else {
                continue;
            };
            if route.method != method {
                if !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
                continue;
            }
            let better = match &best {
                None => true,
                Some((current, _)) => {
                    specificity(&route.path, &self.routes[*current].path) == Ordering::Greater
                }
            };
            if better {
                best = Some((index, params));
            }
        }
        match best {
            Some((index, params)) => Ok(RouteMatch { index, params }),
            None if allowed.is_empty() => Err(NoRoute::NotFound),
            None => Err(NoRoute::MethodNotAllowed(allowed)),
        }
    }
}

/// The parameters of `pattern` in the path's segments, if the pattern matches them.
fn match_segments(pattern: &str, segments: &[&str]) -> Option<Vec<(String, String)>> {
    let pattern: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    if pattern.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (expected, actual) in pattern.iter().zip(segments) {
        match parameter(expected) {
            Some((name, suffix)) => {
                let value = actual.strip_suffix(suffix).filter(|v| !v.is_empty())?;
                params.push((name.to_owned(), value.to_owned()));
            }
            None if expected == actual => {}
            None => return None,
        }
    }
    Some(params)
}

/// Orders two patterns of the same length: at the first segment where they differ in kind,
/// a literal beats a parameter with a suffix, which beats a bare parameter.
fn specificity(a: &str, b: &str) -> Ordering {
    let rank = |segment: &str| match parameter(segment) {
        None => 2,
        Some((_, "")) => 0,
        Some(_) => 1,
    };
    a.split('/')
        .zip(b.split('/'))
        .map(|(x, y)| rank(x).cmp(&rank(y)))
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// (`id`, `""`) for the segment `{id}`, (`id`, `".pdf"`) for `{id}.pdf`.
fn parameter(segment: &str) -> Option<(&str, &str)> {
    let (name, suffix) = segment.strip_prefix('{')?.split_once('}')?;
    Some((name, suffix))
}

/// The pattern rules a manifest must keep: parameters are whole segments with distinct
/// names, and no two routes of one method share a shape. Returns the first broken rule.
pub fn check_patterns(routes: &[Route]) -> Result<(), String> {
    for (index, route) in routes.iter().enumerate() {
        let mut names = Vec::new();
        for segment in route.path.trim_end_matches('/').split('/') {
            match parameter(segment) {
                Some((_, suffix)) if suffix.contains(['{', '}']) => {
                    return Err(format!(
                        "route path `{}` has two parameters in one segment",
                        route.path
                    ));
                }
                Some((name, _)) if name.is_empty() || names.contains(&name) => {
                    return Err(format!(
                        "route path `{}` repeats or omits a parameter name",
                        route.path
                    ));
                }
                Some((name, _)) => names.push(name),
                None if segment.contains(['{', '}']) => {
                    return Err(format!(
                        "route path `{}` has a parameter that does not start its segment",
                        route.path
                    ));
                }
                None => {}
            }
        }
        let shape = shape(&route.path);
        if let Some(twin) = routes[..index]
            .iter()
            .find(|other| other.method == route.method && shape == self::shape(&other.path))
        {
            return Err(format!(
                "routes {} {} and {} {} are ambiguous",
                twin.method, twin.path, route.method, route.path
            ));
        }
    }
    Ok(())
}

/// A pattern with every parameter name erased: `/customers/{}`, `/invoices/{}.pdf`.
fn shape(pattern: &str) -> Vec<String> {
    pattern
        .trim_end_matches('/')
        .split('/')
        .map(|segment| match parameter(segment) {
            Some((_, suffix)) => format!("{{}}{suffix}"),
            None => segment.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            permission: format!("{method} {path}"),
            summary: None,
            request: None,
            responses: Default::default(),
        }
    }

    fn manifest(routes: &[(&str, &str)]) -> Manifest {
        Manifest {
            routes: routes.iter().map(|(m, p)| route(m, p)).collect(),
            ..Manifest::default()
        }
    }

    fn served(manifest: &Manifest, method: &str, path: &str) -> String {
        let found = manifest.route(method, path).unwrap();
        manifest.routes[found.index].path.clone()
    }

    #[test]
    fn matches_with_params_and_methods() {
        let crm = manifest(&[
            ("GET", "/customers"),
            ("GET", "/customers/{id}"),
            ("PATCH", "/customers/{id}"),
        ]);
        let found = crm.route("PATCH", "/customers/42").unwrap();
        assert_eq!(crm.routes[found.index].method, "PATCH");
        assert_eq!(found.params, [("id".to_owned(), "42".to_owned())]);
        assert_eq!(served(&crm, "GET", "/customers/"), "/customers");
        assert_eq!(
            crm.route("DELETE", "/customers/42").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["GET".into(), "PATCH".into()])
        );
        assert_eq!(
            crm.route("get", "/customers").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["GET".into()])
        );
        assert_eq!(
            crm.route("GET", "/customers/42/x").unwrap_err(),
            NoRoute::NotFound
        );
    }

    #[test]
    fn the_most_specific_pattern_wins_in_any_order() {
        let parameters_first = manifest(&[
            ("GET", "/{id}"),
            ("POST", "/{id}/assignments/{technician}"),
            ("GET", "/{id}/history"),
            ("POST", "/{id}/assignments/override"),
            ("GET", "/service-types"),
            ("GET", "/mine/{id}"),
        ]);
        assert_eq!(
            served(&parameters_first, "GET", "/service-types"),
            "/service-types"
        );
        assert_eq!(served(&parameters_first, "GET", "/x"), "/{id}");
        assert_eq!(
            served(&parameters_first, "POST", "/x/assignments/override"),
            "/{id}/assignments/override"
        );
        assert_eq!(
            served(&parameters_first, "POST", "/x/assignments/t"),
            "/{id}/assignments/{technician}"
        );
        assert_eq!(served(&parameters_first, "GET", "/mine/x"), "/mine/{id}");
    }

    #[test]
    fn a_parameter_with_a_suffix_ranks_between_literal_and_bare() {
        let billing = manifest(&[
            ("GET", "/invoices/{id}"),
            ("GET", "/invoices/{id}.pdf"),
            ("GET", "/invoices/summary.pdf"),
        ]);
        let found = billing.route("GET", "/invoices/42.pdf").unwrap();
        assert_eq!(billing.routes[found.index].path, "/invoices/{id}.pdf");
        assert_eq!(found.params, [("id".to_owned(), "42".to_owned())]);
        assert_eq!(served(&billing, "GET", "/invoices/42"), "/invoices/{id}");
        assert_eq!(
            served(&billing, "GET", "/invoices/summary.pdf"),
            "/invoices/summary.pdf"
        );
        // The suffix alone is no value: the bare parameter takes it.
        assert_eq!(served(&billing, "GET", "/invoices/.pdf"), "/invoices/{id}");
        let check = |routes: &[(&str, &str)]| check_patterns(&manifest(routes).routes);
        assert!(check(&[("GET", "/a/{id}.pdf"), ("GET", "/a/{key}.pdf")]).is_err());
        assert!(check(&[("GET", "/a/{id}.{format}")]).is_err());
    }

    #[test]
    fn refuses_ambiguous_and_malformed_patterns() {
        let check = |routes: &[(&str, &str)]| check_patterns(&manifest(routes).routes);
        assert!(check(&[("GET", "/{id}"), ("PATCH", "/{id}"), ("GET", "/a/{id}")]).is_ok());
        assert!(check(&[("GET", "/{id}"), ("GET", "/{key}")]).is_err());
        assert!(check(&[("GET", "/a/{id}/b/{id}")]).is_err());
        assert!(check(&[("GET", "/a/{}")]).is_err());
        assert!(check(&[("GET", "/a/x{id}")]).is_err());
    }
}
