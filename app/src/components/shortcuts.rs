//! Keyboard shortcuts of the webmail, and their list shown by `?`. Keys typed into a field are
//! never taken; shortcuts use no modifier, so they do not collide with the browser's or a
//! screen reader's (which use Ctrl, Alt or Insert).

use leptos::prelude::*;

use crate::i18n::Msg;
use crate::use_i18n;

/// The shortcuts, as listed in the help: key and what it does.
pub const SHORTCUTS: &[(&str, Msg)] = &[
    ("c", Msg::KeyCompose),
    ("/", Msg::KeySearch),
    ("j", Msg::KeyNext),
    ("k", Msg::KeyPrevious),
    ("x", Msg::KeySelect),
    ("e", Msg::KeyArchive),
    ("#", Msg::KeyDelete),
    ("r", Msg::KeyReply),
    ("a", Msg::KeyReplyAll),
    ("f", Msg::KeyForward),
    ("u", Msg::KeyBack),
    ("?", Msg::KeyHelp),
];

/// Calls `handler` with each key pressed outside a field (and without Ctrl, Alt or Meta); `?`
/// opens or closes the list of shortcuts in `help`. Removed with the calling component.
pub fn use_shortcuts(help: RwSignal<bool>, handler: impl Fn(&str) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let listener = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
            if ev.ctrl_key() || ev.alt_key() || ev.meta_key() || ev.default_prevented() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
                .map(|el| {
                    let tag = el.tag_name().to_ascii_lowercase();
                    // Inside another dialog (a PDF preview), keys belong to that dialog.
                    let other_dialog = el.closest("[aria-modal='true']:not(.shortcut-dialog)").ok().flatten().is_some();
                    matches!(tag.as_str(), "input" | "textarea" | "select") || el.is_content_editable() || other_dialog
                })
                .unwrap_or(false);
            if typing {
                return;
            }
            let key = ev.key();
            match key.as_str() {
                "?" => {
                    ev.prevent_default();
                    help.update(|h| *h = !*h);
                }
                "Escape" if help.get_untracked() => help.set(false),
                _ if help.get_untracked() => {}
                k if SHORTCUTS.iter().any(|(s, _)| *s == k) => {
                    ev.prevent_default();
                    handler(k);
                }
                _ => {}
            }
        });
        on_cleanup(move || listener.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (help, handler);
}

/// The list of shortcuts, as a dialog, and the button that opens it.
#[component]
pub fn ShortcutHelp(open: RwSignal<bool>) -> impl IntoView {
    let t = use_i18n();
    let close = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if open.get() {
            if let Some(b) = close.get() {
                let _ = b.focus();
            }
        }
    });
    view! {
        <button type="button" class="link-button shortcut-open" aria-haspopup="dialog"
            on:click=move |_| open.set(true)>{t.t(Msg::KeysTitle)}" (?)"</button>
        <Show when=move || open.get()>
            <div class="shortcut-dialog" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title"
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        open.set(false)
                    }
                    crate::components::dialog::trap_tab(&ev);
                }>
                <h2 id="shortcuts-title">{t.t(Msg::KeysTitle)}</h2>
                <dl>
                    {SHORTCUTS.iter().map(|(k, m)| view! { <dt><kbd>{*k}</kbd></dt><dd>{t.t(*m)}</dd> }).collect_view()}
                </dl>
                <button type="button" class="button" node_ref=close on:click=move |_| open.set(false)>
                    {t.t(Msg::Close)}
                </button>
            </div>
        </Show>
    }
}
