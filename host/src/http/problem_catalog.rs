//! Every problem `code` the host itself answers with: its status, what it means and what the
//! client should do. `GET /problems/{code}` renders one entry (`problem_pages`), and every
//! problem's `type` points there (`problem::type_uri`). A unit test reads the host's sources
//! for `Error::problem(`, `conflict(`, ... and fails on a code missing here, so the catalog
//! cannot fall behind. Codes answered by modules are the modules' own (their page says so).

/// One code: the status it comes with, what it means, what to do about it.
pub struct ProblemCode {
    pub code: &'static str,
    pub status: u16,
    pub meaning: &'static str,
    pub remedy: &'static str,
}

const fn entry(
    code: &'static str,
    status: u16,
    meaning: &'static str,
    remedy: &'static str,
) -> ProblemCode {
    ProblemCode {
        code,
        status,
        meaning,
        remedy,
    }
}

/// The host's codes, sorted by code.
pub const CODES: &[ProblemCode] = &[
    entry(
        "bad_body",
        400,
        "The body could not be read (cut short, or not valid for its content type).",
        "Send the complete body again.",
    ),
    entry(
        "builtin_role",
        409,
        "Built-in roles cannot be changed or deleted.",
        "Create a custom role instead.",
    ),
    entry(
        "cannot_deactivate_self",
        409,
        "A user cannot deactivate their own account.",
        "Ask another administrator.",
    ),
    entry(
        "conformance_failed",
        409,
        "The version fills a core slot and failed that slot's conformance pack, so it cannot be bound; the detail names the first failing check.",
        "Bind another version, or ask the publisher to fix the contract; the operator may override with a recorded reason.",
    ),
    entry(
        "conformance_not_applicable",
        409,
        "The version's slot has no conformance pack, so there is nothing to run or override.",
        "Nothing to do: versions outside the core slots are not judged.",
    ),
    entry(
        "conformance_pending",
        409,
        "The version fills a core slot and its conformance pack is still running (or has not run yet).",
        "Retry in a few seconds; the version record shows when the run ends.",
    ),
    entry(
        "consent_required",
        422,
        "Binding this uploaded module needs the tenant admin's consent to exactly the grants it asks for (tables, capabilities, permissions, events, limits), and none given covers them; the problem's `grants` member lists them.",
        "Read the grants (`GET /v1/modules/{name}/{version}`), then bind again with `\"accept\"` set to exactly those grants.",
    ),
    entry(
        "custom_field_exists",
        409,
        "The entity already has a custom field with this key.",
        "Pick another key, or change the existing field.",
    ),
    entry(
        "custom_field_in_use",
        409,
        "Rows hold values the change would no longer allow (the count is in the detail).",
        "Clear or change those values first; stored values are never rewritten.",
    ),
    entry(
        "database_unavailable",
        503,
        "The database did not answer in time.",
        "Retry later, with backoff.",
    ),
    entry(
        "destination_refused",
        422,
        "The webhook URL resolves to an address the server never calls (private, loopback or metadata).",
        "Use a public HTTPS endpoint.",
    ),
    entry(
        "email_taken",
        409,
        "A user of this tenant already has that e-mail address.",
        "Use another address, or change the existing user.",
    ),
    entry(
        "extension_bad_manifest",
        422,
        "The extension's `manifest()` trapped, is not `{name, version, points, budget?}`, names a point the host does not have, or asks a budget above the host's ceiling.",
        "Fix the manifest: a lower-case name, a semver version, and points from docs/EXTENSIONS.md.",
    ),
    entry(
        "extension_budget_over_ceiling",
        422,
        "The budget granted at upload (`?fuel=`, `?memory_mib=`) is zero or above the most this host grants one extension.",
        "Grant at most the ceiling named in the detail, or make the extension cheaper.",
    ),
    entry(
        "extension_not_of_world",
        422,
        "The component is not of the `extension` world of `wit/platform.wit` (or imports more than WASI).",
        "Build it against `world extension` and export `hook`.",
    ),
    entry(
        "extension_version_exists",
        409,
        "An extension of this name and version was uploaded with other bytes.",
        "Give the new build a new version.",
    ),
    entry(
        "idempotency_key_reused",
        422,
        "The Idempotency-Key was used before with a different request.",
        "Use a new key for a new request; repeat a request only with the same body.",
    ),
    entry(
        "import_columns_invalid",
        422,
        "The CSV file's header does not fit the import: a column is unknown, missing (`external_id`, `name`), filled twice, or the mapping names a header the file lacks.",
        "Rename the columns or pass `mapping` (file header to column; `\"\"` ignores one); `errors` names each.",
    ),
    entry(
        "import_file_unreadable",
        400,
        "The CSV file's header cannot be read (not UTF-8, or more than 200 columns).",
        "Save the file as UTF-8 CSV with one header row.",
    ),
    entry(
        "import_too_many_rows",
        413,
        "The CSV file has more rows than one import takes (100,000).",
        "Split the file and import the parts one after the other.",
    ),
    entry(
        "internal_error",
        500,
        "The server failed; the cause is logged with the request id.",
        "Retry; if it persists, report the X-Request-Id.",
    ),
    entry(
        "invalid_credentials",
        401,
        "Authentication failed (wrong tenant, e-mail or password).",
        "Check the credentials; repeated failures are throttled.",
    ),
    entry(
        "invalid_cursor",
        400,
        "The cursor is not one this API issued.",
        "Pass `next_cursor` from the previous page unchanged, or start without a cursor.",
    ),
    entry(
        "invalid_idempotency_key",
        400,
        "The Idempotency-Key header is empty, too long or not printable text.",
        "Send 1 to 255 printable ASCII characters, such as a UUID.",
    ),
    entry(
        "invalid_if_match",
        400,
        "The If-Match header is not an entity tag this API issues.",
        "Send the ETag of the last read unchanged.",
    ),
    entry(
        "invalid_invitation",
        422,
        "The publisher invitation token is unknown, used already, or revoked.",
        "Ask the publisher's owner for a new invitation.",
    ),
    entry(
        "invalid_invite",
        401,
        "The invitation is unknown, used or expired.",
        "Ask an administrator for a new invitation.",
    ),
    entry(
        "invalid_path_parameter",
        400,
        "A path parameter has the wrong form (for example an id that is not a UUID).",
        "Check the URL against the API reference.",
    ),
    entry(
        "invalid_query_parameter",
        400,
        "A query parameter has the wrong form or value; `detail` names it.",
        "Fix the parameter as `detail` says.",
    ),
    entry(
        "invalid_refresh_token",
        401,
        "The refresh token is unknown, expired or revoked.",
        "Log in again.",
    ),
    entry(
        "invalid_reset_token",
        401,
        "The password-reset token is unknown, used, expired or of a user no longer active.",
        "Ask for a new reset link (forgot password) or ask an admin to issue one.",
    ),
    entry(
        "invalid_text",
        400,
        "The text holds a character that cannot be stored (such as NUL).",
        "Remove the character and retry.",
    ),
    entry(
        "invalid_token",
        401,
        "The access token, API key or operator token is not valid (expired, revoked or malformed).",
        "Refresh the access token, or use a valid key.",
    ),
    entry(
        "invalid_url",
        400,
        "The URL is not an absolute HTTPS URL.",
        "Give an absolute https:// URL.",
    ),
    entry(
        "last_owner",
        409,
        "The change would leave the tenant without an owner.",
        "Give another user the owner role first.",
    ),
    entry(
        "login_throttled",
        429,
        "Too many failed logins for this account or address.",
        "Wait for the number of seconds in Retry-After.",
    ),
    entry(
        "mail_not_sent",
        502,
        "The SMTP server did not take the message, so nothing was issued.",
        "Try again; if it persists, the operator should check `--smtp-url`.",
    ),
    entry(
        "malformed_json",
        400,
        "The body is not valid JSON.",
        "Send a well-formed JSON document.",
    ),
    entry(
        "member_exists",
        409,
        "The publisher already has a member with this email.",
        "Use the existing member, or remove it first.",
    ),
    entry(
        "member_is_owner",
        409,
        "A publisher's owner cannot be removed.",
        "Remove another member, or ask the operator.",
    ),
    entry(
        "method_not_allowed",
        405,
        "The route exists but not for this method.",
        "Use one of the methods listed in the Allow header.",
    ),
    entry(
        "missing_token",
        401,
        "The request has no bearer credential.",
        "Send `Authorization: Bearer <token>`.",
    ),
    entry(
        "module_backend_unavailable",
        503,
        "The module's runtime could not take the call.",
        "Retry later.",
    ),
    entry(
        "module_bad_response",
        502,
        "The module answered something the host will not pass on (a forbidden header, a bad status).",
        "Report it to the module's publisher.",
    ),
    entry(
        "module_builtin",
        409,
        "Built-in modules are published by the server itself.",
        "Publish under another name.",
    ),
    entry(
        "module_busy",
        503,
        "The module has no capacity left for this tenant right now.",
        "Retry after the Retry-After delay.",
    ),
    entry(
        "module_collection_change_refused",
        422,
        "The upload changes a collection an earlier version declared in a way existing rows could not follow (a column dropped, renamed, retyped, made required, or a uniqueness added); upgrades may only add.",
        "Add a new nullable or defaulted column, index or collection instead, and migrate in the module.",
    ),
    entry(
        "module_compile_timeout",
        422,
        "The component took longer to compile than the server allows for an upload.",
        "Make the component smaller or simpler (very large functions compile slowly), then upload again.",
    ),
    entry(
        "module_grant_refused",
        422,
        "The manifest asks for a table a module may not touch: one the store does not have, or a platform table.",
        "Grant only module tables (the store's tables or the module's own collections).",
    ),
    entry(
        "module_host_call_limit",
        500,
        "The module made more host calls in one request than its limit.",
        "Narrow the request (smaller pages); report it to the module's publisher.",
    ),
    entry(
        "module_import_refused",
        422,
        "The component imports an interface uploads may not use (`wasi:filesystem`, `wasi:sockets`, `wasi:http`).",
        "Build without them (Python: `componentize-py --stub-wasi`; Rust: no `std::fs` or `std::net`).",
    ),
    entry(
        "module_invalid",
        422,
        "The upload starts as WebAssembly but does not parse as a component (cut short or corrupt).",
        "Upload the complete `.wasm` file your build produced.",
    ),
    entry(
        "module_limits_refused",
        422,
        "The manifest asks for more than the operator allows (deadline, memory, host calls, rows).",
        "Ask for at most the operator's maxima, named in the detail.",
    ),
    entry(
        "module_manifest_invalid",
        422,
        "The module's manifest was refused; `detail` names the field or route at fault.",
        "Fix the manifest (route syntax, schemas, events, schedules) and publish again.",
    ),
    entry(
        "module_memory_exceeded",
        507,
        "The module ran out of its memory limit.",
        "Narrow the request; report it to the module's publisher.",
    ),
    entry(
        "module_namespace_refused",
        422,
        "The module's name is not in the uploader's namespace (a publisher uploads `<namespace>/<module>`; the operator uploads bare names).",
        "Rename the module in its manifest.",
    ),
    entry(
        "module_not_component",
        422,
        "The upload is a core WebAssembly module, not a component.",
        "Build for `wasm32-wasip2` (or wrap it with `wasm-tools component new`).",
    ),
    entry(
        "module_not_granted",
        500,
        "The module touched a table or event its manifest does not grant.",
        "Report it to the module's publisher.",
    ),
    entry(
        "module_not_of_world",
        422,
        "The component does not fit the domain-module world (wrong imports or exports).",
        "Build against the platform's WIT package.",
    ),
    entry(
        "module_not_wasm",
        422,
        "The upload is not WebAssembly at all.",
        "Upload the `.wasm` component your build produced.",
    ),
    entry(
        "module_permission_outside_namespace",
        422,
        "A route asks for a permission outside the module's namespace (and not one the built-in of the same slot uses).",
        "Name permissions `<namespace>.<...>`, or reuse the slot's own.",
    ),
    entry(
        "module_response_too_large",
        502,
        "The module's answer is larger than the host passes on.",
        "Ask for less (smaller pages).",
    ),
    entry(
        "module_slot_reserved",
        422,
        "The module's slot is the first segment of one of the host's own `/v1` routes (`publisher`, `users`, `tenant`, ...): its routes would shadow the host's.",
        "Choose another slot in the module's manifest.",
    ),
    entry(
        "module_timeout",
        503,
        "The module did not answer within its deadline; nothing was committed.",
        "Retry later, or narrow the request.",
    ),
    entry(
        "module_trap",
        500,
        "The module crashed; its changes were rolled back.",
        "Report the X-Request-Id to the module's publisher.",
    ),
    entry(
        "module_wit_unsupported",
        422,
        "The component was built against a version of the `verofield:platform` WIT package this host does not run.",
        "Rebuild against a version the detail names as supported.",
    ),
    entry(
        "namespace_taken",
        409,
        "Another publisher owns this namespace.",
        "Choose another namespace.",
    ),
    entry(
        "not_found",
        404,
        "There is nothing here that the caller may see.",
        "Check the id and the caller's tenant.",
    ),
    entry(
        "nothing_to_roll_back",
        409,
        "The slot has no previous version to return to.",
        "Bind a version explicitly instead.",
    ),
    entry(
        "payload_too_large",
        413,
        "The body is larger than the server accepts.",
        "Send a smaller body.",
    ),
    entry(
        "permission_denied",
        403,
        "The caller lacks the permission the route needs; `detail` names it.",
        "Ask an administrator for a role that holds it.",
    ),
    entry(
        "person_required",
        403,
        "Only a signed-in person can do this, not an API key.",
        "Sign in with a password and use the access token.",
    ),
    entry(
        "precondition_failed",
        412,
        "If-Match does not match the current version: someone changed it since it was read.",
        "Read it again, re-apply the change, send the new ETag.",
    ),
    entry(
        "publisher_owner_required",
        403,
        "Only a publisher's owners manage its members.",
        "Ask an owner of the publisher.",
    ),
    entry(
        "quota_exceeded",
        429,
        "The tenant used its monthly quota of module calls.",
        "Retry after the Retry-After delay (the next month), or ask the operator to raise the quota.",
    ),
    entry(
        "refresh_token_reused",
        401,
        "A refresh token was used twice: its whole family is revoked as a precaution.",
        "Log in again.",
    ),
    entry(
        "request_timeout",
        503,
        "The request took longer than the server allows.",
        "Retry, or narrow the request.",
    ),
    entry(
        "role_escalation",
        403,
        "The change would grant permissions the caller does not hold.",
        "Ask someone who holds them.",
    ),
    entry(
        "role_in_use",
        409,
        "The role is still given to users.",
        "Take the role from its users first.",
    ),
    entry(
        "role_name_taken",
        409,
        "A role of this tenant already has that name.",
        "Choose another name.",
    ),
    entry(
        "server_busy",
        503,
        "Too many password checks are running right now.",
        "Retry after the Retry-After delay.",
    ),
    entry(
        "shadow_running",
        409,
        "The slot already has a shadow run; a slot runs one candidate at a time.",
        "Read its report, then promote or stop it (`POST` or `DELETE /v1/tenant/modules/{slot}/shadow...`) before starting another.",
    ),
    entry(
        "shadow_side_effects",
        422,
        "The candidate may send HTTP requests or take payments, which a shadow run cannot roll back, so it cannot be shadowed.",
        "Try the version in a test tenant instead, or bind it directly.",
    ),
    entry(
        "slug_taken",
        409,
        "A tenant already has that slug.",
        "Choose another slug.",
    ),
    entry(
        "stripe_account_taken",
        409,
        "That Stripe account is connected to another tenant.",
        "Connect a different account.",
    ),
    entry(
        "stripe_event_invalid",
        400,
        "The Stripe event body could not be read.",
        "Only Stripe calls this route.",
    ),
    entry(
        "stripe_signature_invalid",
        400,
        "The Stripe-Signature header does not verify.",
        "Only Stripe calls this route.",
    ),
    entry(
        "stripe_signature_stale",
        400,
        "The Stripe-Signature timestamp is too old.",
        "Only Stripe calls this route.",
    ),
    entry(
        "tenant_busy",
        429,
        "The tenant has as many requests running as it may.",
        "Retry after the Retry-After delay.",
    ),
    entry(
        "tenant_suspended",
        403,
        "The tenant is suspended.",
        "Contact the operator.",
    ),
    entry(
        "unsupported_media_type",
        415,
        "The body's Content-Type is not one the route accepts.",
        "Send `application/json` (or what the route documents).",
    ),
    entry(
        "user_not_active",
        409,
        "A password reset is only for an active user.",
        "Issue an invited user a new invitation; reactivate a deactivated user first.",
    ),
    entry(
        "user_not_invited",
        409,
        "The user has already accepted their invitation.",
        "Issue a password reset instead.",
    ),
    entry(
        "validation_failed",
        422,
        "Some fields are invalid; `errors` lists each with a message.",
        "Fix each listed field and retry.",
    ),
    entry(
        "version_exists",
        409,
        "That module name and version is already published with other content.",
        "Publish a new version number.",
    ),
    entry(
        "wrong_current_password",
        403,
        "The current password given with a password change is not right.",
        "Send the current password; repeated failures are throttled like logins.",
    ),
];

