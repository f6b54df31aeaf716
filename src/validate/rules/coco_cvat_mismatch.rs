//! `coco-cvat-mismatch` (NS012).

use super::prelude::*;
use crate::labelset::loose;
use crate::validate::geom::match_boxes;
use crate::validate::shared::files::image_key;
use crate::validate::SourceFormat;

declare_rule! {
    /// ## What it does
    /// Compares the COCO and the CVAT file of one split: every COCO file with every CVAT
    /// file of the same label set that lists some of the same images (a release folder's
    /// 4-class files are compared with each other, its 7-class files with each other).
    /// Images are matched by file name (without folder), shapes one-to-one by tight-box
    /// IoU ≥ `thresholds.match_iou` (0.5), greedily best first, the COCO side using its
    /// `bbox` and the CVAT side the part of the shape inside the image (CVAT's COCO export
    /// clips a shape at the border). Reported: an image in one file only, an image whose
    /// size differs, a shape without a partner (on the file that has it), and a matched pair
    /// whose class names differ (on the CVAT shape).
    ///
    /// ## Why it matters
    /// The dataset is published in both formats and users train on either; a shape edited in
    /// CVAT and not re-exported to COCO makes the two versions of the dataset disagree.
    ///
    /// ## Example
    /// The CVAT file has `<ellipse label="Secondary granules" cx="50" cy="50" rx="10" ry="6">`
    /// where the COCO file has annotation 17 of class "Primary granules" with bbox
    /// `[40, 44, 20, 12]`. Reported on the CVAT line: `CVAT shape is "Secondary granules" but the matching COCO annotation 17 in train.json is "Primary granules"`.
    pub(crate) struct CocoCvatMismatch {
        code: "NS012",
        name: "coco-cvat-mismatch",
        severity: Error,
        summary: "The COCO and CVAT files of one split disagree (unmatched images or shapes, different labels).",
    }
}

impl Validation for CocoCvatMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let ds = &ctx.inputs.datasets;
        let mut out = Vec::new();
        for (ci, c) in ds
            .iter()
            .enumerate()
            .filter(|(_, d)| d.format == SourceFormat::Coco)
        {
            // Only files of one label set are versions of each other: a release holds the
            // 4-class and the 7-class COCO and CVAT side by side.
            for (vi, v) in ds
                .iter()
                .enumerate()
                .filter(|(vi, d)| d.format == SourceFormat::Cvat && ctx.same_labelset(ci, *vi))
            {
                compare(ctx, ci, &c.dataset, vi, &v.dataset, &mut out);
            }
        }
        out
    }
}

