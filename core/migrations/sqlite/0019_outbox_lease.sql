-- A claimed outbox row names the worker pass that holds it (lease_owner) until locked_until_ms,
-- the lease's end: only that holder, while the lease lasts, may record the row sent, failed or
-- due again. A worker whose lease ran out (it stalled, another instance took the row) records
-- nothing.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
