"""An mbox for the benchmarks: usage: python3 bench_mbox.py FILE MESSAGES.

Messages from laboratories to camille.durand@hygie.localhost in conversations of four, with
French medical words; the newest carries a three-page PDF (for the preview).
"""
import random, sys
random.seed(7)
words = ("patient bilan résultats ordonnance consultation hospitalisation sortie compte-rendu radiologie "
         "biologie glycémie cardiologie rendez-vous urgence pansement traitement allergie vaccin").split()
names = ["Durand", "Martin", "Bernard", "Petit", "Robert", "Richard", "Dubois", "Moreau", "Lefèvre", "Garnier"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(int(sys.argv[2])):
        who = random.choice(names)
        subject = " ".join(random.choice(words) for _ in range(4)).capitalize()
        body = "\n".join(" ".join(random.choice(words) for _ in range(12)) for _ in range(8))
        day = 1 + i % 28
        f.write(f"From dr.{who.lower()}@labo.mssante.fr Mon Nov  2 10:00:00 2026\n")
        f.write(f"From: Dr {who} <dr.{who.lower()}@labo.mssante.fr>\nTo: camille.durand@hygie.localhost\n")
        f.write(f"Subject: {subject} {i}\nDate: {day:02d} Oct 2026 {i % 24:02d}:{i % 60:02d}:00 +0200\n")
        # Conversations of four: each message answers the previous one of its conversation.
        refs = [f"<bench{j}@labo.mssante.fr>" for j in range(i - i % 4, i)]
        if refs:
            f.write(f"In-Reply-To: {refs[-1]}\nReferences: {' '.join(refs)}\n")
        f.write(f"Message-ID: <bench{i}@labo.mssante.fr>\nContent-Type: text/plain; charset=utf-8\n\n{body}\n\n")
    # The newest message carries a three-page PDF, for the preview.
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R 6 0 R 8 0 R] /Count 3 >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for n in range(3):
        content = f"0 0 0 rg 50 700 495 80 re f BT /F1 36 Tf 50 600 Td (Compte rendu page {n + 1}) Tj ET"
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * n} 0 R >>")
        objs.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    pdf, offsets = "%PDF-1.4\n", []
    for n, body in enumerate(objs):
        offsets.append(len(pdf))
        pdf += f"{n + 1} 0 obj\n{body}\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010} 00000 n \n" for o in offsets)
    pdf += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    import base64
    encoded = base64.encodebytes(pdf.encode("latin-1")).decode()
    f.write("From dr.martin@labo.mssante.fr Mon Nov  2 10:00:00 2026\n")
    f.write("From: Dr Martin <dr.martin@labo.mssante.fr>\nTo: camille.durand@hygie.localhost\n")
    f.write("Subject: Compte rendu\nDate: 31 Oct 2026 12:00:00 +0100\nMessage-ID: <bench-pdf@labo.mssante.fr>\n")
    f.write('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n')
    f.write("Content-Type: text/plain; charset=utf-8\n\nCi-joint.\n--b\n")
    f.write('Content-Type: application/pdf\nContent-Disposition: attachment; filename="compte-rendu.pdf"\n')
    f.write(f"Content-Transfer-Encoding: base64\n\n{encoded}--b--\n\n")
