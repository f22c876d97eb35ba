use sha1::{Digest, Sha1};

use super::testing::{self, INS, INS_OID};
use super::xdm::{self, FileCheck, Limits, XdmError};
use super::*;

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// A package whose metadata names `uri` for `doc`, with the right size and hash.
fn package_with(uri: &str, doc: &[u8], entries: &[(&str, &[u8])]) -> Vec<u8> {
    let meta = testing::metadata(uri, doc.len(), &sha1_hex(doc));
    let mut all: Vec<(&str, &[u8])> = vec![("IHE_XDM/SUBSET01/METADATA.XML", meta.as_bytes())];
    all.extend_from_slice(entries);
    testing::zip(&all)
}

#[test]
fn the_health_document_prefix_is_hidden() {
    assert_eq!(
        health_subject("XDM/1.0/DDM+CR d'imagerie DUPONT Jeanne 12/03/1961"),
        Some("CR d'imagerie DUPONT Jeanne 12/03/1961")
    );
    assert_eq!(health_subject("  xdm/1.0/ddm+ Biologie"), Some("Biologie"));
    assert_eq!(health_subject("XDM/1.0/DDM+"), Some(""));
    assert_eq!(health_subject("RE: XDM/1.0/DDM+Biologie"), None);
    assert_eq!(health_subject("XDM/1.0"), None);
    assert_eq!(health_subject("Résultats"), None);
    // Not cut inside a character.
    assert_eq!(health_subject("ééééééé"), None);
    assert_eq!(display_subject("Bonjour"), ("Bonjour".to_string(), false));
    assert_eq!(display_subject("XDM/1.0/DDM+Biologie"), ("Biologie".to_string(), true));
}

#[test]
fn x_mss_headers_are_read() {
    let raw = b"From: a@labo.mssante.fr\r\nX-MSS-CODECDA: 18748-4, 11502-2\r\nX-MSS-INS: O\r\nX-MSS-NIL: REF-12\r\n\
                X-MSS-MES: FIN\r\nSubject: x\r\n\r\nbody\r\n";
    let h = Headers::read(raw);
    assert_eq!(h.cda_codes, ["18748-4", "11502-2"]);
    assert_eq!(h.ins_qualified, Some(true));
    assert_eq!(h.software.as_deref(), Some("REF-12"));
    assert!(h.patient_reply_forbidden);
    let none = Headers::read(b"From: a@b.fr\r\nX-MSS-INS: peut-etre\r\n\r\n");
    assert_eq!(none, Headers::default());
    assert_eq!(Headers::read(b"\xff\xfe"), Headers::default());
}

#[test]
fn ins_numbers_are_checked() {
    let p = |id: &str, oid: &str| Patient {
        id: id.into(),
        oid: oid.into(),
        family: "DUPONT".into(),
        given: "Jeanne".into(),
        birth_date: Some("1961-03-12".into()),
        gender: Some("F".into()),
    };
    assert!(p(INS, INS_OID).ins_qualified());
    assert!(!p("261037512345604", INS_OID).ins_valid(), "wrong key");
    assert!(!p("26103751234560", INS_OID).ins_valid(), "too short");
    assert!(!p(INS, "1.2.250.1.999").ins_valid(), "not the INS OID");
    // Corsica: 2A counts as 19 for the key.
    let corsica = "1800".to_string() + "2A" + "1231230";
    let n: u64 = "1800191231230".parse().unwrap();
    assert!(p(&format!("{corsica}{:02}", 97 - n % 97), INS_OID).ins_valid());
    assert_eq!(IdKind::from_oid("1.2.250.1.213.1.4.10"), IdKind::InsTest);
    let mut no_sex = p(INS, INS_OID);
    no_sex.gender = Some("U".into());
    assert!(no_sex.ins_valid() && !no_sex.ins_qualified());
}

