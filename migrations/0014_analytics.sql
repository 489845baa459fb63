-- Analytics: raw events that no other table keeps, and per-day rollups the dashboard reads.
-- A day is a UTC day: `created_at / 86400000`. Raw events (these and `player_events`) are kept
-- `--analytics-retention-days`; the rollups forever.

-- Page views, sign-ups and sign-ins, appended in batches by each node. `actor`: 'u:<user id>'
-- for a signed-in person, 'a:<anonymous id>' for a guest (the `kino_anon` cookie). The id lets a
-- consumer downstream (NATS → ClickHouse) drop a duplicate.
CREATE TABLE analytics_events (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,          -- page_view | sign_up | sign_in
    actor      TEXT NOT NULL,
    page       TEXT,                   -- the route of a page view: '/films/:id'
    created_at BIGINT NOT NULL
);
CREATE INDEX analytics_events_created ON analytics_events (created_at);

-- Who was active on a day: loaded a page or played at least a second of video.
CREATE TABLE analytics_active (
    day       BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    PRIMARY KEY (day, actor)
);

-- What each viewer played of each film on a day (seeks excluded), alone and in rooms.
-- `viewed`: the day's play reached the view threshold (2 minutes, or half of a shorter film).
CREATE TABLE analytics_plays (
    day        BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    film_id    TEXT NOT NULL,
    played_ms  BIGINT NOT NULL,
    room_ms    BIGINT NOT NULL,        -- the part of played_ms played in rooms
    length_ms  BIGINT NOT NULL,        -- the film's length as known that day (0: unknown)
    viewed     INTEGER NOT NULL,
    completed  INTEGER NOT NULL,       -- reached the end or 90 %
    PRIMARY KEY (day, actor, film_id)
);
CREATE INDEX analytics_plays_film ON analytics_plays (film_id, day);

-- Page views per route and day.
CREATE TABLE analytics_pages (
    day   BIGINT NOT NULL,
    page  TEXT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (day, page)
);

-- Each room's day: who came, what was played there, how long it was in use, what was said.
CREATE TABLE analytics_rooms (
    day           BIGINT NOT NULL,
    room_id       TEXT NOT NULL,
    people        BIGINT NOT NULL,
    played_ms     BIGINT NOT NULL,     -- summed over the people present
    span_ms       BIGINT NOT NULL,     -- first to last event of the day
    chat_messages BIGINT NOT NULL,
    PRIMARY KEY (day, room_id)
);

-- The site's day.
CREATE TABLE analytics_days (
    day           BIGINT PRIMARY KEY,
    page_views    BIGINT NOT NULL,
    sign_ins      BIGINT NOT NULL,
    new_users     BIGINT NOT NULL,
    rooms_created BIGINT NOT NULL,
    chat_messages BIGINT NOT NULL
);

-- Accounts left out of every figure (say, the admin's own testing).
CREATE TABLE analytics_ignored (
    user_id  TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL
);

-- The rollup job: one row, claimed with a lease so that one node of several runs it.
-- `dirty_from`: the first day to recompute besides today and yesterday (after the ignored list
-- changed, or on the first run: NULL = from the oldest raw event).
CREATE TABLE analytics_job (
    id            INTEGER PRIMARY KEY,
    claimed_by    TEXT,
    claimed_until BIGINT,
    rolled_at     BIGINT,
    dirty_from    BIGINT
);
INSERT INTO analytics_job (id) VALUES (1);
