//! Label and field selector parsing and matching, as run for every object of
//! a large list.

use std::{collections::BTreeMap, hint::black_box};

use criterion::{criterion_group, criterion_main, Criterion};
use k8sops::{FieldSelector, LabelSelector};

fn selector(c: &mut Criterion) {
    let text = "app=web,tier in (frontend,edge),env!=prod,team";
    c.bench_function("selector/parse", |b| b.iter(|| black_box(text.parse::<LabelSelector>().expect("valid"))));
    let sel: LabelSelector = text.parse().expect("valid");
    let labels: BTreeMap<String, String> =
        [("app", "web"), ("tier", "edge"), ("env", "staging"), ("team", "a"), ("pod-template-hash", "5d8f9c7b6")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    c.bench_function("selector/match", |b| b.iter(|| black_box(sel.matches(black_box(&labels)))));
    let fields: FieldSelector =
        "spec.nodeName=ip-10-0-1-5.ec2.internal,status.phase!=Succeeded".parse().expect("valid");
    c.bench_function("selector/field_match", |b| {
        b.iter(|| {
            black_box(fields.matches(|f| match f {
                "spec.nodeName" => Some("ip-10-0-1-5.ec2.internal".into()),
                "status.phase" => Some("Running".into()),
                _ => None,
            }))
        })
    });
}

criterion_group!(benches, selector);
criterion_main!(benches);
