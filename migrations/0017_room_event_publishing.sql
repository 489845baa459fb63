-- Room activity on its way to NATS JetStream (--events-nats-url): how far each room's log has
-- been published. A room's events are numbered and committed in order (the sequence is taken in
-- the event's own transaction), so "everything up to `seq` is in the stream" is one number per
-- room and the hot `room_events` table is left as it is.
CREATE TABLE room_events_published (
    room_id TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL
);
