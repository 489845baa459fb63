-- Rooms become private or public, scheduled, owner-controlled and finite; room events give every
-- change (chat, control, joins) its place in the room's sequence.

-- `is_private`: only members see anything. A private room always has an `access_key` (the secret a
-- shared link carries after `#k=`) and may also have a password (argon2id, `password_hash`).
ALTER TABLE rooms ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN password_hash TEXT;
ALTER TABLE rooms ADD COLUMN access_key TEXT;
-- A scheduled start (NULL: the room is live at once) and when its invitees were told it began.
ALTER TABLE rooms ADD COLUMN starts_at BIGINT;
ALTER TABLE rooms ADD COLUMN start_notified_at BIGINT;
-- Owner only controls playback when set.
ALTER TABLE rooms ADD COLUMN controls_locked INTEGER NOT NULL DEFAULT 0;
-- The lifecycle: when the film reached its end, when someone was last connected (the room channel
-- keeps both), and when retention deleted the room's chat and events.
ALTER TABLE rooms ADD COLUMN finished_at BIGINT;
ALTER TABLE rooms ADD COLUMN last_active_at BIGINT;
ALTER TABLE rooms ADD COLUMN purged_at BIGINT;
-- The room's sequence: the number of the last event written.
ALTER TABLE rooms ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rooms_live ON rooms (ended_at, is_private, created_at);

-- A removed participant may not come back through the link.
ALTER TABLE room_members ADD COLUMN removed_at BIGINT;

-- Everything that happens in a room, in order: joins, leaves, renames, the owner's settings and (with
-- the room channel) playback commands, chat and reactions. `client_id` recognises a retried send.
CREATE TABLE room_events (
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    client_id  TEXT,
    body       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE UNIQUE INDEX room_events_client ON room_events (room_id, user_id, client_id);
