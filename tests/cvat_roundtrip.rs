//! CVAT XML 1.1: conformance files read, CVAT → model → CVAT round trips, writer layout
//! snapshot, property tests and bad input.

use indexmap::IndexMap;
use neutrostruct::cvat::{self, ReadOptions, WriteOptions};
use neutrostruct::model::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(rel)
}

fn read(rel: &str) -> (Dataset, neutrostruct::lossiness::Lossiness) {
    cvat::read_path(&fixture(rel), &ReadOptions::default()).unwrap()
}

/// The model without source positions (they legitimately differ between two files).
fn strip_loc(mut ds: Dataset) -> Dataset {
    for i in &mut ds.images {
        i.loc = None;
    }
    for a in &mut ds.annotations {
        a.loc = None;
    }
    ds
}

fn reread(ds: &Dataset) -> (String, Dataset) {
    let (text, _) = cvat::to_string(ds, &WriteOptions::default());
    let (back, _) = cvat::read_bytes(
        text.as_bytes(),
        Path::new("mem.xml"),
        &ReadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, back)
}

#[test]
fn cvat_ellipse_file_reads() {
    let (ds, loss) = read("cvat-ellipse/annotations_4classes.xml");
    assert_eq!(ds.images.len(), 4);
    assert_eq!(ds.annotations.len(), 40);
    assert_eq!(loss.input.get("ellipse"), Some(&40));
    assert!(loss.is_lossless());
    let names: Vec<_> = ds.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Primary granules",
            "Secondary granules",
            "Empty vesicles",
            "Emptying vesicles"
        ]
    );
    assert_eq!(ds.categories[0].color, Some(Rgb([0xe6, 0x19, 0x4b])));
    assert_eq!(ds.categories[0].kind.as_deref(), Some("ellipse"));
    assert_eq!(ds.meta.cvat_version.as_deref(), Some("1.1"));
    let primary = ds
        .annotations
        .iter()
        .filter(|a| a.category_id == CategoryId(1))
        .count();
    assert_eq!(primary, 18);
    // second ellipse of the first image, with rotation
    let a = &ds.annotations[1];
    assert_eq!(a.id, AnnotationId(2));
    assert_eq!(
        a.shape,
        Shape::Ellipse(Ellipse {
            cx: 305.22,
            cy: 419.68,
            rx: 7.58,
            ry: 7.57,
            rotation: 73.94
        })
    );
    assert_eq!(a.cvat.source.as_deref(), Some("manual"));
    let loc = a.loc.unwrap();
    assert_eq!((loc.line, loc.column), (45, 5));
    let text = std::fs::read_to_string(fixture("cvat-ellipse/annotations_4classes.xml")).unwrap();
    let span = &text[loc.start..loc.end];
    assert!(
        span.starts_with("<ellipse label=\"Primary granules\"") && span.ends_with("</ellipse>"),
        "{span}"
    );
}

#[test]
fn cvat_ellipse_file_round_trips_byte_for_byte() {
    let path = fixture("cvat-ellipse/annotations_4classes.xml");
    let original = std::fs::read_to_string(&path).unwrap();
    let (ds, _) = read("cvat-ellipse/annotations_4classes.xml");
    let (text, loss) = cvat::to_string(&ds, &WriteOptions::default());
    assert!(loss.is_lossless(), "{loss}");
    assert_eq!(loss.output, loss.input);
    assert_eq!(text, original);
}

#[test]
fn regenerated_labels_match_cvat_layout() {
    // Forcing the labels block to be regenerated yields what CVAT wrote.
    let (mut ds, _) = read("cvat-ellipse/annotations_4classes.xml");
    let original =
        std::fs::read_to_string(fixture("cvat-ellipse/annotations_4classes.xml")).unwrap();
    ds.meta.cvat_meta.as_mut().unwrap().declared.clear();
    assert_eq!(cvat::to_string(&ds, &WriteOptions::default()).0, original);
}