#[test]
fn a_good_package_lists_its_document_and_patient() {
    let package = xdm::open(&testing::package(), &Limits::default()).expect("opens");
    assert_eq!(package.documents.len(), 1);
    let d = &package.documents[0];
    assert_eq!(d.title, "Compte rendu d'imagerie");
    assert_eq!(d.mime_type, "text/xml");
    assert_eq!(d.file_name, "DOC0001.XML");
    assert_eq!(d.created.as_deref(), Some("2026-10-05T10:15:00Z"));
    let t = d.type_code.as_ref().unwrap();
    assert_eq!(
        (t.code.as_str(), t.scheme.as_str(), t.label.as_str()),
        ("18748-4", "2.16.840.1.113883.6.1", "CR d'imagerie médicale")
    );
    assert_eq!(d.class_code.as_ref().unwrap().label, "Compte rendu");
    let a = d.author.as_ref().unwrap();
    assert_eq!(a.name, "Dr Paul MARTIN");
    assert_eq!(a.id, "801234567890");
    assert_eq!(a.institution, "Centre d'imagerie du Parc");
    assert_eq!(a.specialty, "Radiodiagnostic et imagerie médicale");
    assert_eq!(d.unique_id.as_deref(), Some("1.2.250.1.999.1.20261005.1"));
    assert_eq!(d.check, FileCheck::Verified);
    assert!(d.has_pdf, "a CDA of level 1 embeds its PDF");
    let p = package.patient().unwrap();
    assert_eq!((p.id.as_str(), p.oid.as_str()), (INS, INS_OID));
    assert_eq!((p.family.as_str(), p.given.as_str()), ("DUPONT", "Jeanne"));
    assert_eq!(p.birth_date.as_deref(), Some("1961-03-12"));
    assert!(p.ins_qualified());
    assert!(!package.several_patients());

    let file = xdm::document(&testing::package(), &Limits::default(), 0).unwrap().unwrap();
    assert_eq!(file.bytes, testing::cda(&testing::pdf()));
    assert_eq!(xdm::document(&testing::package(), &Limits::default(), 1).unwrap(), None);
    let pdf = xdm::document_pdf(&testing::package(), &Limits::default(), 0).unwrap().unwrap();
    assert_eq!(pdf, testing::pdf());
    assert!(!format!("{file:?}").contains("ClinicalDocument"), "no content in Debug");
}

#[test]
fn names_are_compared_without_case_and_files_checked_against_the_metadata() {
    let doc = testing::cda(&testing::pdf());
    // Lower-case folder and file name: found all the same.
    let z = package_with("doc0001.xml", &doc, &[("IHE_XDM/SUBSET01/DOC0001.XML", &doc)]);
    assert_eq!(xdm::open(&z, &Limits::default()).unwrap().documents[0].check, FileCheck::Verified);
    // Altered file: the hash no longer matches.
    let mut altered = doc.clone();
    altered[100] ^= 1;
    let meta = testing::metadata("DOC0001.XML", doc.len(), &sha1_hex(&doc));
    let z =
        testing::zip(&[("IHE_XDM/SUBSET01/METADATA.XML", meta.as_bytes()), ("IHE_XDM/SUBSET01/DOC0001.XML", &altered)]);
    assert_eq!(xdm::open(&z, &Limits::default()).unwrap().documents[0].check, FileCheck::Mismatch);
    // The file is not there.
    let z = testing::zip(&[("IHE_XDM/SUBSET01/METADATA.XML", meta.as_bytes())]);
    let d = &xdm::open(&z, &Limits::default()).unwrap().documents[0];
    assert_eq!((d.check, d.has_pdf), (FileCheck::Missing, false));
    // No metadata at all.
    let z = testing::zip(&[("README.TXT", b"rien")]);
    assert_eq!(xdm::open(&z, &Limits::default()), Err(XdmError::NoMetadata));
}

#[test]
fn hostile_zips_are_refused_with_a_typed_error() {
    let limits = Limits::default();
    assert_eq!(xdm::open(b"PK\x03\x04 not really", &limits), Err(XdmError::NotAZip));
    assert_eq!(xdm::open(b"", &limits), Err(XdmError::NotAZip));

    // A zip bomb: 20 MB of zeros deflate to about 20 kB, a ratio of about 1000.
    let zeros = vec![0u8; 20 * 1024 * 1024];
    let doc = testing::cda(&testing::pdf());
    let bomb = package_with(
        "DOC0001.XML",
        &doc,
        &[("IHE_XDM/SUBSET01/DOC0001.XML", &doc), ("IHE_XDM/SUBSET01/PAD.BIN", &zeros)],
    );
    assert_eq!(xdm::open(&bomb, &limits), Err(XdmError::RatioTooHigh { max: 100 }));
    // Bigger than allowed in total, though each entry is a fair ratio.
    let small = Limits { max_total_bytes: 1024, ..limits };
    assert_eq!(xdm::open(&testing::package(), &small), Err(XdmError::TooLarge { max_bytes: 1024 }));

    // Names that leave the folder.
    for evil in ["../evil.txt", "IHE_XDM/../../etc/passwd", "/etc/passwd", "C:/Windows/x", "a\\..\\b"] {
        let z = package_with("DOC0001.XML", &doc, &[(evil, b"x")]);
        assert_eq!(xdm::open(&z, &limits), Err(XdmError::PathEscape), "{evil}");
    }
    // A document whose URI in the metadata leaves the folder.
    let z = package_with("../../README.TXT", &doc, &[("README.TXT", &doc)]);
    assert_eq!(xdm::open(&z, &limits), Err(XdmError::PathEscape));
    // Two entries that differ only by case.
    let z = package_with(
        "DOC0001.XML",
        &doc,
        &[("IHE_XDM/SUBSET01/DOC0001.XML", &doc), ("ihe_xdm/subset01/doc0001.xml", &doc)],
    );
    assert_eq!(xdm::open(&z, &limits), Err(XdmError::DuplicateEntry));

    // Too many entries.
    let names: Vec<String> = (0..6).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let few = Limits { max_entries: 5, ..limits };
    assert_eq!(xdm::open(&testing::zip(&entries), &few), Err(XdmError::TooManyEntries { max: 5 }));
}

