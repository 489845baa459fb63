-- Friends, the "Watch together" match, room records with their invitations, and notifications.

-- Display names folded in Rust (Unicode lowercase, «ё» → «е») for prefix search; filled for
-- existing accounts at start-up. `hide_watchlist`: keep my list out of friends' matches.
-- `last_seen_at`: presence ("online" = seen in the last few minutes).
ALTER TABLE users ADD COLUMN name_fold TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN hide_watchlist INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_name_fold ON users (name_fold);

-- A pending request; it disappears when accepted (becoming a friendship), declined or cancelled.
CREATE TABLE friend_requests (
    from_user  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (from_user, to_user)
);
CREATE INDEX friend_requests_to ON friend_requests (to_user, created_at);

-- A friendship is stored in both directions, so "my friends" is one primary-key range.
CREATE TABLE friendships (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since     BIGINT NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

-- One personal invite code per user (`/f/<code>`); regenerating replaces it, revoking deletes it.
CREATE TABLE friend_invites (
    code       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

-- A room for one film. The rooms issue adds privacy, passwords, schedules and the lifecycle.
CREATE TABLE rooms (
    id               TEXT PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,   -- the short link: /r/<code>
    film_id          TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    owner_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    max_participants INTEGER NOT NULL DEFAULT 30,
    created_at       BIGINT NOT NULL,
    ended_at         BIGINT
);
CREATE INDEX rooms_owner ON rooms (owner_id, created_at);

-- Who may enter (invited) and who has (joined_at).
CREATE TABLE room_members (
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    invited_at BIGINT NOT NULL,
    joined_at  BIGINT,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id, invited_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,                -- 'room_invite' | 'friend_accepted'
    actor_id   TEXT REFERENCES users (id) ON DELETE CASCADE,
    room_id    TEXT REFERENCES rooms (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
