//! `scale-mismatch` (NS028).

use super::prelude::*;
use crate::division::ScaleTable;
use crate::scale_from_images as sfi;
use crate::validate::shared::files::candidates;

declare_rule! {
    /// ## What it does
    /// With `--scale SCALE` and the images (`--images DIR` or `DIR/images`), compares each
    /// image's scale in the table with the image's own: the calibration stored in a TIFF
    /// (ImageJ, OME, resolution per centimetre, FEI), or, when `thresholds.scale_bar_um` gives
    /// the length printed on the bars, the scale bar measured in the pixels. A relative
    /// difference above `thresholds.scale_tolerance` (2 %) is an error. Without images it
    /// still compares the rows of one series (file names that differ only in their trailing
    /// number, `cell_01.tif`, `cell_02.tif`): a row more than `thresholds.scale_series_ratio`
    /// (1.5×) away from the series' median is a warning.
    ///
    /// ## Why it matters
    /// Every diameter is pixels divided by the scale, and the 4→7 division compares
    /// diameters: a scale typed wrong (a digit dropped, µm per pixel taken for pixels per µm,
    /// the value of the neighbouring row) silently moves granules between classes, and nothing
    /// downstream can tell.
    ///
    /// ## Example
    /// `scale.csv` row 4 says `cell_03.tif,37.5` and the file is ImageJ-calibrated at 375 px
    /// per micron: `scale table says 37.5 px/µm for cell_03.tif, but its imagej-tiff calibration gives 375 px/µm (90 % apart, tolerance 2 %)`.
    pub(crate) struct ScaleMismatch {
        code: "NS028",
        name: "scale-mismatch",
        severity: Error,
        summary: "The scale table disagrees with an image's own calibration or scale bar, or with its series.",
    }
}

/// `cell_03.tif` → `cell`: the name without extension and trailing number.
fn series_key(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    };
    let head = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    if head.len() == stem.len() {
        return None;
    }
    let head = head.trim_end_matches(['_', '-', ' ', '.']);
    Some(head.to_lowercase())
}

fn pct(v: f64) -> String {
    num(v * 100.0)
}

impl ScaleMismatch {
    fn series(&self, ctx: &Context<'_>, table: &ScaleTable, file: &str) -> Vec<Finding> {
        let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (i, e) in table.entries.iter().enumerate() {
            if let Some(k) = series_key(&e.image_name) {
                groups.entry(k).or_default().push(i);
            }
        }
        let ratio = ctx.thresholds.scale_series_ratio;
        let mut out = Vec::new();
        for (key, idx) in groups {
            if idx.len() < 2 {
                continue;
            }
            let mut vals: Vec<f64> = idx.iter().map(|&i| table.entries[i].px_per_um).collect();
            vals.sort_by(f64::total_cmp);
            let med = vals[vals.len() / 2];
            for &i in &idx {
                let e = &table.entries[i];
                let r = (e.px_per_um / med).max(med / e.px_per_um);
                if r > ratio {
                    out.push(
                        Finding::new(
                            &Self::META,
                            file,
                            format!(
                                "{} px/µm for {} is {}× the median {} px/µm of its series `{key}` ({} images; limit {}×)",
                                num(e.px_per_um),
                                e.image_name,
                                num(r),
                                num(med),
                                idx.len(),
                                num(ratio)
                            ),
                        )
                        .severity(Severity::Warning)
                        .line(u32::try_from(e.row).ok())
                        .image(&e.image_name),
                    );
                }
            }
        }
        out
    }
}

