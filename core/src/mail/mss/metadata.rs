//! `METADATA.XML` of an IHE XDM submission set: an ebXML registry `SubmitObjectsRequest` whose
//! `ExtrinsicObject`s are the documents. Read with quick-xml into a small tree first (bounded in
//! size, depth and element count; no DOCTYPE, so no entity can expand), then queried: the slots,
//! classifications and external identifiers of each document, nested in it or beside it.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::hl7;
use super::xdm::{Author, Coded, XdmError};
use super::Patient;

/// `classificationScheme` of a document's author (XDSDocumentEntry.author).
const AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
/// XDSDocumentEntry.typeCode: the kind of document (a LOINC code, the CDA's `code`).
const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
/// XDSDocumentEntry.classCode.
const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
/// XDSDocumentEntry.formatCode.
const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
/// XDSDocumentEntry.patientId.
const PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
/// XDSDocumentEntry.uniqueId.
const UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";

/// Most elements one `METADATA.XML` may hold.
const MAX_ELEMENTS: usize = 100_000;
/// Longest text kept from one value (names, codes, identifiers).
const MAX_VALUE_CHARS: usize = 500;

/// One document as its metadata describes it (its file not yet checked).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Entry {
    pub title: String,
    pub mime_type: String,
    /// The file's name in the submission set's folder (slot `URI`).
    pub uri: Option<String>,
    /// SHA-1 of the file, lower-case hex (slot `hash`).
    pub hash: Option<String>,
    /// Size of the file in bytes (slot `size`).
    pub size: Option<u64>,
    pub created: Option<String>,
    pub type_code: Option<Coded>,
    pub class_code: Option<Coded>,
    pub format_code: Option<Coded>,
    pub author: Option<Author>,
    pub patient: Option<Patient>,
    pub unique_id: Option<String>,
}

/// An element of the tree: its local name, attributes (local names), text and children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Every element named `name` below this one, in document order.
    fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.descendants(name, out);
        }
    }

    /// The values of the slot `name` among this element's children.
    fn slot(&self, name: &str) -> Vec<String> {
        self.children("Slot")
            .filter(|s| s.attr("name") == Some(name))
            .flat_map(|s| s.children("ValueList").flat_map(|l| l.children("Value")))
            .map(|v| clean(&v.text))
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn first_slot(&self, name: &str) -> Option<String> {
        self.slot(name).into_iter().next()
    }

    /// The `Name/LocalizedString/@value` of this element.
    fn localized_name(&self) -> Option<String> {
        self.children("Name")
            .flat_map(|n| n.children("LocalizedString"))
            .filter_map(|l| l.attr("value"))
            .map(clean)
            .find(|v| !v.is_empty())
    }
}

/// Text from the file as it may be shown: no control characters, trimmed, at most
/// [`MAX_VALUE_CHARS`].
pub(super) fn clean(s: &str) -> String {
    let kept: String = s.chars().filter(|c| !c.is_control()).take(MAX_VALUE_CHARS).collect();
    kept.trim().to_string()
}

fn local(name: &[u8]) -> String {
    let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
    String::from_utf8_lossy(local).into_owned()
}

fn element(e: &BytesStart<'_>) -> Result<Node, XdmError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|_| XdmError::Xml)?;
        let value = a.unescape_value().map_err(|_| XdmError::Xml)?;
        attrs.push((local(a.key.as_ref()), value.into_owned()));
    }
    Ok(Node { name: local(e.name().as_ref()), attrs, ..Node::default() })
}

/// Reads `xml` into a tree, refusing a DOCTYPE (entities), more than `max_depth` nested
/// elements or [`MAX_ELEMENTS`] elements, and anything that is not well-formed.
fn tree(xml: &[u8], max_depth: usize) -> Result<Node, XdmError> {
    let mut reader = Reader::from_reader(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut count = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|_| XdmError::Xml)?;
        match event {
            Event::DocType(_) => return Err(XdmError::XmlDoctype),
            Event::Start(_) | Event::Empty(_) if stack.len() > max_depth => return Err(XdmError::XmlTooDeep),
            Event::Start(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XdmError::XmlTooLarge);
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XdmError::XmlTooLarge);
                }
                let node = element(&e)?;
                stack.last_mut().ok_or(XdmError::Xml)?.children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().ok_or(XdmError::Xml)?;
                stack.last_mut().ok_or(XdmError::Xml)?.children.push(node);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|_| XdmError::Xml)?;
                if let Some(top) = stack.last_mut() {
                    if top.text.len() < MAX_VALUE_CHARS * 4 {
                        top.text.push_str(&text);
                    }
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    if top.text.len() < MAX_VALUE_CHARS * 4 {
                        top.text.push_str(&String::from_utf8_lossy(&c.into_inner()));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err(XdmError::Xml);
    }
    let document = stack.pop().ok_or(XdmError::Xml)?;
    document.children.into_iter().next().ok_or(XdmError::Xml)
}

