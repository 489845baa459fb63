-- Where each room's call lives: a call's media all flows through one media server, so a room's
-- call is on one node at a time. `node` is that kino process (a random id per start),
-- `media_addr` the UDP address its media server advertises; `seen_at` is refreshed every few
-- seconds while the call goes on, so a row a stopped node left behind is recognisably stale.
-- With several nodes, every participant of the room is sent to this node's media server.
CREATE TABLE room_calls (
    room_id    TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    node       TEXT NOT NULL,
    media_addr TEXT NOT NULL,
    people     BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX room_calls_node ON room_calls (node);
