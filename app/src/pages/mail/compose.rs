//! Writing a message: blank, a reply, a forward, or a draft taken up again.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{
    mail_open, mail_usage, MailAct, MailSaveDraft, MailSchedule, MailSendUndoable, MailUnschedule, MessageView,
};
use crate::components::attachments::{AttachmentsField, ForwardedFile, PendingFile};
use crate::components::feedback::Loading;
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::components::recipients::RecipientField;
use crate::domain::compose::{to_patient, ComposeInput, SUBJECT_MAX};
use crate::domain::FieldError;
use crate::error::AppError;
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

use super::failure_view;
use super::folders::FolderNav;

fn label_of(field: &str) -> Msg {
    match field {
        "to" => Msg::FieldTo,
        "cc" => Msg::FieldCc,
        "bcc" => Msg::FieldBcc,
        "subject" => Msg::FieldMailSubject,
        "attachments" => Msg::Attachments,
        "send_at" => Msg::ScheduleWhen,
        _ => Msg::FieldBody,
    }
}

/// How the composer starts.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Start {
    Blank { to: Option<String> },
    Reply { m: MessageView, all: bool },
    Forward { m: MessageView },
    Draft { m: MessageView },
}

/// The composer's starting point: empty, addressed (`?a=`), a reply (`?repondre=ID`, `&tous=1`
/// for all), or a forward (`?transferer=ID`, with the message's attachments).
fn prefill(t: I18n, start: Start) -> (ComposeInput, Vec<ForwardedFile>) {
    let (m, all) = match start {
        Start::Blank { to } => return (ComposeInput { to: to.unwrap_or_default(), ..Default::default() }, Vec::new()),
        Start::Forward { m } => {
            let subject = if m.subject.to_lowercase().starts_with("tr:") || m.subject.to_lowercase().starts_with("fwd:")
            {
                m.subject.clone()
            } else {
                format!("TR: {}", m.subject)
            };
            let from =
                if m.from_name.is_empty() { m.from_addr.clone() } else { format!("{} <{}>", m.from_name, m.from_addr) };
            let intro = t.fmt(
                Msg::ForwardIntro,
                &[("from", &from), ("date", &t.locale.date_time(&m.date)), ("subject", &m.subject), ("to", &m.to)],
            );
            let files = m
                .attachments
                .iter()
                .enumerate()
                .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: false })
                .collect();
            let input = ComposeInput {
                subject,
                body: format!("\n\n{intro}\n\n{}\n", m.body),
                forward_from: m.id,
                // As the composer lists them, so that an untouched forward is not saved as a draft.
                forward_parts: (0..m.attachments.len()).collect(),
                ..Default::default()
            };
            return (input, files);
        }
        Start::Draft { m } => {
            let files = m
                .attachments
                .iter()
                .enumerate()
                .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: true })
                .collect();
            let input = ComposeInput {
                to: m.to.clone(),
                cc: m.cc.clone(),
                bcc: m.bcc.clone(),
                subject: m.subject.clone(),
                body: m.body.trim_end_matches('\n').to_string(),
                urgent: m.urgent,
                in_reply_to: m.in_reply_to.clone(),
                references: m.references.join(" "),
                attachments: Vec::new(),
                forward_from: m.id,
                forward_parts: (0..m.attachments.len()).collect(),
                draft_id: m.id,
                read_receipt: false,
                patient_no_reply: m.patient_no_reply,
            };
            return (input, files);
        }
        Start::Reply { m, all } => (m, all),
    };
    let mine = m.folder == "sent";
    let split = |s: &str| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>();
    let (to, cc) = if mine {
        (m.to.clone(), if all { m.cc.clone() } else { String::new() })
    } else if all {
        let mut others: Vec<String> = split(&m.to);
        others.extend(split(&m.cc));
        (m.from_addr.clone(), others.join(", "))
    } else {
        (m.from_addr.clone(), String::new())
    };
    let subject =
        if m.subject.to_lowercase().starts_with("re:") { m.subject.clone() } else { format!("RE: {}", m.subject) };
    let who = if m.from_name.is_empty() { m.from_addr.clone() } else { m.from_name.clone() };
    let intro = t.fmt(Msg::ReplyQuote, &[("date", &t.locale.date_time(&m.date)), ("who", &who)]);
    let quoted: Vec<String> = m.body.lines().map(|l| format!("> {l}")).collect();
    let input = ComposeInput {
        to,
        cc,
        subject,
        body: format!("\n\n{intro}\n{}\n", quoted.join("\n")),
        in_reply_to: m.message_id.clone(),
        references: m.thread_refs.join(" "),
        ..Default::default()
    };
    (input, Vec::new())
}

