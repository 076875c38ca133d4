//! The request body is read, and checked against the size limit, before the handler runs.
//!
//! Handlers take the caller's [`Tenant`](super::extract::Tenant) first, and that extractor
//! opens the tenant transaction: a pooled connection. If the body were read after it, a client
//! that sends its headers and then one byte a second would hold that connection for as long as
//! it likes, and about twenty such clients would hold the whole pool (every tenant then gets
//! 503). Reading it here first means a slow upload costs only its own connection and task;
//! the request timeout bounds it. Every route with a body passes through here, host routes
//! and module routes alike, except the component uploads (the operator's and the publishers'):
//! they open no tenant transaction and have their own, larger limit.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::modules::is_upload_path;
use crate::error::Error;

pub async fn read_body_first(State(limit): State<usize>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() || is_upload_path(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match read_limited(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(error) => error.into_response(),
    }
}

/// The whole body, or 413 past `limit` bytes (not reading further), or 400 when the client's
/// stream breaks.
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::with_capacity(body.size_hint().lower().min(limit as u64) as usize);
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame
            .map_err(|_| Error::bad_request("bad_body", "the request body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > limit {
            return Err(Error::problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than the server accepts",
            ));
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}
