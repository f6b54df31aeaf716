//! A release folder as TEM-NeutroStruct is published: which files go together.
//!
//! The folder holds `annotations_4classes.{json,xml}` and `annotations_7classes.{json,xml}`
//! side by side, one set of colour masks (drawn in one of the two label sets), a scale sheet
//! and the images. Comparing every file with every other would report thousands of
//! cross-set errors on a clean release, so files are grouped by the label set their classes
//! belong to (`Context::labelset_of`): COCO is compared with the CVAT file of its own set,
//! the masks with the set whose colours they use, and the 4→7 division is checked when a
//! 4-class source and 7-class files are both present.

use super::{Context, SourceFormat};
use crate::labelset::LabelSet;
use crate::model::Rgb;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The datasets the masks are compared with, and the label set whose colours they use.
#[derive(Clone, Debug, Default)]
pub(crate) struct MaskGroup {
    /// Indices into [`super::Inputs::datasets`].
    pub datasets: Vec<usize>,
    pub labelset: Option<LabelSet>,
    /// Why this group was chosen, when the folder held more than one (for a note).
    pub note: Option<String>,
}

/// Chooses the datasets the masks belong to.
///
/// One label set among the datasets (or one given with `--labelset`): all of them. Several:
/// the first mask found is read and each set is scored by the share of its pixels whose
/// colour the set lacks; the 4-class colours are a subset of the 7-class ones, so a tie is
/// broken by how well the colour histogram of that mask agrees with the areas each group's
/// shapes give its classes on that image.
pub(crate) fn mask_group(ctx: &Context<'_>) -> MaskGroup {
    let inputs = ctx.inputs;
    let candidates: Vec<usize> = (0..inputs.datasets.len())
        .filter(|&d| !inputs.is_yolo(d))
        .collect();
    let mut groups: Vec<(Option<LabelSet>, Vec<usize>)> = Vec::new();
    for &d in &candidates {
        let ls = ctx.labelset_of(d).cloned();
        match groups
            .iter_mut()
            .find(|(g, _)| g.as_ref().map(|l| &l.name) == ls.as_ref().map(|l| &l.name))
        {
            Some((_, members)) => members.push(d),
            None => groups.push((ls, vec![d])),
        }
    }
    if groups.len() <= 1 {
        let (labelset, datasets) = groups.pop().unwrap_or_default();
        return MaskGroup {
            datasets,
            labelset: labelset.or_else(|| ctx.labelset().cloned()),
            note: None,
        };
    }
    let Some(dir) = &inputs.masks_dir else {
        return MaskGroup::default();
    };
    // The first image of any dataset that has a mask.
    let sample = candidates.iter().find_map(|&d| {
        inputs.datasets[d].dataset.images.iter().find_map(|im| {
            super::shared::mask_analysis::mask_candidates(dir, &im.file_name)
                .into_iter()
                .find(|p| p.is_file())
                .map(|p| (p, im.file_name.clone()))
        })
    });
    let Some((path, image_name)) = sample else {
        return MaskGroup {
            datasets: groups.swap_remove(0).1,
            ..MaskGroup::default()
        };
    };
    let histogram = colour_histogram(&path).unwrap_or_default();
    let total: u64 = histogram.values().sum();
    let mut scored: Vec<(f64, f64, usize)> = groups
        .iter()
        .enumerate()
        .map(|(g, (ls, members))| {
            let known: Vec<Rgb> = ls
                .as_ref()
                .map(|l| l.classes.iter().map(|c| c.color).collect())
                .unwrap_or_default();
            let unknown: u64 = histogram
                .iter()
                .filter(|(c, _)| !known.contains(c))
                .map(|(_, n)| n)
                .sum();
            let miss = unknown as f64 / total.max(1) as f64;
            (
                miss,
                histogram_distance(ctx, members, ls.as_ref(), &image_name, &histogram),
                g,
            )
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let best = scored[0].2;
    let (labelset, datasets) = groups.swap_remove(best);
    let note = labelset.as_ref().map(|l| {
        format!(
            "masks read as label set {} (the colours of {}), compared with {}",
            l.name,
            inputs.display_path(&path),
            datasets
                .iter()
                .map(|&d| inputs.file_label(d))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    MaskGroup {
        datasets,
        labelset,
        note,
    }
}

/// Pixels per colour of a mask, background included (it is not in any label set's classes,
/// and not counted against one).
fn colour_histogram(path: &Path) -> Option<HashMap<Rgb, u64>> {
    let img = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .decode()
        .ok()?
        .into_rgb8();
    let mut h: HashMap<Rgb, u64> = HashMap::new();
    let mut last = ([0u8; 3], 0u64);
    for px in img.pixels() {
        if px.0 == last.0 {
            last.1 += 1;
            continue;
        }
        *h.entry(Rgb(last.0)).or_insert(0) += last.1;
        last = (px.0, 1);
    }
    *h.entry(Rgb(last.0)).or_insert(0) += last.1;
    h.remove(&Rgb([0, 0, 0]));
    Some(h)
}

/// L1 distance between the mask's class-colour shares and the shares the group's shapes
/// give each class colour on that image (areas inside the image, overlaps ignored).
fn histogram_distance(
    ctx: &Context<'_>,
    members: &[usize],
    ls: Option<&LabelSet>,
    image_name: &str,
    histogram: &HashMap<Rgb, u64>,
) -> f64 {
    let key = super::shared::files::image_key(image_name);
    let mut expected: HashMap<Rgb, f64> = HashMap::new();
    if let Some(&d) = members.first() {
        let ds = &ctx.inputs.datasets[d].dataset;
        let colour: HashMap<_, Rgb> = ds
            .categories
            .iter()
            .filter_map(|c| {
                c.color
                    .or_else(|| ls.and_then(|l| l.by_name(&c.name)).map(|lc| lc.color))
                    .map(|col| (c.id, col))
            })
            .collect();
        if let Some(im) = ds
            .images
            .iter()
            .find(|im| super::shared::files::image_key(&im.file_name) == key)
        {
            for a in ds.annotations.iter().filter(|a| a.image_id == im.id) {
                if let Some(c) = colour.get(&a.category_id) {
                    *expected.entry(*c).or_insert(0.0) +=
                        a.shape.area_in_image(im.width, im.height);
                }
            }
        }
    }
    let (et, mt) = (
        expected.values().sum::<f64>().max(1.0),
        histogram.values().sum::<u64>().max(1) as f64,
    );
    let mut colours: Vec<Rgb> = expected.keys().copied().collect();
    colours.extend(histogram.keys().copied());
    colours.sort_by_key(|c| c.0);
    colours.dedup();
    colours
        .iter()
        .map(|c| {
            let e = expected.get(c).copied().unwrap_or(0.0) / et;
            let m = histogram.get(c).copied().unwrap_or(0) as f64 / mt;
            (e - m).abs()
        })
        .sum()
}

/// The pairing of a discovered release, for the command line to act on and to note.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ReleasePlan {
    /// The 4-class COCO file the 7-class files were divided from, when both are present.
    pub division_source: Option<PathBuf>,
    /// The scale table found in the folder.
    pub scale: Option<PathBuf>,
    /// One line per thing worth saying about the pairing (ambiguities, checks skipped).
    pub notes: Vec<String>,
}

/// Plans the division check of a release folder: a 4-class COCO source, 7-class files and
/// a scale sheet. `files` are the annotation files found, with their format and the label
/// set their classes belong to.
pub(crate) fn plan_release(
    dir: &Path,
    files: &[(PathBuf, SourceFormat, Option<LabelSet>)],
) -> ReleasePlan {
    let four = LabelSet::four_class().name;
    let seven = LabelSet::seven_class().name;
    let in_set = |name: &str| {
        files
            .iter()
            .filter(|(_, _, ls)| ls.as_ref().is_some_and(|l| l.name == name))
            .collect::<Vec<_>>()
    };
    let (fours, sevens) = (in_set(&four), in_set(&seven));
    let mut plan = ReleasePlan::default();
    if fours.is_empty() || sevens.is_empty() {
        return plan;
    }
    let sources: Vec<&PathBuf> = fours
        .iter()
        .filter(|(_, f, _)| *f == SourceFormat::Coco)
        .map(|(p, _, _)| p)
        .collect();
    match sources.as_slice() {
        [] => plan.notes.push(
            "division check skipped: 7-class files are here but no 4-class COCO file to divide"
                .into(),
        ),
        [one] => plan.division_source = Some((*one).clone()),
        [first, ..] => {
            plan.notes.push(format!(
                "{} 4-class COCO files: the division is checked from the first, {}",
                sources.len(),
                first.display()
            ));
            plan.division_source = Some((*first).clone());
        }
    }
    plan.scale = find_scale_table(dir);
    if plan.division_source.is_some() && plan.scale.is_none() {
        plan.notes.push(
            "division check skipped: no scale table (CSV or XLSX with image names and px per µm) in the folder"
                .into(),
        );
        plan.division_source = None;
    }
    plan
}

/// The scale table of a release folder: a CSV or XLSX file near the top that reads as one
/// (names with "scale" first, then alphabetical).
pub(crate) fn find_scale_table(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("csv") || x.eq_ignore_ascii_case("xlsx"))
        })
        .collect();
    found.sort_by_key(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        (!name.contains("scale"), p.clone())
    });
    found
        .into_iter()
        .find(|p| crate::division::ScaleTable::load(p).is_ok_and(|t| !t.entries.is_empty()))
}
