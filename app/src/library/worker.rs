//! The transcoding workers: each claims a job from the queue, does it (ffmpeg as a child
//! process, at low priority), and records how it ended. A heartbeat renews the claim and writes
//! the progress while it runs; when the job is cancelled (or deleted with its film) the
//! heartbeat finds out and the work is dropped, which kills ffmpeg.
//!
//! Outputs are written to `<job id>.part…` in the film's directory, checked, then renamed to a
//! new versioned name: nothing half-made is ever served, and whatever a crash leaves behind is
//! recognisable and swept at start (and hourly) once its job is no longer running.

use super::domain::{Container, JobKind};
use super::queue::{self, Claimed, Outcome};
use super::ssr::{media_url, save_subtitles, version_tag, Library};
use crate::config::{AppConfig, MediaConfig};
use crate::db::Db;
use kino_media::ladder::{self, Vp9Speed};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a running job says it is alive (and how fresh the page's progress is).
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How often an idle worker looks for jobs other nodes queued (this node's wake it at once).
const IDLE_POLL: Duration = Duration::from_secs(2);

/// Starts `count` workers on this node (and the sweeper of temporary files); abort the
/// returned tasks to stop them (a job they were doing is taken again when its lease ends).
pub fn spawn(
    db: Db,
    library: Arc<Library>,
    config: Arc<AppConfig>,
    count: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if count == 0 {
        return tasks;
    }
    let node = uuid::Uuid::new_v4().simple().to_string();
    {
        let (db, library) = (db.clone(), library.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                sweep(&db, &library).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }));
    }
    for n in 0..count {
        let worker = Worker {
            name: format!("{}-{n}", &node[..8]),
            db: db.clone(),
            library: library.clone(),
            media: config.media.clone(),
        };
        tasks.push(tokio::spawn(worker.run_forever()));
    }
    tasks
}

struct Worker {
    name: String,
    db: Db,
    library: Arc<Library>,
    media: MediaConfig,
}

impl Worker {
    async fn run_forever(self) {
        tracing::info!(worker = %self.name, "transcoding worker started");
        loop {
            if let Some(why) = self.disk_is_short() {
                self.set_waiting(Some(why));
                self.idle().await;
                continue;
            }
            self.set_waiting(None);
            match queue::claim(&self.db, &self.name).await {
                Ok(Some(job)) => self.run(job).await,
                Ok(None) => self.idle().await,
                Err(e) => {
                    tracing::error!(worker = %self.name, error = %e, "cannot claim a job");
                    self.idle().await;
                }
            }
        }
    }

