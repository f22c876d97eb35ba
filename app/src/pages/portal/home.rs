use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::Msg;
use crate::use_i18n;

#[component]
pub fn Home() -> impl IntoView {
    let t = use_i18n();
    let list = move |items: &[Msg]| items.iter().map(|m| view! { <li>{t.t(*m)}</li> }).collect_view();
    view! {
        <Title text=t.t(Msg::NavHome)/>
        <div class="hero">
            <h1>{t.t(Msg::HomeTitle)}</h1>
            <p class="lead">{t.t(Msg::HomeIntro)}</p>
        </div>
        <div class="cards">
            <section class="card" aria-labelledby="what">
                <h2 id="what">{t.t(Msg::HomeWhatTitle)}</h2>
                <p>{t.t(Msg::HomeWhat1)}</p>
                <p>{t.t(Msg::HomeWhat2)}</p>
            </section>
            <section class="card" aria-labelledby="who">
                <h2 id="who">{t.t(Msg::HomeWhoTitle)}</h2>
                <ul>{list(&[Msg::HomeWho1, Msg::HomeWho2, Msg::HomeWho3])}</ul>
            </section>
            <section class="card" aria-labelledby="account">
                <h2 id="account">{t.t(Msg::HomeAccountTitle)}</h2>
                <ol>{list(&[Msg::HomeAccount1, Msg::HomeAccount2])}</ol>
                <p><a href="/assistance">{t.t(Msg::HomeAccount3)}</a></p>
            </section>
            <section class="card" aria-labelledby="signin">
                <h2 id="signin">{t.t(Msg::HomeSignInTitle)}</h2>
                <ol>{list(&[Msg::HomeSignIn1, Msg::HomeSignIn2])}</ol>
                <p>{t.t(Msg::HomeSignIn3)}</p>
            </section>
        </div>
        <p class="notice">{t.t(Msg::HomeSecrecy)}</p>
    }
}
