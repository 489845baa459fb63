//! Invite links: mine on the friends page, and `/f/<code>`, where someone follows one.

use super::*;
use crate::error::AppError;
use crate::i18n::*;
use crate::links::{login_link, with_next};
use crate::ui::{alert, CopyButton, PageAlert, PageTitle};
use domain::Relation;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub(super) fn InviteLink(
    invite: Option<Invite>,
    new_link: ServerAction<NewInvite>,
    revoke: ServerAction<RevokeInvite>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="invite-link">
            <h2>{t!(i18n, invite_link)}</h2>
            <p class="hint">{t!(i18n, invite_link_hint)}</p>
            {match invite {
                Some(invite) => {
                    let url = invite.url.clone();
                    view! {
                        <p class="share-link"><code>{invite.url.clone()}</code></p>
                        <div class="row">
                            <CopyButton text=url class="primary small">
                                {t!(i18n, copy_link)}
                            </CopyButton>
                            <ActionForm action=new_link attr:class="inline">
                                <button type="submit" class="ghost small">{t!(i18n, new_link)}</button>
                            </ActionForm>
                            <ActionForm action=revoke attr:class="inline">
                                <button type="submit" class="ghost small danger">{t!(i18n, revoke_link)}</button>
                            </ActionForm>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <ActionForm action=new_link attr:class="inline">
                            <button type="submit" class="primary small">{t!(i18n, create_link)}</button>
                        </ActionForm>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// `/f/<code>`: someone's invite to be friends.
#[component]
pub fn InvitePage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let accept = ServerAction::<AcceptInvite>::new();
    let info = Resource::new(
        move || (code.get(), accept.version().get()),
        |(c, _)| invite_info(c),
    );
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, friend_invite), t_string!(i18n, app_name)) />
        <section class="card narrow invite">
            <Suspense>
                {move || Suspend::new(async move {
                    let here = format!("/f/{}", code.get_untracked());
                    match info.await {
                        Ok(InviteDetails { inviter, relation }) => {
                            let name = inviter.display_name.clone();
                            view! {
                                <Avatar person=inviter.clone() />
                                <h1>{t!(i18n, invites_you, name = move || name.clone())}</h1>
                                {match relation {
                                    None => view! {
                                        <p>{t!(i18n, invite_log_in_first)}</p>
                                        <div class="actions">
                                            <a class="button primary" href=with_next("/register", &here)>{t!(i18n, register)}</a>
                                            <a class="button" href=login_link(&here)>{t!(i18n, log_in)}</a>
                                        </div>
                                    }.into_any(),
                                    Some(Relation::Friend) => view! {
                                        <p class="ok" role="status">{t!(i18n, already_friends)}</p>
                                        <A href="/friends" attr:class="button">{t!(i18n, friends_title)}</A>
                                    }.into_any(),
                                    Some(Relation::Myself) => view! { <p class="muted">{t!(i18n, this_is_your_link)}</p> }.into_any(),
                                    Some(_) => view! {
                                        <ActionForm action=accept>
                                            <input type="hidden" name="code" value=code.get_untracked() />
                                            <button type="submit" class="primary">{t!(i18n, become_friends)}</button>
                                        </ActionForm>
                                        {alert(accept.value())}
                                    }.into_any(),
                                }}
                            }
                                .into_any()
                        }
                        Err(AppError::NotFound) => {
                            crate::ui::page_status(&AppError::NotFound);
                            view! {
                                <h1>{t!(i18n, invite_invalid)}</h1>
                                <p class="muted">{t!(i18n, invite_invalid_text)}</p>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
