-- Attempt budgets (app/src/ratelimit.rs): how many guarded attempts (logins, room passwords,
-- registrations) a key has spent in its current window. In the database, so a limit holds across
-- every node that shares it, and taken with one atomic upsert, so parallel requests cannot all
-- pass a check before any of them is counted.
CREATE TABLE attempt_budgets (
    key TEXT PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    spent BIGINT NOT NULL
);
CREATE INDEX attempt_budgets_window ON attempt_budgets (window_started_at);

-- Sessions remember the user's epoch when they signed in; raising it ("Sign out other devices",
-- a password change) ends every session signed in before.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
