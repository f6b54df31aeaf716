//! Hundreds of mutated real files (COCO, CVAT, YOLO labels and data.yaml, mask PNGs)
//! through `convert` and `validate`: each child exits 0, 1 or 2, never panics, finishes within
//! the time limit, stays under the memory limit and writes nothing outside its output folder.
//!
//! A test binary of its own: the peak RSS that `wait4` reports includes the spawning
//! process's own peak (see `hostile_util::wait_with_rusage`), so this process must stay small
//! for the measure to be the child's.

mod hostile_util;

use hostile_util::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Mutants through the binary: how many, and how many run at once (2 cores in CI; the
/// children are short, so a third worker keeps both busy while one waits on the disk).
const BINARY_MUTANTS: usize = 600;
const WORKERS: usize = 3;

/// The kind of file a mutant is made from, which says how it is fed to the binary.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Coco,
    Cvat,
    /// A label file of a YOLO dataset of this task (`yolo`, `yolo-seg`, `yolo-obb`).
    YoloLabel(&'static str),
    /// The `data.yaml` of a YOLO detection dataset.
    YoloYaml,
    /// One PNG of a folder of colour masks.
    Mask,
}

/// A real file to mutate: its kind, a name and its bytes.
struct Source {
    kind: Kind,
    name: String,
    bytes: Vec<u8>,
}

/// The seeds: conformance fixtures and a small synthetic dataset in every format the binary
/// reads, kept small (64×66 images) so that hundreds of children stay quick in debug builds.
struct Seeds {
    _dir: tempfile::TempDir,
    sources: Vec<Source>,
    /// A whole YOLO dataset per task, copied around each mutated label file.
    yolo: Vec<(&'static str, PathBuf)>,
    /// The folder of colour masks, copied around each mutated PNG.
    masks: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    for rel in tree(from) {
        let (src, dst) = (from.join(&rel), to.join(&rel));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
        } else {
            if let Some(p) = dst.parent() {
                std::fs::create_dir_all(p).expect("mkdir");
            }
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn seeds() -> Seeds {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sources: Vec<Source> = fixtures()
        .into_iter()
        .map(|(p, bytes)| Source {
            kind: if p.extension().and_then(|e| e.to_str()) == Some("json") {
                Kind::Coco
            } else {
                Kind::Cvat
            },
            name: p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
                .to_string(),
            bytes,
        })
        .collect();
    let synth_dir = dir.path().join("synth");
    let cfg = neutrostruct::synth::SynthConfig {
        images: 2,
        seed: 7,
        size: Some((64, 66)),
        per_image: 6,
        write_images: true,
        ..Default::default()
    };
    let out = neutrostruct::synth::write(&synth_dir, &cfg).expect("synth");
    sources.push(Source {
        kind: Kind::Coco,
        name: "synth.json".into(),
        bytes: std::fs::read(&out.coco).expect("synth coco"),
    });
    sources.push(Source {
        kind: Kind::Cvat,
        name: "synth.xml".into(),
        bytes: std::fs::read(&out.cvat).expect("synth cvat"),
    });
    let (ds, _) = neutrostruct::cvat::read_path(&out.cvat, &Default::default()).expect("reads");
    let images = out.images_dir.expect("images");
    let labels = neutrostruct::labelset::LabelSet::four_class();
    let classes = neutrostruct::training::ClassMap::new(&ds, Some(&labels)).expect("classes");
    let mut yolo = Vec::new();
    for (name, flavour) in [
        ("yolo", neutrostruct::training::yolo::Flavour::Detect),
        ("yolo-seg", neutrostruct::training::yolo::Flavour::Segment),
        ("yolo-obb", neutrostruct::training::yolo::Flavour::Obb),
    ] {
        let root = dir.path().join(name);
        let req = neutrostruct::training::yolo::YoloRequest {
            flavour,
            out: &root,
            classes: &classes,
            split: &neutrostruct::training::SplitPlan::FromInput,
            images: Some(&images),
            copy_images: true,
        };
        neutrostruct::training::yolo::write(&ds, &req).expect("yolo writes");
        for rel in tree(&root.join("labels")) {
            let p = root.join("labels").join(&rel);
            if p.is_file() {
                sources.push(Source {
                    kind: Kind::YoloLabel(name),
                    name: rel.display().to_string(),
                    bytes: std::fs::read(&p).expect("label"),
                });
            }
        }
        if name == "yolo" {
            // The writer puts the dataset's absolute path in `path:`; a temporary folder's
            // random name there would make the mutants differ from run to run.
            let text = std::fs::read_to_string(root.join("data.yaml")).expect("yaml");
            let text: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("path:") {
                        "path: \"/datasets/synth\"\n".to_string()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            sources.push(Source {
                kind: Kind::YoloYaml,
                name: "data.yaml".into(),
                bytes: text.into_bytes(),
            });
        }
        yolo.push((name, root));
    }
    let masks = dir.path().join("masks");
    let logs = dir.path();
    let r = run_bin(
        &[
            "masks".as_ref(),
            out.cvat.as_os_str(),
            "--out".as_ref(),
            masks.as_os_str(),
        ],
        dir.path(),
        logs,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for rel in tree(&masks) {
        if rel.extension().and_then(|e| e.to_str()) == Some("png") {
            sources.push(Source {
                kind: Kind::Mask,
                name: rel.display().to_string(),
                bytes: std::fs::read(masks.join(&rel)).expect("mask"),
            });
        }
    }
    Seeds {
        _dir: dir,
        sources,
        yolo,
        masks,
    }
}

/// One child to run: its own folder (`in/`, `out/`, `cwd/`, `logs/`), the mutated file the
/// errors must name, and the command line.
struct Job {
    work: tempfile::TempDir,
    input: PathBuf,
    args: Vec<std::ffi::OsString>,
    what: String,
}

/// Lays out mutant `round` of `src` in a fresh folder and picks its command, cycling through
/// the commands that take this kind of input.
fn job(seeds: &Seeds, src: &Source, bytes: &[u8], round: usize) -> Job {
    let dirs = work_dirs();
    let (work, inp, out) = (dirs.root, dirs.inp, dirs.out);
    let os = |s: &str| std::ffi::OsString::from(s);
    let p = |p: &Path| p.as_os_str().to_os_string();
    let pick = |n: usize| (round / 7) % n;
    let (input, args): (PathBuf, Vec<std::ffi::OsString>) = match src.kind {
        Kind::Coco | Kind::Cvat => {
            let input = inp.join(format!("mutant{round}_{}", src.name));
            std::fs::write(&input, bytes).expect("write");
            let coco = matches!(src.kind, Kind::Coco);
            let from = if coco { "coco" } else { "cvat" };
            let choices: [&[&str]; 8] = [
                &["convert", "--to", "coco", "-o", "OUT/c.json"],
                &["convert", "--to", "cvat", "-o", "OUT/c.xml"],
                &["convert", "--to", "yolo", "-o", "OUT/y"],
                &["convert", "--to", "yolo-seg", "-o", "OUT/y"],
                &["convert", "--to", "yolo-obb", "-o", "OUT/y"],
                &["convert", "--to", "voc", "-o", "OUT/v"],
                &["validate", if coco { "--coco" } else { "--cvat" }],
                &["masks", "--out", "OUT/m"],
            ];
            let c = choices[pick(choices.len())];
            let mut args: Vec<std::ffi::OsString> = vec![os(c[0])];
            if c[0] == "convert" {
                args.extend([os("--from"), os(from)]);
            }
            for a in &c[1..] {
                args.push(match a.strip_prefix("OUT/") {
                    Some(rest) => p(&out.join(rest)),
                    None => os(a),
                });
            }
            args.push(p(&input));
            (input, args)
        }
        Kind::YoloLabel(_) | Kind::YoloYaml => {
            let task = match src.kind {
                Kind::YoloLabel(t) => t,
                _ => "yolo",
            };
            let base = &seeds
                .yolo
                .iter()
                .find(|(t, _)| *t == task)
                .expect("base dataset")
                .1;
            let ds = inp.join("ds");
            copy_tree(base, &ds);
            let input = match src.kind {
                Kind::YoloYaml => ds.join("data.yaml"),
                _ => ds.join("labels").join(&src.name),
            };
            std::fs::write(&input, bytes).expect("write");
            let to = ["coco", "cvat", "yolo-seg"][pick(3)];
            let target = if to == "yolo-seg" {
                out.join("y")
            } else {
                out.join(format!(
                    "c_{to}.{}",
                    if to == "coco" { "json" } else { "xml" }
                ))
            };
            let mut args = vec![os("convert"), os("--from"), os(task), os("--to"), os(to)];
            args.extend([p(&ds), os("-o"), p(&target)]);
            (input, args)
        }
        Kind::Mask => {
            let dir = inp.join("masks");
            copy_tree(&seeds.masks, &dir);
            let input = dir.join(&src.name);
            std::fs::write(&input, bytes).expect("write");
            let to = ["cvat", "coco"][pick(2)];
            let args = vec![
                os("convert"),
                os("--from"),
                os("masks"),
                os("--labelset"),
                os("4"),
                os("--to"),
                os(to),
                p(&dir),
                os("-o"),
                p(&out.join(format!(
                    "c_{to}.{}",
                    if to == "coco" { "json" } else { "xml" }
                ))),
            ];
            (input, args)
        }
    };
    let what = format!(
        "mutant {round} of {} ({:?}): {}",
        src.name,
        src.kind,
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Job {
        work,
        input,
        args,
        what,
    }
}

/// Runs one job and checks it: exit code, no panic, time, memory, and no file outside
/// `out/` (the input folder holds what it held before, the working directory stays empty).
fn run_job(j: &Job) -> (i32, i64) {
    let inp = j.work.path().join("in");
    let before = tree(&inp);
    let a: Vec<&std::ffi::OsStr> = j.args.iter().map(|s| s.as_os_str()).collect();
    let cwd = j.work.path().join("cwd");
    let r = run_bin(&a, &cwd, &j.work.path().join("logs"));
    check(&j.input, &j.what, &r);
    assert_eq!(tree(&inp), before, "input folder changed: {}", j.what);
    assert!(
        tree(&cwd).is_empty(),
        "files in the working directory: {}",
        j.what
    );
    (r.code.unwrap_or(-1), r.rss_kib)
}

#[test]
fn mutated_files_through_the_binary_in_bounded_time_and_memory() {
    let started = Instant::now();
    let seeds = seeds();
    let mut rng = Rng(0x0bad_cafe_f00d_0042);
    // Mutants spread over the sources round-robin, so every kind gets its share.
    let jobs: Vec<Job> = (0..BINARY_MUTANTS)
        .map(|round| {
            let src = &seeds.sources[round % seeds.sources.len()];
            let m = mutate(&src.bytes, &mut rng);
            // To look at a failing mutant: HOSTILE_KEEP=dir keeps every mutant there.
            if let Some(dir) = std::env::var_os("HOSTILE_KEEP") {
                let name = src.name.replace('/', "_");
                let _ = std::fs::write(Path::new(&dir).join(format!("{round}_{name}")), &m);
            }
            job(&seeds, src, &m, round)
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let codes = std::sync::Mutex::new([0usize; 3]);
    // Peak RSS of the heaviest child here (the static counts other tests' children too).
    let heaviest = std::sync::Mutex::new((0i64, String::new()));
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(j) = jobs.get(i) else { break };
                let (code, rss) = run_job(j);
                // HOSTILE_CODES=1 logs each child's exit code, peak RSS and command.
                if std::env::var_os("HOSTILE_CODES").is_some() {
                    eprintln!("code {code} rss {rss} {}", j.what);
                }
                if let Ok(mut c) = codes.lock() {
                    c[code as usize] += 1;
                }
                if let Ok(mut h) = heaviest.lock() {
                    if rss > h.0 {
                        *h = (rss, j.what.clone());
                    }
                }
            });
        }
    });
    let codes = codes.into_inner().expect("counts");
    let kinds: std::collections::BTreeMap<String, usize> =
        seeds.sources.iter().fold(Default::default(), |mut m, s| {
            *m.entry(format!("{:?}", s.kind)).or_insert(0) += 1;
            m
        });
    let (rss, what) = heaviest.into_inner().expect("heaviest");
    eprintln!(
        "{} mutants through the binary ({} sources: {kinds:?}) in {:.1} s with {WORKERS} workers: exit 0/1/2 = {codes:?}; max peak RSS {rss} KiB (limit {RSS_LIMIT_KIB} KiB), by {what}",
        jobs.len(),
        seeds.sources.len(),
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(codes.iter().sum::<usize>(), BINARY_MUTANTS);
    assert!(
        codes[0] > 0 && codes[2] > 0,
        "mutants both accepted and refused: {codes:?}"
    );
}
