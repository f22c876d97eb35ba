//! An IHE XDM package (`IHE_XDM.zip`) opened as untrusted input: the zip is checked before
//! anything is decompressed (entry count, declared sizes and compression ratios, names that would
//! escape the folder, encryption, duplicates), every byte decompressed counts against the limits
//! (declared sizes may lie), `METADATA.XML` is read within its own limits (see [`super::metadata`]),
//! and each document's file is checked against the size and SHA-1 the metadata declares. Any
//! refusal is a typed [`XdmError`]; nothing here panics on hostile input.

use std::io::{Cursor, Read};

use sha1::{Digest, Sha1};

use super::metadata::{self, Entry};
use super::Patient;

/// What an XDM package may hold at most. The defaults are generous for real packages (a few
/// documents of a few megabytes) and small enough that a hostile one costs little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries in the zip, folders included.
    pub max_entries: usize,
    /// Bytes of all entries once decompressed, as declared and as actually read.
    pub max_total_bytes: u64,
    /// Decompressed size over compressed size, per entry.
    pub max_ratio: u64,
    /// Bytes of one `METADATA.XML`.
    pub max_metadata_bytes: u64,
    /// Nested elements in XML.
    pub max_xml_depth: usize,
    /// Documents in the whole package.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 500,
            max_total_bytes: 100 * 1024 * 1024,
            max_ratio: 100,
            max_metadata_bytes: 4 * 1024 * 1024,
            max_xml_depth: 64,
            max_documents: 100,
        }
    }
}

/// Why a package is refused. The variants name no file: an entry's name may name a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XdmError {
    #[error("not a zip file")]
    NotAZip,
    #[error("encrypted entries")]
    Encrypted,
    #[error("a compression method that is not supported")]
    Unsupported,
    #[error("more than {max} entries")]
    TooManyEntries { max: usize },
    #[error("over {max_bytes} bytes once decompressed")]
    TooLarge { max_bytes: u64 },
    #[error("an entry compressed more than {max} times")]
    RatioTooHigh { max: u64 },
    #[error("an entry whose name leaves the folder")]
    PathEscape,
    #[error("two entries with the same name")]
    DuplicateEntry,
    #[error("a damaged entry")]
    Corrupt,
    #[error("no IHE_XDM/<submission set>/METADATA.XML")]
    NoMetadata,
    #[error("METADATA.XML is not an ebXML SubmitObjectsRequest")]
    NotMetadata,
    #[error("METADATA.XML is over its size limit")]
    XmlTooLarge,
    #[error("METADATA.XML nests elements too deep")]
    XmlTooDeep,
    #[error("METADATA.XML has a DOCTYPE")]
    XmlDoctype,
    #[error("METADATA.XML is not well-formed XML")]
    Xml,
    #[error("more than {max} documents")]
    TooManyDocuments { max: usize },
}

impl XdmError {
    /// A short, stable code (for the view and the audit trail).
    pub fn code(&self) -> &'static str {
        match self {
            XdmError::NotAZip => "not_a_zip",
            XdmError::Encrypted => "encrypted",
            XdmError::Unsupported => "unsupported",
            XdmError::TooManyEntries { .. } => "too_many_entries",
            XdmError::TooLarge { .. } => "too_large",
            XdmError::RatioTooHigh { .. } => "ratio",
            XdmError::PathEscape => "path_escape",
            XdmError::DuplicateEntry => "duplicate_entry",
            XdmError::Corrupt => "corrupt",
            XdmError::NoMetadata => "no_metadata",
            XdmError::NotMetadata => "not_metadata",
            XdmError::XmlTooLarge => "xml_too_large",
            XdmError::XmlTooDeep => "xml_too_deep",
            XdmError::XmlDoctype => "xml_doctype",
            XdmError::Xml => "xml",
            XdmError::TooManyDocuments { .. } => "too_many_documents",
        }
    }
}

/// A coded value of the metadata (type, class, format): code, coding scheme, label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coded {
    pub code: String,
    pub scheme: String,
    pub label: String,
}

/// The author of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Author {
    /// `Dr Paul MARTIN`.
    pub name: String,
    /// The professional's identifier (RPPS, ADELI…), as given.
    pub id: String,
    pub institution: String,
    pub specialty: String,
}

/// How a document's file compares with what the metadata declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileCheck {
    /// Size and SHA-1 declared and matching.
    Verified,
    /// Present, but the metadata declares no hash to check it against.
    Unchecked,
    /// The metadata names no file, or a file that is not in the package.
    Missing,
    /// Its size or SHA-1 differs from the metadata's: altered, or not the declared document.
    Mismatch,
}