fn compare(
    ctx: &Context<'_>,
    ci: usize,
    coco: &Dataset,
    vi: usize,
    cvat: &Dataset,
    out: &mut Vec<Finding>,
) {
    let meta = &CocoCvatMismatch::META;
    let coco_images: HashMap<&str, &Image> = coco
        .images
        .iter()
        .map(|im| (image_key(&im.file_name), im))
        .collect();
    let cvat_images: HashMap<&str, &Image> = cvat
        .images
        .iter()
        .map(|im| (image_key(&im.file_name), im))
        .collect();
    if !coco_images.keys().any(|k| cvat_images.contains_key(k)) {
        return; // not the same split
    }
    let (cfile, vfile) = (ctx.inputs.file_label(ci), ctx.inputs.file_label(vi));
    let (coco_groups, cvat_groups) = (coco.annotations_by_image(), cvat.annotations_by_image());
    let cvat_by_key: HashMap<&str, &Vec<&Annotation>> = cvat_groups
        .iter()
        .map(|(im, anns)| (image_key(&im.file_name), anns))
        .collect();
    let (cnames, vnames) = (class_names(coco), class_names(cvat));
    for im in &coco.images {
        if !cvat_images.contains_key(image_key(&im.file_name)) {
            out.push(
                Finding::new(
                    meta,
                    &cfile,
                    format!("image is in this COCO file but not in the CVAT file {vfile}"),
                )
                .at_image(im),
            );
        }
    }
    for im in &cvat.images {
        match coco_images.get(image_key(&im.file_name)) {
            None => out.push(
                Finding::new(
                    meta,
                    &vfile,
                    format!("image is in this CVAT file but not in the COCO file {cfile}"),
                )
                .at_image(im),
            ),
            Some(ci) if (ci.width, ci.height) != (im.width, im.height) => out.push(
                Finding::new(
                    meta,
                    &vfile,
                    format!(
                        "image is {} × {} here but {} × {} in the COCO file {cfile}",
                        im.width, im.height, ci.width, ci.height
                    ),
                )
                .at_image(im),
            ),
            Some(_) => {}
        }
    }
    for (im, canns) in &coco_groups {
        let Some(vanns) = cvat_by_key.get(image_key(&im.file_name)) else {
            continue;
        };
        // Both sides measured on the part inside the image: CVAT keeps an ellipse reaching
        // past the border, its COCO export only what the image shows.
        let vim = cvat_images.get(image_key(&im.file_name)).copied();
        let cboxes: Vec<Option<[f64; 4]>> =
            canns.iter().map(|a| compare_box(a, Some(im))).collect();
        let vboxes: Vec<Option<[f64; 4]>> = vanns.iter().map(|a| visible_box(a, vim)).collect();
        let m = match_boxes(&cboxes, &vboxes, ctx.thresholds.match_iou);
        for i in m.unmatched_a.into_iter().filter(|&i| cboxes[i].is_some()) {
            let a = canns[i];
            out.push(
                Finding::new(
                    meta,
                    &cfile,
                    format!(
                        "COCO annotation {} ({:?}) has no matching shape in the CVAT file {vfile}",
                        a.id,
                        class_of(&cnames, a)
                    ),
                )
                .annotation(a)
                .image(&im.file_name),
            );
        }
        for j in m.unmatched_b.into_iter().filter(|&j| vboxes[j].is_some()) {
            let a = vanns[j];
            out.push(
                Finding::new(
                    meta,
                    &vfile,
                    format!(
                        "CVAT {} ({:?}) has no matching annotation in the COCO file {cfile}",
                        a.shape.kind(),
                        class_of(&vnames, a)
                    ),
                )
                .annotation(a)
                .image(&im.file_name),
            );
        }
        for (i, j, _) in m.pairs {
            let (ca, va) = (canns[i], vanns[j]);
            let (cn, vn) = (class_of(&cnames, ca), class_of(&vnames, va));
            if loose(&cn) != loose(&vn) {
                out.push(
                    Finding::new(
                        meta,
                        &vfile,
                        format!("CVAT shape is {vn:?} but the matching COCO annotation {} in {cfile} is {cn:?}", ca.id),
                    )
                    .annotation(va)
                    .image(&im.file_name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;
    use crate::validate::Inputs;

    fn pair(coco: Dataset, cvat: Dataset) -> Inputs {
        Inputs {
            datasets: vec![
                input("train.json", SourceFormat::Coco, coco),
                input("train.xml", SourceFormat::Cvat, cvat),
            ],
            ..Inputs::default()
        }
    }

    #[test]
    fn triggers() {
        let coco = dataset(
            four(),
            vec![
                image(1, "a.tif", 100, 100, 3),
                image(2, "only_coco.tif", 100, 100, 4),
            ],
            vec![
                coco_ann(17, 1, 1, ellipse(50.0, 50.0, 10.0, 6.0, 0.0), 20),
                coco_ann(18, 1, 3, ellipse(20.0, 20.0, 4.0, 4.0, 0.0), 21),
            ],
        );
        let cvat = dataset(
            four(),
            vec![
                image(0, "images/a.tif", 100, 100, 5),
                image(1, "b.tif", 64, 64, 9),
            ],
            vec![
                ann(0, 0, 2, ellipse(50.2, 50.0, 10.0, 6.0, 0.0), 6),
                ann(1, 0, 4, ellipse(80.0, 80.0, 5.0, 5.0, 30.0), 7),
            ],
        );
        let f = run(&CocoCvatMismatch, &pair(coco, cvat));
        assert_eq!(f.len(), 5, "{f:#?}");
        snap!("coco_cvat_mismatch__trigger", f);
    }

    #[test]
    fn clean() {
        // CVAT exact ellipses against COCO boxes rounded as CVAT's export rounds them.
        let mut c = coco_ann(1, 1, 1, ellipse(50.4, 50.0, 10.4, 6.0, 10.0), 20);
        if let Some(x) = c.coco.as_mut() {
            x.bbox = x.bbox.map(|b| b.map(f64::round));
        }
        let coco = dataset(four(), vec![image(1, "a.tif", 100, 100, 3)], vec![c]);
        let cvat = dataset(
            four(),
            vec![image(0, "a.tif", 100, 100, 5)],
            vec![ann(0, 0, 1, ellipse(50.4, 50.0, 10.4, 6.0, 10.0), 6)],
        );
        let f = run(&CocoCvatMismatch, &pair(coco, cvat));
        snap!("coco_cvat_mismatch__clean", f);
    }
}
