//! A file field (or drop zone) that uploads the chosen file at once through `/uploads`, in
//! pieces, with a progress bar (percent and speed). A piece that fails is sent again from the
//! last byte the server has (it asks with `HEAD`), so a dropped connection costs seconds, not
//! the whole file.

use crate::i18n::*;
use leptos::prelude::*;

/// Where an upload is.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadState {
    Idle,
    Sending {
        name: String,
        sent: f64,
        total: f64,
        /// Bytes per second since the start.
        speed: f64,
    },
    Done {
        id: String,
        name: String,
    },
    Failed(String),
}

/// How much one `PATCH` carries: small enough that progress moves and a retry repeats little.
const PIECE: f64 = 4.0 * 1024.0 * 1024.0;
/// Failed pieces tried again in a row before giving up (a second apart, then more).
const RETRIES: u32 = 6;

#[component]
pub fn FileUpload(
    id: &'static str,
    #[prop(into)] label: Signal<String>,
    accept: &'static str,
    state: RwSignal<UploadState>,
) -> impl IntoView {
    let i18n = use_i18n();
    let start = move |file: web_sys::File| {
        leptos::task::spawn_local(async move {
            let name = file.name();
            match send(&file, state).await {
                Ok(upload) => state.set(UploadState::Done { id: upload, name }),
                Err(why) => state.set(UploadState::Failed(why)),
            }
        });
    };
    let on_change = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let file = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            start(file);
        }
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|files| files.get(0))
        {
            start(file);
        }
    };
    let progress = move || match state.get() {
        UploadState::Sending {
            name,
            sent,
            total,
            speed,
        } => {
            let percent = if total > 0.0 {
                (sent * 100.0 / total).floor() as i64
            } else {
                0
            };
            let speed = format!("{:.1}", speed / 1_000_000.0);
            Some(
                view! {
                    <div class="upload-progress">
                        <span
                            class="progress"
                            role="progressbar"
                            aria-label=move || t_string!(i18n, uploading).to_string()
                            aria-valuemin="0"
                            aria-valuemax="100"
                            aria-valuenow=percent.to_string()
                        >
                            <span class="progress-fill" style=format!("width: {percent}%")></span>
                        </span>
                        <span>
                            {name} " — " {format!("{percent} %")} " · "
                            {t!(i18n, upload_speed, speed = move || speed.clone())}
                        </span>
                    </div>
                }
                .into_any(),
            )
        }
        UploadState::Done { name, .. } => Some(
            view! { <p class="upload-done" role="status">{t!(i18n, uploaded)} " " {name}</p> }
                .into_any(),
        ),
        UploadState::Failed(why) => Some(
            view! { <p class="error" role="alert">{t!(i18n, upload_failed)} " " {why}</p> }
                .into_any(),
        ),
        UploadState::Idle => None,
    };
    view! {
        <div
            class="drop-zone"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <label for=id>{move || label.get()}</label>
            <input id=id type="file" accept=accept on:change=on_change />
            <small class="hint">{t!(i18n, drop_here)}</small>
        </div>
        {progress}
    }
}

/// Uploads `file`, updating `state`; returns the upload's id.
async fn send(file: &web_sys::File, state: RwSignal<UploadState>) -> Result<String, String> {
    let name = file.name();
    let total = file.size();
    let started = js_sys::Date::now();
    let report = |sent: f64| {
        let seconds = ((js_sys::Date::now() - started) / 1000.0).max(0.001);
        state.set(UploadState::Sending {
            name: name.clone(),
            sent,
            total,
            speed: sent / seconds,
        });
    };
    report(0.0);
    // tus metadata values are base64; the browser's btoa takes one character per byte.
    let latin1: String = name.bytes().map(char::from).collect();
    let encoded = window().btoa(&latin1).unwrap_or_default();
    let created = request(
        "POST",
        "/uploads",
        &[
            ("Upload-Length", format!("{total}")),
            ("Upload-Metadata", format!("filename {encoded}")),
        ],
        None,
    )
    .await?;
    if created.status() != 201 {
        return Err(answer_text(created).await);
    }
    let location = created
        .headers()
        .get("Location")
        .ok()
        .flatten()
        .ok_or("no upload address")?;
    let id = location.rsplit('/').next().unwrap_or_default().to_owned();
    let mut offset = 0.0;
    let mut failures = 0;
    while offset < total {
        let end = (offset + PIECE).min(total);
        let piece = file
            .slice_with_f64_and_f64(offset, end)
            .map_err(|_| "cannot read the file".to_owned())?;
        let sent = request(
            "PATCH",
            &location,
            &[
                ("Upload-Offset", format!("{offset}")),
                ("Content-Type", "application/offset+octet-stream".into()),
            ],
            Some(&piece),
        )
        .await;
        match sent {
            Ok(response) if response.status() == 204 => {
                offset = upload_offset(&response).unwrap_or(end);
                failures = 0;
                report(offset);
            }
            Ok(response)
                if response.status() >= 400
                    && response.status() < 500
                    && response.status() != 409 =>
            {
                return Err(answer_text(response).await);
            }
            // A network error, a server error or a disagreement about the offset: ask the
            // server where it is and go on from there.
            _ => {
                failures += 1;
                if failures > RETRIES {
                    return Err("the connection keeps failing".into());
                }
                pause(1000.0 * f64::from(1u32 << failures.min(4))).await;
                if let Ok(response) = request("HEAD", &location, &[], None).await {
                    if let Some(server_has) = upload_offset(&response) {
                        offset = server_has;
                        report(offset);
                    }
                }
            }
        }
    }
    Ok(id)
}

fn upload_offset(response: &web_sys::Response) -> Option<f64> {
    response
        .headers()
        .get("Upload-Offset")
        .ok()
        .flatten()?
        .parse()
        .ok()
}

async fn answer_text(response: web_sys::Response) -> String {
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        text
    }
}

async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&web_sys::Blob>,
) -> Result<web_sys::Response, String> {
    use wasm_bindgen::JsCast;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let h = web_sys::Headers::new().map_err(|_| "headers".to_owned())?;
    let _ = h.set("Tus-Resumable", "1.0.0");
    for (name, value) in headers {
        let _ = h.set(name, value);
    }
    init.set_headers(&h);
    if let Some(body) = body {
        init.set_body(body);
    }
    let response =
        wasm_bindgen_futures::JsFuture::from(window().fetch_with_str_and_init(url, &init))
            .await
            .map_err(|_| "the connection failed".to_owned())?;
    response
        .dyn_into::<web_sys::Response>()
        .map_err(|_| "no answer".to_owned())
}

async fn pause(ms: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
