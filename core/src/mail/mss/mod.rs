//! MSSanté message rules (see `shared/formats/MSSANTE-MESSAGES.md`): the `X-MSS-*` headers, the
//! health-document subject (`XDM/1.0/DDM+…`, shown without its prefix), the IHE XDM package
//! (`IHE_XDM.zip`) and its documents and patient, and the headers every message sent from here
//! carries. Everything here reads untrusted mail: it returns typed results and never panics.
//!
//! Nothing of a message (subject, patient, document) is logged from here.

mod cda;
mod hl7;
mod metadata;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod xdm;

use mail_parser::{MessageParser, MimeHeaders};

use super::attach;

/// The prefix of a health-document message's subject; a reading client hides it.
pub const SUBJECT_PREFIX: &str = "XDM/1.0/DDM+";

/// `X-MSS-NIL`: this software's reference in the national convergence catalogue, on every
/// message sent. To be replaced by the reference the catalogue gives Hygie once it is listed.
pub const SOFTWARE_REFERENCE: &str = "HYGIE";

/// The subject without [`SUBJECT_PREFIX`] when it starts with it (any case, after spaces):
/// `Some("CR d'imagerie DUPONT Jeanne 12/03/1961")`; `None` for an ordinary subject.
pub fn health_subject(subject: &str) -> Option<&str> {
    let s = subject.trim_start();
    let head = s.get(..SUBJECT_PREFIX.len())?;
    head.eq_ignore_ascii_case(SUBJECT_PREFIX).then(|| s[SUBJECT_PREFIX.len()..].trim())
}

/// The subject as shown, and whether it marks a health document.
pub fn display_subject(subject: &str) -> (String, bool) {
    match health_subject(subject) {
        Some(rest) => (rest.to_string(), true),
        None => (subject.to_string(), false),
    }
}

/// The `X-MSS-*` headers of a message, as read (values cleaned and bounded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// `X-MSS-CODECDA`: the CDA code of each document attached.
    pub cda_codes: Vec<String>,
    /// `X-MSS-INS`: `O` (the patient's identity is a qualified INS) or `N`.
    pub ins_qualified: Option<bool>,
    /// `X-MSS-NIL`: the sending software's reference.
    pub software: Option<String>,
    /// `X-MSS-MES: FIN`: the patient may not reply.
    pub patient_reply_forbidden: bool,
}

impl Headers {
    pub fn read(raw: &[u8]) -> Headers {
        let Some(m) = MessageParser::default().parse_headers(raw) else { return Headers::default() };
        let value = |name: &str| m.header_raw(name).map(|v| printable(v, 200)).filter(|v| !v.is_empty());
        Headers {
            cda_codes: value("X-MSS-CODECDA")
                .map(|v| v.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).take(50).collect())
                .unwrap_or_default(),
            ins_qualified: value("X-MSS-INS").and_then(|v| match v.to_ascii_uppercase().as_str() {
                "O" => Some(true),
                "N" => Some(false),
                _ => None,
            }),
            software: value("X-MSS-NIL"),
            patient_reply_forbidden: value("X-MSS-MES").is_some_and(|v| v.eq_ignore_ascii_case("FIN")),
        }
    }
}

/// Header text as kept: printable, on one line, at most `max` characters.
fn printable(v: &str, max: usize) -> String {
    let one: String = v.chars().filter(|c| !c.is_control()).take(max).collect();
    one.trim().to_string()
}

/// What a patient identifier is, by its assigning authority's OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// INS from the NIR (1.2.250.1.213.1.4.8).
    InsNir,
    /// INS from the NIA, for people being registered (1.2.250.1.213.1.4.9).
    InsNia,
    /// A test or demonstration INS (1.2.250.1.213.1.4.10, .11): never a real patient.
    InsTest,
    /// Any other identifier (a local patient number).
    Other,
}

impl IdKind {
    pub fn from_oid(oid: &str) -> IdKind {
        match oid {
            "1.2.250.1.213.1.4.8" => IdKind::InsNir,
            "1.2.250.1.213.1.4.9" => IdKind::InsNia,
            "1.2.250.1.213.1.4.10" | "1.2.250.1.213.1.4.11" => IdKind::InsTest,
            _ => IdKind::Other,
        }
    }

    pub fn is_ins(self) -> bool {
        self != IdKind::Other
    }
}

/// The patient of a document, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patient {
    /// The identifier (the INS: 15 characters).
    pub id: String,
    /// Its assigning authority.
    pub oid: String,
    /// Birth name (PID-5), as given.
    pub family: String,
    pub given: String,
    /// ISO day (PID-7).
    pub birth_date: Option<String>,
    /// `F`, `M` or `U` (PID-8).
    pub gender: Option<String>,
}