#[test]
fn datumaro_task_file_reads() {
    let (ds, _) = read("datumaro-cvat/export_task_train.xml");
    assert_eq!(ds.images.len(), 2);
    assert_eq!(ds.annotations.len(), 4);
    let kinds: Vec<_> = ds.annotations.iter().map(|a| a.shape.kind()).collect();
    assert_eq!(kinds, ["box", "polyline", "polygon", "points"]);
    // label1, label2 declared; "" used without a declaration.
    let names: Vec<_> = ds.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["label1", "label2", ""]);
    let l1 = &ds.categories[0];
    assert_eq!(l1.attributes.len(), 4);
    assert_eq!(l1.attributes[3].input_type.as_deref(), Some("number"));
    assert_eq!(l1.attributes[3].values.as_deref(), Some("2.4 1 -5.6"));
    let b = &ds.annotations[0];
    assert!(b.occluded);
    assert_eq!(b.z_order, 1);
    assert_eq!(
        b.shape,
        Shape::Box(BoxShape {
            xtl: 0.0,
            ytl: 2.0,
            xbr: 4.0,
            ybr: 4.0,
            rotation: 0.0
        })
    );
    let attrs: Vec<_> = b
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    assert_eq!(
        attrs,
        [("a1", "true"), ("a2", "v3"), ("a3", "0003"), ("a4", "2.4")]
    );
    assert_eq!(ds.annotations[1].category_id, CategoryId(3));
    assert_eq!(
        ds.annotations[1].shape,
        Shape::Polyline(vec![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    );
}

#[test]
fn datumaro_project_file_reads_with_repeated_ids() {
    let (ds, _) = read("datumaro-cvat/export_project_annotations.xml");
    assert_eq!(ds.images.len(), 6);
    assert_eq!(ds.annotations.len(), 12);
    let subsets: Vec<_> = ds
        .images
        .iter()
        .map(|i| i.subset.as_deref().unwrap())
        .collect();
    assert_eq!(
        subsets,
        ["Test", "Test", "Train", "Train", "Validation", "Validation"]
    );
    let mut ids: Vec<_> = ds.images.iter().map(|i| i.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "model image ids are unique");
    assert_eq!(
        ds.images[2].cvat_attrs[0],
        ("id".to_string(), "0".to_string())
    );
    assert_eq!(
        ds.images[0].cvat_attrs,
        [("task_id".to_string(), "39".to_string())]
    );
    // each image keeps its own two shapes
    for img in &ds.images {
        assert_eq!(
            ds.annotations
                .iter()
                .filter(|a| a.image_id == img.id)
                .count(),
            2
        );
    }
    assert_eq!(ds.categories.len(), 2);
    let meta = ds.meta.cvat_meta.as_ref().unwrap();
    assert!(meta.before_labels.starts_with("<meta>\n    <project>"));
    assert!(meta
        .after_labels
        .contains("<dumped>2023-01-17 01:38:22.055780+00:00</dumped>"));
    assert_eq!(meta.indent, "      ");
}

#[test]
fn every_conformance_file_round_trips_on_the_model() {
    for rel in [
        "cvat-ellipse/annotations_4classes.xml",
        "datumaro-cvat/export_task_train.xml",
        "datumaro-cvat/export_project_annotations.xml",
    ] {
        let (ds, _) = read(rel);
        let (text, back) = reread(&ds);
        assert_eq!(strip_loc(back.clone()), strip_loc(ds), "{rel}");
        // and the written text is a fixed point
        assert_eq!(reread(&back).0, text, "{rel}");
    }
}

#[test]
fn project_export_keeps_its_meta_and_ids() {
    let (ds, _) = read("datumaro-cvat/export_project_annotations.xml");
    let (text, _) = cvat::to_string(&ds, &WriteOptions::default());
    assert_eq!(text.matches("<image id=\"0\"").count(), 3);
    assert!(text.contains("<url>http://localhost:8080/api/jobs/6</url>"));
    assert!(text.contains("<image id=\"1\" name=\"img1.jpg\" subset=\"Validation\" task_id=\"39\" width=\"10\" height=\"10\">"));
}

#[test]
fn changed_categories_regenerate_only_labels() {
    let (mut ds, _) = read("datumaro-cvat/export_project_annotations.xml");
    ds.categories[1].name = "renamed".into();
    let (text, _) = cvat::to_string(&ds, &WriteOptions::default());
    assert!(text.contains("<name>renamed</name>"));
    assert!(text.contains("<dumped>2023-01-17 01:38:22.055780+00:00</dumped>"));
    assert!(text.contains("<url>http://localhost:8080/api/jobs/4</url>"));
    let (back, _) =
        cvat::read_bytes(text.as_bytes(), Path::new("m.xml"), &ReadOptions::default()).unwrap();
    assert_eq!(back.categories.len(), 2);
    assert_eq!(back.categories[0].attributes, ds.categories[0].attributes);
}

#[test]
fn unknown_elements_are_kept_verbatim() {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="3" name="a.png" width="10" height="10">
    <skeleton label="s" source="manual" z_order="0">
      <points label="p" points="1.00,2.00"/>
    </skeleton>
    <tag label="t" source="manual">
    </tag>
  </image>
  <track id="0" label="t"><box frame="0" xtl="1" ytl="1" xbr="2" ybr="2" outside="0" occluded="0" keyframe="1" z_order="0"/></track>
</annotations>
"#;
    let (ds, loss) =
        cvat::read_bytes(xml.as_bytes(), Path::new("u.xml"), &ReadOptions::default()).unwrap();
    assert_eq!(ds.images[0].cvat_unknown.len(), 1);
    assert!(
        ds.images[0].cvat_unknown[0].starts_with("<skeleton")
            && ds.images[0].cvat_unknown[0].ends_with("</skeleton>")
    );
    assert_eq!(ds.meta.cvat_unknown.len(), 1);
    assert!(ds.meta.cvat_unknown[0].starts_with("<track id=\"0\""));
    assert_eq!(loss.losses[0].code, "kept-verbatim");
    assert_eq!(loss.losses[0].count, 2);
    assert_eq!(ds.annotations.len(), 1);
    assert_eq!(ds.annotations[0].shape, Shape::Tag);
    let (text, back) = reread(&ds);
    assert!(text.contains("      <points label=\"p\" points=\"1.00,2.00\"/>\n    </skeleton>"));
    assert!(text.contains("\n  <track id=\"0\" label=\"t\"><box"));
    assert_eq!(strip_loc(back.clone()).images, strip_loc(ds.clone()).images);
    assert_eq!(back.meta.cvat_unknown, ds.meta.cvat_unknown);
    // with the generated <meta> now in place, the next pass is a fixed point
    let (text2, again) = reread(&back);
    assert_eq!(text2, text);
    assert_eq!(strip_loc(again), strip_loc(back));
}

/// A small dataset holding every shape kind and every optional field.
fn every_shape() -> Dataset {
    let cat = |id: u64, name: &str, color: Option<Rgb>, kind: Option<&str>| Category {
        id: CategoryId(id),
        name: name.into(),
        supercategory: String::new(),
        color,
        kind: kind.map(Into::into),
        attributes: Vec::new(),
        coco_extra: JsonMap::new(),
    };
    let mut granule = cat(
        1,
        "Primary granules",
        Some(Rgb([230, 25, 75])),
        Some("ellipse"),
    );
    granule.attributes.push(AttributeSpec {
        name: "quality".into(),
        mutable: Some("False".into()),
        input_type: Some("select".into()),
        default_value: Some("good".into()),
        values: Some("good\nbad".into()),
    });
    let image = Image {
        id: ImageId(7),
        file_name: "a & b <1>.tif".into(),
        width: 64,
        height: 48,
        subset: Some("train".into()),
        coco_extra: JsonMap::new(),
        cvat_attrs: vec![("task_id".into(), "2".into())],
        cvat_unknown: Vec::new(),
        loc: None,
    };
    let shapes = vec![
        Shape::Ellipse(Ellipse {
            cx: 10.0,
            cy: 12.5,
            rx: 4.25,
            ry: 3.0,
            rotation: 30.0,
        }),
        Shape::Ellipse(Ellipse {
            cx: 20.0,
            cy: 22.0,
            rx: 2.0,
            ry: 1.0,
            rotation: 0.0,
        }),
        Shape::Box(BoxShape {
            xtl: 1.0,
            ytl: 2.0,
            xbr: 3.5,
            ybr: 4.0,
            rotation: 15.0,
        }),
        Shape::Polygon(vec![vec![[1.0, 1.0], [5.0, 1.0], [3.0, 4.0]]].into()),
        Shape::Polyline(vec![[0.0, 0.0], [2.5, 2.5]]),
        Shape::Points(vec![[7.0, 8.0]]),
        Shape::Mask(MaskData::Cvat {
            left: 2,
            top: 3,
            width: 3,
            height: 2,
            counts: vec![1, 4, 1],
        }),
        Shape::Tag,
    ];
    let annotations = shapes
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut a = Annotation::new(
                AnnotationId(i as u64 + 1),
                ImageId(7),
                CategoryId(1 + (i as u64 % 2)),
                s,
            );
            a.cvat.source = Some("manual".into());
            if i == 0 {
                a.occluded = true;
                a.z_order = 2;
                a.cvat.group_id = Some(5);
                a.attributes.insert(
                    "quality".into(),
                    serde_json::Value::String("good \"&\" <ok>".into()),
                );
            }
            a
        })
        .collect();
    Dataset {
        categories: vec![granule, cat(2, "Secondary granules", None, None)],
        images: vec![image],
        annotations,
        meta: DatasetMeta::default(),
    }
}

