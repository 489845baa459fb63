-- The film catalog and each user's "Want to watch" list.

CREATE TABLE films (
    id             TEXT PRIMARY KEY,       -- a readable slug, e.g. 'nosferatu-1922'
    title_en       TEXT NOT NULL,
    title_ru       TEXT NOT NULL,
    original_title TEXT NOT NULL,
    -- All titles lowercased in Rust (Unicode-aware: SQLite's lower() only folds ASCII),
    -- so `LIKE` finds 'метрополис' in 'Метрополис' on both databases.
    search_text    TEXT NOT NULL,
    year           INTEGER NOT NULL,
    genres         TEXT NOT NULL,          -- ',drama,horror,' so that LIKE '%,drama,%' matches one
    countries      TEXT NOT NULL,          -- 'DE,US'
    director       TEXT NOT NULL,
    description_en TEXT NOT NULL,
    description_ru TEXT NOT NULL,
    duration_secs  INTEGER NOT NULL,
    poster_color   TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX films_year ON films (year);
CREATE INDEX films_title_en ON films (title_en);
CREATE INDEX films_title_ru ON films (title_ru);

-- Playable media: a film with no rows here is listed but cannot be played.
CREATE TABLE renditions (
    id        TEXT PRIMARY KEY,
    film_id   TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    url       TEXT NOT NULL,
    container TEXT NOT NULL,               -- 'mp4' | 'webm'
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL
);
CREATE INDEX renditions_film ON renditions (film_id);

CREATE TABLE watchlist (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    film_id  TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, film_id)
);
-- The friend match (a later issue) reads the list by film.
CREATE INDEX watchlist_film ON watchlist (film_id, user_id);
CREATE INDEX watchlist_user_added ON watchlist (user_id, added_at);