#[test]
fn hostile_metadata_is_refused_with_a_typed_error() {
    let limits = Limits::default();
    let with_meta = |xml: &[u8]| testing::zip(&[("IHE_XDM/SUBSET01/METADATA.XML", xml)]);
    let open = |xml: &[u8], limits: &Limits| xdm::open(&with_meta(xml), limits);
    assert_eq!(
        open(b"<lcm:SubmitObjectsRequest><rim:ExtrinsicObject></lcm:SubmitObjectsRequest>", &limits),
        Err(XdmError::Xml)
    );
    assert_eq!(open(b"not xml at all <", &limits), Err(XdmError::Xml));
    assert_eq!(open(b"<Other/>", &limits), Err(XdmError::NotMetadata));
    let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
        <SubmitObjectsRequest><ExtrinsicObject><Name><LocalizedString value="&lol2;"/></Name></ExtrinsicObject></SubmitObjectsRequest>"#;
    assert_eq!(open(laughs, &limits), Err(XdmError::XmlDoctype));
    let deep = format!("<SubmitObjectsRequest>{}{}</SubmitObjectsRequest>", "<a>".repeat(100), "</a>".repeat(100));
    assert_eq!(open(deep.as_bytes(), &limits), Err(XdmError::XmlTooDeep));
    let big = format!("<SubmitObjectsRequest><a>{}</a></SubmitObjectsRequest>", "x".repeat(2000));
    assert_eq!(open(big.as_bytes(), &Limits { max_metadata_bytes: 1000, ..limits }), Err(XdmError::XmlTooLarge));
    let many = format!("<SubmitObjectsRequest>{}</SubmitObjectsRequest>", "<ExtrinsicObject/>".repeat(3));
    assert_eq!(
        open(many.as_bytes(), &Limits { max_documents: 2, ..limits }),
        Err(XdmError::TooManyDocuments { max: 2 })
    );
    // An undeclared entity is an error, not a panic nor an expansion.
    assert_eq!(open(b"<SubmitObjectsRequest>&boom;</SubmitObjectsRequest>", &limits), Err(XdmError::Xml));
    // Empty but well-formed: no documents.
    assert_eq!(open(b"<SubmitObjectsRequest/>", &limits).unwrap().documents.len(), 0);
}

#[test]
fn damaged_packages_never_panic() {
    let good = testing::package();
    let limits = Limits::default();
    // Every truncation, and a byte flipped at many places: a typed answer every time.
    for len in (0..good.len()).step_by(7) {
        let _ = xdm::open(&good[..len], &limits);
    }
    for at in (0..good.len()).step_by(3) {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        let _ = xdm::open(&bad, &limits);
        let _ = xdm::document_pdf(&bad, &limits, 0);
    }
}

#[test]
fn a_stored_message_gives_its_patient_documents_and_headers() {
    let raw = testing::message("dr.martin@radio.mssante.fr", "alice@hygie.example", "xdm-1@radio.mssante.fr");
    let r = read(&raw, &Limits::default());
    assert!(r.health_document);
    assert_eq!(r.subject, "CR d'imagerie DUPONT Jeanne 12/03/1961");
    assert_eq!(r.headers.cda_codes, ["18748-4"]);
    assert_eq!(r.headers.ins_qualified, Some(true));
    let x = r.xdm.as_ref().unwrap();
    assert_eq!(x.attachment, 1, "the zip is the second attachment, after the PDF");
    assert_eq!(x.package.as_ref().unwrap().documents.len(), 1);
    assert_eq!(r.patient().unwrap().id, INS);
    // The summary lists the same attachments in the same order.
    let s = crate::mail::summarise(&raw).unwrap();
    assert_eq!(s.attachment_names[x.attachment], "IHE_XDM.zip");

    let plain = read(b"From: a@b.fr\r\nSubject: Bonjour\r\n\r\nHello\r\n", &Limits::default());
    assert!(!plain.health_document && plain.xdm.is_none() && plain.patient().is_none());
}

#[test]
fn outgoing_messages_carry_the_mssante_headers() {
    let limits = Limits::default();
    assert_eq!(outgoing_headers(&[], &limits), [("X-MSS-NIL", SOFTWARE_REFERENCE.to_string())]);
    let zip =
        attach::Part { name: "IHE_XDM.zip".into(), content_type: "application/zip".into(), bytes: testing::package() };
    assert_eq!(
        outgoing_headers(std::slice::from_ref(&zip), &limits),
        [
            ("X-MSS-NIL", SOFTWARE_REFERENCE.to_string()),
            ("X-MSS-CODECDA", "18748-4".to_string()),
            ("X-MSS-INS", "O".to_string())
        ]
    );
    // A zip that does not open adds nothing about documents.
    let broken = attach::Part { bytes: b"PK broken".to_vec(), ..zip };
    assert_eq!(outgoing_headers(&[broken], &limits).len(), 1);
}
