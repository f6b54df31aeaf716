//! A segmentation-mask dataset laid out as CVAT's "Segmentation mask 1.1" export:
//! `SegmentationClass/<stem>.png` (label-set colours), `SegmentationObject/<stem>.png`
//! (one colour per instance, from the Pascal VOC palette), `ImageSets/Segmentation/<split>.txt`
//! and `labelmap.txt`, so CVAT, Datumaro and VOC-style loaders read it.

use super::SplitPlan;
use crate::error::Result;
use crate::labelset::LabelSet;
use crate::lossiness::Lossiness;
use crate::masks::{self, MaskBuffer, MaskKind, RenderOptions};
use crate::model::Dataset;
use std::collections::BTreeMap;
use std::path::Path;

/// Colour `i` of the Pascal VOC palette (bit-interleaved), used for instance masks.
pub(crate) fn voc_palette(i: u32) -> [u8; 3] {
    let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
    let mut c = i;
    for j in 0..8 {
        r |= ((c & 1) as u8) << (7 - j);
        g |= (((c >> 1) & 1) as u8) << (7 - j);
        b |= (((c >> 2) & 1) as u8) << (7 - j);
        c >>= 3;
    }
    [r, g, b]
}

/// Writes the dataset; returns the lossiness report.
pub fn write(ds: &Dataset, labels: &LabelSet, out: &Path, split: &SplitPlan) -> Result<Lossiness> {
    let mut loss = Lossiness::default();
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
    }
    let opts = RenderOptions {
        write_labelmap: true,
        quiet: false,
        compact: false,
    };
    let class = masks::render_dataset(
        ds,
        labels,
        MaskKind::Color,
        &out.join("SegmentationClass"),
        &opts,
    )?;
    // The labelmap belongs at the top of a CVAT segmentation export, not inside a folder.
    let inner = out.join("SegmentationClass").join("labelmap.txt");
    if inner.exists() {
        std::fs::remove_file(&inner).map_err(|e| crate::Error::io(&inner, e))?;
    }
    crate::atomic::write(
        &out.join("labelmap.txt"),
        masks::labelmap_txt(labels)?.as_bytes(),
    )?;
    // The second pass, over the same images: without its own phase and bar the terminal
    // went quiet here for seconds after the class bar ended (issue 18).
    crate::progress::phase("convert: instance masks (SegmentationObject/)");
    write_instances(ds, labels, &out.join("SegmentationObject"))?;
    crate::progress::phase("convert: split lists");
    let splits = split.assign(&ds.images);
    split.report_refused(&ds.images, &mut loss);
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for im in &ds.images {
        if let Some(name) = masks::mask_file_name(&im.file_name) {
            let stem = name.trim_end_matches(".png").to_string();
            lists
                .entry(
                    splits
                        .get(&im.id)
                        .cloned()
                        .unwrap_or_else(|| "default".into()),
                )
                .or_default()
                .push(stem);
        }
    }
    for (s, stems) in lists {
        let mut text = stems.join("\n");
        text.push('\n');
        crate::atomic::write(
            &out.join("ImageSets")
                .join("Segmentation")
                .join(format!("{s}.txt")),
            text.as_bytes(),
        )?;
    }
    loss.output.insert("painted".into(), class.shapes_painted);
    for (kind, n) in &class.not_paintable {
        loss.add(
            "not-a-region",
            *n,
            format!("{kind} shapes paint no pixels; not in the masks"),
        );
    }
    loss.add(
        "unknown-class",
        class.no_class,
        "shape's class is not in the label set; not painted",
    );
    loss.add(
        "dangling-annotation",
        class.orphan_annotations,
        "annotation of an image the file does not list; not painted",
    );
    loss.add(
        "image-skipped",
        class.skipped.len(),
        "image not rendered (unsafe name, duplicate stem or refused size)",
    );
    let ellipses = ds
        .annotations
        .iter()
        .filter(|a| matches!(a.shape, crate::model::Shape::Ellipse(_)))
        .count();
    loss.add(
        "ellipse-rasterised",
        ellipses,
        "ellipses rasterised at pixel centres (docs/design.md §3); where shapes overlap, the one on top keeps the pixels",
    );
    Ok(loss)
}

/// Instance masks as VOC-palette colours (instance k gets colour k).
fn write_instances(ds: &Dataset, labels: &LabelSet, dir: &Path) -> Result<()> {
    use rayon::prelude::*;
    let lookup = masks::ClassLookup::new(&ds.categories, labels);
    let groups = ds.annotations_by_image();
    let bar = crate::progress::Progress::bar(groups.len() as u64, false, "instances");
    groups.par_iter().try_for_each(|(im, anns)| -> Result<()> {
        // Counted when skipped too (by this guard): the bar ends at the total either way.
        let _count = IncOnDrop(&bar);
        let Some(name) = masks::mask_file_name(&im.file_name) else {
            return Ok(());
        };
        if masks::check_size(im).is_err() {
            return Ok(());
        }
        let r = masks::render(im, anns, &lookup, MaskKind::Instance)?;
        let MaskBuffer::Instance(inst) = r.buffer else {
            return Ok(());
        };
        let rgb = image::RgbImage::from_fn(im.width, im.height, |x, y| {
            image::Rgb(voc_palette(u32::from(inst.get_pixel(x, y).0[0])))
        });
        masks::write_png(&MaskBuffer::Color(rgb), &dir.join(name))
    })
}

/// Counts one item done when the work on it ends, whichever way it returns.
struct IncOnDrop<'a>(&'a crate::progress::Progress);

impl Drop for IncOnDrop<'_> {
    fn drop(&mut self) {
        self.0.inc(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn voc_palette_starts_as_pascal_voc() {
        assert_eq!(super::voc_palette(0), [0, 0, 0]);
        assert_eq!(super::voc_palette(1), [128, 0, 0]);
        assert_eq!(super::voc_palette(2), [0, 128, 0]);
        assert_eq!(super::voc_palette(3), [128, 128, 0]);
        assert_eq!(super::voc_palette(15), [192, 128, 128]);
    }
}
