//! HTTP: a tiny client ([`Api`]) and the response type ([`Resp`]) the suites assert on.

use uuid::Uuid;

use crate::*;

/// A tiny client: a base URL and an optional bearer token.
#[derive(Clone)]
pub struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: Option<String>,
}

impl Api {
    /// A request builder with the bearer token set, for custom headers or raw bodies.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        send(self.request(Method::DELETE, path)).await
    }

    /// Every item of a paged module list (`{items, next_cursor}`), 200 a page.
    pub async fn every_item(&self, path: &str) -> Vec<Value> {
        let join = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}{join}limit=200&cursor={cursor}"),
                None => format!("{path}{join}limit=200"),
            };
            let page = self.get(&page_path).await;
            page.expect_status(200);
            items.extend(
                page.json["items"]
                    .as_array()
                    .expect("a page")
                    .iter()
                    .cloned(),
            );
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }
}

/// Sends a request; panics on a transport error.
pub async fn send(request: reqwest::RequestBuilder) -> Resp {
    try_send(request)
        .await
        .unwrap_or_else(|e| panic!("request failed: {e:?}"))
}

pub async fn try_send(request: reqwest::RequestBuilder) -> Result<Resp, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Resp {
        status,
        headers,
        text,
        json,
    })
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or Null when it is not JSON.
    pub json: Value,
}

impl Resp {
    /// The problem's stable `code` ("" when absent).
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn is_problem(&self) -> bool {
        self.content_type().starts_with(PROBLEM_JSON)
    }

    /// `self.json[field]` as a UUID.
    #[track_caller]
    pub fn uuid(&self, field: &str) -> Uuid {
        json_uuid(&self.json[field])
            .unwrap_or_else(|| panic!("`{field}` is not a UUID in {}", self.text))
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert!(
            self.is_problem(),
            "not problem+json ({}): {}",
            self.content_type(),
            self.text
        );
        assert_eq!(
            self.code(),
            code,
            "unexpected problem code; body: {}",
            self.text
        );
        assert_eq!(
            self.json["status"].as_u64(),
            Some(status as u64),
            "status member; body: {}",
            self.text
        );
        self
    }
}

pub fn json_uuid(value: &Value) -> Option<Uuid> {
    value.as_str().and_then(|s| Uuid::parse_str(s).ok())
}
