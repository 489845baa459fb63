-- Several kino nodes on one PostgreSQL database (unused on SQLite, where one node serves).
-- `nodes`: each running process (a random id per start) and when it last said it is alive; a
-- node silent for longer than the timeout is gone, and whichever node notices first removes it.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
-- Who is connected to a room on which node: each node writes its own rows whenever its sockets
-- change, so every node can show everyone in the room and knows, before writing a Join or a
-- Leave, whether the person is still (or already) in the room through another node. `sockets`
-- 0 is a person whose last socket here closed moments ago (a reload may land on another node).
CREATE TABLE room_presence (
    room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    node      TEXT NOT NULL,
    name      TEXT NOT NULL,
    sockets   BIGINT NOT NULL,
    buffering INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id, node)
);
CREATE INDEX room_presence_node ON room_presence (node);
