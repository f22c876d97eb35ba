use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::Msg;
use crate::use_i18n;

const QUESTIONS: &[(Msg, Msg)] = &[
    (Msg::FaqQ1, Msg::FaqA1),
    (Msg::FaqQ2, Msg::FaqA2),
    (Msg::FaqQ3, Msg::FaqA3),
    (Msg::FaqQ4, Msg::FaqA4),
    (Msg::FaqQ5, Msg::FaqA5),
    (Msg::FaqQ6, Msg::FaqA6),
    (Msg::FaqQ7, Msg::FaqA7),
    (Msg::FaqQ8, Msg::FaqA8),
];

#[component]
pub fn Faq() -> impl IntoView {
    let t = use_i18n();
    view! {
        <Title text=t.t(Msg::FaqTitle)/>
        <h1>{t.t(Msg::FaqTitle)}</h1>
        <div class="faq">
            {QUESTIONS.iter().enumerate().map(|(i, (q, a))| {
                let id = format!("q{}", i + 1);
                let labelled_by = id.clone();
                view! {
                    <section class="faq-item" aria-labelledby=labelled_by>
                        <h2 id=id>{t.t(*q)}</h2>
                        <p>{t.t(*a)}</p>
                    </section>
                }
            }).collect_view()}
        </div>
    }
}
