//! Runs the built `export_resources` and `restore_resources` examples as a
//! user would, on the embedded demo cluster: an export to a directory and
//! to an archive, a restore of it into a mapped namespace, a server dry
//! run, and bad flag values refused (exit code 2, naming the flag) before
//! any cluster is touched.
//!
//! `cargo test` builds the examples of the package before it runs this.
//! Every run gets an empty HOME and no KUBECONFIG, so no developer's real
//! cluster is ever used.

mod support;

use std::{os::unix::fs::PermissionsExt, path::Path};

use support::run;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_demo_export_writes_a_private_tree_and_restores_into_a_mapped_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    let out_s = out.display().to_string();
    let r = run("export_resources", &["--demo", "--output", &out_s, "--include-secrets"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.first_line().starts_with("--demo: starting the embedded demo cluster"), "{r}");
    assert!(r.stderr.contains("Exporting the resources of the embedded demo cluster at http"), "{r}");
    assert!(r.stderr.contains("(Secrets included)"), "{r}");
    assert!(r.stdout.contains("RESOURCE") && r.stdout.contains("deployments.apps"), "{r}");
    assert!(r.stdout.contains(": completed"), "{r}");
    assert!(r.stdout.contains("from Kubernetes v1.30.4"), "{r}");
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("manifest.json")), 0o600);
    assert_eq!(mode(&out.join("shop/apps/Deployment/web.yaml")), 0o600);

    // The demo cluster of a new run holds the same objects: everything but the copy exists.
    let args = ["--demo", "--from", &out_s, "--include-namespaces", "shop", "--namespace-mapping", "shop:shop-copy"];
    let r = run("restore_resources", &args, &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("Restoring ") && r.stderr.contains("on the embedded demo cluster at http"), "{r}");
    let line = |kind: &str, name: &str| {
        r.stdout.lines().find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&kind) && cells.contains(&name)
        })
    };
    assert!(line("Namespace", "shop-copy").is_some_and(|l| l.ends_with("created")), "{r}");
    assert!(line("Deployment", "web").is_some_and(|l| l.contains("shop-copy") && l.ends_with("created")), "{r}");
    let rows: Vec<Vec<&str>> =
        r.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).filter(|c: &Vec<&str>| c.len() >= 3).collect();
    let namespaced_rows = rows.iter().filter(|c| c[0] != "Namespace" && !c[0].starts_with("restore"));
    assert!(
        namespaced_rows.clone().count() > 5 && namespaced_rows.into_iter().all(|c| c[1] == "shop-copy"),
        "only shop, into shop-copy: {r}"
    );
    assert!(r.stdout.contains("object(s) not selected; completed in"), "{r}");

    let r = run("restore_resources", &["--demo", "--from", &out_s, "--dry-run=server"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("Dry run (server), nothing is changed"), "{r}");
    assert!(r.stdout.contains("skipped: already exists"), "{r}");
    assert!(r.stdout.starts_with("KIND") && r.stdout.contains("Dry run (server): restore of"), "{r}");
}

#[test]
fn a_demo_export_to_an_archive_is_private_and_can_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo.tar.gz");
    let a = archive.display().to_string();
    let r = run("export_resources", &["--demo", "--archive", &a, "--include-namespaces", "shop"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(mode(&archive), 0o600);
    assert!(r.stderr.contains("restore_resources -- --archive"), "{r}");
    let r = run("restore_resources", &["--demo", "--archive", &a, "--dry-run=client"], &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("would be created (client dry run: not checked by the server)"), "{r}");
}

#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let missing = dir.path().join("nope/x.tar.gz").display().to_string();
    for (name, args, flag) in [
        ("export_resources", vec!["--demo"], "--output"),
        (
            "export_resources",
            vec!["--demo", "--output", &d, "--include-cluster-resources", "maybe"],
            "--include-cluster-resources",
        ),
        ("export_resources", vec!["--demo", "--output", &d, "--include-namespaces", "Shop"], "--include-namespaces"),
        ("export_resources", vec!["--demo", "--output", &d, "--include-resources", "apps/v1"], "--include-resources"),
        ("export_resources", vec!["--demo", "--output", &d, "-l", "app in (x"], "--selector"),
        ("export_resources", vec!["--demo", "--output", &d, "--concurrency", "0"], "--concurrency"),
        ("export_resources", vec!["--demo", "--archive", &missing], "--archive"),
        ("restore_resources", vec!["--demo"], "--from"),
        ("restore_resources", vec!["--demo", "--from", &d, "--existing", "maybe"], "--existing"),
        ("restore_resources", vec!["--demo", "--from", &d, "--namespace-mapping", "shop"], "--namespace-mapping"),
        ("restore_resources", vec!["--demo", "--from", &d, "--dry-run=sometimes"], "--dry-run"),
        ("restore_resources", vec!["--demo", "--from", &missing], "--from"),
        ("restore_resources", vec!["--demo", "--archive", &missing], "--archive"),
    ] {
        let r = run(name, &args, &[]);
        assert_eq!(r.code, Some(2), "{name} {args:?}: {r}");
        assert!(r.stderr.contains(flag), "{name} {args:?}: {r}");
        assert!(!r.stderr.contains("demo cluster"), "{name} {args:?} fails before connecting: {r}");
    }
}

#[test]
fn a_directory_that_is_not_a_backup_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let r = run("restore_resources", &["--demo", "--from", &dir.path().display().to_string()], &[]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("not a usable k8sops backup") && r.stderr.contains("manifest.json"), "{r}");
    assert!(!r.stderr.contains("demo cluster"), "{r}");
}
