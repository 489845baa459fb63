//! A burst of registrations cannot exhaust the server's memory: password hashing (19 MiB each)
//! runs a few at a time, a short queue waits, the rest are told 503 with `Retry-After`, and other
//! requests keep answering. Its own test binary, so the process's memory is this test's alone.

// Shares the integration tests' harness, of which this measurement needs only the start-up.
#[allow(dead_code)]
mod common;

use common::{browser, spawn_app_with, PASSWORD};
use reqwest::header;

/// `VmRSS` or `VmHWM` (the peak) of this process, in MiB.
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    kib / 1024.0
}

/// What the burst may add to the process at its peak: two hashing threads' 19 MiB each, the
/// queued requests and 150 connections on both ends, with room to spare. Before the pool, 150
/// registrations took 2.8–4.1 GB (and 420 MiB with the pool but argon2 allocating per hash).
const PEAK_GROWTH_BOUND_MIB: f64 = 120.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_registrations_keeps_memory_bounded_and_the_server_answering() {
    let app = spawn_app_with(|c| {
        c.registrations_per_hour = 10_000;
        c.registrations_per_hour_total = 10_000;
        c.hashing_threads = Some(2);
    })
    .await;
    // Warm up: the first hash allocates the thread's memory, the first page the renderer's.
    let res = app.register("warmup", "Warm", PASSWORD).await;
    assert!(res.status().is_success());
    let before = memory_mib("VmRSS:");

    // One client for the burst (150 connections from its pool), so what grows is the server.
    let client = browser();
    let burst = (0..150).map(|i| {
        let (client, url) = (client.clone(), app.url("/api/register"));
        tokio::spawn(async move {
            let res = client
                .post(url)
                .header(header::ACCEPT, "application/json")
                .form(&[
                    ("username", format!("burst{i}")),
                    ("display_name", format!("Burst {i}")),
                    ("password", PASSWORD.to_owned()),
                ])
                .timeout(std::time::Duration::from_secs(60))
                .send()
                .await
                .expect("every registration is answered");
            let retry_after = res.headers().contains_key(header::RETRY_AFTER);
            (res.status().as_u16(), retry_after)
        })
    });
    let burst = tokio::spawn(futures::future::join_all(burst));

    // Meanwhile the server keeps answering other requests.
    let mut health = Vec::new();
    while !burst.is_finished() && health.len() < 200 {
        let res = app.client.get(app.url("/healthz")).send().await;
        health.push(res.map(|r| r.status().as_u16()).unwrap_or(0));
        let page = app.client.get(app.url("/films")).send().await;
        health.push(page.map(|r| r.status().as_u16()).unwrap_or(0));
    }
    let results: Vec<(u16, bool)> = burst
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let peak = memory_mib("VmHWM:");
    let after = memory_mib("VmRSS:");

    let created = results.iter().filter(|(s, _)| *s == 200).count();
    let busy = results.iter().filter(|(s, _)| *s == 503).count();
    println!(
        "150 registrations at once: {created} created, {busy} told to retry; memory {before:.0} MiB \
         before, peak {peak:.0} MiB, {after:.0} MiB after; {} other requests answered",
        health.len()
    );
    assert!(created >= 2, "some registrations go through");
    assert_eq!(created + busy, 150, "the others are told 503: {results:?}");
    assert!(
        results.iter().all(|(s, retry)| *s != 503 || *retry),
        "a 503 says when to retry"
    );
    assert!(
        health.iter().all(|s| *s == 200),
        "other requests answered: {health:?}"
    );
    assert!(
        peak - before < PEAK_GROWTH_BOUND_MIB,
        "the burst grew the process from {before:.0} to {peak:.0} MiB"
    );
    assert!(
        after - before < PEAK_GROWTH_BOUND_MIB,
        "memory stayed at {after:.0} MiB after the burst"
    );
}
