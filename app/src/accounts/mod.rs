//! Accounts: register, log in, log out, profile. The server functions sit beside the forms that
//! call them; the queries and password hashing are in `ssr`.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod hashing;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::error::AppError;
use crate::i18n::*;
use crate::links::{login_link, with_next};
use crate::ui::{ErrorText, FieldError};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What the browser may know about a user. (The password hash lives only in `ssr`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// May manage the library (the first account of an instance, or `kino admin grant`).
    pub is_admin: bool,
}

#[server(endpoint = "me")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn current_user() -> Result<Option<User>, AppError> {
    session::current_user().await
}

#[server(endpoint = "register")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn register(
    username: String,
    display_name: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    ssr::register(username, display_name, password, next).await
}

/// Whether nobody has an account yet: the register page then says the new one will be the admin.
#[server(endpoint = "first-account")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn is_first_account() -> Result<bool, AppError> {
    ssr::no_accounts_yet().await
}

#[server(endpoint = "login")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    ssr::login(username, password, next).await
}

#[server(endpoint = "logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn logout() -> Result<(), AppError> {
    ssr::logout().await
}

#[server(endpoint = "profile/display-name")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn update_display_name(display_name: String) -> Result<(), AppError> {
    ssr::update_display_name(display_name).await
}

/// Changes the password and, unless `keep_other_devices` is sent (the form's checkbox), signs
/// out every other session of the account.
#[server(endpoint = "profile/password")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn change_password(
    current_password: String,
    new_password: String,
    keep_other_devices: Option<String>,
) -> Result<(), AppError> {
    ssr::change_password(current_password, new_password, keep_other_devices.is_some()).await
}

#[server(endpoint = "profile/sign-out-others")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn sign_out_other_devices() -> Result<(), AppError> {
    ssr::sign_out_other_devices().await
}

/// The signed-in user and the actions that change who that is, shared by the whole app.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Resource<Result<Option<User>, AppError>>,
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
    pub update_display_name: ServerAction<UpdateDisplayName>,
}

impl Auth {
    pub fn provide() -> Self {
        let login = ServerAction::<Login>::new();
        let register = ServerAction::<Register>::new();
        let logout = ServerAction::<Logout>::new();
        let update_display_name = ServerAction::<UpdateDisplayName>::new();
        let user = Resource::new(
            move || {
                (
                    login.version().get(),
                    register.version().get(),
                    logout.version().get(),
                    update_display_name.version().get(),
                )
            },
            |_| current_user(),
        );
        let auth = Self {
            user,
            login,
            register,
            logout,
            update_display_name,
        };
        provide_context(auth);
        auth
    }
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// Its children for a signed-in person, `guest` for anyone else: the one way a component shows
/// something only to people who are signed in (it waits for the request's user, as a
/// `Suspense`).
#[component]
pub fn SignedIn(#[prop(into)] guest: ViewFn, children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    view! {
        <Suspense>
            {move || {
                let (guest, children) = (guest.clone(), children.clone());
                Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(_)) => children(),
                        _ => guest.run(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The `?next=` of the current page, passed on through the login and register forms.
fn next_param() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("next").unwrap_or_default())
}

/// A password field with a "Show password" toggle (the toggle needs the hydrated page).
#[component]
fn PasswordField(
    #[prop(into)] name: String,
    #[prop(into)] id: String,
    label: Signal<String>,
    #[prop(into)] autocomplete: String,
) -> impl IntoView {
    let i18n = use_i18n();
    let (shown, set_shown) = signal(false);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <div class="password-row">
                <input
                    id=id
                    name=name
                    type=move || if shown.get() { "text" } else { "password" }
                    autocomplete=autocomplete
                    required
                    minlength="8"
                />
                <button
                    type="button"
                    class="ghost"
                    aria-pressed=move || shown.get().to_string()
                    on:click=move |_| set_shown.update(|s| *s = !*s)
                >
                    {t!(i18n, show_password)}
                </button>
            </div>
        </div>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let next = next_param();
    let result = auth.login.value();
    view! {
        <section class="card narrow">
            <h1>{t!(i18n, login_title)}</h1>
            <ActionForm action=auth.login attr:class="form">
                <input type="hidden" name="next" prop:value=move || next.get() />
                <div class="field">
                    <label for="login-username">{t!(i18n, username)}</label>
                    <input
                        id="login-username"
                        name="username"
                        autocomplete="username"
                        required
                        autofocus
                    />
                </div>
                <PasswordField
                    name="password"
                    id="login-password"
                    label=Signal::derive(move || t_string!(i18n, password).to_string())
                    autocomplete="current-password"
                />
                <ErrorText result />
                <button type="submit" class="primary">
                    {t!(i18n, log_in)}
                </button>
            </ActionForm>
            <p class="muted">
                {t!(i18n, no_account)} " "
                <a href=move || with_next("/register", &next.get())>{t!(i18n, register)}</a>
            </p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let next = next_param();
    let result = auth.register.value();
    let first = Resource::new(|| (), |_| is_first_account());
    view! {
        <section class="card narrow">
            <h1>{t!(i18n, register_title)}</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    matches!(first.await, Ok(true))
                        .then(|| view! { <p class="notice" role="note">{t!(i18n, first_account_admin)}</p> })
                })}
            </Suspense>
            <ActionForm action=auth.register attr:class="form">
                <input type="hidden" name="next" prop:value=move || next.get() />
                <div class="field">
                    <label for="register-username">{t!(i18n, username)}</label>
                    <input
                        id="register-username"
                        name="username"
                        autocomplete="username"
                        required
                        minlength="3"
                        maxlength="32"
                        pattern="[A-Za-z0-9_]{3,32}"
                        aria-describedby="register-username-hint"
                    />
                    <small id="register-username-hint" class="hint">
                        {t!(i18n, username_hint)}
                    </small>
                </div>
                <div class="field">
                    <label for="register-display-name">{t!(i18n, display_name)}</label>
                    <input
                        id="register-display-name"
                        name="display_name"
                        autocomplete="nickname"
                        required
                        maxlength="64"
                    />
                </div>
                <PasswordField
                    name="password"
                    id="register-password"
                    label=Signal::derive(move || t_string!(i18n, password).to_string())
                    autocomplete="new-password"
                />
                <ErrorText result />
                <button type="submit" class="primary">
                    {t!(i18n, register)}
                </button>
            </ActionForm>
            <p class="muted">
                {t!(i18n, have_account)} " "
                <a href=move || with_next("/login", &next.get())>{t!(i18n, log_in)}</a>
            </p>
        </section>
    }
}