    async fn idle(&self) {
        tokio::select! {
            _ = self.library.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }

    /// Why new jobs must wait for disk space, if they must.
    fn disk_is_short(&self) -> Option<String> {
        let (free, _) = self.library.disk_space().ok()?;
        (free < self.library.min_free_bytes).then(|| {
            format!(
                "the disk has {} MB free; jobs wait until it has {} MB (--min-free-disk-mb)",
                free / 1_000_000,
                self.library.min_free_bytes / 1_000_000
            )
        })
    }

    fn set_waiting(&self, why: Option<String>) {
        if let Ok(mut waiting) = self.library.waiting.lock() {
            *waiting = why;
        }
    }

    /// Does one claimed job, with its heartbeat, and records how it ended.
    async fn run(&self, job: Claimed) {
        tracing::info!(worker = %self.name, job = %job.id, film = %job.film_id, kind = ?job.kind, attempt = job.attempt, "job started");
        let progress = Arc::new(AtomicI64::new(0));
        // Boxed so it can be dropped (killing ffmpeg) before the temporary files are removed.
        let mut work = Box::pin(self.perform(&job, progress.clone()));
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = work.as_mut() => break Some(outcome),
                _ = beat.tick() => {
                    let per_mille = progress.load(Ordering::Relaxed);
                    match queue::heartbeat(&self.db, &job.id, &self.name, per_mille).await {
                        Ok(true) => {}
                        // Cancelled, or the film was deleted: dropping `work` kills ffmpeg.
                        Ok(false) => break None,
                        Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        drop(work);
        if let Ok(dir) = self.film_dir(&job.film_id).await {
            remove_temp_files(&dir, &job.id).await;
        }
        match outcome {
            None => tracing::info!(job = %job.id, "job stopped: cancelled or its film deleted"),
            Some(outcome) => {
                tracing::info!(job = %job.id, outcome = ?outcome, "job ended");
                if let Err(e) = queue::finish(&self.db, &job.id, &self.name, outcome).await {
                    tracing::error!(job = %job.id, error = %e, "cannot record the job's end");
                }
            }
        }
    }

    async fn film_dir(&self, film: &str) -> Result<PathBuf, Outcome> {
        Ok(self.library.film_dir(&self.relative_dir(film).await?))
    }

    /// The film's directory under `--media-dir` (`films/<id>`, or `private/<id>` for a room's
    /// own video), which is also its files' URL path under `/media/`.
    async fn relative_dir(&self, film: &str) -> Result<String, Outcome> {
        let dir: Option<String> =
            sqlx::query_scalar("SELECT dir FROM film_media WHERE film_id = $1")
                .bind(film)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(retry)?;
        dir.ok_or_else(|| Outcome::Failed("the film was deleted".into()))
    }

    async fn perform(&self, job: &Claimed, progress: Arc<AtomicI64>) -> Outcome {
        let result = match job.kind {
            JobKind::Import => self.import(job, &progress).await,
            JobKind::Probe => self.probe(job).await,
            JobKind::Rendition { height, container } => {
                self.rendition(job, height, container, &progress).await
            }
            JobKind::Poster => self.poster(job).await,
            JobKind::Sprite => self.sprite(job).await,
            JobKind::Subtitles => self.subtitles(job).await,
        };
        match result {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }

    async fn import(&self, job: &Claimed, progress: &AtomicI64) -> Result<(), Outcome> {
        use kino_media::import::{download, ImportError, ImportPolicy};
        let dir = self.film_dir(&job.film_id).await?;
        let url: Option<String> =
            sqlx::query_scalar("SELECT source_url FROM film_media WHERE film_id = $1")
                .bind(&job.film_id)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(retry)?
                .flatten();
        let url = url.ok_or_else(|| Outcome::Failed("the film has no video link".into()))?;
        tokio::fs::create_dir_all(&dir).await.map_err(retry)?;
        let part = dir.join(format!("{}.part", job.id));
        let policy = ImportPolicy {
            allow_private: self.media.import_allow_private,
            max_bytes: self.import_limit(&job.film_id).await?,
            ..ImportPolicy::default()
        };
        let downloaded = download(&url, &part, &policy, |got, total| {
            if let Some(total) = total.filter(|t| *t > 0) {
                progress.store((got * 1000 / total) as i64, Ordering::Relaxed);
            }
        })
        .await
        .map_err(|e| match e {
            // The network, the other server or our disk may be better next time.
            ImportError::Resolve { .. }
            | ImportError::ResolveTimeout { .. }
            | ImportError::Timeout { .. }
            | ImportError::ConnectTimeout { .. }
            | ImportError::Connect { .. }
            | ImportError::Transfer { .. }
            | ImportError::Io { .. } => retry(e),
            ImportError::Http { status, .. } if status >= 500 => retry(e),
            other => Outcome::Failed(other.to_string()),
        })?;
        tokio::fs::rename(&part, dir.join("source"))
            .await
            .map_err(retry)?;
        sqlx::query("UPDATE film_media SET bytes = $1 WHERE film_id = $2")
            .bind(downloaded.bytes as i64)
            .bind(&job.film_id)
            .execute(&self.db.pool)
            .await
            .map_err(retry)?;
        queue::enqueue(&self.db, &job.film_id, JobKind::Probe)
            .await
            .map_err(retry)?;
        self.library.wake.notify_waiters();
        Ok(())
    }

    /// Inspects the source and queues the film's jobs: renditions the source is big enough for,
    /// the poster, seek previews, and the text subtitles inside it.
    async fn probe(&self, job: &Claimed) -> Result<(), Outcome> {
        let source = self.film_dir(&job.film_id).await?.join("source");
        let probe = kino_media::probe::probe(&source)
            .await
            .map_err(|e| Outcome::Failed(e.to_string()))?;
        let Some(video) = probe.video.as_ref() else {
            return Err(Outcome::Failed("the file has no video stream".into()));
        };
        let (width, height) = kino_media::probe::display_size(video);
        let bytes = tokio::fs::metadata(&source)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        sqlx::query(
            "UPDATE film_media SET duration_ms = $1, width = $2, height = $3, has_audio = $4, \
             bytes = $5 WHERE film_id = $6",
        )
        .bind((probe.duration_secs * 1000.0).round() as i64)
        .bind(i64::from(width))
        .bind(i64::from(height))
        .bind(i64::from(probe.audio))
        .bind(bytes as i64)
        .bind(&job.film_id)
        .execute(&self.db.pool)
        .await
        .map_err(retry)?;
        sqlx::query("UPDATE films SET duration_secs = $1 WHERE id = $2")
            .bind(probe.duration_secs.round() as i64)
            .bind(&job.film_id)
            .execute(&self.db.pool)
            .await
            .map_err(retry)?;
        let mut jobs = Vec::new();
        let heights = ladder::plan(video, self.media.renditions_2160);
        for container in [Container::Mp4, Container::Webm] {
            for &height in &heights {
                jobs.push(JobKind::Rendition {
                    height: i64::from(height),
                    container,
                });
            }
        }
        jobs.push(JobKind::Poster);
        jobs.push(JobKind::Sprite);
        if probe.subtitles.iter().any(|s| s.is_text) {
            jobs.push(JobKind::Subtitles);
        }
        for kind in jobs {
            queue::enqueue(&self.db, &job.film_id, kind)
                .await
                .map_err(retry)?;
        }
        self.library.wake.notify_waiters();
        Ok(())
    }

    async fn rendition(
        &self,
        job: &Claimed,
        height: i64,
        container: Container,
        progress: &AtomicI64,
    ) -> Result<(), Outcome> {
        let dir = self.film_dir(&job.film_id).await?;
        let source = dir.join("source");
        let probe = kino_media::probe::probe(&source)
            .await
            .map_err(|e| Outcome::Failed(e.to_string()))?;
        let video = probe
            .video
            .as_ref()
            .ok_or_else(|| Outcome::Failed("the file has no video stream".into()))?;
        let height = u32::try_from(height).map_err(|_| Outcome::Failed("bad height".into()))?;
        let kind = match container {
            Container::Mp4 => ladder::Container::Mp4,
            Container::Webm => ladder::Container::Webm,
        };
        let rendition = ladder::Rendition {
            height,
            container: kind,
        };
        let vp9 = if self.media.vp9_fast {
            Vp9Speed::Fast
        } else {
            Vp9Speed::Good
        };
        let part = dir.join(format!("{}.part", job.id));
        let args = ladder::args(&source, &part, rendition, probe.audio, video, vp9);
        let ffmpeg = kino_media::ffmpeg::Job {
            args,
            duration_secs: probe.duration_secs,
            stall_timeout: self.media.stall_timeout,
            niceness: Some(10),
        };
        kino_media::ffmpeg::run(ffmpeg, |fraction| {
            progress.store((fraction * 1000.0) as i64, Ordering::Relaxed);
        })
        .await
        .map_err(|e| match e {
            kino_media::ffmpeg::FfmpegError::Failed { .. } => Outcome::Failed(e.to_string()),
            other => retry(other),
        })?;
        ladder::verify(&part, height, probe.duration_secs, kind, probe.audio)
            .await
            .map_err(|e| Outcome::Failed(format!("the rendition came out wrong: {e}")))?;
        let out = kino_media::probe::probe(&part)
            .await
            .map_err(|e| Outcome::Failed(e.to_string()))?;
        let (width, out_height) = out
            .video
            .as_ref()
            .map(kino_media::probe::display_size)
            .unwrap_or((0, height));
        let name = format!("{height}p-{}.{}", version_tag(), container.as_str());
        tokio::fs::rename(&part, dir.join(&name))
            .await
            .map_err(retry)?;
        let bytes = tokio::fs::metadata(dir.join(&name))
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT file FROM renditions WHERE film_id = $1 AND height = $2 AND container = $3 \
             AND file IS NOT NULL",
        )
        .bind(&job.film_id)
        .bind(i64::from(out_height))
        .bind(container.as_str())
        .fetch_all(&self.db.pool)
        .await
        .map_err(retry)?;
        let mut tx = self.db.pool.begin().await.map_err(retry)?;
        sqlx::query("DELETE FROM renditions WHERE film_id = $1 AND height = $2 AND container = $3")
            .bind(&job.film_id)
            .bind(i64::from(out_height))
            .bind(container.as_str())
            .execute(&mut *tx)
            .await
            .map_err(retry)?;
        sqlx::query(
            "INSERT INTO renditions (id, film_id, url, container, width, height, bytes, file) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&job.film_id)
        .bind(media_url(&self.relative_dir(&job.film_id).await?, &name))
        .bind(container.as_str())
        .bind(i64::from(width))
        .bind(i64::from(out_height))
        .bind(bytes as i64)
        .bind(&name)
        .execute(&mut *tx)
        .await
        .map_err(retry)?;
        if container == Container::Mp4 {
            // The first MP4 publishes the film: from now on the catalog lists it.
            // (A room's own video is never listed: its room shows it to its members.)
            sqlx::query("UPDATE films SET published = 1 WHERE id = $1 AND personal = 0")
                .bind(&job.film_id)
                .execute(&mut *tx)
                .await
                .map_err(retry)?;
        }
        tx.commit().await.map_err(retry)?;
        for file in old.into_iter().filter(|f| *f != name) {
            let _ = tokio::fs::remove_file(dir.join(file)).await;
        }
        Ok(())
    }

    async fn poster(&self, job: &Claimed) -> Result<(), Outcome> {
        let dir = self.film_dir(&job.film_id).await?;
        let duration = self.duration(&job.film_id).await?;
        let name = format!("poster-auto-{}.jpg", version_tag());
        kino_media::images::poster(&dir.join("source"), &dir.join(&name), duration)
            .await
            .map_err(|e| Outcome::Failed(e.to_string()))?;
        // An admin's own poster stays; a chosen frame replaces only the generated one.
        sqlx::query(
            "UPDATE films SET poster_url = $1 WHERE id = $2 AND (poster_url IS NULL OR \
             poster_url LIKE '%/poster-auto-%')",
        )
        .bind(media_url(&self.relative_dir(&job.film_id).await?, &name))
        .bind(&job.film_id)
        .execute(&self.db.pool)
        .await
        .map_err(retry)?;
        Ok(())
    }

    async fn sprite(&self, job: &Claimed) -> Result<(), Outcome> {
        let dir = self.film_dir(&job.film_id).await?;
        let duration = self.duration(&job.film_id).await?;
        let part = dir.join(format!("{}.part", job.id));
        let sheet = kino_media::images::sprite(
            &dir.join("source"),
            &part,
            duration,
            &kino_media::images::SpriteOptions::default(),
        )
        .await
        .map_err(|e| Outcome::Failed(e.to_string()))?;
        let name = format!("previews-{}", version_tag());
        tokio::fs::rename(&part, dir.join(&name))
            .await
            .map_err(retry)?;
        let vtt = sheet
            .vtt_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sprite.vtt".into());
        sqlx::query("UPDATE film_media SET sprite_url = $1 WHERE film_id = $2")
            .bind(media_url(
                &self.relative_dir(&job.film_id).await?,
                &format!("{name}/{vtt}"),
            ))
            .bind(&job.film_id)
            .execute(&self.db.pool)
            .await
            .map_err(retry)?;
        Ok(())
    }

    async fn subtitles(&self, job: &Claimed) -> Result<(), Outcome> {
        let dir = self.film_dir(&job.film_id).await?;
        let part = dir.join(format!("{}.part", job.id));
        tokio::fs::create_dir_all(&part).await.map_err(retry)?;
        let tracks = kino_media::subtitles::extract_text_tracks(&dir.join("source"), &part)
            .await
            .map_err(|e| Outcome::Failed(e.to_string()))?;
        for track in tracks {
            let lang = track
                .language
                .as_deref()
                .and_then(|l| super::domain::subtitle_language(l).ok())
                .unwrap_or_else(|| "und".into());
            let exists =
                sqlx::query("SELECT 1 AS x FROM subtitles WHERE film_id = $1 AND lang = $2")
                    .bind(&job.film_id)
                    .bind(&lang)
                    .fetch_optional(&self.db.pool)
                    .await
                    .map_err(retry)?;
            if exists.is_some() || track.cues == 0 {
                // An admin's upload for this language wins over the file's own track.
                continue;
            }
            let name = format!("subtitles-{lang}-{}.vtt", version_tag());
            tokio::fs::rename(&track.path, dir.join(&name))
                .await
                .map_err(retry)?;
            save_subtitles(
                &self.db,
                &job.film_id,
                &lang,
                &media_url(&self.relative_dir(&job.film_id).await?, &name),
                track.cues as i64,
            )
            .await
            .map_err(retry)?;
        }
        Ok(())
    }

    /// The most this film's import may download: the instance's limit, or less for a room's
    /// own video (what is left of its owner's quota).
    async fn import_limit(&self, film: &str) -> Result<u64, Outcome> {
        let limit: Option<i64> =
            sqlx::query_scalar("SELECT byte_limit FROM film_media WHERE film_id = $1")
                .bind(film)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(retry)?;
        Ok(match limit {
            Some(limit) if limit > 0 => (limit as u64).min(self.media.max_upload_bytes),
            _ => self.media.max_upload_bytes,
        })
    }

    async fn duration(&self, film: &str) -> Result<f64, Outcome> {
        let ms: i64 = sqlx::query_scalar("SELECT duration_ms FROM film_media WHERE film_id = $1")
            .bind(film)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(retry)?
            .ok_or_else(|| Outcome::Failed("the film was deleted".into()))?;
        Ok(ms as f64 / 1000.0)
    }
}

/// Something that may pass on another try.
fn retry(e: impl std::fmt::Display) -> Outcome {
    Outcome::Retry(e.to_string())
}

/// Removes what job `job` left in `dir`: `<job>.part` (a file or a directory) and anything
/// else named after it.
async fn remove_temp_files(dir: &Path, job: &str) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(job) && name.contains(".part") {
            remove_path(&entry.path()).await;
        }
    }
}

async fn remove_path(path: &Path) {
    let removed = match tokio::fs::symlink_metadata(path).await {
        Ok(meta) if meta.is_dir() => tokio::fs::remove_dir_all(path).await,
        Ok(_) => tokio::fs::remove_file(path).await,
        Err(_) => return,
    };
    if let Err(e) = removed {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a temporary file");
    }
}

/// Deletes temporary files whose job is no longer running (a crash or a restart left them),
/// and uploads nobody finished within a day.
pub async fn sweep(db: &Db, library: &Library) {
    let films = library.dir.join("films");
    if let Ok(mut dirs) = tokio::fs::read_dir(&films).await {
        while let Ok(Some(film)) = dirs.next_entry().await {
            let Ok(mut entries) = tokio::fs::read_dir(film.path()).await else {
                continue;
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some((job, _)) = name.split_once(".part") else {
                    continue;
                };
                // Something written in the last hour may still be in use (a file being copied
                // in by `kino import`), job or not.
                let recent = entry
                    .metadata()
                    .await
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age < Duration::from_secs(3600));
                if recent && !queue::is_job(db, job).await.unwrap_or(true) {
                    continue;
                }
                match queue::is_live(db, job).await {
                    Ok(false) => {
                        tracing::info!(file = %entry.path().display(), "removing a temporary file left behind");
                        remove_path(&entry.path()).await;
                    }
                    Ok(true) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot check a temporary file's job"),
                }
            }
        }
    }
    match library.uploads.sweep(Duration::from_secs(86_400)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(uploads = n, "removed unfinished uploads older than a day"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep old uploads"),
    }
}
