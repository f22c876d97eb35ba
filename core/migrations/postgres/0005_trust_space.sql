-- The MSSanté trust space whitelist: the mail domains that may be written to (besides the
-- instance's own). Replaced as a whole by each import.
CREATE TABLE trust_domains (
    domain  TEXT PRIMARY KEY
);

CREATE TABLE trust_space_imports (
    id            BIGSERIAL PRIMARY KEY,
    imported_ms   BIGINT NOT NULL,
    domain_count  BIGINT NOT NULL
);
