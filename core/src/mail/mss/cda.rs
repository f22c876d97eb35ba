//! A CDA R2 document of level 1 carries its PDF in `nonXMLBody/text` (`mediaType=
//! "application/pdf"`, `representation="B64"`): taken out here so that it can be previewed like
//! any PDF attachment (drawn as images by the confined renderer, never run in the page).

use base64::Engine;
use quick_xml::events::Event;
use quick_xml::Reader;

/// The PDF a CDA embeds, if it is well-formed XML (no DOCTYPE, at most `max_depth` nested
/// elements) with a base64 PDF in `nonXMLBody/text` that is a PDF by its content.
pub(super) fn embedded_pdf(xml: &[u8], max_depth: usize) -> Option<Vec<u8>> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    // Local names of the open elements.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut in_pdf = false;
    let mut b64 = String::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::DocType(_) => return None,
            Event::Start(e) => {
                if path.len() >= max_depth {
                    return None;
                }
                let name = e.local_name().as_ref().to_vec();
                if name == b"text" && path.last().is_some_and(|p| p == b"nonXMLBody") {
                    let attr = |key: &[u8]| {
                        e.attributes()
                            .filter_map(Result::ok)
                            .find(|a| a.key.local_name().as_ref() == key)
                            .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_ascii_lowercase()))
                    };
                    in_pdf = attr(b"mediaType").as_deref() == Some("application/pdf")
                        && attr(b"representation").as_deref() == Some("b64");
                }
                path.push(name);
            }
            Event::End(_) => {
                if in_pdf && path.last().is_some_and(|p| p == b"text") {
                    break;
                }
                path.pop();
            }
            Event::Text(t) if in_pdf => b64.push_str(&t.unescape().ok()?),
            Event::CData(c) if in_pdf => b64.push_str(std::str::from_utf8(&c.into_inner()).ok()?),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    let pdf = base64::engine::general_purpose::STANDARD.decode(compact).ok()?;
    crate::mail::preview::is_pdf(&pdf).then_some(pdf)
}
