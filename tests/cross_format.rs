//! COCO ↔ CVAT through the model: nothing a CVAT export holds is lost on the way through COCO.

use neutrostruct::convert::{carry_cvat_into_coco, restore_cvat_from_coco};
use neutrostruct::model::*;
use neutrostruct::{coco, cvat};
use proptest::prelude::*;
use std::path::Path;

fn cvat_to_coco_to_cvat(xml: &[u8]) -> (String, Dataset, Dataset) {
    let (ds, _) =
        cvat::read_bytes(xml, Path::new("in.xml"), &Default::default()).expect("reads CVAT");
    let mut carried = ds.clone();
    carry_cvat_into_coco(&mut carried);
    let (json, _) = coco::to_string(&carried, &Default::default());
    let (mut back, _) =
        coco::read_bytes(json.as_bytes(), Path::new("mid.json"), &Default::default())
            .expect("reads COCO");
    restore_cvat_from_coco(&mut back);
    let (xml2, _) = cvat::to_string(&back, &Default::default());
    (xml2, ds, back)
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/conformance")
            .join(rel),
    )
    .expect("fixture")
}

#[test]
fn conformance_cvat_files_survive_a_trip_through_coco() {
    for rel in [
        "cvat-ellipse/annotations_4classes.xml",
        "datumaro-cvat/export_task_train.xml",
        "datumaro-cvat/export_project_annotations.xml",
    ] {
        let xml = fixture(rel);
        let (first, _) = cvat::to_string(
            &cvat::read_bytes(&xml, Path::new(rel), &Default::default())
                .expect("reads")
                .0,
            &Default::default(),
        );
        let (again, before, after) = cvat_to_coco_to_cvat(first.as_bytes());
        assert_eq!(
            before.annotations.len(),
            after.annotations.len(),
            "{rel}: counts"
        );
        for (a, b) in before.annotations.iter().zip(&after.annotations) {
            assert_eq!(a.shape, b.shape, "{rel}: shape of annotation {}", a.id);
        }
        assert_eq!(
            first, again,
            "{rel}: CVAT → COCO → CVAT gives the same CVAT"
        );
    }
}

#[test]
fn cvat_export_coco_converts_to_ellipses_close_to_the_originals() {
    let (truth, _) = cvat::read_bytes(
        &fixture("cvat-ellipse/annotations_4classes.xml"),
        Path::new("x.xml"),
        &Default::default(),
    )
    .expect("reads CVAT");
    let (coco_ds, loss) = coco::read_bytes(
        &fixture("cvat-ellipse/annotations_4classes.json"),
        Path::new("x.json"),
        &Default::default(),
    )
    .expect("reads COCO");
    assert_eq!(coco_ds.annotations.len(), truth.annotations.len());
    assert!(
        loss.losses.iter().any(|l| l.code == "ellipse-from-mask"),
        "the recovery is reported: {loss}"
    );
    let ellipses = coco_ds
        .annotations
        .iter()
        .filter(|a| matches!(a.shape, Shape::Ellipse(_)))
        .count();
    assert_eq!(
        ellipses,
        truth.annotations.len(),
        "every CVAT-exported mask becomes an ellipse"
    );
}

fn arb_ellipse() -> impl Strategy<Value = Shape> {
    (
        0i32..400_000,
        0i32..400_000,
        50i32..20_000,
        50i32..20_000,
        prop_oneof![Just(0i32), 1i32..36_000],
    )
        .prop_map(|(cx, cy, rx, ry, rot)| {
            Shape::Ellipse(Ellipse {
                cx: f64::from(cx) / 100.0,
                cy: f64::from(cy) / 100.0,
                rx: f64::from(rx) / 100.0,
                ry: f64::from(ry) / 100.0,
                rotation: f64::from(rot) / 100.0,
            })
        })
}

fn arb_dataset() -> impl Strategy<Value = Dataset> {
    prop::collection::vec(
        (0usize..3, 0u64..4, arb_ellipse(), any::<bool>(), -2i32..3),
        0..40,
    )
    .prop_map(|anns| {
        let labels = neutrostruct::labelset::LabelSet::four_class();
        let mut ds = Dataset {
            categories: labels.categories(),
            ..Default::default()
        };
        for i in 0..3u64 {
            ds.images.push(Image {
                id: ImageId(i),
                file_name: format!("img_{i}.png"),
                width: 4096,
                height: 4224,
                subset: None,
                coco_extra: Default::default(),
                cvat_attrs: Vec::new(),
                cvat_unknown: Vec::new(),
                loc: None,
            });
        }
        // CVAT keeps shapes grouped by image; generate them in that order.
        let mut anns = anns;
        anns.sort_by_key(|a| a.0);
        for (n, (img, cat, shape, occluded, z)) in anns.into_iter().enumerate() {
            let mut a = Annotation::new(
                AnnotationId(n as u64 + 1),
                ImageId(img as u64),
                CategoryId(cat + 1),
                shape,
            );
            a.occluded = occluded;
            a.z_order = z;
            a.cvat.source = Some("manual".into());
            ds.annotations.push(a);
        }
        ds
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_cvat_dataset_survives_coco(ds in arb_dataset()) {
        let (xml, _) = cvat::to_string(&ds, &Default::default());
        let (again, before, after) = cvat_to_coco_to_cvat(xml.as_bytes());
        prop_assert_eq!(&xml, &again);
        prop_assert_eq!(before.annotations.len(), ds.annotations.len());
        prop_assert_eq!(after.annotations.len(), ds.annotations.len());
        for (a, b) in ds.annotations.iter().zip(&after.annotations) {
            prop_assert_eq!(&a.shape, &b.shape);
            prop_assert_eq!(a.category_id, b.category_id);
            prop_assert_eq!(a.occluded, b.occluded);
            prop_assert_eq!(a.z_order, b.z_order);
        }
    }
}
