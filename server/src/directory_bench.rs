//! `hygie directory bench` (hidden): search latencies against the database the server uses,
//! for the numbers `scripts/bench-directory.sh` reports.

use std::time::Instant;

use hygie_core::directory::{self, Query, PAGE_SIZE};
use hygie_core::{Db, StoreError};

fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    (at(0.5), at(0.99), *ms.last().unwrap_or(&0.0))
}

async fn time(db: &Db, label: &str, queries: &[Query]) -> Result<(), StoreError> {
    let mut ms = Vec::with_capacity(queries.len());
    let mut found = 0usize;
    for q in queries {
        let start = Instant::now();
        found += directory::search(db, q, 0, PAGE_SIZE + 1).await?.len();
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99, max) = percentiles(ms);
    println!(
        "{label:<40} {n:>5} queries  p50 {p50:6.2} ms  p99 {p99:6.2} ms  max {max:6.2} ms  ({avg:.1} results/query)",
        n = queries.len(),
        avg = found as f64 / queries.len().max(1) as f64
    );
    Ok(())
}

pub async fn run(db: &Db, n: usize) -> Result<(), StoreError> {
    // Names to take prefixes from: a spread of the directory (every letter pair it holds).
    let mut names = Vec::new();
    for a in b'a'..=b'z' {
        let q = Query::name(&format!("{}", a as char));
        for e in directory::search(db, &q, 0, 40).await? {
            names.push(if e.last_name.is_empty() { e.address.clone() } else { e.last_name.clone() });
        }
    }
    if names.is_empty() {
        println!("the directory is empty: import an extract first");
        return Ok(());
    }
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    for len in [2usize, 3, 5] {
        let queries: Vec<Query> = (0..n)
            .map(|_| {
                let name = &names[next(names.len())];
                Query::name(&name.chars().take(len).collect::<String>())
            })
            .collect();
        time(db, &format!("name prefix, {len} letters"), &queries).await?;
    }
    let facets = directory::facets(db).await?;
    let places = ["Lyon", "75", "13005", "Paris", "2A"];
    let queries: Vec<Query> = (0..n)
        .map(|_| Query {
            specialty: facets
                .specialties
                .get(next(facets.specialties.len().max(1)))
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            place: places[next(places.len())].to_string(),
            ..Query::default()
        })
        .collect();
    time(db, "specialty + city/postcode/département", &queries).await?;
    let queries: Vec<Query> = (0..n)
        .map(|_| Query {
            text: names[next(names.len())].chars().take(3).collect(),
            profession: facets.professions.first().map(|p| p.0.clone()).unwrap_or_default(),
            ..Query::default()
        })
        .collect();
    time(db, "name prefix + profession", &queries).await?;
    Ok(())
}
