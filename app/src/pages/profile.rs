//! The profile: the account's own settings, and the films hidden from recommendations.

use crate::accounts::{ProfileSettings, SignedIn};
use crate::recs::ExcludedFilms;
use leptos::prelude::*;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <ProfileSettings />
        <SignedIn guest=|| ()>
            <ExcludedFilms />
        </SignedIn>
    }
}