/// The catalog's entry for a code.
pub fn find(code: &str) -> Option<&'static ProblemCode> {
    CODES.iter().find(|entry| entry.code == code)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The calls that name a problem code as a string literal, with their argument lists.
    const CALLS: [&str; 9] = [
        "problem(",
        "refused(",
        "bad_request(",
        "unauthorized(",
        "forbidden(",
        "conflict(",
        "too_many_requests(",
        "response(",
        "code: ",
    ];

    /// Every literal code in the host's sources, found without a regex: after each call, skip
    /// whitespace and an optional `StatusCode::X,`, then read a `"lower_snake"` literal.
    fn codes_in(source: &str) -> Vec<String> {
        let mut codes = Vec::new();
        for call in CALLS {
            for (at, _) in source.match_indices(call) {
                let mut rest = source[at + call.len()..].trim_start();
                if let Some(after) = rest.strip_prefix("StatusCode::") {
                    rest = after.split_once(',').map_or("", |(_, r)| r).trim_start();
                }
                if let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
                    let code = literal.0;
                    if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        codes.push(code.to_owned());
                    }
                }
            }
        }
        codes
    }

    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                // Test modules make up codes of their own.
                let source = source.split("#[cfg(test)]").next().unwrap_or_default();
                for code in codes_in(source) {
                    found.push((code, path.display().to_string()));
                }
            }
        }
    }

    #[test]
    fn every_code_the_host_answers_is_in_the_catalog() {
        let mut found = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.len() > 50,
            "the scan found only {} codes",
            found.len()
        );
        let missing: Vec<_> = found
            .iter()
            .filter(|(code, _)| code != "default" && find(code).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "codes missing from the catalog: {missing:?}"
        );
    }

    #[test]
    fn the_catalog_is_sorted_unique_and_statuses_are_errors() {
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} / {}",
                pair[0].code,
                pair[1].code
            );
        }
        assert!(CODES.iter().all(|entry| (400..600).contains(&entry.status)));
        assert_eq!(find("not_found").map(|entry| entry.status), Some(404));
    }
}
