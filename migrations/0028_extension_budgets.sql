-- Per-extension budgets (issue 24, item 1): the fuel and memory one run of an extension may
-- use, set at upload from what its manifest asks, capped by what the operator grants
-- (`POST /v1/operator/extensions?fuel=&memory_mib=`, host/src/runtime/extension.rs). A Rust
-- extension keeps the host's default (50 M fuel, 16 MiB); a Python one needs more (CPython:
-- docs/EXTENSIONS.md). Extensions uploaded before this migration keep the default.
ALTER TABLE extension_components
    ADD COLUMN fuel bigint NOT NULL DEFAULT 50000000 CHECK (fuel > 0),
    ADD COLUMN memory_bytes bigint NOT NULL DEFAULT 16777216 CHECK (memory_bytes > 0);
-- A tenant's call reads the budgets of its installed extensions with its own role.
GRANT SELECT (fuel, memory_bytes) ON extension_components TO verofield_app;
