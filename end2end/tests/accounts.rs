//! A person's first minutes with Kino, in a real browser against the release build.

use end2end::{Browser, Result, Server};

#[tokio::test]
async fn register_log_out_and_log_back_in() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;

    browser.goto(&format!("{}/register", server.url)).await?;
    browser.wait_hydrated().await?;
    browser.fill("Username", "ivan_petrov").await?;
    browser.fill("Display name", "Иван Петров").await?;
    browser.fill("Password", "кино и попкорн").await?;

    // Only the hydrated page can do this: the toggle reveals the password.
    let password = browser.field("Password").await?;
    assert_eq!(password.attr("type").await?.as_deref(), Some("password"));
    browser.click_button("Show password").await?;
    assert_eq!(
        browser
            .field("Password")
            .await?
            .attr("type")
            .await?
            .as_deref(),
        Some("text"),
        "the password is shown after hydration"
    );

    browser.click_button("Register").await?;
    browser.wait_path("/").await?;
    browser.wait_text_in("header", "Иван Петров").await?;

    browser.click_button("Log out").await?;
    browser.wait_text_in("header", "Log in").await?;

    browser.link("Log in").await?.click().await?;
    browser.wait_path("/login").await?;
    browser.fill("Username", "ivan_petrov").await?;
    browser.fill("Password", "wrong password").await?;
    browser.click_button("Log in").await?;
    browser
        .wait_text_in("main", "Wrong username or password.")
        .await?;

    browser.fill("Password", "кино и попкорн").await?;
    browser.click_button("Log in").await?;
    browser.wait_path("/").await?;
    browser.wait_text_in("header", "Иван Петров").await?;

    // The session is server-side and survives a reload.
    browser.client.refresh().await?;
    browser.wait_text_in("header", "Иван Петров").await?;
    browser.close().await
}

#[tokio::test]
async fn language_switch_is_remembered_and_next_returns_after_login() -> Result {
    let server = Server::start().await?;
    let browser = Browser::start().await?;

    browser
        .goto(&format!("{}/register?next=/profile", server.url))
        .await?;
    browser.wait_hydrated().await?;
    browser.click_button("RU").await?;
    browser.wait_text_in("main", "Имя пользователя").await?;
    browser.fill("Имя пользователя", "olga").await?;
    browser.fill("Отображаемое имя", "Ольга").await?;
    browser.fill("Пароль", "password 123").await?;
    browser.click_button("Зарегистрироваться").await?;

    // Back where the link pointed, in the language chosen, after a full reload too.
    browser.wait_path("/profile").await?;
    browser.client.refresh().await?;
    browser.wait_text_in("main", "Профиль").await?;
    browser.wait_text_in("header", "Ольга").await?;
    browser.close().await
}
