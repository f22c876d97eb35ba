//! Form pieces shared by every form: a labelled field wired for screen readers, and the error
//! summary that takes the focus when a submission is refused.

use leptos::prelude::*;

use crate::domain::{FieldError, FieldProblem};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

/// A labelled input (or textarea) with its hint and its error, wired for screen readers.
#[component]
pub fn Field(
    /// Prefix of the DOM ids (`contact-name`), unique per form on a page.
    prefix: &'static str,
    id: &'static str,
    label: Msg,
    hint: Option<Msg>,
    value: RwSignal<String>,
    initial: String,
    problem: Signal<Option<FieldProblem>>,
    autocomplete: &'static str,
    input_type: &'static str,
    maxlength: Option<usize>,
    /// `numeric` for codes.
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// Not required (Cc, Bcc...).
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    let t = use_i18n();
    let dom_id = format!("{prefix}-{id}");
    let hint_id = format!("{prefix}-{id}-hint");
    let error_id = format!("{prefix}-{id}-error");
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if problem.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let invalid = move || problem.get().is_some().then_some("true");
    let on_input = move |ev| value.set(event_target_value(&ev));
    let control = if input_type == "textarea" {
        view! {
            <textarea id=dom_id.clone() name=id rows="8" required=!optional aria-required=(!optional).then_some("true")
                aria-invalid=invalid aria-describedby=described_by.clone()
                prop:value=move || value.get() on:input=on_input>{initial}</textarea>
        }
        .into_any()
    } else {
        view! {
            <input id=dom_id.clone() name=id type=input_type autocomplete=autocomplete required=!optional aria-required=(!optional).then_some("true")
                maxlength=maxlength inputmode=inputmode aria-invalid=invalid aria-describedby=described_by.clone()
                value=initial prop:value=move || value.get() on:input=on_input/>
        }
        .into_any()
    };
    view! {
        <div class="field" class:field-invalid=move || problem.get().is_some()>
            <label for=dom_id.clone()>{t.t(label)}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{t.t(h)}</p> })}
            {control}
            {move || problem.get().map(|p| view! { <p class="field-error" id=error_id.clone()>{p.message(t)}</p> })}
        </div>
    }
}

/// The box listing what went wrong, each field error linking to its field. Focused (through
/// `node_ref`) when a submission is refused.
#[component]
pub fn ErrorSummary(
    prefix: &'static str,
    errors: RwSignal<Vec<FieldError>>,
    failure: RwSignal<Option<AppError>>,
    label_of: fn(&str) -> Msg,
    node_ref: NodeRef<leptos::html::Div>,
    /// The sentence above the list of fields; "Corrigez les champs signalés :" by default.
    #[prop(optional)]
    intro: Option<Msg>,
) -> impl IntoView {
    let t = use_i18n();
    let intro = intro.unwrap_or(Msg::ErrFormSummary);
    let has_problems = move || !errors.with(Vec::is_empty) || failure.with(Option::is_some);
    view! {
        <div class="error-summary" role="alert" tabindex="-1" node_ref=node_ref hidden=move || !has_problems()>
            {move || failure.get().map(|e| view! { <p>{e.message(t)}</p> })}
            {move || (!errors.with(Vec::is_empty)).then(|| view! {
                <p>{t.t(intro)}</p>
                <ul>
                    {errors.get().into_iter().map(|FieldError { field, problem }| {
                        let label = label_of(&field);
                        view! {
                            <li><a href=format!("#{prefix}-{field}")>{t.t(label)}" — "{problem.message(t)}</a></li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}

/// Moves the focus to `node` once it is displayed.
pub fn focus_later(node: NodeRef<leptos::html::Div>) {
    request_animation_frame(move || {
        if let Some(el) = node.get_untracked() {
            let _ = el.focus();
        }
    })
}

/// Splits a server function's error into field errors and a general failure.
pub fn show_error(e: AppError, errors: RwSignal<Vec<FieldError>>, failure: RwSignal<Option<AppError>>) {
    match e {
        AppError::Invalid(list) => {
            errors.set(list);
            failure.set(None);
        }
        other => {
            errors.set(Vec::new());
            failure.set(Some(other));
        }
    }
}

/// The problem of one field, as a signal for [`Field`].
pub fn problem_of(errors: RwSignal<Vec<FieldError>>, field: &'static str) -> Signal<Option<FieldProblem>> {
    Signal::derive(move || errors.with(|es| es.iter().find(|e| e.field == field).map(|e| e.problem)))
}
