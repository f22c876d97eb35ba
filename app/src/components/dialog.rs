//! What the modal dialogs (PDF preview, list of shortcuts) share.

/// Keeps Tab and Shift+Tab inside the dialog the key was pressed in: attach it to the dialog's
/// `keydown`. The focus goes round from the last control to the first and back.
pub fn trap_tab(ev: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if ev.key() != "Tab" {
            return;
        }
        let Some(dialog) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
            return;
        };
        let Ok(list) = dialog.query_selector_all(
            "a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex='-1'])",
        ) else {
            return;
        };
        let controls: Vec<web_sys::HtmlElement> =
            (0..list.length()).filter_map(|i| list.get(i)?.dyn_into().ok()).collect();
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
            return;
        };
        let active = leptos::prelude::document().active_element();
        let has_focus = |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| el.is_same_node(Some(a)));
        if ev.shift_key() && has_focus(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && has_focus(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}
