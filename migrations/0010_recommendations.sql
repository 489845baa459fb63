-- Recommendations (issue 21): what people asked not to be recommended, each film's neighbours
-- from the last model build, and the one row the nodes claim to build the model once.

-- "Not interested": never recommend this film to this person (restored from the profile).
CREATE TABLE recs_excluded (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, film_id)
);

-- Row `film_id` of the model: the films people who like it also like, with EASE's weight
-- (item-kNN's, scaled, for the long tail), as text: a `<film id> <weight>` line each, largest
-- first (a person's list reads one row per film of theirs instead of fifty; a deleted
-- neighbour is dropped when its card is not found). Each build writes a new generation in
-- short transactions (a long one would hold SQLite's one writer, and the rooms' chat, for
-- seconds), then makes it current in `recs_model` and deletes the old one.
CREATE TABLE film_neighbours (
    generation BIGINT NOT NULL,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    neighbours TEXT NOT NULL,
    PRIMARY KEY (generation, film_id)
);

-- What is popular this week (likes, "Want to watch" and watched films of the last 7 days;
-- all-time likes break ties), per generation, for guests and people with too few signals.
CREATE TABLE recs_popular (
    generation BIGINT NOT NULL,
    rank       BIGINT NOT NULL,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    PRIMARY KEY (generation, rank)
);

-- The model job's one row: a node claims it (`claimed_until`, a lease) so several nodes build
-- once per interval; the last build's figures for the log and the admin.
CREATE TABLE recs_model (
    id            INTEGER PRIMARY KEY,
    generation    BIGINT NOT NULL DEFAULT 0,
    built_at      BIGINT,
    claimed_by    TEXT,
    claimed_until BIGINT,
    method        TEXT,
    films         BIGINT NOT NULL DEFAULT 0,
    people        BIGINT NOT NULL DEFAULT 0,
    build_ms      BIGINT NOT NULL DEFAULT 0
);
INSERT INTO recs_model (id) VALUES (1);
