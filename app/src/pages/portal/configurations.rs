use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::Msg;
use crate::use_i18n;

#[component]
pub fn Configurations() -> impl IntoView {
    let t = use_i18n();
    let table = move |id: &'static str, caption: Msg, rows: &[(Msg, Msg)], note: Msg| {
        view! {
            <section aria-labelledby=id>
                <h2 id=id>{t.t(caption)}</h2>
                <div class="table-wrap">
                    <table>
                        <thead>
                            <tr>
                                <th scope="col">{t.t(Msg::ConfigsColProduct)}</th>
                                <th scope="col">{t.t(Msg::ConfigsColVersion)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.iter().map(|(p, v)| view! {
                                <tr><th scope="row">{t.t(*p)}</th><td>{t.t(*v)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <p class="hint">{t.t(note)}</p>
            </section>
        }
    };
    view! {
        <Title text=t.t(Msg::ConfigsTitle)/>
        <h1>{t.t(Msg::ConfigsTitle)}</h1>
        <p class="lead">{t.t(Msg::ConfigsIntro)}</p>
        {table("browsers", Msg::ConfigsBrowsersTitle, &[
            (Msg::ConfigsFirefox, Msg::ConfigsFirefoxV),
            (Msg::ConfigsChromium, Msg::ConfigsChromiumV),
            (Msg::ConfigsSafari, Msg::ConfigsSafariV),
        ], Msg::ConfigsNoteUpdates)}
        {table("mobile", Msg::ConfigsMobileTitle, &[
            (Msg::ConfigsIos, Msg::ConfigsIosV),
            (Msg::ConfigsAndroid, Msg::ConfigsAndroidV),
        ], Msg::ConfigsNoteMobile)}
        <section aria-labelledby="clients">
            <h2 id="clients">{t.t(Msg::ConfigsClientsTitle)}</h2>
            <p>{t.t(Msg::ConfigsClients1)}</p>
            <p>{t.t(Msg::ConfigsClients2)}</p>
        </section>
    }
}
