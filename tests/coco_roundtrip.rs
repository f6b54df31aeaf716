//! COCO reader and writer: conformance files, round trips, bad input, a snapshot.

use neutrostruct::coco::{
    self, read_bytes, read_path, EllipseRecovery, ReadOptions, SegmentationMode, WriteOptions,
};
use neutrostruct::model::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn fixture(p: &str) -> PathBuf {
    Path::new("tests/fixtures/conformance").join(p)
}

fn read(p: &str) -> Dataset {
    read_path(&fixture(p), &ReadOptions::default()).unwrap().0
}

/// The dataset without source positions (they differ between two writings).
/// The model without what reading measured rather than read: source positions, and the
/// box and pixel count of a mask an ellipse was recovered from (a COCO file written by
/// neutrostruct carries the ellipse itself, so a second read has no mask to measure).
fn strip_loc(mut ds: Dataset) -> Dataset {
    ds.images.iter_mut().for_each(|i| i.loc = None);
    ds.annotations.iter_mut().for_each(|a| {
        a.loc = None;
        if let Some(r) = a.coco.as_mut().and_then(|c| c.rare.get_mut()) {
            r.mask_extent = None;
        }
    });
    ds
}

fn reread(ds: &Dataset, pretty: bool) -> (String, Dataset) {
    let (text, _) = coco::to_string(
        ds,
        &WriteOptions {
            pretty,
            ..Default::default()
        },
    );
    let (back, _) = read_bytes(
        text.as_bytes(),
        Path::new("mem.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    (text, back)
}

#[test]
fn datumaro_files_read() {
    let train = read("datumaro-coco/instances_train.json");
    assert_eq!(
        train.categories.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert_eq!(train.images[0].id, ImageId(5));
    assert_eq!(train.images[0].coco_extra["flickr_url"], "");
    let a = &train.annotations[0];
    assert_eq!(
        a.shape,
        Shape::Box(BoxShape {
            xtl: 2.0,
            ytl: 2.0,
            xbr: 5.0,
            ybr: 3.0,
            rotation: 0.0
        })
    );
    assert_eq!(
        a.loc.map(|l| l.line),
        Some(47),
        "line of the annotation's `{{`"
    );

    let val = read("datumaro-coco/instances_val.json");
    assert_eq!(val.annotations.len(), 2);
    let p = &val.annotations[0];
    assert_eq!(
        p.shape,
        Shape::Polygon(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [0.0, 2.0]]].into())
    );
    assert_eq!(p.attributes["x"], 1);
    assert_eq!(p.attributes["y"], "hello");
    assert_eq!(
        val.annotations[1].shape,
        Shape::Mask(MaskData::Coco {
            height: 10,
            width: 5,
            counts: vec![0, 20, 30]
        })
    );
    assert_eq!(val.annotations[1].coco.as_ref().unwrap().iscrowd, Some(1));
}

#[test]
fn cvat_export_reads_as_ellipses_with_attributes() {
    let (ds, loss) = read_path(
        &fixture("cvat-ellipse/annotations_4classes.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.annotations.len(), 40);
    assert_eq!(loss.input.get("ellipse"), Some(&40));
    assert_eq!(
        ds.images.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        vec![10, 13, 16, 19]
    );
    assert!(ds
        .annotations
        .iter()
        .all(|a| !a.occluded && a.attributes.is_empty()));
    // Never: the native masks.
    let never = ReadOptions {
        ellipses: EllipseRecovery::Never,
        ..Default::default()
    };
    let (ds, loss) = read_path(&fixture("cvat-ellipse/annotations_4classes.json"), &never).unwrap();
    assert!(ds
        .annotations
        .iter()
        .all(|a| matches!(a.shape, Shape::Mask(_))));
    assert!(loss.is_lossless());
    // The rotation stays an attribute when it is not used by the shape.
    assert!(ds.annotations[1].attributes.contains_key("rotation"));
}

#[test]
fn coco_model_coco_model_is_identity() {
    for f in [
        "datumaro-coco/instances_train.json",
        "datumaro-coco/instances_val.json",
        "cvat-ellipse/annotations_4classes.json",
        "coco-extras/unknown_fields.json",
    ] {
        let ds = strip_loc(read(f));
        let (text1, back) = reread(&ds, false);
        assert_eq!(strip_loc(back.clone()), ds, "{f}");
        // And the writing is a fixed point.
        let (text2, _) = reread(&back, false);
        assert_eq!(text1, text2, "{f}");
    }
}

#[test]
fn unknown_fields_survive() {
    let ds = read("coco-extras/unknown_fields.json");
    assert_eq!(ds.categories[0].color, Some(Rgb([0xe6, 0x19, 0x4b])));
    let (text, _) = reread(&ds, false);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["x_top_level"]["nested"][2]["k"], serde_json::Value::Null);
    assert_eq!(v["info"]["year"], 2024);
    assert_eq!(v["categories"][0]["x_cat"], true);
    assert_eq!(v["categories"][0]["color"], "#e6194b");
    assert_eq!(v["images"][0]["x_img"], "kept");
    assert_eq!(v["images"][0]["license"], 2);
    assert_eq!(v["annotations"][0]["x_ann"][1], "s");
    // Integers in segmentations stay integers; the RLE string is kept as it was.
    assert_eq!(v["annotations"][0]["segmentation"][0][0], 1);
    assert_eq!(v["annotations"][1]["segmentation"]["counts"], "g03^5");
    assert_eq!(v["annotations"][1]["attributes"]["occluded"], true);
    assert_eq!(v["annotations"][1]["attributes"]["note"], "x\"y");
    // No invented attributes object, no neutrostruct for native COCO geometry.
    assert!(v["annotations"][0].get("attributes").is_none());
    assert!(v["annotations"][2].get("neutrostruct").is_none());
    // Top-level order: the file's own fields first, then categories, images, annotations.
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["info", "x_top_level", "categories", "images", "annotations"]
    );
}

#[test]
fn dangling_references_read() {
    let ds = read("coco-extras/unknown_fields.json");
    let a = ds
        .annotations
        .iter()
        .find(|a| a.id == AnnotationId(3))
        .unwrap();
    assert_eq!((a.image_id, a.category_id), (ImageId(99), CategoryId(42)));
}

fn err(text: &[u8]) -> String {
    match read_bytes(text, Path::new("in.json"), &ReadOptions::default()) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(text)),
        Err(e) => e.to_string(),
    }
}

