//! Identity: passwords, access tokens, API keys, refresh-token families, login throttling and
//! the permission model. HTTP lives in `http::auth`; this module knows nothing of requests.

pub mod api_key;
pub mod client_address;
pub mod jwt;
pub mod one_time;
pub mod password;
pub mod principal;
pub mod rbac;
pub mod refresh;
pub mod reset;
pub mod throttle;

pub use principal::Principal;
