-- What users say about films (likes, reviews) and where they stopped watching.

-- One reaction per user per film: the primary key makes concurrent clicks collapse into one row.
CREATE TABLE reactions (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    value      INTEGER NOT NULL,          -- 1 like, -1 dislike
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, film_id)
);
-- Counting a film's likes and dislikes reads this index only.
CREATE INDEX reactions_film_value ON reactions (film_id, value);

CREATE TABLE reviews (
    id         TEXT PRIMARY KEY,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT NOT NULL,             -- plain text, 1..5000 characters, rendered as text
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX reviews_film_created ON reviews (film_id, created_at);

-- Where a signed-in user stopped in each film. `watched_at` is set once the end is reached or
-- 90 % is played, and stays set when the film is watched again.
CREATE TABLE watch_progress (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    film_id     TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    position_ms BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,          -- of the media played (0 while unknown)
    updated_at  BIGINT NOT NULL,
    watched_at  BIGINT,
    PRIMARY KEY (user_id, film_id)
);
CREATE INDEX watch_progress_user_updated ON watch_progress (user_id, updated_at);
CREATE INDEX watch_progress_user_watched ON watch_progress (user_id, watched_at);

-- Every player event, of users and of guests (an anonymous id from a cookie), for analytics.
CREATE TABLE player_events (
    id          TEXT PRIMARY KEY,
    film_id     TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    anon_id     TEXT,
    kind        TEXT NOT NULL,            -- open | progress | seek | pause | quality | end
    position_ms BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    quality     TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX player_events_film_created ON player_events (film_id, created_at);
