//! The subcommands beside serving: `kino admin grant|revoke`, `kino worker`, `kino import`.
//! Each opens the same database (and media directory) the server uses, from the same flags.

use crate::config::{AdminAction, Config};
use app::library::domain::{FilmDetailsInput, FilmForm, JobKind, JobState};
use app::library::ssr::{create_film, url_file_name, FilmKind, Library, NewSource};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `kino admin grant|revoke USERNAME`.
pub async fn admin(config: &Config, action: &AdminAction) -> ExitCode {
    let db = match crate::open_database(config).await {
        Ok(db) => db,
        Err(e) => return fail(&e.to_string()),
    };
    let (username, flag, verb) = match action {
        AdminAction::Grant { username } => (username, 1, "is now an admin"),
        AdminAction::Revoke { username } => (username, 0, "is no longer an admin"),
    };
    match sqlx::query("UPDATE users SET is_admin = $1 WHERE username = $2")
        .bind(flag)
        .bind(username)
        .execute(&db.pool)
        .await
    {
        Ok(done) if done.rows_affected() == 1 => {
            println!("{username} {verb}");
            ExitCode::SUCCESS
        }
        Ok(_) => fail(&format!("there is no account named {username:?}")),
        Err(e) => fail(&format!("cannot change the role: {e}")),
    }
}

/// `kino worker`: transcodes until stopped, serves nothing.
pub async fn worker(config: Config) -> ExitCode {
    let db = match crate::open_database(&config).await {
        Ok(db) => db,
        Err(e) => return fail(&e.to_string()),
    };
    let workers = config.transcode_workers.max(1);
    let (library, app_config) = library_of(&config);
    let tasks = app::library::worker::spawn(db, library, app_config, workers);
    println!("Kino worker running ({workers} transcoding at a time); Ctrl-C stops it");
    crate::shutdown_signal().await;
    for task in tasks {
        task.abort();
    }
    ExitCode::SUCCESS
}

fn library_of(config: &Config) -> (Arc<Library>, Arc<app::config::AppConfig>) {
    let mut app_config = app::config::AppConfig::new(config.public_url(config.listen));
    app_config.media = crate::media_config(config);
    let library = Arc::new(Library::new(&app_config.media));
    (library, Arc::new(app_config))
}

/// `kino import FILE|URL --title …`: adds the film, transcodes here, prints the progress and
/// returns once the film can be watched.
pub async fn import(
    config: Config,
    source: &str,
    title: &str,
    title_ru: Option<&str>,
    year: Option<i64>,
    by: Option<&str>,
) -> ExitCode {
    let db = match crate::open_database(&config).await {
        Ok(db) => db,
        Err(e) => return fail(&e.to_string()),
    };
    let form = FilmForm {
        title_en: title.to_owned(),
        title_ru: title_ru.unwrap_or_default().to_owned(),
        year: year.map(|y| y.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    let details = match FilmDetailsInput::parse(&form) {
        Ok(details) => details,
        Err(e) => return fail(&format!("the film's details are not valid: {e}")),
    };
    let admin: Option<String> = match by {
        Some(username) => sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&db.pool)
            .await
            .ok()
            .flatten(),
        None => sqlx::query_scalar(
            "SELECT id FROM users WHERE is_admin = 1 ORDER BY created_at LIMIT 1",
        )
        .fetch_optional(&db.pool)
        .await
        .ok()
        .flatten(),
    };
    let Some(admin) = admin else {
        return fail(
            "no admin account to record the film under: register one first (or pass --by USERNAME)",
        );
    };
    let (name, placed) = if source.starts_with("http://") || source.starts_with("https://") {
        match url::Url::parse(source) {
            Ok(url) => (url_file_name(&url), NewSource::Url(url)),
            Err(e) => return fail(&format!("{source:?} is not a valid link: {e}")),
        }
    } else {
        let path = std::path::PathBuf::from(source);
        if !path.is_file() {
            return fail(&format!("there is no file {source:?}"));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (name, NewSource::LocalFile(path))
    };
    let (library, app_config) = library_of(&config);
    if let Err(e) = tokio::fs::create_dir_all(&library.dir).await {
        return fail(&format!("cannot create the media directory: {e}"));
    }
    let film = match create_film(
        &db,
        &library,
        &admin,
        &details,
        &name,
        placed,
        FilmKind::Library,
    )
    .await
    {
        Ok(film) => film,
        Err(e) => return fail(&format!("cannot add the film: {e}")),
    };
    println!("added {film:?}; preparing the video…");
    let workers = app::library::worker::spawn(
        db.clone(),
        library,
        app_config,
        config.transcode_workers.max(1),
    );
    let code = follow(&db, &film).await;
    for worker in workers {
        worker.abort();
    }
    code
}

/// Prints the film's jobs as they move until its first MP4 is ready or a step it needs fails.
async fn follow(db: &app::db::Db, film: &str) -> ExitCode {
    let mut last = String::new();
    loop {
        let jobs = match app::library::queue::jobs(db, Some(film)).await {
            Ok(jobs) => jobs,
            Err(e) => return fail(&format!("cannot read the jobs: {e}")),
        };
        let line = jobs
            .iter()
            .filter(|j| {
                j.state != JobState::Done || matches!(j.kind, JobKind::Import | JobKind::Probe)
            })
            .map(|j| format!("{} {} %", kind_name(j.kind), j.progress / 10))
            .collect::<Vec<_>>()
            .join(", ");
        if line != last {
            println!("{line}");
            last = line;
        }
        // The film cannot be watched when its source could not be had or read, or when every
        // MP4 rendition failed.
        let mp4s: Vec<_> = jobs
            .iter()
            .filter(|j| {
                matches!(
                    j.kind,
                    JobKind::Rendition {
                        container: app::library::domain::Container::Mp4,
                        ..
                    }
                )
            })
            .collect();
        let fatal = jobs
            .iter()
            .find(|j| {
                j.state == JobState::Failed && matches!(j.kind, JobKind::Import | JobKind::Probe)
            })
            .or_else(|| {
                (!mp4s.is_empty() && mp4s.iter().all(|j| j.state == JobState::Failed))
                    .then(|| mp4s[0])
            });
        if let Some(job) = fatal {
            let why = job.error.clone().unwrap_or_default();
            return fail(&format!("{} failed: {why}", kind_name(job.kind)));
        }
        let published: Option<i64> =
            sqlx::query_scalar("SELECT published FROM films WHERE id = $1")
                .bind(film)
                .fetch_optional(&db.pool)
                .await
                .ok()
                .flatten();
        match published {
            Some(1) => {
                println!(
                    "ready: /films/{film} (the other renditions continue when the server runs)"
                );
                return ExitCode::SUCCESS;
            }
            None => return fail("the film was deleted"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn kind_name(kind: JobKind) -> String {
    match kind {
        JobKind::Import => "download".into(),
        JobKind::Probe => "inspect".into(),
        JobKind::Rendition { height, container } => format!("{} {height}p", container.as_str()),
        JobKind::Poster => "poster".into(),
        JobKind::Sprite => "seek previews".into(),
        JobKind::Subtitles => "subtitles".into(),
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("kino: {why}");
    ExitCode::FAILURE
}