/// One document of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `Name` of the document (`Compte rendu d'imagerie`).
    pub title: String,
    pub mime_type: String,
    /// The file's name in the package (without its folder).
    pub file_name: String,
    pub size: Option<u64>,
    /// When it was written, ISO 8601 (`2026-10-05T10:15:00Z`, or a day).
    pub created: Option<String>,
    /// Its kind (typeCode: LOINC code and label): the CDA's `code`.
    pub type_code: Option<Coded>,
    pub class_code: Option<Coded>,
    pub format_code: Option<Coded>,
    pub author: Option<Author>,
    pub patient: Option<Patient>,
    /// The document's unique id: the same id is the same document.
    pub unique_id: Option<String>,
    pub check: FileCheck,
    /// A PDF can be drawn for it: the file is a PDF, or a CDA that embeds one.
    pub has_pdf: bool,
}

/// The documents of a package, in the order of their metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    pub documents: Vec<Document>,
}

impl Package {
    /// The package's patient: one per message; the first document's.
    pub fn patient(&self) -> Option<&Patient> {
        self.documents.iter().find_map(|d| d.patient.as_ref())
    }

    /// Whether the documents name more than one patient (one per message is the rule).
    pub fn several_patients(&self) -> bool {
        let mut ids = self.documents.iter().filter_map(|d| d.patient.as_ref()).map(|p| (&p.id, &p.oid));
        match ids.next() {
            Some(first) => ids.any(|p| p != first),
            None => false,
        }
    }
}

/// A document's file taken out of the package.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentFile {
    pub name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for DocumentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A health document: its size only.
        f.debug_struct("DocumentFile").field("size", &self.bytes.len()).finish_non_exhaustive()
    }
}

/// Whether an attachment's name is that of an XDM package (`IHE_XDM.zip`, any case).
pub fn is_package_name(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("IHE_XDM.zip")
}

/// Opens a package and lists its documents, each checked against its file.
pub fn open(zip: &[u8], limits: &Limits) -> Result<Package, XdmError> {
    Ok(read(zip, limits, None)?.0)
}

/// The file of document `index` (in [`Package::documents`] order), when it is in the package.
pub fn document(zip: &[u8], limits: &Limits, index: usize) -> Result<Option<DocumentFile>, XdmError> {
    let (package, file) = read(zip, limits, Some(index))?;
    Ok(match (package.documents.get(index), file) {
        (Some(d), Some(bytes)) => {
            Some(DocumentFile { name: d.file_name.clone(), mime_type: d.mime_type.clone(), bytes })
        }
        _ => None,
    })
}

/// The PDF to draw for document `index`: its file if that is a PDF, else the PDF a CDA (level 1)
/// embeds in its `nonXMLBody`.
pub fn document_pdf(zip: &[u8], limits: &Limits, index: usize) -> Result<Option<Vec<u8>>, XdmError> {
    Ok(document(zip, limits, index)?.and_then(|f| f.pdf(limits)))
}

impl DocumentFile {
    /// The PDF to draw for this document: the file if it is a PDF, else the PDF a CDA (level 1)
    /// embeds in its `nonXMLBody`.
    pub fn pdf(&self, limits: &Limits) -> Option<Vec<u8>> {
        pdf_of(&self.bytes, limits)
    }
}

fn pdf_of(bytes: &[u8], limits: &Limits) -> Option<Vec<u8>> {
    if crate::mail::preview::is_pdf(bytes) {
        return Some(bytes.to_vec());
    }
    super::cda::embedded_pdf(bytes, limits.max_xml_depth)
}

/// One entry's place and sizes, read from the central directory before anything is
/// decompressed.
struct Listed {
    index: usize,
    /// Its path, `/`-separated, checked to stay inside the package.
    path: String,
}

