-- A sign-up's or sign-in's `alias`: the guest ('a:<anonymous id>') the person was until then, so
-- that what they did as a guest and as themselves counts as one person.
ALTER TABLE analytics_events ADD COLUMN alias TEXT;
CREATE INDEX analytics_events_alias ON analytics_events (created_at) WHERE alias IS NOT NULL;

-- Raw analytics events on their way to NATS JetStream (--events-nats-url): `published_at` is set
-- once the stream has acknowledged the event, so a restart publishes what was left (at least
-- once; the event's id lets the stream and any consumer drop a repeat). One node publishes at a
-- time: the claim is the second row of `analytics_job`.
ALTER TABLE analytics_events ADD COLUMN published_at BIGINT;
ALTER TABLE player_events ADD COLUMN published_at BIGINT;
CREATE INDEX analytics_events_unpublished ON analytics_events (created_at) WHERE published_at IS NULL;
CREATE INDEX player_events_unpublished ON player_events (created_at) WHERE published_at IS NULL;
INSERT INTO analytics_job (id) VALUES (2);
