//! A generated national extract, for tests and benchmarks (`hygie directory sample`): realistic
//! shape (accents, organisational mailboxes without a person, empty fields, common and rare last
//! names), deterministic for a given size, with one malformed line in every `malformed_every`.

use std::io::Write;

const HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|\
Type identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|\
Prénom d'exercice|Catégorie profession|Libellé de catégorie profession|Code Profession|Libellé Profession|\
Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|\
Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|L3COMPLEMENTDISTRIBUTION structure BAL|\
L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|NL4TYPEVOIE structure BAL|\
L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|L6LIGNEACHEMINEMENT structure BAL|\
Code postal structure BAL|Département structure BAL|Pays structure BAL";

const LAST: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Benali",
    "Nguyen",
    "Le Gall",
    "Œuvray",
    "N'Diaye",
    "Saint-Éloi",
    "Hébert",
    "Cœur",
    "Béranger",
    "Müller",
];
const SYLLABLES: &[&str] = &[
    "ber", "nar", "dé", "lo", "ma", "ri", "chau", "vel", "tin", "gon", "mé", "ro", "sa", "quet", "bou", "ché", "fa",
    "lan", "pé", "rin", "ta", "von", "gui", "lès",
];
const FIRST: &[&str] = &[
    "Camille",
    "Louis",
    "Nadia",
    "Jean",
    "Marie",
    "Élodie",
    "Hélène",
    "François",
    "Zoé",
    "Anaïs",
    "Jérôme",
    "Chloé",
    "Loïc",
    "Inès",
    "Noël",
    "Maëlle",
    "Pierre",
    "Sophie",
    "Thomas",
    "Léa",
    "Hugo",
    "Manon",
    "Karim",
    "Fatou",
];
/// (code, label, specialties)
const PROFESSIONS: &[(&str, &str, &[&str])] = &[
    (
        "10",
        "Médecin",
        &[
            "Médecine générale",
            "Cardiologie et maladies vasculaires",
            "Pédiatrie",
            "Psychiatrie",
            "Dermatologie et vénéréologie",
            "Gynécologie-obstétrique",
            "Radio-diagnostic",
            "Ophtalmologie",
            "Anesthésie-réanimation",
            "Endocrinologie, diabétologie et maladies métaboliques",
        ],
    ),
    ("60", "Infirmier", &[]),
    ("21", "Pharmacien", &["Pharmacie d'officine", "Pharmacie hospitalière"]),
    ("70", "Masseur-kinésithérapeute", &[]),
    ("50", "Sage-femme", &[]),
    ("40", "Chirurgien-dentiste", &["Orthopédie dento-faciale", "Chirurgie orale"]),
];
/// (city line, postcode, département)
const PLACES: &[(&str, &str, &str)] = &[
    ("PARIS", "75015", "75"),
    ("PARIS", "75011", "75"),
    ("LYON", "69003", "69"),
    ("MARSEILLE", "13005", "13"),
    ("LILLE", "59000", "59"),
    ("BORDEAUX", "33000", "33"),
    ("NANTES", "44000", "44"),
    ("TOULOUSE", "31000", "31"),
    ("STRASBOURG", "67000", "67"),
    ("SAINT-ÉTIENNE", "42000", "42"),
    ("BESANÇON", "25000", "25"),
    ("AJACCIO", "20000", "2A"),
    ("FORT-DE-FRANCE", "97200", "972"),
    ("CHÂTEAUROUX", "36000", "36"),
    ("LYON CEDEX 08", "69373", "69"),
];
const STREETS: &[(&str, &str)] = &[
    ("RUE", "DE LA RÉPUBLIQUE"),
    ("AV", "JEAN JAURÈS"),
    ("BD", "PASTEUR"),
    ("PL", "DE L'ÉGLISE"),
    ("RUE", "DU FAUBOURG SAINT-ANTOINE"),
];

/// Deterministic pseudo-random numbers (xorshift64*): the same file for the same size.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn ascii(s: &str) -> String {
    super::key(s).replace(' ', "-")
}

