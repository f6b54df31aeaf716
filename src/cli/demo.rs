//! `neutrostruct demo`: the whole workflow on a small built-in sample, offline.

use super::Status;
use crate::convert::Format;
use crate::error::{Error, Result};
use crate::synth::{self, SynthConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output folder (default: a new `neutrostruct-demo` folder here).
    #[arg(short = 'o', long, visible_alias = "output")]
    out: Option<PathBuf>,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

/// A fresh folder name that does not exist yet.
fn fresh_dir() -> PathBuf {
    let base = PathBuf::from("neutrostruct-demo");
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|i| PathBuf::from(format!("neutrostruct-demo-{i}")))
        .find(|p| !p.exists())
        .unwrap_or(base)
}

fn step(n: usize, what: &str, path: &Path) {
    outln!("{n:>2}. {what:<44} {}", path.display());
}

pub fn run(args: DemoArgs) -> Result<Status> {
    let real_out = args.out.unwrap_or_else(fresh_dir);
    crate::io_guard::prepare_outputs(&[], &[("--out", &real_out)])?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = dry.folder("--out", &real_out, args.force)?;
    let out = dry.place(&real_out);
    let started = std::time::Instant::now();
    // Small enough to run in a second or two, big enough to show every feature.
    let cfg = SynthConfig {
        images: 6,
        seed: 7,
        size: Some((1024, 1056)),
        per_image: 90,
        write_images: true,
        ..SynthConfig::default()
    };
    let input = out.join("input");
    let s = synth::write(&input, &cfg)?;
    outln!(
        "neutrostruct demo: {} images, {} ellipses (4 classes)\n",
        s.images,
        s.annotations
    );
    let mut n = 0;
    let mut show = |what: &str, path: &Path| {
        n += 1;
        step(n, what, &dry.show(path));
    };
    show("sample CVAT XML (4 classes)", &s.cvat);
    show("sample COCO, as CVAT exports it (RLE)", &s.coco);
    show("scale table (px per µm)", &s.scale);
    if let Some(d) = &s.images_dir {
        show("sample TEM-like images", d);
    }
    // Step 1 of the workflow: the scale table again, from the images' scale bars alone.
    let mut scale_path = s.scale.clone();
    if let (Some(d), Some(um)) = (&s.images_dir, s.bar_um) {
        let rows =
            crate::scale_from_images::measure_all(&crate::scale_from_images::ScaleRequest {
                images: crate::scale_from_images::images_in(d)?,
                bar_um: Some(um),
                bar: Default::default(),
            })?;
        let measured = out.join("scale_from_images.csv");
        crate::scale_from_images::table::write(&measured, &rows)?;
        show("step 1: scale table from the scale bars", &measured);
        if rows.iter().all(|r| r.has_scale()) {
            scale_path = measured;
        }
    }

    let converted = out.join("converted");
    let coco = converted.join("annotations_4classes.coco.json");
    let (ds, _) = crate::convert::read(Format::Cvat, &s.cvat, &Default::default())?;
    let loss = crate::convert::write(ds, Format::Cvat, Format::Coco, &coco, &Default::default())?;
    show("CVAT -> COCO, ellipses kept exactly", &coco);
    let back = converted.join("annotations_4classes.roundtrip.xml");
    let (ds, _) = crate::convert::read(Format::Coco, &coco, &Default::default())?;
    let loss_back =
        crate::convert::write(ds, Format::Coco, Format::Cvat, &back, &Default::default())?;
    show("COCO -> CVAT again (round trip)", &back);
    let same = std::fs::read(&s.cvat).ok() == std::fs::read(&back).ok();
    outln!(
        "\n    round trip: {} -> {} -> {} annotations, {}",
        loss.total_in(),
        loss.total_out(),
        loss_back.total_out(),
        if same {
            "CVAT XML byte-identical"
        } else {
            "CVAT XML differs (see lossiness)"
        }
    );

    let labels = crate::labelset::LabelSet::four_class();
    let masks_dir = out.join("masks");
    let opts = crate::masks::RenderOptions {
        write_labelmap: true,
        quiet: true,
        compact: false,
    };
    crate::masks::render_dataset(
        &synth::generate(&cfg).dataset,
        &labels,
        crate::masks::MaskKind::Color,
        &masks_dir,
        &opts,
    )?;
    show("colour masks + CVAT labelmap.txt", &masks_dir);
    if let Some(images) = &s.images_dir {
        let overlays = out.join("overlays");
        let opts = crate::masks::overlay::OverlayOptions {
            quiet: true,
            ..Default::default()
        };
        let o = crate::masks::overlay::overlay_dir_with(images, &masks_dir, &overlays, &opts)?;
        if let Some(sheet) = &o.contact_sheet {
            show("overlays; contact sheet of all of them", sheet);
        }
    }
    let (from_masks, _, scan) =
        crate::masks::dataset::read_dir(&masks_dir, &labels, s.images_dir.as_deref())?;
    let recovered = converted.join("from_masks.xml");
    crate::cvat::write_path(&from_masks, &recovered, &Default::default())?;
    show("masks -> ellipses again (CVAT)", &recovered);
    outln!(
        "\n    masks -> ellipses: {} regions, {} touch another region or the border",
        scan.regions,
        scan.touching_other + scan.touching_border
    );

    // The 4→7 division of the published workflow, with its audit and plots.
    let division_dir = out.join("seven_classes");
    let (coco4, _) = crate::convert::read(Format::Coco, &s.coco, &Default::default())?;
    let scale = crate::division::ScaleTable::load(&scale_path)?;
    let div =
        crate::division::reclassify(&coco4, &scale, &crate::division::Rules::default_rules())?;
    let coco7 = division_dir.join("annotations_7classes.json");
    crate::convert::write(
        div.dataset.clone(),
        Format::Coco,
        Format::Coco,
        &coco7,
        &Default::default(),
    )?;
    let cvat_bytes = std::fs::read(&s.cvat).map_err(|e| Error::io(&s.cvat, e))?;
    let (cvat4, _) = crate::cvat::read_bytes(&cvat_bytes, &s.cvat, &Default::default())?;
    let (cvat7_bytes, matched) = crate::division::update_cvat(&cvat_bytes, &cvat4, &div)?;
    if !matched.is_ok() {
        return Err(Error::invalid(&s.cvat, matched.errors().join("; ")));
    }
    let cvat7 = division_dir.join("annotations_7classes.xml");
    crate::atomic::write(&cvat7, &cvat7_bytes)?;
    let stats_csv = division_dir.join("statistics.csv");
    div.statistics.write(&stats_csv)?;
    let audit = division_dir.join("audit.csv");
    div.write_audit(&audit)?;
    let plots_dir = division_dir.join("plots");
    crate::division::plots::write_plots(
        &div.statistics,
        &plots_dir,
        crate::division::plots::PlotFormat::Svg,
    )?;
    show("7-class COCO (reclassified)", &coco7);
    show(
        "7-class CVAT (labels changed, shapes byte-identical)",
        &cvat7,
    );
    show("per-image statistics", &stats_csv);
    show("audit: why each annotation got its class", &audit);
    show("diameter histograms with thresholds", &plots_dir);

    // Validation of the 7-class release, as a pull-request comment.
    let report = out.join("validation.md");
    let inputs = crate::validate::Inputs {
        root: Some(out.clone()),
        // The report sits in the demo folder: it names files relative to it.
        display_root: None,
        datasets: vec![
            crate::validate::DatasetInput {
                path: coco7.clone(),
                format: crate::validate::SourceFormat::Coco,
                dataset: div.dataset.clone(),
            },
            crate::validate::DatasetInput {
                path: cvat7.clone(),
                format: crate::validate::SourceFormat::Cvat,
                dataset: crate::cvat::read_bytes(&cvat7_bytes, &cvat7, &Default::default())?.0,
            },
        ],
        images_dir: s.images_dir.clone(),
        masks_dir: None,
        labelset: Some(crate::labelset::LabelSet::seven_class()),
        expected_labels: None,
        expected_index_mask: None,
        yolo: Vec::new(),
        linked_out: Vec::new(),
        scale_table: None,
    };
    let outcome = crate::validate::Engine::default().run(&inputs);
    let md = crate::validate::report::render(
        crate::validate::report::Format::Markdown,
        &outcome.findings,
        &crate::validate::report::ReportOptions::default(),
    );
    crate::atomic::write(&report, md.as_bytes())?;
    show("validation report (Markdown, as a PR comment)", &report);
    let errors = outcome
        .findings
        .iter()
        .filter(|f| f.severity == crate::validate::Severity::Error)
        .count();
    outln!(
        "\n    validation: {errors} errors, {} findings in all",
        outcome.findings.len()
    );
    folder.finish()?;
    if dry.on() {
        dry.finish();
        return Ok(Status::Success);
    }
    outln!(
        "\ndone in {:.2} s; open {} to look around",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(Status::Success)
}