/// Checks the whole zip (names, counts, declared sizes, ratios), reads every `METADATA.XML`,
/// then each document's file; keeps the bytes of document `keep`.
fn read(zip: &[u8], limits: &Limits, keep: Option<usize>) -> Result<(Package, Option<Vec<u8>>), XdmError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| XdmError::NotAZip)?;
    if archive.len() > limits.max_entries {
        return Err(XdmError::TooManyEntries { max: limits.max_entries });
    }
    let mut listed: Vec<Listed> = Vec::with_capacity(archive.len());
    let mut declared_total: u64 = 0;
    let mut seen = std::collections::HashSet::new();
    for index in 0..archive.len() {
        let f = archive.by_index_raw(index).map_err(|_| XdmError::Corrupt)?;
        if f.encrypted() {
            return Err(XdmError::Encrypted);
        }
        if f.is_symlink() {
            return Err(XdmError::PathEscape);
        }
        let path = safe_path(f.name()).ok_or(XdmError::PathEscape)?;
        if !seen.insert(path.to_ascii_lowercase()) {
            return Err(XdmError::DuplicateEntry);
        }
        declared_total = declared_total.saturating_add(f.size());
        if declared_total > limits.max_total_bytes {
            return Err(XdmError::TooLarge { max_bytes: limits.max_total_bytes });
        }
        if too_compressed(f.size(), f.compressed_size(), limits.max_ratio) {
            return Err(XdmError::RatioTooHigh { max: limits.max_ratio });
        }
        if !f.is_dir() {
            listed.push(Listed { index, path });
        }
    }
    let mut budget =
        Budget { left: limits.max_total_bytes, total: limits.max_total_bytes, max_ratio: limits.max_ratio };
    // Each submission set: IHE_XDM/<folder>/METADATA.XML, names compared without case.
    let mut sets: Vec<(String, Vec<Entry>)> = Vec::new();
    for l in &listed {
        let parts: Vec<&str> = l.path.split('/').collect();
        if let [root, folder, file] = parts.as_slice() {
            if root.eq_ignore_ascii_case("IHE_XDM") && file.eq_ignore_ascii_case("METADATA.XML") {
                let xml = budget.take(&mut archive, l.index, Some(limits.max_metadata_bytes))?;
                let entries = metadata::parse(&xml, limits.max_xml_depth, limits.max_documents)?;
                sets.push((format!("{root}/{folder}"), entries));
            }
        }
    }
    if sets.is_empty() {
        return Err(XdmError::NoMetadata);
    }
    let count: usize = sets.iter().map(|(_, e)| e.len()).sum();
    if count > limits.max_documents {
        return Err(XdmError::TooManyDocuments { max: limits.max_documents });
    }
    let mut documents = Vec::with_capacity(count);
    let mut kept = None;
    for (folder, entries) in sets {
        for e in entries {
            let n = documents.len();
            let (file_name, found) = match e.uri.as_deref() {
                Some(uri) => {
                    // A file beside METADATA.XML; a name that leaves the folder is hostile.
                    let rel = safe_path(uri).ok_or(XdmError::PathEscape)?;
                    let want = format!("{folder}/{rel}");
                    let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                    (name, listed.iter().find(|l| l.path.eq_ignore_ascii_case(&want)))
                }
                None => (String::new(), None),
            };
            let bytes = match found {
                Some(l) => Some(budget.take(&mut archive, l.index, None)?),
                None => None,
            };
            let check = match &bytes {
                None => FileCheck::Missing,
                Some(b) => check(b, e.size, e.hash.as_deref()),
            };
            let has_pdf = bytes.as_deref().is_some_and(|b| pdf_of(b, limits).is_some());
            if keep == Some(n) {
                kept = bytes;
            }
            documents.push(Document {
                title: e.title,
                mime_type: e.mime_type,
                file_name,
                size: e.size,
                created: e.created,
                type_code: e.type_code,
                class_code: e.class_code,
                format_code: e.format_code,
                author: e.author,
                patient: e.patient,
                unique_id: e.unique_id,
                check,
                has_pdf,
            });
        }
    }
    Ok((Package { documents }, kept))
}

fn check(bytes: &[u8], size: Option<u64>, hash: Option<&str>) -> FileCheck {
    if size.is_some_and(|s| s != bytes.len() as u64) {
        return FileCheck::Mismatch;
    }
    match hash {
        Some(h) if hex::encode(Sha1::digest(bytes)) == h => FileCheck::Verified,
        Some(_) => FileCheck::Mismatch,
        None => FileCheck::Unchecked,
    }
}

/// Whether `size` bytes from `compressed` is over the ratio (an empty entry is fine; bytes from
/// nothing are not).
fn too_compressed(size: u64, compressed: u64, max_ratio: u64) -> bool {
    match compressed {
        0 => size > 0,
        c => size / c > max_ratio,
    }
}

/// A relative path inside the package, `/`-separated: `None` for an absolute path, a drive, a
/// `..` component, a backslash or a control character (all ways out of the folder, or tricks).
fn safe_path(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with('/') || name.contains('\\') || name.chars().any(char::is_control) {
        return None;
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p if p.contains(':') => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Bytes still allowed to be decompressed in this package.
struct Budget {
    left: u64,
    /// The package's limit, for the refusal.
    total: u64,
    max_ratio: u64,
}

impl Budget {
    /// Decompresses entry `index`, counting every byte against what is left (and at most
    /// `max` for this entry); the ratio is checked on what was actually read.
    fn take(
        &mut self,
        archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
        index: usize,
        max: Option<u64>,
    ) -> Result<Vec<u8>, XdmError> {
        let f = archive.by_index(index).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(m) if m.contains("assword") => XdmError::Encrypted,
            zip::result::ZipError::UnsupportedArchive(_) => XdmError::Unsupported,
            _ => XdmError::Corrupt,
        })?;
        let compressed = f.compressed_size();
        let cap = max.map_or(self.left, |m| m.min(self.left));
        let mut out = Vec::new();
        f.take(cap + 1).read_to_end(&mut out).map_err(|_| XdmError::Corrupt)?;
        if out.len() as u64 > cap {
            return Err(match max {
                Some(m) if m < self.left => XdmError::XmlTooLarge,
                _ => XdmError::TooLarge { max_bytes: self.total },
            });
        }
        if too_compressed(out.len() as u64, compressed, self.max_ratio) {
            return Err(XdmError::RatioTooHigh { max: self.max_ratio });
        }
        self.left -= out.len() as u64;
        Ok(out)
    }
}
