//! What a software asks, for the holder to allow or refuse: the device grant's page
//! (`/appareil`) and the authorization code grant's (`/autoriser`) show the same card, with
//! their own buttons as children.

use leptos::prelude::*;

use crate::i18n::Msg;
use crate::use_i18n;

/// The software's name and what it will be able to do (the `mail` scope in plain words), the
/// mailbox it will reach when known, the warning, then `children` (the buttons).
#[component]
pub fn ConsentCard(client: String, #[prop(optional)] account: Option<String>, children: Children) -> impl IntoView {
    let t = use_i18n();
    view! {
        <section class="card" aria-labelledby="consent-asks">
            <p id="consent-asks" class="lead">{t.fmt(Msg::DeviceAsks, &[("client", &client)])}</p>
            {account.map(|a| view! { <p>{t.fmt(Msg::ConsentAccount, &[("account", &a)])}</p> })}
            <p class="hint">{t.t(Msg::DeviceWarning)}</p>
            {children()}
        </section>
    }
}
