-- The directory. Hygie's own accounts are searched in `accounts` (keys below); remote
-- correspondents come from the national extract, one table per import (`directory_g<ID>`,
-- created by the import, indexed once loaded), so that an import never blocks or mixes with
-- searches: they read the table of `directory_state.current_import` until the switch.

CREATE TABLE directory_imports (
    id           BIGSERIAL PRIMARY KEY,
    started_ms   BIGINT NOT NULL,
    finished_ms  BIGINT,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed', 'retired')),
    lines        BIGINT NOT NULL DEFAULT 0,
    entries      BIGINT NOT NULL DEFAULT 0,
    malformed    BIGINT NOT NULL DEFAULT 0
);

-- One row: the import searches read, and the import lock (one import at a time, across instances).
CREATE TABLE directory_state (
    id                  BIGINT PRIMARY KEY CHECK (id = 1),
    current_import      BIGINT REFERENCES directory_imports (id),
    importing_since_ms  BIGINT
);
INSERT INTO directory_state (id) VALUES (1);

-- Professions and specialties of an import, with their counts, for the search filters.
CREATE TABLE directory_facets (
    import_id  BIGINT NOT NULL REFERENCES directory_imports (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('profession', 'specialty')),
    label      TEXT    NOT NULL,
    entries    BIGINT NOT NULL,
    PRIMARY KEY (import_id, kind, label)
);

-- Search keys of the accounts: lower-case ASCII words without accents (core::directory::key).
ALTER TABLE accounts ADD COLUMN name_key TEXT COLLATE "C";
ALTER TABLE accounts ADD COLUMN rev_key TEXT COLLATE "C";
ALTER TABLE accounts ADD COLUMN profession_key TEXT COLLATE "C";
ALTER TABLE accounts ADD COLUMN specialty_key TEXT COLLATE "C";
ALTER TABLE accounts ADD COLUMN place_key TEXT COLLATE "C";
CREATE INDEX accounts_name_key ON accounts (name_key);
CREATE INDEX accounts_rev_key ON accounts (rev_key);