impl Validation for ScaleMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(table) = &ctx.inputs.scale_table else {
            return Vec::new();
        };
        let file = ctx.inputs.display_path(&table.source);
        let mut out = self.series(ctx, table, &file);
        let Some(dir) = &ctx.inputs.images_dir else {
            return out;
        };
        let tol = ctx.thresholds.scale_tolerance;
        let bar_um = ctx.thresholds.scale_bar_um;
        let row_of: HashMap<&str, usize> = table
            .entries
            .iter()
            .map(|e| (e.image_name.as_str(), e.row))
            .collect();
        let mut done: HashSet<String> = HashSet::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            if ctx.inputs.is_yolo(d) {
                continue;
            }
            let Ok(resolved) = table.resolve(&input.dataset, false) else {
                continue;
            };
            let defaulted: HashSet<&str> = resolved.defaulted.iter().map(String::as_str).collect();
            for im in &input.dataset.images {
                if defaulted.contains(im.file_name.as_str()) || !done.insert(im.file_name.clone()) {
                    continue;
                }
                let Some(path) = candidates(dir, &im.file_name)
                    .and_then(|c| c.into_iter().find(|p| p.is_file()))
                else {
                    continue;
                };
                let listed = resolved.get(im.id);
                // The row the value came from (exact name, else the table's own spelling).
                let row = row_of.get(im.file_name.as_str()).copied().or_else(|| {
                    table
                        .entries
                        .iter()
                        .find(|e| e.px_per_um == listed)
                        .map(|e| e.row)
                });
                let own = match sfi::calibration_of(&path) {
                    Ok(Some(meta)) => meta
                        .calibration()
                        .map(|c| (c.px_per_um, format!("{} calibration", c.source.as_str()))),
                    Ok(None) => None,
                    Err(e) => {
                        out.push(
                            Finding::new(
                                &Self::META,
                                &file,
                                format!("the calibration of {} cannot be read: {e}", im.file_name),
                            )
                            .severity(Severity::Warning)
                            .line(row.and_then(|r| u32::try_from(r).ok()))
                            .image(&im.file_name),
                        );
                        continue;
                    }
                };
                let own = own.or_else(|| {
                    if bar_um <= 0.0 {
                        return None;
                    }
                    let g = sfi::load_gray(&path).ok()?;
                    match sfi::bar::find_bar(&g, &Default::default()) {
                        sfi::bar::Detection::Found(b) => Some((
                            b.length_px / bar_um,
                            format!("scale bar ({} px = {} µm)", num(b.length_px), num(bar_um)),
                        )),
                        _ => None,
                    }
                });
                let Some((v, what)) = own else {
                    continue;
                };
                let rel = (listed - v).abs() / v;
                if rel > tol {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "scale table says {} px/µm for {}, but its {what} gives {} px/µm ({} % apart, tolerance {} %)",
                                num(listed),
                                im.file_name,
                                num(v),
                                pct(rel),
                                pct(tol)
                            ),
                        )
                        .line(row.and_then(|r| u32::try_from(r).ok()))
                        .image(&im.file_name),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;
    use crate::validate::{Inputs, SourceFormat, Thresholds};
    use std::path::Path;

    fn imagej_tiff(path: &Path, w: u32, h: u32, px_per_um: u32) {
        use tiff::encoder::{colortype, Rational, TiffEncoder};
        let mut f = std::fs::File::create(path).unwrap();
        let mut enc = TiffEncoder::new(&mut f).unwrap();
        let mut im = enc.new_image::<colortype::Gray8>(w, h).unwrap();
        im.encoder()
            .write_tag(
                tiff::tags::Tag::ImageDescription,
                "ImageJ=1.54f\nunit=micron\n",
            )
            .unwrap();
        im.resolution(
            tiff::tags::ResolutionUnit::None,
            Rational { n: px_per_um, d: 1 },
        );
        im.write_data(&vec![128u8; (w * h) as usize]).unwrap();
    }

    fn bar_png(path: &Path, len: f64) {
        let (w, h) = (400usize, 300usize);
        let mut buf = vec![200u8; w * h];
        sfi::bar::draw_bar(&mut buf, w, 360.0 - len, len, 270, 6, 10);
        image::GrayImage::from_raw(w as u32, h as u32, buf)
            .unwrap()
            .save(path)
            .unwrap();
    }

    fn fixture(dir: &Path, table: &str) -> Inputs {
        std::fs::create_dir_all(dir.join("images")).unwrap();
        imagej_tiff(&dir.join("images/cell_01.tif"), 64, 64, 375);
        imagej_tiff(&dir.join("images/cell_02.tif"), 64, 64, 375);
        bar_png(&dir.join("images/bar_01.png"), 200.0);
        let ds = dataset(
            four(),
            vec![
                image(1, "cell_01.tif", 64, 64, 3),
                image(2, "cell_02.tif", 64, 64, 4),
                image(3, "bar_01.png", 400, 300, 5),
            ],
            vec![],
        );
        let path = dir.join("scale.csv");
        std::fs::write(&path, table).unwrap();
        Inputs {
            root: Some(dir.to_path_buf()),
            images_dir: Some(dir.join("images")),
            datasets: vec![input("annotations.json", SourceFormat::Coco, ds)],
            scale_table: Some(ScaleTable::load(&path).unwrap()),
            ..Inputs::default()
        }
    }

    #[test]
    fn triggers() {
        let tmp = tempfile::tempdir().unwrap();
        let inputs = fixture(
            tmp.path(),
            "image_name,px_per_um\ncell_01.tif,375\ncell_02.tif,37.5\nbar_01.png,150\ncell_03.tif,380\n",
        );
        let t = Thresholds {
            scale_bar_um: 1.0,
            ..Thresholds::default()
        };
        let f = run_with(&ScaleMismatch, &inputs, &t);
        // cell_02: the calibration says 375, and it is 10× off its series; bar_01: the bar
        // measures 200 px = 1 µm.
        assert_eq!(f.len(), 3, "{f:#?}");
        snap!("scale_mismatch__trigger", f);
    }

    #[test]
    fn clean() {
        let tmp = tempfile::tempdir().unwrap();
        let inputs = fixture(
            tmp.path(),
            "image_name,px_per_um\ncell_01.tif,375\ncell_02.tif,376\nbar_01.png,200.5\n",
        );
        let t = Thresholds {
            scale_bar_um: 1.0,
            ..Thresholds::default()
        };
        let f = run_with(&ScaleMismatch, &inputs, &t);
        snap!("scale_mismatch__clean", f);
        assert!(f.is_empty());
    }

    #[test]
    fn series_keys() {
        assert_eq!(series_key("a/cell_03.tif").as_deref(), Some("cell"));
        assert_eq!(series_key("Cell-12.png").as_deref(), Some("cell"));
        assert_eq!(series_key("overview.tif"), None);
    }
}
