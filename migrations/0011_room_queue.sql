-- Choosing together: a room's queue ("Up next"), votes on it, votes to skip the film on now, the
-- countdown to the next film, and the films the room has played ("Watched here").
--
-- `rooms.film_id` is the film on now. `choosing`: none is on yet ("We'll choose together"; the
-- room's film is then only its first suggestion, in the queue). `next_entry` / `next_at`: the film
-- just ended and this queue entry starts at this server time, unless someone cancels.
ALTER TABLE rooms ADD COLUMN choosing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN next_entry TEXT;
ALTER TABLE rooms ADD COLUMN next_at BIGINT;
CREATE INDEX rooms_next_at ON rooms (next_at);

CREATE TABLE room_queue (
    room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    id       TEXT NOT NULL,
    film_id  TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    added_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, id)
);
-- A film is in a room's queue once.
CREATE UNIQUE INDEX room_queue_film ON room_queue (room_id, film_id);
CREATE INDEX room_queue_film_id ON room_queue (film_id);

-- One vote per person per entry.
CREATE TABLE room_votes (
    room_id  TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, entry_id, user_id),
    FOREIGN KEY (room_id, entry_id) REFERENCES room_queue (room_id, id) ON DELETE CASCADE
);

-- Who wants to skip the film on now (cleared whenever the film changes).
CREATE TABLE room_skips (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, user_id)
);

-- Every film a room has put on, at the event (`seq`) that did it; the room's first film at 0.
CREATE TABLE room_plays (
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE INDEX room_plays_film ON room_plays (film_id);
INSERT INTO room_plays (room_id, seq, film_id, started_at)
    SELECT id, 0, film_id, COALESCE(starts_at, created_at) FROM rooms;