#[test]
fn writer_snapshot_every_shape() {
    let ds = every_shape();
    let (text, loss) = cvat::to_string(&ds, &WriteOptions::default());
    assert!(loss.is_lossless(), "{loss}");
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("cvat_every_shape", text);
    });
    let (back, _) =
        cvat::read_bytes(text.as_bytes(), Path::new("s.xml"), &ReadOptions::default()).unwrap();
    assert_eq!(strip_loc(back.clone()).annotations, ds.annotations);
    assert_eq!(back.images[0].file_name, ds.images[0].file_name);
}

#[test]
fn writer_reports_losses() {
    let mut ds = every_shape();
    ds.annotations[0].shape = Shape::Ellipse(Ellipse {
        cx: 1.234,
        cy: 1.0,
        rx: 1.0,
        ry: 1.0,
        rotation: 0.001,
    });
    ds.annotations[3].shape = Shape::Polygon(
        vec![
            vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
            vec![[5.0, 5.0], [6.0, 5.0], [5.0, 6.0]],
        ]
        .into(),
    );
    ds.annotations[1]
        .attributes
        .insert("list".into(), serde_json::json!([1, 2]));
    ds.annotations[1]
        .attributes
        .insert("flag".into(), serde_json::json!(true));
    let mut dangling = ds.annotations[2].clone();
    dangling.image_id = ImageId(999);
    ds.annotations.push(dangling);
    // a COCO mask (column-major over 4×4): pixels (1,1),(1,2),(2,1)
    ds.annotations[6].shape = Shape::Mask(MaskData::Coco {
        height: 4,
        width: 4,
        counts: vec![5, 2, 2, 1, 6],
    });
    let (text, loss) = cvat::to_string(&ds, &WriteOptions::default());
    let count = |code: &str| loss.count(code);
    assert_eq!(count("rounded-to-2-decimals"), 2);
    assert_eq!(count("polygon-rings-split"), 1);
    assert_eq!(count("attribute-to-text"), 1);
    assert_eq!(count("dangling-annotation"), 1);
    assert_eq!(loss.total_in(), 9);
    assert!(text.contains("<attribute name=\"flag\">true</attribute>"));
    assert!(text.contains("<attribute name=\"list\">[1,2]</attribute>"));
    assert!(
        text.contains("rle=\"0, 3, 1\" left=\"1\" top=\"1\" width=\"2\" height=\"2\""),
        "{text}"
    );
    assert!(!text.contains("rotation=\"0.00\""));
    assert_eq!(text.matches("<polygon").count(), 2);
}

