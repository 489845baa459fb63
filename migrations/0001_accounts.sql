-- Accounts and sessions. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Ids are UUID text, times are BIGINT milliseconds since the Unix epoch, flags are INTEGER 0/1.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,  -- stored lowercase: unique case-insensitively
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- tower-sessions records (JSON text), one row per browser session.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
