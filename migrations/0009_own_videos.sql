-- A person's own video for a room ("New room" → a video file or link): not in the catalog, seen
-- only by that room's members through signed URLs, and deleted with the room's chat when
-- retention purges the room.
ALTER TABLE films ADD COLUMN personal INTEGER NOT NULL DEFAULT 0;

-- The most an import of this film may download (0: the instance's --max-upload-mb): a personal
-- video's import stops at what is left of its owner's quota.
ALTER TABLE film_media ADD COLUMN byte_limit BIGINT NOT NULL DEFAULT 0;

CREATE INDEX rooms_film ON rooms (film_id);
CREATE INDEX film_media_added_by ON film_media (added_by);