/// The documents that `xml` (a `METADATA.XML`) describes, in file order, at most
/// `max_documents`.
pub(super) fn parse(xml: &[u8], max_depth: usize, max_documents: usize) -> Result<Vec<Entry>, XdmError> {
    let root = tree(xml, max_depth)?;
    if root.name != "SubmitObjectsRequest" {
        return Err(XdmError::NotMetadata);
    }
    let mut objects = Vec::new();
    root.descendants("ExtrinsicObject", &mut objects);
    if objects.len() > max_documents {
        return Err(XdmError::TooManyDocuments { max: max_documents });
    }
    // Classifications and identifiers may also stand beside the document, naming it.
    let mut loose_classifications = Vec::new();
    root.descendants("Classification", &mut loose_classifications);
    let mut loose_identifiers = Vec::new();
    root.descendants("ExternalIdentifier", &mut loose_identifiers);
    Ok(objects
        .into_iter()
        .map(|o| {
            let id = o.attr("id").unwrap_or("");
            let mine = |n: &&Node, key: &str| !id.is_empty() && n.attr(key) == Some(id);
            let classifications: Vec<&Node> = o
                .children("Classification")
                .chain(loose_classifications.iter().copied().filter(|c| mine(c, "classifiedObject")))
                .collect();
            let identifiers: Vec<&Node> = o
                .children("ExternalIdentifier")
                .chain(loose_identifiers.iter().copied().filter(|c| mine(c, "registryObject")))
                .collect();
            entry(o, &classifications, &identifiers)
        })
        .collect())
}

fn entry(o: &Node, classifications: &[&Node], identifiers: &[&Node]) -> Entry {
    let scheme = |s: &str| classifications.iter().copied().find(|c| c.attr("classificationScheme") == Some(s));
    let identifier = |s: &str| {
        identifiers
            .iter()
            .find(|i| i.attr("identificationScheme") == Some(s))
            .and_then(|i| i.attr("value"))
            .map(clean)
            .filter(|v| !v.is_empty())
    };
    let coded = |s: &str| {
        scheme(s).map(|c| Coded {
            code: clean(c.attr("nodeRepresentation").unwrap_or("")),
            scheme: c.first_slot("codingScheme").unwrap_or_default(),
            label: c.localized_name().unwrap_or_default(),
        })
    };
    let author = scheme(AUTHOR).map(|c| {
        let person = c.first_slot("authorPerson").map(|p| hl7::Xcn::parse(&p)).unwrap_or_default();
        Author {
            name: person.display_name(),
            id: person.id,
            institution: c.first_slot("authorInstitution").map(|i| hl7::component(&i, 0)).unwrap_or_default(),
            specialty: c
                .first_slot("authorSpecialty")
                .map(|s| {
                    let label = hl7::component(&s, 1);
                    if label.is_empty() {
                        hl7::component(&s, 0)
                    } else {
                        label
                    }
                })
                .unwrap_or_default(),
        }
    });
    let patient_id = identifier(PATIENT_ID).or_else(|| o.first_slot("sourcePatientId"));
    let patient = patient_id.map(|id| Patient::from_metadata(&id, &o.slot("sourcePatientInfo")));
    Entry {
        title: o.localized_name().unwrap_or_default(),
        mime_type: clean(o.attr("mimeType").unwrap_or("")),
        uri: o.first_slot("URI"),
        hash: o.first_slot("hash").map(|h| h.to_ascii_lowercase()),
        size: o.first_slot("size").and_then(|s| s.parse().ok()),
        created: o.first_slot("creationTime").and_then(|t| hl7::iso_time(&t)),
        type_code: coded(TYPE_CODE),
        class_code: coded(CLASS_CODE),
        format_code: coded(FORMAT_CODE),
        author,
        patient,
        unique_id: identifier(UNIQUE_ID),
    }
}
