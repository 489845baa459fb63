-- Each day's active people, counted once when the day is rolled up, so that the dashboard reads
-- them instead of counting distinct people over a month of `analytics_active` on every visit:
-- `active` that day, `active_week` in the 7 days ending with it, `active_month` in the 30 days
-- ending with it (MAU). The job recomputes days in order, so a day's windows see the days before.
ALTER TABLE analytics_days ADD COLUMN active BIGINT NOT NULL DEFAULT 0;
ALTER TABLE analytics_days ADD COLUMN active_week BIGINT NOT NULL DEFAULT 0;
ALTER TABLE analytics_days ADD COLUMN active_month BIGINT NOT NULL DEFAULT 0;
UPDATE analytics_days SET
    active = (SELECT COUNT(*) FROM analytics_active a WHERE a.day = analytics_days.day),
    active_week = (SELECT COUNT(DISTINCT a.actor) FROM analytics_active a
                   WHERE a.day >= analytics_days.day - 6 AND a.day <= analytics_days.day),
    active_month = (SELECT COUNT(DISTINCT a.actor) FROM analytics_active a
                    WHERE a.day >= analytics_days.day - 29 AND a.day <= analytics_days.day);

-- Each film's day, summed from `analytics_plays` when the day is rolled up: the dashboard's views
-- per film and its headline then read a row per film and day instead of one per viewer.
CREATE TABLE analytics_film_days (
    day         BIGINT NOT NULL,
    film_id     TEXT NOT NULL,
    views       BIGINT NOT NULL,
    room_views  BIGINT NOT NULL,       -- views with at least half of the play in rooms
    completions BIGINT NOT NULL,
    watched_ms  BIGINT NOT NULL,
    length_ms   BIGINT NOT NULL,       -- the film's length as known (0: unknown)
    PRIMARY KEY (day, film_id)
);
INSERT INTO analytics_film_days (day, film_id, views, room_views, completions, watched_ms, length_ms)
SELECT day, film_id,
       CAST(SUM(viewed) AS BIGINT),
       CAST(SUM(CASE WHEN viewed = 1 AND room_ms * 2 >= played_ms THEN 1 ELSE 0 END) AS BIGINT),
       CAST(SUM(completed) AS BIGINT),
       CAST(SUM(played_ms) AS BIGINT),
       MAX(length_ms)
FROM analytics_plays GROUP BY day, film_id;
