//! Quantity parsing, formatting and arithmetic: the hot path of every
//! capacity report (hundreds of thousands of requests summed).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use k8sops::Quantity;

fn quantity(c: &mut Criterion) {
    let inputs = ["250m", "1.5Gi", "128974848", "1e3", "3920m", "15256Mi", "100n", "2"];
    c.bench_function("quantity/parse", |b| {
        b.iter(|| {
            for s in inputs {
                black_box(s.parse::<Quantity>().expect("valid"));
            }
        })
    });
    let parsed: Vec<Quantity> = inputs.iter().map(|s| s.parse().expect("valid")).collect();
    c.bench_function("quantity/format", |b| {
        b.iter(|| {
            for q in &parsed {
                black_box(q.to_string());
            }
        })
    });
    let many: Vec<Quantity> = (0..10_000).map(|i| Quantity::from_millis(i % 1000)).collect();
    c.bench_function("quantity/sum_10k", |b| b.iter(|| black_box(many.iter().copied().sum::<Quantity>())));
}

criterion_group!(benches, quantity);
criterion_main!(benches);
