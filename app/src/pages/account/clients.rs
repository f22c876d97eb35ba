//! "Logiciels et clients connectés": the software and mail clients the holder allowed (OAuth
//! grants), with their last use, each withdrawn with one button.

use leptos::prelude::*;

use crate::api::{my_clients, RevokeClient};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::i18n::Msg;
use crate::use_i18n;

#[component]
pub fn ConnectedClients() -> impl IntoView {
    let t = use_i18n();
    let revoke = ServerAction::<RevokeClient>::new();
    let clients = Resource::new(move || revoke.version().get(), |_| my_clients());
    view! {
        <p>{t.t(Msg::ClientsIntro)}</p>
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match clients.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">{t.t(Msg::ClientsNone)}</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="terminals">
                            {list.into_iter().map(|c| {
                                let id = c.id;
                                let label = t.fmt(Msg::ClientsRevokeLabel, &[("name", &c.name)]);
                                let added = t.fmt(Msg::TerminalAddedOn, &[("date", &t.locale.date_time(&c.added))]);
                                let used = t.fmt(Msg::TerminalLastUsed, &[("date", &t.locale.date_time(&c.last_used))]);
                                view! {
                                    <li>
                                        <div>
                                            <strong>{c.name}</strong>
                                            <span class="hint">{added}</span>
                                            <span class="hint">{used}</span>
                                        </div>
                                        <button type="button" class="button" aria-label=label
                                            disabled=move || revoke.pending().get()
                                            on:click=move |_| { revoke.dispatch(RevokeClient { id }); }>
                                            {t.t(Msg::ClientsRevoke)}
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