impl Patient {
    /// From a `CX` patient id and the `sourcePatientInfo` lines.
    pub(crate) fn from_metadata(cx: &str, info: &[String]) -> Patient {
        let (id, oid) = hl7::cx(cx);
        let name = hl7::pid_field(info, "PID-5").unwrap_or("");
        Patient {
            id,
            oid,
            family: hl7::component(name, 0),
            given: hl7::component(name, 1),
            birth_date: hl7::pid_field(info, "PID-7").and_then(hl7::iso_time).map(|d| d.chars().take(10).collect()),
            gender: hl7::pid_field(info, "PID-8")
                .map(|g| g.trim().to_ascii_uppercase())
                .filter(|g| matches!(g.as_str(), "F" | "M" | "U")),
        }
    }

    pub fn kind(&self) -> IdKind {
        IdKind::from_oid(&self.oid)
    }

    /// An INS whose number is well formed: 13 characters (digits; `2A`/`2B` for Corsica) and
    /// the 2-digit key, 97 minus the number modulo 97.
    pub fn ins_valid(&self) -> bool {
        self.kind().is_ins() && nir_key_ok(&self.id)
    }

    /// A qualified INS as `X-MSS-INS` means it: a valid INS number with its OID and the
    /// identity traits (birth name, first name, birth date, sex).
    pub fn ins_qualified(&self) -> bool {
        self.ins_valid()
            && !self.family.is_empty()
            && !self.given.is_empty()
            && self.birth_date.is_some()
            && self.gender.as_deref().is_some_and(|g| g == "F" || g == "M")
    }
}

/// Whether a 15-character NIR's key matches its first 13 characters.
fn nir_key_ok(nir: &str) -> bool {
    if nir.len() != 15 || !nir.is_ascii() {
        return false;
    }
    let (number, key) = nir.split_at(13);
    let number = number.to_ascii_uppercase().replace("2A", "19").replace("2B", "18");
    let (Ok(n), Ok(k)) = (number.parse::<u64>(), key.parse::<u64>()) else { return false };
    number.len() == 13 && 97 - n % 97 == k
}

/// The XDM package of a message: which attachment it is and what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdmReading {
    /// Its index among the message's attachments (as `Summary::attachment_names` lists them).
    pub attachment: usize,
    pub package: Result<xdm::Package, xdm::XdmError>,
}

/// What the MSSanté rules read from one stored message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reading {
    pub headers: Headers,
    /// The subject marks a health document (`XDM/1.0/DDM+`).
    pub health_document: bool,
    /// The subject without its prefix.
    pub subject: String,
    pub xdm: Option<XdmReading>,
}

impl Reading {
    /// The patient the message is about (from its XDM package), if it names one.
    pub fn patient(&self) -> Option<&Patient> {
        self.xdm.as_ref().and_then(|x| x.package.as_ref().ok()).and_then(|p| p.patient())
    }
}

/// Reads the headers, subject and XDM package of a stored message.
pub fn read(raw: &[u8], limits: &xdm::Limits) -> Reading {
    let headers = Headers::read(raw);
    let Some(m) = MessageParser::default().parse(raw) else { return Reading { headers, ..Reading::default() } };
    let (subject, health_document) = display_subject(m.subject().unwrap_or_default());
    let xdm = m
        .attachments()
        .filter(|a| a.attachment_name().is_some())
        .enumerate()
        .find(|(_, a)| a.attachment_name().is_some_and(|n| xdm::is_package_name(&attach::clean_name(n))))
        .map(|(attachment, a)| XdmReading { attachment, package: xdm::open(a.contents(), limits) });
    Reading { headers, health_document, subject, xdm }
}

/// The headers an MSSanté client sets on a message it sends with `attachments`: `X-MSS-NIL`
/// always; with an XDM package that opens, `X-MSS-CODECDA` (each document's type code, once)
/// and `X-MSS-INS` (`O` when its patient is a qualified INS, else `N`).
pub fn outgoing_headers(attachments: &[attach::Part], limits: &xdm::Limits) -> Vec<(&'static str, String)> {
    let mut headers = vec![("X-MSS-NIL", SOFTWARE_REFERENCE.to_string())];
    let package = attachments
        .iter()
        .filter(|a| xdm::is_package_name(&a.name))
        .find_map(|a| xdm::open(&a.bytes, limits).ok())
        .filter(|p| !p.documents.is_empty());
    if let Some(p) = package {
        let mut codes: Vec<String> = Vec::new();
        for c in p.documents.iter().filter_map(|d| d.type_code.as_ref()).map(|c| printable(&c.code, 64)) {
            // A code goes into a header: no separator or space inside it.
            let c: String = c.chars().filter(|ch| ch.is_ascii_graphic() && *ch != ',').collect();
            if !c.is_empty() && !codes.contains(&c) {
                codes.push(c);
            }
        }
        if !codes.is_empty() {
            headers.push(("X-MSS-CODECDA", codes.join(",")));
        }
        let qualified = p.patient().is_some_and(Patient::ins_qualified);
        headers.push(("X-MSS-INS", if qualified { "O" } else { "N" }.to_string()));
    }
    headers
}

#[cfg(test)]
mod tests;