fn starts_with_position(msg: &str) -> bool {
    let mut parts = msg.splitn(4, ':');
    parts.next() == Some("in.json")
        && parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
        && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
}

#[test]
fn bad_input_is_a_positioned_error() {
    let good = std::fs::read(fixture("datumaro-coco/instances_val.json")).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        good[..good.len() / 2].to_vec(),
        br#"{"images": [{"id": "x", "width": 1, "height": 1, "file_name": "a"}], "annotations": []}"#.to_vec(),
        br#"{"images": [{"id": -1, "width": 1, "height": 1, "file_name": "a"}]}"#.to_vec(),
        br#"{"images": [{"id": 1, "width": 200000, "height": 1, "file_name": "a"}]}"#.to_vec(),
        br#"{"images": [{"id": 1, "width": 0, "height": 1, "file_name": "a"}]}"#.to_vec(),
        b"{\"images\": [{\"id\": 1, \"width\": 1, \"height\": 1, \"file_name\": \"\xff\"}]}".to_vec(),
        br#"{"images": [], "annotations": [{"id": 1.5, "image_id": 1, "category_id": 1}]}"#.to_vec(),
        br#"{"annotations": []}"#.to_vec(),
        br#"[1, 2]"#.to_vec(),
        b"".to_vec(),
        br#"{"images": [{"id": 1, "width": 2, "height": 2, "file_name": "a"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
              "segmentation": {"size": [2, 2], "counts": [1, 4294967295, 4294967295]}}]}"#
            .to_vec(),
        br#"{"images": [{"id": 1, "width": 2, "height": 2, "file_name": "a"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
              "segmentation": {"size": [3, 2], "counts": [6]}}]}"#
            .to_vec(),
        br#"{"images": [{"id": 1, "width": 2, "height": 2, "file_name": "a"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
              "segmentation": {"size": [2, 2], "counts": "oooooooooooooooo"}}]}"#
            .to_vec(),
        br#"{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1e12, 0, 1, 1]}]}"#
            .to_vec(),
        br#"{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1e999, 0, 1, 1]}]}"#
            .to_vec(),
        br#"{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "attributes": {"occluded": "maybe"}}]}"#
            .to_vec(),
    ];
    for c in cases {
        let msg = err(&c);
        assert!(starts_with_position(&msg), "{msg}");
    }
    // Deep nesting is an error, not a stack overflow.
    let deep = format!(
        "{{\"images\": [], \"x\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(starts_with_position(&err(deep.as_bytes())));
}

#[test]
fn rle_overrun_is_an_error() {
    let msg = err(br#"{"images": [{"id": 1, "width": 2, "height": 2, "file_name": "a"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": [2, 2], "counts": [1, 9]}}]}"#);
    assert!(msg.contains("sum to 10"), "{msg}");
}

#[test]
fn rle_mode_writes_the_rasterised_mask_with_its_area_and_box() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.json");
    let opts = WriteOptions {
        segmentation: SegmentationMode::Rle,
        pretty: false,
    };
    let loss = coco::write_path(&ds, &path, &opts).unwrap();
    assert_eq!(loss.total_in(), loss.total_out());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut checked = 0;
    for a in v["annotations"].as_array().unwrap() {
        let seg = &a["segmentation"];
        let Some(counts) = seg["counts"].as_str() else {
            continue;
        };
        let counts = neutrostruct::geometry::rle::decode_counts_string(counts).unwrap();
        let pixels: u64 = counts
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&c| u64::from(c))
            .sum();
        assert_eq!(
            a["area"].as_f64(),
            Some(pixels as f64),
            "area is the mask's pixel count"
        );
        assert_eq!(a["iscrowd"].as_u64(), Some(0));
        checked += 1;
    }
    assert!(checked > 0, "at least one shape was written as RLE");
    assert!(read_path(&path, &ReadOptions::default()).is_ok());
}

