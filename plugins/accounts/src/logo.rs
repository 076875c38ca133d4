//! The logo: `PUT /v1/account/logo` with the image as the body, `GET` to serve it back,
//! `DELETE` to remove it. Only PNG and JPEG, recognised by their bytes (a PNG's signature
//! and `IHDR` chunk; a JPEG's start and end markers) and agreeing with the declared
//! `Content-Type`; SVG is refused, since an SVG is a document that can carry script.
//! At most 256 KiB. The bytes are kept base64 in `company_logos`; the account row keeps the
//! type, size and sha256 (the logo's ETag), so it changes, and is announced, with the logo.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use verofield_field_ops::account::LOGOS;
use verofield_sdk::store::{self, Record, Select};
use verofield_sdk::{FieldError, Problem, Request, Response};

use crate::account;

/// The largest logo, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize)]
struct Logo {
    content_type: String,
    data_base64: String,
}

/// The image type the bytes are, if PNG or JPEG.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() > 24 && bytes.starts_with(PNG) && &bytes[12..16] == b"IHDR" {
        return Some("image/png");
    }
    if bytes.len() > 4 && bytes.starts_with(&[0xff, 0xd8, 0xff]) && bytes.ends_with(&[0xff, 0xd9]) {
        return Some("image/jpeg");
    }
    None
}

fn stored() -> Result<Option<Record<Logo>>, Problem> {
    Ok(Select::from(LOGOS)
        .limit(1)
        .fetch::<Logo>()?
        .items
        .into_iter()
        .next())
}

/// `PUT /logo`
pub fn replace(request: &Request) -> Result<Response, Problem> {
    let declared = request.header("content-type").map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let Some(declared) = declared.filter(|t| t == "image/png" || t == "image/jpeg") else {
        return Err(Problem::new(
            415,
            "unsupported_media_type",
            "a logo is a PNG or JPEG image: send it as image/png or image/jpeg",
        ));
    };
    if request.body.len() > MAX_LOGO_BYTES {
        return Err(Problem::new(
            413,
            "payload_too_large",
            format!("a logo may be at most {} KiB", MAX_LOGO_BYTES / 1024),
        ));
    }
    if sniff(&request.body) != Some(declared.as_str()) {
        return Err(Problem::from(FieldError::new(
            "logo",
            format!("the body is not a {declared} image"),
        )));
    }
    let values = json!({"content_type": declared, "data_base64": STANDARD.encode(&request.body)});
    match stored()? {
        Some(logo) => {
            store::update::<serde::de::IgnoredAny>(LOGOS, &logo.id, logo.version, &values)?;
        }
        None => {
            store::insert::<serde::de::IgnoredAny>(LOGOS, &values)?;
        }
    }
    let digest = hex(&Sha256::digest(&request.body));
    let account = json!({
        "logo_content_type": declared,
        "logo_bytes": request.body.len(),
        "logo_sha256": digest,
    });
    account::write(request, &account, vec!["logo".to_owned()])
}

/// `GET /logo`: the bytes with their type and ETag; 304 to a matching `If-None-Match`.
pub fn show(request: &Request) -> Result<Response, Problem> {
    let account = account::current()?;
    let (Some(digest), Some(logo)) = (account.values.logo_sha256, stored()?) else {
        return Err(Problem::not_found("logo"));
    };
    let tag = format!("\"{digest}\"");
    let mut response = Response::default();
    response.set_header("etag", &tag);
    response.set_header("cache-control", "private, no-cache");
    if request
        .header("if-none-match")
        .is_some_and(|value| value.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
    {
        response.status = 304;
        return Ok(response);
    }
    response.status = 200;
    response.set_header("content-type", &logo.values.content_type);
    response.body = STANDARD
        .decode(logo.values.data_base64)
        .map_err(|_| Problem::internal("stored logo is not base64"))?;
    Ok(response)
}

/// `DELETE /logo`
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let Some(logo) = stored()? else {
        return Err(Problem::not_found("logo"));
    };
    store::delete(LOGOS, &logo.id, Some(logo.version))?;
    let account = json!({"logo_content_type": null, "logo_bytes": null, "logo_sha256": null});
    account::write(request, &account, vec!["logo".to_owned()])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_png_and_jpeg_bytes_are_recognised() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend([0; 16]);
        assert_eq!(sniff(&png), Some("image/png"));
        assert_eq!(
            sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]),
            Some("image/jpeg")
        );
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), None);
    }
}