/// `/messagerie/ecrire`: write a message.
#[component]
pub fn ComposePage() -> impl IntoView {
    let t = use_i18n();
    let query = use_query_map();
    // Tracked: another address on this page (Écrire while replying or in a draft) loads another
    // message into a new form; the one on screen is saved as a draft as it leaves.
    let source = Resource::new(
        move || {
            query.with(|q| {
                let id = |key: &str| q.get(key).and_then(|v| v.parse::<i64>().ok());
                (id("repondre"), id("transferer"), id("brouillon"), q.get("tous").is_some(), q.get("a"))
            })
        },
        move |(reply, forward, draft, all, address)| async move {
            let usage = mail_usage().await?;
            let start = match (reply, forward, draft) {
                (Some(id), _, _) => Start::Reply { m: mail_open(id).await?, all },
                (None, Some(id), _) => Start::Forward { m: mail_open(id).await? },
                (None, None, Some(id)) => Start::Draft { m: mail_open(id).await? },
                (None, None, None) => Start::Blank { to: address },
            };
            Ok::<_, AppError>((start, usage.max_message_bytes))
        },
    );
    view! {
        <Title text=t.t(Msg::ComposeTitle)/>
        <div class="mail-layout">
            <FolderNav current=Signal::derive(String::new)/>
            <section class="mail-main">
                <h1>{t.t(Msg::ComposeTitle)}</h1>
                {move || query.with(|q| q.get("annule").is_some()).then(|| view! {
                    <p class="notice notice-success" role="status">{t.t(Msg::UndoneNotice)}</p>
                })}
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match source.await {
                            Ok((start, max_bytes)) => {
                                let (initial, forwarded) = prefill(t, start);
                                view! { <ComposeForm initial forwarded max_bytes/> }.into_any()
                            }
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

#[component]
fn ComposeForm(initial: ComposeInput, forwarded: Vec<ForwardedFile>, max_bytes: i64) -> impl IntoView {
    let t = use_i18n();
    let files = RwSignal::new(Vec::<PendingFile>::new());
    let forwarded = RwSignal::new(forwarded);
    let forward_from = RwSignal::new(initial.forward_from);
    let draft_id = RwSignal::new(initial.draft_id);
    let uploading = move || files.with(|f| f.iter().any(|p| p.id.get().is_none()));
    let to = RwSignal::new(initial.to.clone());
    let cc = RwSignal::new(initial.cc.clone());
    let bcc = RwSignal::new(initial.bcc.clone());
    let subject = RwSignal::new(initial.subject.clone());
    let body = RwSignal::new(initial.body.clone());
    let urgent = RwSignal::new(initial.urgent);
    let read_receipt = RwSignal::new(initial.read_receipt);
    let patient_no_reply = RwSignal::new(initial.patient_no_reply);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let send = ServerAction::<MailSendUndoable>::new();
    // "Programmer l'envoi": the day and time chosen (Paris time), when that is what was asked.
    let schedule = ServerAction::<MailSchedule>::new();
    let schedule_at = StoredValue::new(None::<(String, String)>);
    let send_date = RwSignal::new(String::new());
    let send_time = RwSignal::new(String::new());
    let pending = Memo::new(move |_| send.pending().get() || schedule.pending().get());
    // Sent with an undo delay: the message's id and the seconds left before it leaves.
    let waiting = RwSignal::new(None::<(i64, i64)>);
    let undo = ServerAction::<MailUnschedule>::new();
    let navigate = use_navigate();
    let (in_reply_to, references) =
        (StoredValue::new(initial.in_reply_to.clone()), StoredValue::new(initial.references.clone()));

    // The message as it stands (nothing tracked: read on demand).
    let current = move || ComposeInput {
        to: to.get_untracked(),
        cc: cc.get_untracked(),
        bcc: bcc.get_untracked(),
        subject: subject.get_untracked(),
        body: body.get_untracked(),
        urgent: urgent.get_untracked(),
        in_reply_to: in_reply_to.get_value(),
        references: references.get_value(),
        attachments: files.with_untracked(|f| f.iter().filter_map(|p| p.id.get_untracked()).collect()),
        forward_from: forward_from.get_untracked(),
        forward_parts: forwarded.with_untracked(|f| f.iter().map(|x| x.index).collect()),
        draft_id: draft_id.get_untracked(),
        read_receipt: read_receipt.get_untracked(),
        patient_no_reply: patient_no_reply.get_untracked(),
    };

    // Drafts: saved every 5 seconds when something changed, when the page is hidden or left.
    let save_draft = ServerAction::<MailSaveDraft>::new();
    let saving = save_draft.pending();
    let saved_as = StoredValue::new(initial.clone());
    let in_flight = StoredValue::new(ComposeInput::default());
    let finished = StoredValue::new(false);
    let draft_status = RwSignal::new(None::<Result<(), String>>);
    // Counts the save answers once taken in: what waited for a save (sending, discarding) runs
    // after this, so it sees the draft's id and files as the answer left them.
    let settled = RwSignal::new(0_u32);
    let try_save = move || {
        if finished.get_value() || saving.get_untracked() || pending.get_untracked() {
            return;
        }
        if files.with_untracked(|f| f.iter().any(|p| p.id.get_untracked().is_none())) {
            return;
        }
        let input = current();
        if input == saved_as.get_value() {
            return;
        }
        in_flight.set_value(input.clone());
        save_draft.dispatch(MailSaveDraft { input });
    };
    Effect::new(move |_| {
        let Some(answer) = save_draft.value().get() else { return };
        match answer {
            Ok(saved) => {
                let sent = in_flight.get_value();
                // The uploads now live in the draft: they come back as its attachments.
                files.update(|f| f.retain(|p| !p.id.get_untracked().is_some_and(|id| sent.attachments.contains(&id))));
                let kept: Vec<ForwardedFile> = saved
                    .attachments
                    .iter()
                    .enumerate()
                    .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: true })
                    .collect();
                forwarded.set(kept.clone());
                forward_from.set(saved.id);
                draft_id.set(saved.id);
                saved_as.set_value(ComposeInput {
                    attachments: Vec::new(),
                    forward_from: saved.id,
                    forward_parts: kept.iter().map(|k| k.index).collect(),
                    draft_id: saved.id,
                    ..sent
                });
                draft_status.set(Some(Ok(())));
            }
            Err(e) => {
                // Sent or deleted from another window: the text on screen becomes a new draft at
                // the next save, and the message says so.
                if matches!(e, AppError::DraftGone) && !finished.get_value() {
                    draft_id.set(0);
                    saved_as.set_value(ComposeInput::default());
                }
                draft_status.set(Some(Err(e.message(t))));
            }
        }
        settled.update(|n| *n += 1);
    });
    #[cfg(feature = "hydrate")]
    {
        let timer = set_interval_with_handle(try_save, std::time::Duration::from_secs(5)).ok();
        let hidden = window_event_listener(leptos::ev::pagehide, move |_| try_save());
        on_cleanup(move || {
            if let Some(timer) = timer {
                timer.clear();
            }
            hidden.remove();
            // Leaving the composer: one last save, outside the component being dropped.
            if !finished.try_get_value().unwrap_or(true) {
                let input = ComposeInput {
                    to: to.try_get_untracked().unwrap_or_default(),
                    cc: cc.try_get_untracked().unwrap_or_default(),
                    bcc: bcc.try_get_untracked().unwrap_or_default(),
                    subject: subject.try_get_untracked().unwrap_or_default(),
                    body: body.try_get_untracked().unwrap_or_default(),
                    urgent: urgent.try_get_untracked().unwrap_or_default(),
                    in_reply_to: in_reply_to.try_get_value().unwrap_or_default(),
                    references: references.try_get_value().unwrap_or_default(),
                    attachments: files
                        .try_with_untracked(|f| f.iter().filter_map(|p| p.id.get_untracked()).collect())
                        .unwrap_or_default(),
                    forward_from: forward_from.try_get_untracked().unwrap_or_default(),
                    forward_parts: forwarded
                        .try_with_untracked(|f| f.iter().map(|x| x.index).collect())
                        .unwrap_or_default(),
                    draft_id: draft_id.try_get_untracked().unwrap_or_default(),
                    read_receipt: read_receipt.try_get_untracked().unwrap_or_default(),
                    patient_no_reply: patient_no_reply.try_get_untracked().unwrap_or_default(),
                };
                if Some(&input) != saved_as.try_get_value().as_ref() {
                    leptos::task::spawn_local(async move {
                        let _ = crate::api::mail_save_draft(input).await;
                    });
                }
            }
        });
    }

    let to_sent = navigate.clone();
    Effect::new(move |_| match send.value().get() {
        Some(Ok(outcome)) => {
            finished.set_value(true);
            match outcome.scheduled_id {
                Some(id) => waiting.set(Some((id, outcome.delay_secs))),
                None => to_sent("/messagerie/envoyes?envoye=1", Default::default()),
            }
        }
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    let to_scheduled = navigate.clone();
    Effect::new(move |_| match schedule.value().get() {
        Some(Ok(_)) => {
            finished.set_value(true);
            to_scheduled("/messagerie/programmes?programme=1", Default::default())
        }
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    // "Annuler" within the delay: the message comes back into the composer as a draft.
    let back_to_draft = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = undo.value().get() {
            if let Some((id, _)) = waiting.get_untracked() {
                waiting.set(None);
                back_to_draft(&format!("/messagerie/ecrire?brouillon={id}&annule=1"), Default::default());
            }
        }
    });
    #[cfg(feature = "hydrate")]
    {
        // The countdown; at its end (and a second more for the queue to take it) the message has left.
        let after = navigate.clone();
        let tick = set_interval_with_handle(
            move || {
                if undo.pending().get_untracked() {
                    return;
                }
                match waiting.get_untracked() {
                    Some((_, left)) if left < 0 => {
                        waiting.set(None);
                        after("/messagerie/envoyes?envoye=1", Default::default());
                    }
                    Some((id, left)) => waiting.set(Some((id, left - 1))),
                    None => {}
                }
            },
            std::time::Duration::from_secs(1),
        )
        .ok();
        on_cleanup(move || {
            if let Some(tick) = tick {
                tick.clear();
            }
        });
    }
    // Sending waits for a draft save under way, so that the save cannot bring the draft back.
    let send_queued = StoredValue::new(false);
    let submit_now = move || {
        if pending.get_untracked() {
            return;
        }
        if saving.get_untracked() {
            send_queued.set_value(true);
            return;
        }
        if files.with_untracked(|f| f.iter().any(|p| p.id.get_untracked().is_none())) {
            errors.set(vec![FieldError { field: "attachments".into(), problem: crate::domain::FieldProblem::Pending }]);
            focus_later(summary);
            return;
        }
        let input = current();
        failure.set(None);
        match crate::domain::compose::Compose::parse(&input) {
            Err(e) => {
                errors.set(e);
                focus_later(summary);
            }
            Ok(_) => {
                errors.set(Vec::new());
                match schedule_at.get_value() {
                    Some((date, time)) => {
                        schedule.dispatch(MailSchedule { input, date, time });
                    }
                    None => {
                        send.dispatch(MailSendUndoable { input });
                    }
                }
            }
        }
    };
    Effect::new(move |_| {
        settled.track();
        if send_queued.get_value() {
            send_queued.set_value(false);
            submit_now();
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        schedule_at.set_value(None);
        submit_now();
    };
    let on_schedule = move |_| {
        schedule_at.set_value(Some((send_date.get_untracked(), send_time.get_untracked())));
        submit_now();
    };
    let schedule_problem = problem_of(errors, "send_at");
    // Until the page is interactive, sending cannot work: the button waits (and a form posted
    // before that carries nothing in its address).
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let discard = ServerAction::<MailAct>::new();
    let navigate_away = use_navigate();
    let leave = navigate_away.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = discard.value().get() {
            navigate_away("/messagerie/brouillons", Default::default());
        }
    });
    let discard_now = move || {
        let id = draft_id.get_untracked();
        if id > 0 {
            discard.dispatch(MailAct { action: "trash".into(), ids: vec![id] });
        } else {
            leave("/messagerie/reception", Default::default());
        }
    };
    // Discarding waits for a save under way too: its answer names the draft to throw away (the
    // first save creates it), and a save arriving after the discard would find no draft.
    let discard_queued = StoredValue::new(false);
    let discard_later = discard_now.clone();
    Effect::new(move |_| {
        settled.track();
        if discard_queued.get_value() {
            discard_queued.set_value(false);
            discard_later();
        }
    });
    let on_discard = move |_| {
        finished.set_value(true);
        if saving.get_untracked() {
            discard_queued.set_value(true);
        } else {
            discard_now();
        }
    };
    view! {
        {move || waiting.get().map(|(id, left)| {
            let text = if left > 0 { t.fmt(Msg::SendingIn, &[("secs", &left.to_string())]) } else { t.t(Msg::Sending).to_string() };
            view! {
                <div class="notice notice-success undo-send">
                    <p role="status">{text}</p>
                    <button type="button" class="button" disabled=move || undo.pending().get()
                        on:click=move |_| { undo.dispatch(MailUnschedule { id }); }>{t.t(Msg::UndoSend)}</button>
                </div>
            }
        })}
        {move || matches!(undo.value().get(), Some(Err(_))).then(|| view! {
            <p class="notice" role="alert">{t.t(Msg::UndoTooLate)}" "<a href="/messagerie/envoyes">{t.t(Msg::FolderSent)}</a></p>
        })}
        <ErrorSummary prefix="compose" errors failure label_of node_ref=summary intro=Msg::ErrMailSummary/>
        <form class="form compose" method="post" novalidate on:submit=on_submit hidden=move || waiting.get().is_some()>
            <RecipientField prefix="compose" id="to" label=Msg::FieldTo hint=Some(Msg::FieldRecipientsHint) value=to
                initial=initial.to.clone() problem=problem_of(errors, "to")/>
            <RecipientField prefix="compose" id="cc" label=Msg::FieldCc hint=None value=cc initial=initial.cc.clone()
                problem=problem_of(errors, "cc") optional=true/>
            <RecipientField prefix="compose" id="bcc" label=Msg::FieldBcc hint=None value=bcc initial=initial.bcc.clone()
                problem=problem_of(errors, "bcc") optional=true/>
            <Field prefix="compose" id="subject" label=Msg::FieldMailSubject hint=None value=subject
                initial=initial.subject.clone() problem=problem_of(errors, "subject") autocomplete="off" input_type="text"
                maxlength=Some(SUBJECT_MAX) optional=true/>
            <Field prefix="compose" id="body" label=Msg::FieldBody hint=None value=body initial=initial.body.clone()
                problem=problem_of(errors, "body") autocomplete="off" input_type="textarea" maxlength=None optional=true/>
            <AttachmentsField files forwarded max_bytes/>
            <div class="check">
                <input type="checkbox" id="compose-urgent" prop:checked=move || urgent.get()
                    on:change=move |ev| urgent.set(event_target_checked(&ev))/>
                <label for="compose-urgent">{t.t(Msg::FieldUrgent)}</label>
            </div>
            <div class="check">
                <input type="checkbox" id="compose-read-receipt" prop:checked=move || read_receipt.get()
                    on:change=move |ev| read_receipt.set(event_target_checked(&ev))/>
                <label for="compose-read-receipt">{t.t(Msg::FieldReadReceipt)}</label>
            </div>
            // Mon Espace Santé: the author of a message to a patient says whether the patient
            // may answer it (MSSanté `X-MSS-MES: FIN`).
            {move || (to_patient(&to.get()) || to_patient(&cc.get()) || to_patient(&bcc.get())).then(|| view! {
                <div>
                    <div class="check">
                        <input type="checkbox" id="compose-patient-no-reply" aria-describedby="compose-patient-no-reply-help"
                            prop:checked=move || patient_no_reply.get()
                            on:change=move |ev| patient_no_reply.set(event_target_checked(&ev))/>
                        <label for="compose-patient-no-reply">{t.t(Msg::FieldPatientNoReply)}</label>
                    </div>
                    <p class="hint" id="compose-patient-no-reply-help">{t.t(Msg::FieldPatientNoReplyHelp)}</p>
                </div>
            })}
            <div class="button-row">
                <button type="submit" class="button button-primary" disabled=move || pending.get() || !ready.get()>
                    {move || if pending.get() {
                        t.t(Msg::Sending)
                    } else if uploading() {
                        t.t(Msg::AttachWaiting)
                    } else {
                        t.t(Msg::Send)
                    }}
                </button>
                <button type="button" class="button" on:click=move |_| try_save()>{t.t(Msg::DraftSave)}</button>
                <button type="button" class="button" on:click=on_discard>{t.t(Msg::DraftDiscard)}</button>
                <details class="schedule-send">
                    <summary>{t.t(Msg::ScheduleSend)}</summary>
                    <div class="schedule-fields">
                        <label for="compose-send_at">{t.t(Msg::ScheduleDate)}</label>
                        <input id="compose-send_at" type="date" prop:value=move || send_date.get()
                            aria-invalid=move || schedule_problem.get().is_some().then_some("true")
                            aria-describedby=move || schedule_problem.get().is_some().then_some("compose-send_at-error")
                            on:input=move |ev| send_date.set(event_target_value(&ev))/>
                        <label for="compose-send-time">{t.t(Msg::ScheduleTime)}</label>
                        <input id="compose-send-time" type="time" prop:value=move || send_time.get()
                            on:input=move |ev| send_time.set(event_target_value(&ev))/>
                        <p id="compose-send_at-error" class="error" role="alert">
                            {move || schedule_problem.get().map(|p| p.message(t))}
                        </p>
                        <button type="button" class="button" disabled=move || pending.get() || !ready.get()
                            on:click=on_schedule>{t.t(Msg::ScheduleConfirm)}</button>
                    </div>
                </details>
                <span class="draft-status" role="status">
                    {move || match draft_status.get() {
                        Some(Ok(())) if saving.get() => t.t(Msg::DraftSaving).to_string(),
                        Some(Ok(())) => t.t(Msg::DraftSaved).to_string(),
                        Some(Err(e)) => e,
                        None if saving.get() => t.t(Msg::DraftSaving).to_string(),
                        None => String::new(),
                    }}
                </span>
            </div>
        </form>
    }
}