/// Writes a header then `lines` data lines; line `i` (1-based data line) is malformed when
/// `malformed_every > 0` and `i % malformed_every == 0`. Returns the file line numbers (header =
/// line 1) of the malformed lines.
pub fn write(out: &mut impl Write, lines: u64, malformed_every: u64) -> std::io::Result<Vec<u64>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut bad = Vec::new();
    writeln!(out, "{HEADER}")?;
    let mut fields: Vec<String> = Vec::with_capacity(31);
    for i in 1..=lines {
        let file_line = i + 1;
        if malformed_every > 0 && i % malformed_every == 0 {
            bad.push(file_line);
            match (i / malformed_every) % 4 {
                0 => writeln!(out, "PER|tronque.{i}@medecin.mssante.fr|8|1000{i}|||")?,
                1 => writeln!(out, "XYZ|{}", "|".repeat(29))?,
                2 => writeln!(out, "PER||8|10{i:09}{}", "|".repeat(27))?,
                _ => {
                    out.write_all(b"PER|latin1.")?;
                    out.write_all(&[0xE9, 0xE8])?;
                    writeln!(out, "@medecin.mssante.fr{}", "|".repeat(29))?;
                }
            }
            continue;
        }
        fields.clear();
        fields.resize(31, String::new());
        let (city, postcode, dep) = *rng.pick(PLACES);
        let (street_type, street) = *rng.pick(STREETS);
        let roll = rng.below(100);
        let kind = match roll {
            0..=84 => "PER",
            85..=94 => "ORG",
            95..=97 => "CAB",
            _ => "APP",
        };
        fields[0] = kind.into();
        if kind == "PER" || kind == "CAB" {
            let last = if rng.below(10) < 4 {
                LAST[rng.below(LAST.len())].to_string()
            } else {
                let mut s = String::new();
                for _ in 0..2 + rng.below(2) {
                    s.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
                }
                let mut c = s.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
            };
            let first = *rng.pick(FIRST);
            let (code, profession, specialties) = *rng.pick(PROFESSIONS);
            let rpps = format!("10{:09}", i);
            fields[1] = format!("{}.{}.{i}@{}.mssante.fr", ascii(first), ascii(&last), ascii(profession));
            fields[2] = "8".into();
            fields[3] = rpps.clone();
            fields[4] = format!("8{rpps}");
            fields[8] = if code == "10" { "DR".into() } else { String::new() };
            fields[9] = last.to_uppercase();
            fields[10] = first.into();
            fields[11] = "C".into();
            fields[12] = "Civil".into();
            fields[13] = code.into();
            fields[14] = profession.into();
            if !specialties.is_empty() {
                fields[15] = format!("SM{:02}", rng.below(60));
                fields[16] = (*rng.pick(specialties)).into();
            }
            fields[17] = if rng.below(3) == 0 { "True" } else { "False" }.into();
            if kind == "CAB" {
                fields[18] = format!("Cabinet {}", last);
            }
        } else {
            let service = *rng.pick(&["Cardiologie", "Urgences", "Pédiatrie", "Secrétariat médical", "Laboratoire"]);
            let town = city.split(' ').next().unwrap_or(city);
            fields[1] = format!("{}.{i}@ch-{}.mssante.fr", ascii(service), ascii(town));
            fields[5] = "1".into();
            fields[6] = format!("{:09}", 690_000_000 + i);
            fields[7] = service.into();
            fields[18] = format!("Centre hospitalier de {}", town);
            if rng.below(2) == 0 {
                fields[19] = format!("Hôpital {}", rng.pick(LAST));
            }
            fields[17] = "True".into();
        }
        if rng.below(20) != 0 {
            fields[22] = format!("{}", 1 + rng.below(150));
            if rng.below(10) == 0 {
                fields[23] = "B".into();
            }
            fields[24] = street_type.into();
            fields[25] = street.into();
            fields[27] = format!("{postcode} {city}");
            fields[28] = postcode.into();
            fields[29] = dep.into();
            fields[30] = "France".into();
        }
        writeln!(out, "{}", fields.join("|"))?;
    }
    Ok(bad)
}
