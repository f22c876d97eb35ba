//! A recipients field (To, Cc, Bcc) that suggests correspondents from the directory as one
//! types: an ARIA 1.2 combobox with a list box, driven by the keyboard (arrows, Enter, Escape)
//! or the pointer. The field stays free text: addresses separated by commas.

use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

use crate::api::{directory_suggest, DirectoryEntry};
use crate::domain::FieldProblem;
use crate::i18n::Msg;
use crate::use_i18n;

/// Pause in typing before asking the directory.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// What is being typed: the text after the last comma.
fn current_token(v: &str) -> String {
    v.rsplit(',').next().unwrap_or_default().trim().to_string()
}

/// `v` with its last (partly typed) address replaced by `address`, ready for the next one.
pub fn complete(v: &str, address: &str) -> String {
    match v.rfind(',') {
        Some(p) => format!("{}, {address}, ", v[..p].trim_end()),
        None => format!("{address}, "),
    }
}

#[component]
pub fn RecipientField(
    prefix: &'static str,
    id: &'static str,
    label: Msg,
    hint: Option<Msg>,
    value: RwSignal<String>,
    initial: String,
    problem: Signal<Option<FieldProblem>>,
    #[prop(optional)] optional: bool,
) -> impl IntoView {
    let t = use_i18n();
    let dom_id = format!("{prefix}-{id}");
    let list_id = format!("{dom_id}-suggestions");
    let hint_id = format!("{dom_id}-hint");
    let keys_id = format!("{dom_id}-keys");
    let error_id = format!("{dom_id}-error");
    let suggestions = RwSignal::new(Vec::<DirectoryEntry>::new());
    let active = RwSignal::new(None::<usize>);
    // Bumped at every keystroke: an answer to an older keystroke is dropped.
    let generation = StoredValue::new(0u64);
    let close = move || {
        suggestions.set(Vec::new());
        active.set(None);
    };
    let on_input = move |ev| {
        let v = event_target_value(&ev);
        value.set(v.clone());
        generation.update_value(|g| *g += 1);
        let asked = generation.get_value();
        let token = current_token(&v);
        if token.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
            close();
            return;
        }
        // The field may be gone (message sent, page left) by the time these run: `try_` reads
        // and writes do nothing then.
        set_timeout(
            move || {
                if generation.try_get_value() != Some(asked) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let found = directory_suggest(token).await.unwrap_or_default();
                    if generation.try_get_value() == Some(asked) {
                        suggestions.try_set(found);
                        active.try_set(None);
                    }
                });
            },
            DEBOUNCE,
        );
    };
    let choose = move |i: usize| {
        // Cloned out first: the list is replaced below, which needs no reader left.
        let picked = suggestions.with_untracked(|list| list.get(i).cloned());
        if let Some(e) = picked {
            value.set(complete(&value.get_untracked(), &e.address));
            generation.update_value(|g| *g += 1);
            close();
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        let n = suggestions.read_untracked().len();
        if n == 0 {
            return;
        }
        match ev.key().as_str() {
            "ArrowDown" => {
                ev.prevent_default();
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % n)));
            }
            "ArrowUp" => {
                ev.prevent_default();
                active.update(|a| *a = Some(a.map_or(n - 1, |i| (i + n - 1) % n)));
            }
            "Enter" => {
                if let Some(i) = active.get_untracked() {
                    ev.prevent_default();
                    choose(i);
                }
            }
            "Escape" => {
                ev.prevent_default();
                close();
            }
            _ => {}
        }
    };
    let expanded = move || (!suggestions.read().is_empty()).to_string();
    let option_id = {
        let dom_id = dom_id.clone();
        move |i: usize| format!("{dom_id}-option-{i}")
    };
    let activedescendant = {
        let option_id = option_id.clone();
        move || active.get().map(&option_id)
    };
    let described_by = {
        let (hint_id, keys_id, error_id) = (hint_id.clone(), keys_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            ids.push(keys_id.clone());
            if problem.get().is_some() {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field combobox" class:field-invalid=move || problem.get().is_some()>
            <label for=dom_id.clone()>{t.t(label)}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{t.t(h)}</p> })}
            <p class="sr-only" id=keys_id.clone()>{t.t(Msg::DirSuggestHint)}</p>
            <input id=dom_id.clone() name=id type="text" autocomplete="off" required=!optional
                aria-required=(!optional).then_some("true") role="combobox" aria-autocomplete="list"
                aria-expanded=expanded aria-controls=list_id.clone() aria-activedescendant=activedescendant
                aria-invalid=move || problem.get().is_some().then_some("true") aria-describedby=described_by
                value=initial prop:value=move || value.get() on:input=on_input on:keydown=on_keydown
                on:blur=move |_| close()/>
            <ul id=list_id.clone() role="listbox" class="suggestions" aria-label=t.t(Msg::DirSuggestions)
                hidden=move || suggestions.read().is_empty()>
                {move || suggestions.get().into_iter().enumerate().map(|(i, e)| {
                    let meta = [e.occupation(), e.place()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" — ");
                    view! {
                        <li id=option_id(i) role="option" aria-selected=move || (active.get() == Some(i)).to_string()
                            on:mousedown=move |ev| { ev.prevent_default(); choose(i); }>
                            <span class="name">{e.display_name()}</span>
                            <span class="meta">{meta}</span>
                            <span class="address">{e.address.clone()}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || problem.get().map(|p| view! { <p class="field-error" id=error_id.clone()>{p.message(t)}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completing_replaces_the_address_being_typed() {
        assert_eq!(complete("mart", "jean.martin@x.fr"), "jean.martin@x.fr, ");
        assert_eq!(complete("a@b.fr, mart", "jean.martin@x.fr"), "a@b.fr, jean.martin@x.fr, ");
        assert_eq!(complete("a@b.fr,mart", "j@x.fr"), "a@b.fr, j@x.fr, ");
        assert_eq!(current_token("a@b.fr,  Mar "), "Mar");
        assert_eq!(current_token(""), "");
    }
}
