-- Usage metering, finished (issue 24 item 4): the CPU time of module calls, and the bytes a
-- tenant's rows take in each module's collections.
--
-- `cpu_us` adds up like the other counters (host/src/runtime/cpu.rs measures it per call).
-- `storage_bytes` is a gauge, not a counter: a flush that wrote a module's figures samples
-- the tenant's rows in that module's collections (`sum(pg_column_size(row))`) and the upsert
-- sets it to the latest sample. NULL: no sample in that hour (the module has no collections,
-- or nothing of it was flushed then), so the last earlier sample still stands.
ALTER TABLE module_usage
    ADD COLUMN cpu_us bigint NOT NULL DEFAULT 0,
    ADD COLUMN storage_bytes bigint;