fn small_dataset() -> Dataset {
    let cat = |id, name: &str, rgb| Category {
        id: CategoryId(id),
        name: name.into(),
        supercategory: String::new(),
        color: Some(Rgb(rgb)),
        kind: None,
        attributes: Vec::new(),
        coco_extra: JsonMap::new(),
    };
    let image = Image {
        id: ImageId(1),
        file_name: "cell.tif".into(),
        width: 6,
        height: 4,
        subset: None,
        coco_extra: JsonMap::new(),
        cvat_attrs: Vec::new(),
        cvat_unknown: Vec::new(),
        loc: None,
    };
    let mut e = Annotation::new(
        AnnotationId(1),
        ImageId(1),
        CategoryId(1),
        Shape::Ellipse(Ellipse {
            cx: 3.0,
            cy: 2.0,
            rx: 2.5,
            ry: 1.25,
            rotation: 30.0,
        }),
    );
    e.attributes
        .insert("confidence".into(), serde_json::json!("high"));
    e.cvat.source = Some("manual".into());
    let mut b = Annotation::new(
        AnnotationId(2),
        ImageId(1),
        CategoryId(2),
        Shape::Box(BoxShape {
            xtl: 0.5,
            ytl: 0.5,
            xbr: 2.5,
            ybr: 1.5,
            rotation: 0.0,
        }),
    );
    b.occluded = true;
    let p = Annotation::new(
        AnnotationId(3),
        ImageId(1),
        CategoryId(1),
        Shape::Polygon(vec![vec![[1.0, 1.0], [4.0, 1.0], [4.0, 3.0]]].into()),
    );
    let mut m = Annotation::new(
        AnnotationId(4),
        ImageId(1),
        CategoryId(2),
        Shape::Mask(MaskData::Cvat {
            left: 1,
            top: 1,
            width: 2,
            height: 2,
            counts: vec![0, 3, 1],
        }),
    );
    m.z_order = 2;
    let t = Annotation::new(AnnotationId(5), ImageId(1), CategoryId(1), Shape::Tag);
    Dataset {
        categories: vec![
            cat(1, "Primary granules", [230, 25, 75]),
            cat(2, "Secondary granules", [0, 130, 200]),
        ],
        images: vec![image],
        annotations: vec![e, b, p, m, t],
        meta: DatasetMeta::default(),
    }
}

#[test]
fn writer_snapshot() {
    let ds = small_dataset();
    let (text, loss) = coco::to_string(
        &ds,
        &WriteOptions {
            pretty: true,
            ..Default::default()
        },
    );
    assert!(loss.is_lossless(), "{loss}");
    assert_eq!(loss.total_in(), 5);
    assert_eq!(loss.total_out(), 5);
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("coco_writer_small_pretty", text);
    });
    // And it reads back to the same shapes and metadata.
    let (back, _) = read_bytes(
        text.as_bytes(),
        Path::new("s.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    let norm = |ds: &Dataset| {
        let mut v: Vec<_> = ds
            .annotations
            .iter()
            .map(|a| {
                (
                    a.id,
                    a.shape.clone(),
                    a.occluded,
                    a.z_order,
                    a.cvat.source.clone(),
                    a.attributes.clone(),
                )
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert_eq!(norm(&back), norm(&ds));
}

fn ellipse_strategy() -> impl Strategy<Value = Ellipse> {
    (
        -1e4f64..1e4,
        -1e4f64..1e4,
        0.0f64..1e3,
        0.0f64..1e3,
        -360.0f64..360.0,
    )
        .prop_map(|(cx, cy, rx, ry, rotation)| Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn ellipses_roundtrip_exactly(
        ellipses in proptest::collection::vec((ellipse_strategy(), any::<bool>(), 1u64..4, -3i32..3), 0..20),
        pretty in any::<bool>(),
    ) {
        let mut ds = small_dataset();
        ds.annotations = ellipses
            .iter()
            .enumerate()
            .map(|(i, (e, occ, cat, z))| {
                let mut a = Annotation::new(AnnotationId(i as u64 + 1), ImageId(1), CategoryId(*cat), Shape::Ellipse(*e));
                a.occluded = *occ;
                a.z_order = *z;
                a
            })
            .collect();
        let (_, back) = reread(&ds, pretty);
        prop_assert_eq!(back.annotations.len(), ds.annotations.len());
        for (a, b) in ds.annotations.iter().zip(&back.annotations) {
            prop_assert_eq!(&a.shape, &b.shape);
            prop_assert_eq!((a.id, a.image_id, a.category_id, a.occluded, a.z_order), (b.id, b.image_id, b.category_id, b.occluded, b.z_order));
            prop_assert_eq!(&a.attributes, &b.attributes);
        }
        prop_assert_eq!(&back.categories.iter().map(|c| (c.id, c.name.clone(), c.color)).collect::<Vec<_>>(),
                        &ds.categories.iter().map(|c| (c.id, c.name.clone(), c.color)).collect::<Vec<_>>());
    }
}