#[component]
pub fn ProfileSettings() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => view! { <ProfileForms user /> }.into_any(),
                    Ok(None) => {
                        view! { <leptos_router::components::Redirect path=login_link("/profile") /> }
                            .into_any()
                    }
                    Err(_) => view! { <crate::ui::ServerError /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProfileForms(user: User) -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let change = ServerAction::<ChangePassword>::new();
    let sign_out = ServerAction::<SignOutOtherDevices>::new();
    let name_result = auth.update_display_name.value();
    let password_result = change.value();
    let sign_out_result = sign_out.value();
    view! {
        <section class="card narrow">
            <h1>{t!(i18n, profile)}</h1>
            <p class="muted">"@" {user.username.clone()}</p>
            <ActionForm action=auth.update_display_name attr:class="form">
                <div class="field">
                    <label for="profile-display-name">{t!(i18n, display_name)}</label>
                    <input
                        id="profile-display-name"
                        name="display_name"
                        required
                        maxlength="64"
                        value=user.display_name.clone()
                    />
                </div>
                <FieldError result=name_result />
                <button type="submit" class="primary">
                    {t!(i18n, save)}
                </button>
            </ActionForm>
        </section>
        <section class="card narrow">
            <h2>{t!(i18n, change_password)}</h2>
            <ActionForm action=change attr:class="form">
                <PasswordField
                    name="current_password"
                    id="profile-current-password"
                    label=Signal::derive(move || t_string!(i18n, current_password).to_string())
                    autocomplete="current-password"
                />
                <PasswordField
                    name="new_password"
                    id="profile-new-password"
                    label=Signal::derive(move || t_string!(i18n, new_password).to_string())
                    autocomplete="new-password"
                />
                <label class="check">
                    <input type="checkbox" name="keep_other_devices" value="on" />
                    {t!(i18n, keep_other_devices)}
                </label>
                <FieldError result=password_result />
                <Show when=move || matches!(password_result.get(), Some(Ok(())))>
                    <p role="status">{t!(i18n, password_changed)}</p>
                </Show>
                <button type="submit" class="primary">
                    {t!(i18n, change_password)}
                </button>
            </ActionForm>
        </section>
        <section class="card narrow">
            <h2>{t!(i18n, sign_out_others)}</h2>
            <p class="muted">{t!(i18n, sign_out_others_hint)}</p>
            <ActionForm action=sign_out attr:class="form">
                <FieldError result=sign_out_result />
                <Show when=move || matches!(sign_out_result.get(), Some(Ok(())))>
                    <p role="status">{t!(i18n, signed_out_others)}</p>
                </Show>
                <button type="submit">{t!(i18n, sign_out_others)}</button>
            </ActionForm>
        </section>
    }
}
