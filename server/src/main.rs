use clap::Parser;
use kino_server::config::{Command, Config, LogFormat};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_env("KINO_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }

    // Kept until the process ends: dropping it sends what is queued.
    let _errors = kino_server::errors::init(config.sentry_dsn.as_deref());

    match config.command.clone() {
        Some(Command::Admin { action }) => return kino_server::cli::admin(&config, &action).await,
        Some(Command::Worker) => return kino_server::cli::worker(config).await,
        Some(Command::Import {
            source,
            title,
            title_ru,
            year,
            by,
        }) => {
            return kino_server::cli::import(
                config,
                &source,
                &title,
                title_ru.as_deref(),
                year,
                by.as_deref(),
            )
            .await
        }
        None => {}
    }

    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kino: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let db = match kino_server::open_database(&config).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("kino: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(config.listen);
    // Printed plainly (not only logged) so people and test harnesses find the address.
    println!("Kino is running at http://{bound}");
    if bound.ip().is_unspecified() && config.public_url.is_none() {
        eprintln!(
            "kino: listening on every interface without --public-url: links Kino shares will \
             say http://{bound}, which friends cannot open; pass the address they use, e.g. \
             --public-url http://192.168.1.5:{}",
            bound.port()
        );
    }
    match kino_server::serve_with_database(config, db, listener, kino_server::shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kino: {e}");
            ExitCode::FAILURE
        }
    }
}