#[test]
fn dataset_without_meta_gets_generated_labels() {
    let ds = every_shape();
    let (text, _) = cvat::to_string(&ds, &WriteOptions::default());
    // No colour declared: the label set's colour of that name, not a palette colour; its
    // shapes are of several kinds, so its type is `any`.
    assert!(text.contains("<name>Secondary granules</name>\n          <color>#0082c8</color>\n          <type>any</type>"), "{text}");
    let (back, _) =
        cvat::read_bytes(text.as_bytes(), Path::new("g.xml"), &ReadOptions::default()).unwrap();
    assert_eq!(back.categories[0], ds.categories[0]);
}

#[test]
fn coco_without_meta_converts_to_the_labels_and_frames_cvat_wrote() {
    // CVAT's own COCO export of the conformance task carries no <meta>: the CVAT written from
    // it declares the labels as CVAT declared them (label-set colours, type `ellipse`) and
    // numbers the frames from 0 as CVAT did (the COCO image ids are 10, 13, 16, 19).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("back.xml");
    let run = assert_cmd::Command::cargo_bin("neutrostruct")
        .unwrap()
        .args(["convert", "--to", "cvat"])
        .arg(fixture("cvat-ellipse/annotations_4classes.json"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let written = std::fs::read_to_string(&out).unwrap();
    let original =
        std::fs::read_to_string(fixture("cvat-ellipse/annotations_4classes.xml")).unwrap();
    let labels = |s: &str| {
        let (a, b) = (s.find("<labels>").unwrap(), s.find("</labels>").unwrap());
        s[a..b].to_string()
    };
    assert_eq!(labels(&written), labels(&original));
    assert!(written.contains("<color>#0082c8</color>"));
    let image_tags = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.trim_start().starts_with("<image "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(image_tags(&written), image_tags(&original));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("[image-ids-renumbered] ×4"), "{stderr}");
}

#[test]
fn cvat_to_coco_to_cvat_by_the_binary_is_byte_identical() {
    // With <meta> riding along in the COCO file the frame ids and labels are CVAT's own:
    // neither renumbered nor regenerated.
    let dir = tempfile::tempdir().unwrap();
    // The file CVAT wrote (Datumaro's fixtures are not in CVAT's own layout).
    for rel in ["cvat-ellipse/annotations_4classes.xml"] {
        let (json, back) = (dir.path().join("c.json"), dir.path().join("b.xml"));
        for (input, output) in [(fixture(rel), &json), (json.clone(), &back)] {
            assert_cmd::Command::cargo_bin("neutrostruct")
                .unwrap()
                .args(["convert", "--to"])
                .arg(if output == &json { "coco" } else { "cvat" })
                .arg(&input)
                .arg("-o")
                .arg(output)
                .assert()
                .success();
        }
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            std::fs::read_to_string(fixture(rel)).unwrap(),
            "{rel}"
        );
    }
}

// ---------- bad input ----------

fn bad(bytes: &[u8]) -> String {
    let err = cvat::read_bytes(bytes, Path::new("bad.xml"), &ReadOptions::default())
        .expect_err("must fail");
    let msg = err.to_string();
    let re_ok = msg
        .strip_prefix("bad.xml:")
        .and_then(|r| r.split_once(':'))
        .and_then(|(l, r)| Some((l.parse::<u32>().ok()?, r.split_once(':')?)))
        .and_then(|(l, (c, _))| Some((l, c.parse::<u32>().ok()?)))
        .is_some_and(|(l, c)| l >= 1 && c >= 1);
    assert!(re_ok, "not `path:line:col:`: {msg}");
    msg
}

#[test]
fn truncated_file_is_an_error() {
    let full = std::fs::read(fixture("cvat-ellipse/annotations_4classes.xml")).unwrap();
    for cut in [10, 100, 1000, 1500, full.len() / 2, full.len() - 20] {
        bad(&full[..cut]);
    }
    let msg = bad(&full[..full.len() - 20]);
    assert!(
        msg.contains("not closed") || msg.contains("malformed"),
        "{msg}"
    );
}

#[test]
fn wrong_typed_number_names_attribute_and_position() {
    let xml = "<annotations>\n  <image id=\"0\" name=\"a\" width=\"5\" height=\"5\">\n    <ellipse label=\"x\" cx=\"abc\" cy=\"1\" rx=\"1\" ry=\"1\"/>\n  </image>\n</annotations>";
    let msg = bad(xml.as_bytes());
    assert!(
        msg.starts_with("bad.xml:3:28:") && msg.contains("`cx`"),
        "{msg}"
    );
}

#[test]
fn non_finite_numbers_need_permission() {
    let xml = "<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"><box label=\"x\" xtl=\"NaN\" ytl=\"1\" xbr=\"inf\" ybr=\"1\"/></image></annotations>";
    let msg = bad(xml.as_bytes());
    assert!(msg.contains("not finite"), "{msg}");
    let opts = ReadOptions {
        allow_non_finite: true,
    };
    let (ds, _) = cvat::read_bytes(xml.as_bytes(), Path::new("bad.xml"), &opts).unwrap();
    assert!(!ds.annotations[0].shape.is_finite());
}

#[test]
fn missing_attribute_is_an_error() {
    let msg =
        bad(b"<annotations>\n<image id=\"0\" name=\"a\" width=\"5\">\n</image></annotations>");
    assert!(
        msg.starts_with("bad.xml:2:1:") && msg.contains("`height`"),
        "{msg}"
    );
    let msg = bad(b"<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"><ellipse label=\"x\" cx=\"1\" cy=\"1\" rx=\"1\"/></image></annotations>");
    assert!(msg.contains("`ry`"), "{msg}");
}

#[test]
fn non_utf8_is_an_error_with_position() {
    let msg = bad(b"<annotations>\n  <image id=\"0\" name=\"\xff\xfe\" width=\"5\" height=\"5\"/>\n</annotations>");
    assert!(
        msg.starts_with("bad.xml:2:23:") && msg.contains("UTF-8"),
        "{msg}"
    );
}

#[test]
fn entities_are_never_expanded() {
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<annotations><image id="0" name="&lol3;" width="1" height="1"/></annotations>"#;
    let msg = bad(laughs);
    assert!(
        msg.starts_with("bad.xml:2:1:") && msg.contains("entity"),
        "{msg}"
    );
    // an undeclared entity reference is an error too
    let msg = bad(
        b"<annotations>\n<image id=\"0\" name=\"&foo;\" width=\"1\" height=\"1\"/></annotations>",
    );
    assert!(
        msg.starts_with("bad.xml:2:") && msg.contains("foo"),
        "{msg}"
    );
    // the predefined ones and character references are fine
    let ok = b"<annotations><image id=\"0\" name=\"&lt;&amp;&#65;&#x42;\" width=\"1\" height=\"1\"/></annotations>";
    let (ds, _) = cvat::read_bytes(ok, Path::new("ok.xml"), &ReadOptions::default()).unwrap();
    assert_eq!(ds.images[0].file_name, "<&AB");
}

#[test]
fn deep_nesting_and_other_structure_errors() {
    let mut deep = String::from("<annotations>");
    for _ in 0..100 {
        deep.push_str("<x>");
    }
    assert!(bad(deep.as_bytes()).contains("deeper"));
    bad(b"");
    bad(b"<foo/>");
    bad(b"<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"></imag></annotations>");
    bad(b"<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"><ellipse label=\"x\" cx=\"1\" cy=\"1\" rx=\"1\" ry=\"1\" occluded=\"2\"/></image></annotations>");
    bad(b"<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"><polygon label=\"x\" points=\"1,2;3\"/></image></annotations>");
    bad(b"<annotations><image id=\"0\" name=\"a\" width=\"5\" height=\"5\"><mask label=\"x\" rle=\"1, 30\" left=\"0\" top=\"0\" width=\"2\" height=\"2\"/></image></annotations>");
    bad(b"<annotations><image id=\"-1\" name=\"a\" width=\"5\" height=\"5\"/></annotations>");
    bad(b"<annotations></annotations><annotations/>");
}

// ---------- property: write → read is the identity on rounded values ----------

fn coord() -> impl Strategy<Value = f64> {
    (-100_000i64..1_000_000).prop_map(|v| v as f64 / 100.0)
}

fn pts(min: usize) -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec((coord(), coord()).prop_map(|(x, y)| [x, y]), min..6)
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.&<>\"'é\n\t-]{0,12}"
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (coord(), coord(), coord(), coord(), coord()).prop_map(|(cx, cy, rx, ry, rotation)| {
            Shape::Ellipse(Ellipse {
                cx,
                cy,
                rx,
                ry,
                rotation,
            })
        }),
        (coord(), coord(), coord(), coord(), coord()).prop_map(|(xtl, ytl, xbr, ybr, rotation)| {
            Shape::Box(BoxShape {
                xtl,
                ytl,
                xbr,
                ybr,
                rotation,
            })
        }),
        pts(1).prop_map(|p| Shape::Polygon(vec![p].into())),
        pts(0).prop_map(Shape::Polyline),
        pts(0).prop_map(Shape::Points),
        (
            0u32..50,
            0u32..50,
            1u32..6,
            1u32..6,
            prop::collection::vec(0u32..4, 0..8)
        )
            .prop_map(|(left, top, width, height, mut counts)| {
                // keep the runs inside the box
                let mut total = 0;
                counts.retain(|&c| {
                    total += c;
                    total <= width * height
                });
                Shape::Mask(MaskData::Cvat {
                    left,
                    top,
                    width,
                    height,
                    counts,
                })
            }),
        Just(Shape::Tag),
    ]
}

