-- The media library: admins, films' own videos, the transcoding queue, subtitles.

-- The first account registered on an empty instance is its admin; `kino admin grant|revoke`
-- changes it from a shell.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;

-- A film added by an admin is listed once its first MP4 is ready ("published"); until then only
-- the library shows it. The demo films are published.
ALTER TABLE films ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
-- The poster image's URL path when the film has one of its own (chosen frame or uploaded);
-- otherwise the generated `/posters/<id>.svg` is used.
ALTER TABLE films ADD COLUMN poster_url TEXT;

-- A film's own video: where its files live (a directory under --media-dir) and what the source
-- is. One row per film that was uploaded or imported.
CREATE TABLE film_media (
    film_id     TEXT PRIMARY KEY REFERENCES films (id) ON DELETE CASCADE,
    dir         TEXT NOT NULL,             -- relative to --media-dir: films/<film id>
    source_name TEXT NOT NULL,             -- the uploaded file's name or the URL's last segment
    source_url  TEXT,                      -- for imports
    bytes       BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    width       INTEGER NOT NULL DEFAULT 0,
    height      INTEGER NOT NULL DEFAULT 0,
    has_audio   INTEGER NOT NULL DEFAULT 0,
    sprite_url  TEXT,                      -- the seek previews' WebVTT index, when made
    added_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL
);

-- How big each rendition file is (the library's disk use), and its file (NULL for the demo
-- clips, which ship in public/media).
ALTER TABLE renditions ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE renditions ADD COLUMN file TEXT;

-- The transcoding work queue. One job per step: 'import' (download a URL), 'probe' (inspect the
-- source, plan the rest), 'rendition' (height × container), 'poster', 'sprite', 'subtitles'
-- (extract text tracks). A worker claims a job by setting state 'running' and a lease, which a
-- heartbeat renews; a job whose lease ran out (its worker died) is claimed again.
CREATE TABLE media_jobs (
    id          TEXT PRIMARY KEY,
    film_id     TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    height      INTEGER NOT NULL DEFAULT 0,
    container   TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT 'queued',   -- queued | running | done | failed | cancelled
    priority    INTEGER NOT NULL,                 -- lower runs first
    progress    INTEGER NOT NULL DEFAULT 0,       -- per mille
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_after   BIGINT NOT NULL,                  -- backoff after a failed attempt
    lease_until BIGINT NOT NULL DEFAULT 0,
    worker      TEXT,
    error       TEXT,                             -- a sentence, then ffmpeg's last lines
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (film_id, kind, height, container)
);
CREATE INDEX media_jobs_claim ON media_jobs (state, priority, run_after);
CREATE INDEX media_jobs_film ON media_jobs (film_id);

-- Subtitles per film and language (uploaded .srt/.vtt or extracted from the source), as WebVTT.
CREATE TABLE subtitles (
    film_id    TEXT NOT NULL REFERENCES films (id) ON DELETE CASCADE,
    lang       TEXT NOT NULL,                     -- 'ru', 'en', … (or 'und')
    url        TEXT NOT NULL,
    cues       INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (film_id, lang)
);

-- Settings the instance makes once and every node shares (the key that signs private media URLs).
CREATE TABLE instance_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
