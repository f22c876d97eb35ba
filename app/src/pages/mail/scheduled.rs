//! `/messagerie/programmes`: the messages waiting to leave, with their time in Paris. Each can
//! move in time, go back into the composer (as a draft), or be cancelled (kept as a draft).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{mail_scheduled, MailReschedule, MailUnschedule, ScheduledLine};
use crate::components::feedback::Loading;
use crate::i18n::Msg;
use crate::use_i18n;

use super::folders::FolderNav;
use super::{failure_view, sentence};

#[component]
pub fn ScheduledPage() -> impl IntoView {
    let t = use_i18n();
    let query = use_query_map();
    let reschedule = ServerAction::<MailReschedule>::new();
    let unschedule = ServerAction::<MailUnschedule>::new();
    // What the holder asked of a line: edit it (to the composer) or cancel it.
    let editing = StoredValue::new(None::<i64>);
    let items = Resource::new(move || (reschedule.version().get(), unschedule.version().get()), |_| mail_scheduled());
    let navigate = use_navigate();
    // The last change's confirmation (or the composer's, arriving here after scheduling).
    let said = RwSignal::new(None::<Msg>);
    Effect::new(move |_| {
        if let Some(Ok(())) = unschedule.value().get() {
            match editing.get_value() {
                Some(id) => {
                    editing.set_value(None);
                    navigate(&format!("/messagerie/ecrire?brouillon={id}"), Default::default());
                }
                None => said.set(Some(Msg::ScheduledCancelled)),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = reschedule.value().get() {
            said.set(Some(Msg::ScheduledMoved));
        }
    });
    let notice = move || match said.get() {
        Some(m) => Some(t.t(m).to_string()),
        None => query.with(|q| q.get("programme").is_some()).then(|| t.t(Msg::ScheduledNotice).to_string()),
    };
    let failure = move || match (reschedule.value().get(), unschedule.value().get()) {
        (Some(Err(e)), _) | (_, Some(Err(e))) => Some(sentence(t, &e)),
        _ => None,
    };
    let line = move |s: ScheduledLine| {
        let id = s.id;
        let subject = if s.subject.is_empty() { t.t(Msg::ScheduledNoSubject).to_string() } else { s.subject.clone() };
        let date = RwSignal::new(s.date.clone());
        let time = RwSignal::new(s.time.clone());
        let (date_id, time_id) = (format!("scheduled-{id}-date"), format!("scheduled-{id}-time"));
        let actions = t.fmt(Msg::ScheduledActions, &[("subject", &subject)]);
        view! {
            <li class="scheduled-item">
                <p class="scheduled-subject"><strong>{subject.clone()}</strong></p>
                <p>{t.fmt(Msg::ScheduledTo, &[("to", &s.to)])}</p>
                <p class="scheduled-when">{t.fmt(Msg::ScheduledAt, &[("when", &s.when)])}</p>
                <div class="button-row" role="group" aria-label=actions>
                    <button type="button" class="button" disabled=move || unschedule.pending().get()
                        on:click=move |_| {
                            editing.set_value(Some(id));
                            unschedule.dispatch(MailUnschedule { id });
                        }>{t.t(Msg::ScheduledEdit)}</button>
                    <button type="button" class="button" disabled=move || unschedule.pending().get()
                        on:click=move |_| {
                            editing.set_value(None);
                            unschedule.dispatch(MailUnschedule { id });
                        }>{t.t(Msg::ScheduledCancel)}</button>
                </div>
                <details class="schedule-send">
                    <summary>{t.t(Msg::ScheduledChange)}</summary>
                    <div class="schedule-fields">
                        <label for=date_id.clone()>{t.t(Msg::ScheduleDate)}</label>
                        <input id=date_id type="date" prop:value=move || date.get()
                            on:input=move |ev| date.set(event_target_value(&ev))/>
                        <label for=time_id.clone()>{t.t(Msg::ScheduleTime)}</label>
                        <input id=time_id type="time" prop:value=move || time.get()
                            on:input=move |ev| time.set(event_target_value(&ev))/>
                        <button type="button" class="button" disabled=move || reschedule.pending().get()
                            on:click=move |_| {
                                reschedule.dispatch(MailReschedule {
                                    id,
                                    date: date.get_untracked(),
                                    time: time.get_untracked(),
                                });
                            }>{t.t(Msg::ScheduledSave)}</button>
                    </div>
                </details>
            </li>
        }
    };
    view! {
        <Title text=t.t(Msg::ScheduledTitle)/>
        <div class="mail-layout">
            <FolderNav current=Signal::derive(|| "scheduled".to_string())/>
            <section class="mail-main">
                <h1>{t.t(Msg::ScheduledTitle)}</h1>
                <p class="notice notice-success" role="status" hidden=move || notice().is_none()>{notice}</p>
                <p class="error" role="alert">{failure}</p>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match items.await {
                            Ok(list) if list.is_empty() => view! { <p>{t.t(Msg::ScheduledEmpty)}</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="scheduled-list">{list.into_iter().map(line).collect_view()}</ul>
                            }
                            .into_any(),
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}
