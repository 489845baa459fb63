//! Calls server functions the way the hydrated app does: a form-encoded POST to `/api/<name>`
//! that asks for JSON.

use reqwest::{header, Client, StatusCode};
use std::time::Duration;

/// One browser: its own cookie jar (so its own session) and its own connections.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client with default TLS-less settings builds")
}

/// Why a call failed: the HTTP status (none when there was no answer) and what was said.
#[derive(Debug, Clone)]
pub struct CallError {
    pub status: Option<StatusCode>,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}: {}", self.message),
            None => write!(f, "no answer: {}", self.message),
        }
    }
}

impl std::error::Error for CallError {}

/// POSTs `form` to `/api/<endpoint>` and returns the body of a 2xx answer; anything else is
/// an error (with the first 200 characters of the body).
pub async fn call(
    client: &Client,
    base_url: &str,
    endpoint: &str,
    form: &[(&str, String)],
) -> Result<String, CallError> {
    let no_answer = |e: reqwest::Error| CallError {
        status: None,
        message: e.to_string(),
    };
    let res = client
        .post(format!("{base_url}/api/{endpoint}"))
        .header(header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(no_answer)?;
    let status = res.status();
    let body = res.text().await.map_err(no_answer)?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(CallError {
            status: Some(status),
            message: body.chars().take(200).collect(),
        })
    }
}
