//! Home: the page that composes every feature's part.

use crate::accounts::use_auth;
use crate::i18n::*;
use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    view! {
        <section class="hero">
            <h1>{t!(i18n, home_title)}</h1>
            <p class="lead">{t!(i18n, home_lead)}</p>
            <Suspense>
                {move || Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(user)) => {
                            let name = user.display_name;
                            view! {
                                <p class="welcome">{t!(i18n, home_welcome, name = move || name.clone())}</p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <div class="actions">
                                    <a class="button primary" href="/register">
                                        {t!(i18n, register)}
                                    </a>
                                    <a class="button" href="/login">
                                        {t!(i18n, log_in)}
                                    </a>
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
        <crate::playback::ContinueWatching />
        <crate::recs::HomeRecommendations />
        <crate::friends::WatchWithFriends />
        <crate::rooms::HomeRoomLists />
        <section class="features">
            <article>
                <h2>{t!(i18n, feature_sync_title)}</h2>
                <p>{t!(i18n, feature_sync_text)}</p>
            </article>
            <article>
                <h2>{t!(i18n, feature_friends_title)}</h2>
                <p>{t!(i18n, feature_friends_text)}</p>
            </article>
            <article>
                <h2>{t!(i18n, feature_chat_title)}</h2>
                <p>{t!(i18n, feature_chat_text)}</p>
            </article>
        </section>
    }
}
