//! What every Kino benchmark needs: a fresh database, the release server started on it, an HTTP
//! client that calls server functions like the browser does, and latency histograms printed as
//! one table. The benchmarks themselves are the binaries in `src/bin/`.

pub mod api;
pub mod database;
pub mod server;
pub mod stats;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
