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
