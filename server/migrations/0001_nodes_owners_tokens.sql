-- casweb-server schema, version 1: node metadata, ownership, and the token log.

-- A node is stored once its bytes are in the object store (written first) and this row commits.
CREATE TABLE nodes (
    key bytea PRIMARY KEY CHECK (length(key) = 16),
    size integer NOT NULL CHECK (size >= 0),
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- A realm owns a node once it put or claimed it. Never deleted. Looked up by key first: a
-- batch's keys are few, a realm's nodes many.
CREATE TABLE owners (
    key bytea NOT NULL REFERENCES nodes (key),
    realm text NOT NULL,
    PRIMARY KEY (key, realm)
);

-- The token log: one line of the token file format per row, in id order (appends take an
-- exclusive lock, so ids commit in order and a reader never skips one).
CREATE TABLE token_lines (
    id bigserial PRIMARY KEY,
    line text NOT NULL,
    appended_at timestamptz NOT NULL DEFAULT now()
);
