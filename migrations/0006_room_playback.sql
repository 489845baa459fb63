-- The room's playback state as the room channel orders it (DESIGN.md): at server time `anchor_ms`
-- the film was at `position_ms` and, unless paused, moves on at `rate`. A room starts paused at 0.
ALTER TABLE rooms ADD COLUMN paused INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rooms ADD COLUMN position_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN anchor_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN rate DOUBLE PRECISION NOT NULL DEFAULT 1;
