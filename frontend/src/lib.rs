#![recursion_limit = "256"]
//! The browser entry: hydrates the server-rendered page with the same `App` the server rendered.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are lazy routes (app/src/lib.rs): hydration waits for the open page's chunk, which the
    // page's HTML already preloads, so it runs as a task (as `leptos::mount::hydrate_lazy` does).
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("a page has a body");
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            // The app lives as long as the page.
            .forget();
        // Lets browser tests (and curious people) see that the page is interactive now.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
