//! Receipts in the webmail: the read-receipt prompt of a message that asks for one, each
//! recipient's timeline on a sent message, and the small mark of a sent message in the list.

use leptos::prelude::*;

use crate::api::{MailReadReceipt, RecipientView, StepView};
use crate::components::feedback::ErrorNotice;
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

/// A small icon for a receipt state; its meaning is given in text beside it or by `label`.
fn icon(state: &str, label: Option<String>) -> impl IntoView {
    let path = match state {
        // Two ticks: read.
        "read" => "M1 9l3 3 7-7M7 12l1 0 7-7",
        // One tick: delivered.
        "delivered" => "M3 9l4 4 8-8",
        // A cross: failed.
        "failed" => "M4 4l10 10M14 4L4 14",
        // A clock: on its way.
        _ => "M9 2a7 7 0 1 0 0.01 0M9 5v4l3 2",
    };
    let class = format!("receipt-icon receipt-{state}");
    match label {
        Some(l) => {
            let title = l.clone();
            view! {
            <svg class=class viewBox="0 0 18 18" width="16" height="16" role="img" aria-label=l focusable="false">
                <title>{title}</title>
                <path d=path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
            </svg>
            }
            .into_any()
        }
        None => view! {
            <svg class=class viewBox="0 0 18 18" width="16" height="16" aria-hidden="true" focusable="false">
                <path d=path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
            </svg>
        }
        .into_any(),
    }
}

/// The mark of a sent message in the list: an icon whose text alternative says where its
/// receipts stand.
pub fn receipt_mark(t: I18n, state: &str) -> Option<impl IntoView> {
    let label = match state {
        "pending" => Msg::ReceiptMarkPending,
        "delivered" => Msg::ReceiptMarkDelivered,
        "read" => Msg::ReceiptMarkRead,
        "failed" => Msg::ReceiptMarkFailed,
        _ => return None,
    };
    Some(view! { " "{icon(state, Some(t.t(label).to_string()))} })
}

fn step_text(kind: &str) -> Msg {
    match kind {
        "handed_over" => Msg::StepHandedOver,
        "delivered" => Msg::StepDelivered,
        "relayed" => Msg::StepRelayed,
        "delayed" => Msg::StepDelayed,
        "failed" => Msg::StepFailed,
        "read" => Msg::StepRead,
        "read_failed" => Msg::StepReadFailed,
        _ => Msg::StepQueued,
    }
}

fn reason_text(reason: &str) -> Option<Msg> {
    Some(match reason {
        "unknown_mailbox" => Msg::ReasonUnknownMailbox,
        "unknown_domain" => Msg::ReasonUnknownDomain,
        "mailbox_full" => Msg::ReasonMailboxFull,
        "mailbox_disabled" => Msg::ReasonMailboxDisabled,
        "too_large" => Msg::ReasonTooLarge,
        "refused" => Msg::ReasonRefused,
        "expired" => Msg::ReasonExpired,
        "temporary" => Msg::ReasonTemporary,
        "rejected" => Msg::ReasonRejected,
        "unreachable" => Msg::ReasonUnreachable,
        "mss_903" => Msg::ReasonMss903,
        "mss_904" => Msg::ReasonMss904,
        "mss_905" => Msg::ReasonMss905,
        r if r.starts_with("mss_") => Msg::ReasonMssOther,
        _ => return None,
    })
}

fn step_view(t: I18n, s: &StepView) -> impl IntoView {
    let icon_state = match s.kind.as_str() {
        "read" => "read",
        "delivered" => "delivered",
        "failed" | "read_failed" => "failed",
        _ => "pending",
    };
    let reason = reason_text(&s.reason).map(|m| format!(" : {}", t.t(m)));
    let code = (!s.status.is_empty() && !matches!(s.kind.as_str(), "read" | "delivered" | "queued"))
        .then(|| format!(" ({})", t.fmt(Msg::ReceiptCode, &[("code", &s.status)])));
    let at = (!s.at.is_empty()).then(|| {
        view! { " — "<time datetime=s.at.clone()>{t.locale.paris_date_time(&s.at)}</time> }
    });
    let report = s.report.map(|id| {
        view! { " — "<a href=format!("/messagerie/message/{id}")>{t.t(Msg::ReceiptReport)}</a> }
    });
    view! {
        <li class=format!("step step-{}", s.kind)>
            {icon(icon_state, None)}" "
            <span class="step-what">{t.t(step_text(&s.kind))}{reason}{code}</span>
            {at}
            {report}
        </li>
    }
}

/// Each recipient of a sent message, with each step and its time (Paris).
pub fn timeline_section(t: I18n, recipients: Vec<RecipientView>) -> impl IntoView {
    view! {
        <section class="receipts" aria-labelledby="receipts-title">
            <h2 id="receipts-title">{t.t(Msg::ReceiptsTitle)}</h2>
            <ul class="receipt-recipients">
                {recipients.into_iter().map(|r| {
                    let state = t.t(step_text(&r.state));
                    view! {
                        <li class=format!("receipt-recipient state-{}", r.state)>
                            <h3>{r.recipient.clone()}" — "<span class="receipt-state">{state}</span></h3>
                            <ol class="timeline">
                                {r.steps.iter().map(|s| step_view(t, s)).collect_view()}
                            </ol>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// "L'expéditeur demande un accusé de lecture. L'envoyer ?" with its two answers, or what was
/// answered.
#[component]
pub fn ReadReceiptPrompt(id: i64, initial: String) -> impl IntoView {
    let t = use_i18n();
    let answer = ServerAction::<MailReadReceipt>::new();
    let state = move || match answer.value().get() {
        Some(Ok(s)) => s,
        _ => initial.clone(),
    };
    let pending = answer.pending();
    move || match state().as_str() {
        "ask" => view! {
            <div class="notice receipt-prompt" role="group" aria-labelledby="receipt-prompt-text">
                <p id="receipt-prompt-text">{t.t(Msg::ReceiptAsk)}</p>
                <div class="button-row">
                    <button type="button" class="button button-primary" disabled=move || pending.get()
                        on:click=move |_| { answer.dispatch(MailReadReceipt { id, send: true }); }>
                        {t.t(Msg::ReceiptSend)}
                    </button>
                    <button type="button" class="button" disabled=move || pending.get()
                        on:click=move |_| { answer.dispatch(MailReadReceipt { id, send: false }); }>
                        {t.t(Msg::ReceiptDecline)}
                    </button>
                </div>
                {move || answer.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
            </div>
        }
        .into_any(),
        "sent" => view! { <p class="notice notice-success" role="status">{t.t(Msg::ReceiptSentNotice)}</p> }.into_any(),
        "declined" => view! { <p class="notice" role="status">{t.t(Msg::ReceiptDeclinedNotice)}</p> }.into_any(),
        _ => ().into_any(),
    }
}
