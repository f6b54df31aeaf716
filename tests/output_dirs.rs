//! Output folders (issue 14, item 3): a folder is written only when it is new, empty, or holds
//! our manifest (`.neutrostruct-manifest.json`); a second run replaces what the first listed,
//! so no stale file of an earlier run is left; any other folder needs `--force`, and even then
//! nothing a valid manifest does not list is removed. Links are never followed when removing.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const MANIFEST: &str = ".neutrostruct-manifest.json";

fn bin() -> Command {
    Command::cargo_bin("neutrostruct").expect("binary")
}

/// Runs the binary; returns (exit code, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = bin().args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// A small synthetic dataset (8 images, no image files); returns its CVAT XML.
fn dataset(root: &Path) -> PathBuf {
    let data = root.join("data");
    let (code, err) = run(&[
        os("synth"),
        os("--out"),
        os(&data),
        os("--images"),
        os("8"),
        os("--per-image"),
        os("4"),
        os("--no-images"),
    ]);
    assert_eq!(code, 0, "{err}");
    data.join("annotations_4classes.xml")
}

/// `convert INPUT --to yolo -o OUT [extra…]`.
fn to_yolo(input: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        os("convert"),
        os(input),
        os("--to"),
        os("yolo"),
        os("-o"),
        os(out),
    ];
    args.extend(extra.iter().map(os));
    run(&args)
}

/// Every file under `dir` (links included, not followed), relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn rerun_with_another_split_leaves_no_stale_labels() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let out = t.path().join("yolo");
    let (code, err) = to_yolo(&xml, &out, &["--split", "train=0.5,val=0.25,test=0.25"]);
    assert_eq!(code, 0, "{err}");
    let first = files(&out);
    assert!(
        first.iter().any(|f| f.starts_with("labels/test/")),
        "{first:?}"
    );
    assert!(first.contains(&MANIFEST.to_string()), "{first:?}");

    let (code, err) = to_yolo(&xml, &out, &["--split", "train=0.5,val=0.5", "--seed", "3"]);
    assert_eq!(code, 0, "{err}");
    let second = files(&out);
    assert!(
        !second.iter().any(|f| f.starts_with("labels/test/")),
        "stale test labels left: {second:?}"
    );
    assert!(!out.join("labels/test").exists(), "emptied folder pruned");
    let labels: Vec<&String> = second.iter().filter(|f| f.starts_with("labels/")).collect();
    assert_eq!(
        labels.len(),
        8,
        "one label file per image, no old ones: {labels:?}"
    );
    // The manifest lists exactly what is there now.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    let listed: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let on_disk: Vec<String> = second.into_iter().filter(|f| f != MANIFEST).collect();
    assert_eq!(listed, on_disk);
    assert_eq!(m["tool"], "neutrostruct");
}

#[test]
fn a_foreign_folder_is_refused_and_force_writes_without_removing_its_files() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let out = t.path().join("yolo");
    std::fs::create_dir_all(out.join("labels/train")).unwrap();
    std::fs::write(out.join("labels/train/theirs.txt"), b"0 0.5 0.5 0.1 0.1\n").unwrap();
    std::fs::write(out.join("notes.md"), b"mine").unwrap();

    let (code, err) = to_yolo(&xml, &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force") && err.contains(MANIFEST), "{err}");
    assert_eq!(
        files(&out),
        ["labels/train/theirs.txt", "notes.md"],
        "nothing written"
    );

    let (code, err) = to_yolo(&xml, &out, &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("data.yaml").is_file());
    // Now ours: a second run needs no --force, and still keeps what it never wrote.
    let (code, err) = to_yolo(&xml, &out, &["--split", "train=0.5,val=0.5"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("labels/train/theirs.txt").is_file());
    assert!(out.join("notes.md").is_file());
}

#[test]
fn every_folder_command_refuses_a_foreign_folder() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let foreign = t.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), b"x").unwrap();
    let images = t.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let f = foreign.as_os_str();
    let cases: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![
            os("synth"),
            os("--out"),
            f,
            os("--images"),
            os("1"),
            os("--no-images"),
        ],
        vec![os("demo"), os("--out"), f],
        vec![os("masks"), os(&xml), os("--out"), f],
        vec![
            os("overlay"),
            os("--images"),
            os(&images),
            os("--masks"),
            os(&images),
            os("--out"),
            f,
        ],
        vec![os("convert"), os(&xml), os("--to"), os("voc"), os("-o"), f],
        vec![
            os("convert"),
            os(&xml),
            os("--to"),
            os("masks"),
            os("-o"),
            f,
        ],
        vec![
            os("convert"),
            os(&xml),
            os("--to"),
            os("yolo-seg"),
            os("-o"),
            f,
        ],
    ];
    for args in cases {
        let (code, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("--force"), "{args:?}: {err}");
        assert_eq!(files(&foreign), ["keep.txt"], "{args:?} wrote into it");
    }
    // Our own folder, run again, is accepted by each.
    let (code, err) = run(&[os("masks"), os(&xml), os("--out"), os(&t.path().join("m"))]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run(&[os("masks"), os(&xml), os("--out"), os(&t.path().join("m"))]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_manifest_naming_paths_outside_removes_nothing_outside() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let out = t.path().join("yolo");
    std::fs::create_dir(&out).unwrap();
    let victim = t.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let manifest = serde_json::json!({
        "tool": "neutrostruct",
        "version": "0.1.0",
        "files": ["../victim.txt", victim.to_string_lossy(), "data.yaml"],
    });
    std::fs::write(out.join(MANIFEST), manifest.to_string()).unwrap();

    let (code, err) = to_yolo(&xml, &out, &[]);
    assert_eq!(code, 2, "a manifest naming ../ is not ours: {err}");
    assert!(err.contains("../victim.txt"), "{err}");
    let (code, err) = to_yolo(&xml, &out, &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // The manifest written now is ours and lists only what was written inside.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    assert!(m["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f.as_str().unwrap().contains("..")));
}

#[cfg(unix)]
#[test]
fn removal_does_not_follow_a_link_inside_the_folder() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let out = t.path().join("yolo");
    let (code, err) = to_yolo(&xml, &out, &["--split", "train=0.5,val=0.5"]);
    assert_eq!(code, 0, "{err}");
    // Someone replaces labels/val with a link to a folder outside that holds files of the
    // same names; the next run no longer writes a val split.
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let val_names: Vec<PathBuf> = std::fs::read_dir(out.join("labels/val"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into())
        .collect();
    assert!(!val_names.is_empty());
    for n in &val_names {
        std::fs::write(outside.join(n), b"not yours").unwrap();
    }
    std::fs::remove_dir_all(out.join("labels/val")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("labels/val")).unwrap();
    // A folder link inside an output folder is refused: writing through it writes outside.
    let (code, err) = to_yolo(&xml, &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("labels/val") && err.contains("link"), "{err}");
    // Forced, the run writes, and removing the old split still never follows the link.
    let (code, err) = to_yolo(&xml, &out, &["--force"]);
    assert_eq!(code, 0, "{err}");
    for n in &val_names {
        assert_eq!(std::fs::read(outside.join(n)).unwrap(), b"not yours");
    }
}

#[cfg(unix)]
#[test]
fn an_output_folder_that_is_a_link_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let xml = dataset(t.path());
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = t.path().join("yolo-link");
    std::os::unix::fs::symlink(&elsewhere, &out).unwrap();
    let (code, err) = to_yolo(&xml, &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a link"), "{err}");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through it"
    );
}