fn dataset() -> impl Strategy<Value = Dataset> {
    let cats = prop::collection::vec((text(), any::<[u8; 3]>(), "(ellipse|any|rectangle)"), 1..4);
    let images = prop::collection::vec(
        (
            text(),
            1u32..5000,
            1u32..5000,
            prop::option::of("(train|test)"),
        ),
        0..4,
    );
    let anns = prop::collection::vec(
        (
            shape(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<bool>(),
            -3i32..4,
            prop::option::of(0u64..10),
            "(manual|auto|semi-auto)",
            prop::collection::vec((text(), text()), 0..3),
        ),
        0..12,
    );
    (cats, images, anns).prop_map(|(cats, images, anns)| {
        let categories: Vec<Category> = cats
            .into_iter()
            .enumerate()
            .map(|(i, (name, rgb, kind))| Category {
                id: CategoryId(i as u64 + 1),
                // names must be unique for labels to mean one class
                name: format!("{name}#{i}"),
                supercategory: String::new(),
                color: Some(Rgb(rgb)),
                kind: Some(kind),
                attributes: Vec::new(),
                coco_extra: JsonMap::new(),
            })
            .collect();
        let images: Vec<Image> = images
            .into_iter()
            .enumerate()
            .map(|(i, (name, width, height, subset))| Image {
                id: ImageId(i as u64 * 3 + 1),
                file_name: name,
                width,
                height,
                subset,
                coco_extra: JsonMap::new(),
                cvat_attrs: if i % 2 == 0 {
                    vec![("task_id".into(), i.to_string())]
                } else {
                    Vec::new()
                },
                cvat_unknown: Vec::new(),
                loc: None,
            })
            .collect();
        let mut per_image: Vec<Vec<Annotation>> = vec![Vec::new(); images.len()];
        if !images.is_empty() {
            for (shape, img, cat, occluded, z_order, group_id, source, attrs) in anns {
                let ii = img.index(images.len());
                let cat = &categories[cat.index(categories.len())];
                let mut a = Annotation::new(AnnotationId(0), images[ii].id, cat.id, shape);
                a.occluded = occluded;
                a.z_order = z_order;
                a.cvat.group_id = group_id;
                a.cvat.source = Some(source);
                a.attributes = attrs
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect::<IndexMap<_, _>>()
                    .into();
                per_image[ii].push(a);
            }
        }
        // ids in document order, as the reader numbers them
        let mut annotations: Vec<Annotation> = per_image.into_iter().flatten().collect();
        for (i, a) in annotations.iter_mut().enumerate() {
            a.id = AnnotationId(i as u64 + 1);
        }
        Dataset {
            categories,
            images,
            annotations,
            meta: DatasetMeta::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn write_then_read_is_identity(ds in dataset()) {
        let (text, loss) = cvat::to_string(&ds, &WriteOptions::default());
        prop_assert!(loss.is_lossless(), "{}", loss);
        let (back, _) = cvat::read_bytes(text.as_bytes(), Path::new("p.xml"), &ReadOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let back = strip_loc(back);
        prop_assert_eq!(&back.categories, &ds.categories);
        prop_assert_eq!(&back.images, &ds.images);
        prop_assert_eq!(&back.annotations, &ds.annotations);
        // the second pass, with the generated <meta> now verbatim, is a fixed point
        let (text2, again) = reread(&back);
        prop_assert_eq!(&text2, &text);
        prop_assert_eq!(strip_loc(again), back);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = cvat::read_bytes(&bytes, Path::new("f.xml"), &ReadOptions::default());
    }

    #[test]
    fn mutated_conformance_file_never_panics(cut in 0usize..7169, byte in any::<u8>()) {
        let mut bytes = std::fs::read(fixture("cvat-ellipse/annotations_4classes.xml")).unwrap();
        let cut = cut.min(bytes.len() - 1);
        bytes[cut] = byte;
        if let Err(e) = cvat::read_bytes(&bytes, Path::new("f.xml"), &ReadOptions::default()) {
            prop_assert!(e.to_string().starts_with("f.xml:"));
        }
    }
}

/// The published shape: 93 images × 261 ellipses. Checks the full round trip at scale and
/// prints the time (run with `--release --nocapture` to see realistic numbers).
#[test]
fn published_scale_round_trip() {
    let (template, _) = read("cvat-ellipse/annotations_4classes.xml");
    let mut ds = Dataset {
        categories: template.categories.clone(),
        meta: template.meta.clone(),
        ..Default::default()
    };
    for i in 0..93u64 {
        let mut img = template.images[0].clone();
        img.id = ImageId(i);
        img.file_name = format!("neutrophil_{i:03}.tif");
        img.loc = None;
        ds.images.push(img);
        for k in 0..261u64 {
            let e = Ellipse {
                cx: (k * 13 % 4000) as f64 + 0.25,
                cy: (k * 7 % 4000) as f64 + 0.5,
                rx: 9.75,
                ry: 6.5,
                rotation: (k % 180) as f64,
            };
            let mut a = Annotation::new(
                AnnotationId(ds.annotations.len() as u64 + 1),
                ImageId(i),
                CategoryId(k % 4 + 1),
                Shape::Ellipse(e),
            );
            a.cvat.source = Some("manual".into());
            ds.annotations.push(a);
        }
    }
    let t = std::time::Instant::now();
    let (text, loss) = cvat::to_string(&ds, &WriteOptions::default());
    let written = t.elapsed();
    let t = std::time::Instant::now();
    let (back, _) = cvat::read_bytes(
        text.as_bytes(),
        Path::new("big.xml"),
        &ReadOptions::default(),
    )
    .unwrap();
    let read = t.elapsed();
    println!(
        "{} annotations, {} bytes: write {written:?}, read {read:?}",
        back.annotations.len(),
        text.len()
    );
    assert!(loss.is_lossless());
    assert_eq!(strip_loc(back), ds);
}
