//! A webhook receiver: a small axum server on 127.0.0.1 that records every request (path,
//! headers, body) and answers as the test programs it: a status, a long sleep, a huge body,
//! or a redirect. It runs on a thread and runtime of its own, so it answers while the test's
//! runtime waits on the server, and stops when dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::python::run_python;

/// How the receiver answers the next requests.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Sleeps this long, then answers 200.
    Sleep(Duration),
    /// 200 with a body of this many bytes.
    HugeBody(usize),
    /// 302 to this path of the receiver itself.
    Redirect(String),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When it arrived (wall clock, comparable with the database's timestamps).
    pub arrived: std::time::SystemTime,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The Standard Webhooks check, written here from the specification rather than with the
    /// server's crates: some `v1,` signature of the header equals the base64 HMAC-SHA256 of
    /// `id.timestamp.body` under the key the `whsec_` secret encodes.
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 after whsec_");
        let id = self.header("webhook-id");
        let timestamp = self.header("webhook-timestamp");
        let mut message = format!("{id}.{timestamp}.").into_bytes();
        message.extend_from_slice(&self.body);
        let expected = STANDARD.encode(hmac_sha256(&key, &message));
        self.header("webhook-signature")
            .split(' ')
            .filter_map(|part| part.strip_prefix("v1,"))
            .any(|signature| signature == expected)
    }

    /// The same check by the Standard Webhooks project's own Python library
    /// (`standardwebhooks.Webhook.verify`, which also enforces its 5-minute tolerance).
    pub fn verified_by_reference_library(&self, secret: &str) -> bool {
        let script = "import sys\n\
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError\n\
            headers = {'webhook-id': sys.argv[3], 'webhook-timestamp': sys.argv[4],\n\
                       'webhook-signature': sys.argv[5]}\n\
            try:\n    Webhook(sys.argv[1]).verify(sys.argv[2].encode(), headers)\n    print('ok')\n\
            except WebhookVerificationError:\n    print('refused')\n";
        let body = std::str::from_utf8(&self.body).expect("a UTF-8 body");
        let args = [
            secret,
            body,
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            self.header("webhook-signature"),
        ];
        match run_python("standardwebhooks", script, &args).as_str() {
            "ok" => true,
            "refused" => false,
            other => panic!("standardwebhooks said {other:?}"),
        }
    }
}

/// HMAC-SHA256 (RFC 2104), from the definition.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[derive(Default)]
struct Shared {
    answer: Mutex<Option<Answer>>,
    /// Answers used once each, in order, before `answer`.
    next: Mutex<VecDeque<Answer>>,
    received: Mutex<Vec<Received>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// A receiver answering 200 until told otherwise.
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let (addr, stop) = serve_locally(app);
        Self {
            addr,
            shared,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().unwrap() = Some(answer);
    }

    /// Answers the next requests with these, one each, then as before.
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.next.lock().unwrap().extend(answers);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }
}

/// Serves `app` on 127.0.0.1 from a thread and runtime of its own, so that it answers while
/// the test's runtime waits on the server; sending on (or dropping) the sender stops it.
pub(crate) fn serve_locally(app: axum::Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a local server");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let addr = listener.local_addr().expect("the local server's address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the local server");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        // Sleeping handlers are not waited for.
        runtime.shutdown_background();
    });
    (addr, stop)
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        arrived: std::time::SystemTime::now(),
    });
    let queued = shared.next.lock().unwrap().pop_front();
    let answer = queued
        .or_else(|| shared.answer.lock().unwrap().clone())
        .unwrap_or(Answer::Status(200));
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::Sleep(duration) => {
            tokio::time::sleep(duration).await;
            StatusCode::OK.into_response()
        }
        Answer::HugeBody(size) => (StatusCode::OK, vec![b'x'; size]).into_response(),
        Answer::Redirect(path) => {
            (StatusCode::FOUND, [(axum::http::header::LOCATION, path)]).into_response()
        }
    }
}
