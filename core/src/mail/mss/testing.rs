//! Sample XDM packages and messages for tests (unit tests here, API tests in the server crate).
//! Every name and number is fictitious; the INS is well formed (its key matches) under the
//! INS-NIR OID.

use std::io::Write;

use base64::Engine;

/// The sample patient's INS (a fictitious number whose key is right).
pub const INS: &str = "261037512345603";
/// The INS-NIR OID.
pub const INS_OID: &str = "1.2.250.1.213.1.4.8";

/// A small valid one-page PDF.
pub fn pdf() -> Vec<u8> {
    let content = "BT /F1 24 Tf 50 700 Td (Compte rendu) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (n, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{body}\nendobj\n", n + 1));
    }
    let xref = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for o in offsets {
        out.push_str(&format!("{o:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    out.into_bytes()
}

/// A CDA R2 of level 1 embedding `pdf`.
pub fn cda(pdf: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pdf);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\
         <code code=\"18748-4\" codeSystem=\"2.16.840.1.113883.6.1\" displayName=\"CR d'imagerie médicale\"/>\
         <title>Compte rendu d'imagerie</title><component><nonXMLBody>\
         <text mediaType=\"application/pdf\" representation=\"B64\">{b64}</text>\
         </nonXMLBody></component></ClinicalDocument>\n"
    )
    .into_bytes()
}

/// A `METADATA.XML` describing one document: `uri`, its `size` and SHA-1 `hash`.
pub fn metadata(uri: &str, size: usize, hash: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="Document01" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20261005101500</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="hash"><rim:ValueList><rim:Value>{hash}</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="size"><rim:ValueList><rim:Value>{size}</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="URI"><rim:ValueList><rim:Value>{uri}</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="sourcePatientId"><rim:ValueList><rim:Value>{INS}^^^&amp;{INS_OID}&amp;ISO^NH</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="sourcePatientInfo"><rim:ValueList>
     <rim:Value>PID-3|{INS}^^^&amp;{INS_OID}&amp;ISO^NH</rim:Value>
     <rim:Value>PID-5|DUPONT^Jeanne^^^^^L</rim:Value>
     <rim:Value>PID-7|19610312</rim:Value>
     <rim:Value>PID-8|F</rim:Value>
   </rim:ValueList></rim:Slot>
   <rim:Name><rim:LocalizedString value="Compte rendu d'imagerie"/></rim:Name>
   <rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="Document01" nodeRepresentation="" id="cl01">
    <rim:Slot name="authorPerson"><rim:ValueList><rim:Value>801234567890^MARTIN^Paul^^^Dr^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^RPPS</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot name="authorInstitution"><rim:ValueList><rim:Value>Centre d'imagerie du Parc^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^312345678901</rim:Value></rim:ValueList></rim:Slot>
    <rim:Slot name="authorSpecialty"><rim:ValueList><rim:Value>G15_10/SM44^Radiodiagnostic et imagerie médicale^1.2.250.1.213.1.1.4.5</rim:Value></rim:ValueList></rim:Slot>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" classifiedObject="Document01" nodeRepresentation="10" id="cl02">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.213.1.1.4.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString value="Compte rendu"/></rim:Name>
   </rim:Classification>
   <rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="Document01" nodeRepresentation="18748-4" id="cl03">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString value="CR d'imagerie médicale"/></rim:Name>
   </rim:Classification>
   <rim:ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="{INS}^^^&amp;{INS_OID}&amp;ISO^NH" id="ei01" registryObject="Document01">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.250.1.999.1.20261005.1" id="ei02" registryObject="Document01">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
  <rim:RegistryPackage id="SubmissionSet01"/>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"#
    )
}

/// A zip of `entries` (name, bytes), deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, options).expect("zip entry");
        w.write_all(bytes).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// A well-formed `IHE_XDM.zip`: one CDA of level 1 (embedding [`pdf`]) about the sample
/// patient, with `INDEX.HTM` and `README.TXT`.
pub fn package() -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let doc = cda(&pdf());
    let meta = metadata("DOC0001.XML", doc.len(), &hex::encode(Sha1::digest(&doc)));
    zip(&[
        ("INDEX.HTM", b"<html><body>Index</body></html>"),
        ("README.TXT", b"Paquet IHE XDM"),
        ("IHE_XDM/SUBSET01/METADATA.XML", meta.as_bytes()),
        ("IHE_XDM/SUBSET01/DOC0001.XML", &doc),
    ])
}

/// A message from `from` to `to` as another MSSanté client writes it: the health-document
/// subject, the `X-MSS-*` headers, the text, the PDF beside the package, and `IHE_XDM.zip`
/// ([`package`]).
pub fn message(from: &str, to: &str, message_id: &str) -> Vec<u8> {
    message_with(from, to, message_id, &package())
}

/// [`message`] with `zip` as its `IHE_XDM.zip`.
pub fn message_with(from: &str, to: &str, message_id: &str, zip: &[u8]) -> Vec<u8> {
    let b64 = |b: &[u8]| {
        let s = base64::engine::general_purpose::STANDARD.encode(b);
        s.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
    };
    format!(
        "From: Dr Paul Martin <{from}>\r\nTo: {to}\r\nSubject: XDM/1.0/DDM+CR d'imagerie DUPONT Jeanne 12/03/1961\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 05 Oct 2026 10:20:00 +0000\r\nMIME-Version: 1.0\r\n\
         X-MSS-CODECDA: 18748-4\r\nX-MSS-INS: O\r\nX-MSS-NIL: LOGICIEL-RADIO-12\r\n\
         Content-Type: multipart/mixed; boundary=\"xdm\"\r\n\r\n\
         --xdm\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Veuillez trouver le compte rendu de Mme Dupont.\r\n\
         --xdm\r\nContent-Type: application/pdf; name=\"20261005_CR_DUPONT_Jeanne_123.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"20261005_CR_DUPONT_Jeanne_123.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --xdm\r\nContent-Type: application/zip; name=\"IHE_XDM.zip\"\r\n\
         Content-Disposition: attachment; filename=\"IHE_XDM.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --xdm--\r\n",
        b64(&pdf()),
        b64(zip),
    )
    .into_bytes()
}
