//! The 4→7 class division on datasets built in code (the readers are tested elsewhere).

use neutrostruct::division::{
    self, audit_csv, reclassify, reclassify_with, update_cvat, Options, Rules, ScaleTable,
    DEFAULT_PX_PER_UM,
};
use neutrostruct::labelset::LabelSet;
use neutrostruct::model::*;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;

const P: &str = "Primary granules";
const S: &str = "Secondary granules";
const EV: &str = "Empty vesicles";
const EG: &str = "Emptying vesicles";

fn image(id: u64, name: &str) -> Image {
    Image {
        id: ImageId(id),
        file_name: name.into(),
        width: 4096,
        height: 4224,
        subset: None,
        coco_extra: Default::default(),
        cvat_attrs: vec![],
        cvat_unknown: vec![],
        loc: None,
    }
}

/// A 4-class dataset: per image, `(class, diameter in px)`; each annotation is a circle of that
/// diameter (so its tight box is d × d) laid out on a row, with a COCO bbox equal to that box.
fn dataset(images: &[(&str, Vec<(&str, f64)>)]) -> Dataset {
    let four = LabelSet::four_class();
    let mut ds = Dataset {
        categories: four.categories(),
        ..Dataset::default()
    };
    let mut next = 1;
    for (i, (name, anns)) in images.iter().enumerate() {
        let iid = ImageId(i as u64 + 1);
        ds.images.push(image(iid.0, name));
        for (k, (class, d)) in anns.iter().enumerate() {
            let cat = four.by_name(class).unwrap().id;
            let e = Ellipse {
                cx: 50.0 + 60.0 * k as f64,
                cy: 100.0,
                rx: d / 2.0,
                ry: d / 2.0,
                rotation: 0.0,
            };
            let mut a = Annotation::new(AnnotationId(next), iid, cat, Shape::Ellipse(e));
            a.coco = Some(Box::new(CocoExtra {
                bbox: Some(ellipse_bbox(&e)),
                iscrowd: Some(1),
                ..CocoExtra::default()
            }));
            ds.annotations.push(a);
            next += 1;
        }
    }
    ds
}

fn scale_for(ds: &Dataset, ppu: f64) -> ScaleTable {
    ScaleTable::from_pairs(ds.images.iter().map(|im| (im.file_name.clone(), ppu)))
}

fn targets(div: &division::Division) -> Vec<String> {
    div.audit.iter().map(|r| r.target_class.clone()).collect()
}

#[test]
fn rule_table_row_by_row_with_ties_and_odd_count() {
    // Granules 1,2,2,3,4 (odd count) → median 2. mean_primary = 2, mean_secondary = 3 →
    // average_diameter_sg_pg = 2.5. Values in µm with 1 px/µm so every tie is exact.
    let ds = dataset(&[(
        "a.tif",
        vec![
            (P, 1.0),
            (P, 2.0),
            (P, 3.0),
            (S, 2.0),
            (S, 4.0),
            (EV, 2.5),
            (EV, 2.75),
            (EG, 9.0),
        ],
    )]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    let st = &div.statistics.images[0];
    assert_eq!((st.granules, st.median, st.mean), (5, Some(2.0), Some(2.4)));
    assert_eq!(
        (
            st.mean_primary,
            st.mean_secondary,
            st.average_diameter_sg_pg
        ),
        (Some(2.0), Some(3.0), Some(2.5))
    );
    assert_eq!(
        targets(&div),
        [
            "Specific granules",               // P, d < median
            "Specific granules",               // P, d = median: "≤"
            "Non-specific primary granules",   // P, d > median
            "Non-specific tertiary granules",  // S, d = median: "≤"
            "Non-specific secondary granules", // S, d > median
            "Empty vesicles",                  // EV, d = average_diameter_sg_pg: "≤"
            "Vacuoles",                        // EV, d > average_diameter_sg_pg
            "Emptying vesicles",               // always
        ]
    );
    // Target ids are the 7-class ids; categories are the 7-class set.
    let ids: Vec<u64> = div
        .dataset
        .annotations
        .iter()
        .map(|a| a.category_id.0)
        .collect();
    assert_eq!(ids, [1, 1, 2, 3, 4, 5, 7, 6]);
    assert_eq!(div.dataset.categories, LabelSet::seven_class().categories());
    assert!(div
        .dataset
        .categories
        .iter()
        .all(|c| c.supercategory == "granule/vesicle"));
    // Everything but the class is untouched.
    for (a, b) in ds.annotations.iter().zip(&div.dataset.annotations) {
        assert_eq!(
            Annotation {
                category_id: b.category_id,
                ..a.clone()
            },
            *b
        );
    }
    assert_eq!(div.dataset.images, ds.images);
    let vac = &div.audit[6];
    assert_eq!(
        (vac.threshold_um, vac.threshold_kind.as_str()),
        (Some(2.5), "average_diameter_sg_pg")
    );
    assert_eq!(
        (
            div.audit[7].threshold_um,
            div.audit[7].threshold_kind.as_str()
        ),
        (None, "always")
    );
}

#[test]
fn even_count_median_is_the_mean_of_the_two_middle_values() {
    let ds = dataset(&[("a.tif", vec![(S, 4.0), (P, 1.0), (S, 3.0), (P, 2.0)])]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    assert_eq!(div.statistics.images[0].median, Some(2.5));
    assert_eq!(
        targets(&div),
        [
            "Non-specific secondary granules",
            "Specific granules",
            "Non-specific secondary granules",
            "Specific granules"
        ]
    );
    // Even count whose middle values are equal: both sit on the median and go "≤".
    let ds = dataset(&[("a.tif", vec![(P, 1.0), (P, 2.0), (S, 2.0), (S, 5.0)])]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    assert_eq!(div.statistics.images[0].median, Some(2.0));
    assert_eq!(
        targets(&div)[1..3],
        ["Specific granules", "Non-specific tertiary granules"]
    );
}

#[test]
fn diameter_uses_the_coco_bbox_then_the_ellipse_box_and_the_scale() {
    let e = Ellipse {
        cx: 10.0,
        cy: 10.0,
        rx: 5.0,
        ry: 2.0,
        rotation: 90.0,
    };
    let mut a = Annotation::new(
        AnnotationId(1),
        ImageId(1),
        CategoryId(1),
        Shape::Ellipse(e),
    );
    // Tight box 4 × 10 → (4 + 10) / (2 · 2) = 3.5 µm.
    assert!((division::diameter_um(&a, 2.0).unwrap() - 3.5).abs() < 1e-12);
    a.coco = Some(Box::new(CocoExtra {
        bbox: Some([0.0, 0.0, 6.0, 12.0]),
        ..CocoExtra::default()
    }));
    assert_eq!(division::diameter_um(&a, 2.0), Some(4.5));
}

#[test]
fn image_without_granules_uses_pooled_statistics_and_says_so() {
    let ds = dataset(&[
        ("a.tif", vec![(P, 1.0), (S, 3.0)]),
        ("b.tif", vec![(P, 5.0), (S, 7.0)]),
        ("c.tif", vec![(EV, 3.9), (EV, 4.1), (EG, 1.0)]),
    ]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    let c = &div.statistics.images[2];
    // Pooled over 1, 3, 5, 7: median 4, mean_primary 3, mean_secondary 5, average 4.
    assert!(c.pooled && c.granules == 0, "{c:?}");
    assert_eq!((c.median, c.average_diameter_sg_pg), (Some(4.0), Some(4.0)));
    assert!(!div.statistics.images[0].pooled);
    assert_eq!(targets(&div)[4..6], ["Empty vesicles", "Vacuoles"]);
    assert_eq!(
        div.audit[4].threshold_kind,
        "average_diameter_sg_pg (pooled)"
    );
    assert!(
        div.warnings
            .iter()
            .any(|w| w.contains("no granules") && w.contains("c.tif")),
        "{:?}",
        div.warnings
    );
}

#[test]
fn one_granule_class_absent_uses_the_other_mean() {
    let ds = dataset(&[("a.tif", vec![(S, 2.0), (S, 4.0), (EV, 3.5)])]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    let st = &div.statistics.images[0];
    assert_eq!(
        (st.mean_primary, st.average_diameter_sg_pg),
        (None, Some(3.0))
    );
    assert_eq!(targets(&div)[2], "Vacuoles");
    let csv = String::from_utf8(div.statistics.to_csv().unwrap()).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",3,3,,3,3"), "{csv}");
}

#[test]
fn missing_scale_rows_default_to_375_with_a_warning_and_fail_when_strict() {
    let ds = dataset(&[
        ("a.tif", vec![(P, 375.0), (P, 750.0)]),
        ("b.tif", vec![(P, 375.0)]),
    ]);
    let scale = ScaleTable::from_pairs([("a.tif", 500.0), ("zzz.tif", 400.0)]);
    let div = reclassify(&ds, &scale, &Rules::default_rules()).unwrap();
    assert_eq!(div.statistics.images[1].px_per_um, DEFAULT_PX_PER_UM);
    assert_eq!(div.audit[2].diameter_um, Some(1.0));
    assert!(div.statistics.images[1].scale_defaulted);
    assert!(
        div.warnings
            .iter()
            .any(|w| w.contains("b.tif") && w.contains("375")),
        "{:?}",
        div.warnings
    );
    assert!(
        div.warnings.iter().any(|w| w.contains("zzz.tif")),
        "unused rows are reported: {:?}",
        div.warnings
    );
    assert_eq!(div.statistics.scale.unused_rows[0].image_name, "zzz.tif");
    let opts = Options {
        strict: true,
        ..Options::default()
    };
    let err = reclassify_with(&ds, &scale, &Rules::default_rules(), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("b.tif"), "{err}");
}

#[test]
fn already_seven_class_input_is_refused() {
    let mut ds = dataset(&[("a.tif", vec![(P, 1.0), (EV, 2.0)])]);
    ds.categories = LabelSet::seven_class().categories();
    let err = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules())
        .unwrap_err()
        .to_string();
    assert!(err.contains("already"), "{err}");
    // A divided output fed back in is refused too.
    let ds = dataset(&[("a.tif", vec![(P, 1.0), (EV, 2.0)])]);
    let once = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    assert!(reclassify(&once.dataset, &scale_for(&ds, 1.0), &Rules::default_rules()).is_err());
}

#[test]
fn categories_are_found_by_name_not_id() {
    let mut ds = dataset(&[("a.tif", vec![(P, 1.0), (S, 3.0), (EG, 2.0)])]);
    // Renumber the categories (e.g. a COCO export with other ids) and spell one loosely.
    let renum: HashMap<u64, u64> = [(1, 40), (2, 30), (3, 20), (4, 10)].into();
    for c in &mut ds.categories {
        c.id = CategoryId(renum[&c.id.0]);
    }
    ds.categories[0].name = "primary granules".into();
    for a in &mut ds.annotations {
        a.category_id = CategoryId(renum[&a.category_id.0]);
    }
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &Rules::default_rules()).unwrap();
    assert_eq!(
        targets(&div),
        [
            "Specific granules",
            "Non-specific secondary granules",
            "Emptying vesicles"
        ]
    );
}

#[test]
fn alternative_rules_fixed_threshold_and_percentile() {
    let fixed = Rules::parse(
        &division::DEFAULT_RULES_TOML
            .replace("threshold = \"median\"", "threshold = { fixed_um = 0.3 }"),
        Path::new("fixed.toml"),
    )
    .unwrap();
    let ds = dataset(&[(
        "a.tif",
        vec![(P, 100.0), (P, 120.0), (P, 121.0), (S, 400.0)],
    )]);
    let div = reclassify(&ds, &scale_for(&ds, 400.0), &fixed).unwrap();
    assert_eq!(
        targets(&div)[..3],
        [
            "Specific granules",
            "Specific granules",
            "Non-specific primary granules"
        ]
    );
    assert_eq!(div.audit[0].threshold_kind, "fixed_um");
    let p60 = Rules::parse(
        &division::DEFAULT_RULES_TOML
            .replace("threshold = \"median\"", "threshold = { percentile = 60 }"),
        Path::new("p60.toml"),
    )
    .unwrap();
    // Granules 1,2,3,4,5,6: rank 0.6 · 5 = 3 → 4.
    let ds = dataset(&[(
        "a.tif",
        vec![(P, 1.0), (P, 2.0), (P, 3.0), (S, 4.0), (S, 5.0), (S, 6.0)],
    )]);
    let div = reclassify(&ds, &scale_for(&ds, 1.0), &p60).unwrap();
    assert_eq!(div.audit[3].threshold_um, Some(4.0));
    assert_eq!(div.audit[3].target_class, "Non-specific tertiary granules");
    assert_eq!(div.audit[4].target_class, "Non-specific secondary granules");
}

// ---------------------------------------------------------------------------------------------
// Order independence

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn shuffling_annotations_or_images_changes_no_label(
        spec in prop::collection::vec(prop::collection::vec((0usize..4, 4u32..60), 0..25), 1..5),
        ppu in 300.0f64..500.0,
        seed in any::<u64>(),
    ) {
        let classes = [P, S, EV, EG];
        let names: Vec<String> = (0..spec.len()).map(|i| format!("img{i}.tif")).collect();
        let images: Vec<(&str, Vec<(&str, f64)>)> = spec
            .iter()
            .zip(&names)
            .map(|(anns, n)| (n.as_str(), anns.iter().map(|&(c, d)| (classes[c], d as f64 / 2.0)).collect()))
            .collect();
        let ds = dataset(&images);
        let scale = scale_for(&ds, ppu);
        let rules = Rules::default_rules();
        let by_id = |d: &Dataset| match reclassify(d, &scale, &rules) {
            Ok(div) => Ok(div.audit.iter().map(|r| (r.annotation_id, (r.target_class.clone(), r.threshold_um))).collect::<HashMap<_, _>>()),
            // An undefined threshold names the first annotation in document order, which
            // the shuffle changes: compare what is wrong, not which annotation says it.
            Err(e) => {
                let msg = e.to_string();
                Err(msg.find(": threshold").map_or(msg.clone(), |i| msg[i..].to_string()))
            }
        };
        let base = by_id(&ds);
        let mut shuffled = ds.clone();
        shuffle(&mut shuffled.annotations, seed);
        shuffle(&mut shuffled.images, seed.rotate_left(17));
        prop_assert_eq!(&by_id(&shuffled), &base);
    }
}

// ---------------------------------------------------------------------------------------------
// Scale tables

#[test]
fn xlsx_and_csv_scale_tables_give_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [("a.tif", 398.16), ("b.tif", 401.247), ("c.tif", 487.287)];
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "image_name").unwrap();
    sheet.write_string(0, 1, "Pixles per microm").unwrap();
    for (i, (n, v)) in rows.iter().enumerate() {
        sheet.write_string(i as u32 + 1, 0, *n).unwrap();
        sheet.write_number(i as u32 + 1, 1, *v).unwrap();
    }
    let xlsx = dir.path().join("scale.xlsx");
    book.save(&xlsx).unwrap();
    let csv = dir.path().join("scale.csv");
    std::fs::write(
        &csv,
        "image_name,Pixles per microm\na.tif,398.16\nb.tif,401.247\nc.tif,487.287\n",
    )
    .unwrap();
    let tx = ScaleTable::load(&xlsx).unwrap();
    let tc = ScaleTable::load(&csv).unwrap();
    assert_eq!(tx.as_map(), tc.as_map());
    let ds = dataset(&[
        ("a.tif", vec![(P, 30.0), (S, 40.0)]),
        ("b.tif", vec![(P, 30.0)]),
        ("c.tif", vec![(EV, 50.0)]),
    ]);
    let (dx, dc) = (
        reclassify(&ds, &tx, &Rules::default_rules()).unwrap(),
        reclassify(&ds, &tc, &Rules::default_rules()).unwrap(),
    );
    assert_eq!(dx.audit, dc.audit);
    assert_eq!(
        dx.statistics.to_csv().unwrap(),
        dc.statistics.to_csv().unwrap()
    );
}

#[test]
fn published_scale_xlsx_matches_its_csv() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/cvat-ellipse");
    let tx = ScaleTable::load(&dir.join("scale.xlsx")).unwrap();
    let tc = ScaleTable::load(&dir.join("scale.csv")).unwrap();
    assert_eq!(tx.as_map(), tc.as_map());
    assert_eq!(tx.entries.len(), 3);
    // The dataset has a fourth image the table lacks on purpose.
    let ds = dataset(&[
        ("neutrophil_000.tif", vec![]),
        ("neutrophil_001.tif", vec![]),
        ("neutrophil_002.tif", vec![]),
        ("neutrophil_003.tif", vec![]),
    ]);
    let r = tx.resolve(&ds, false).unwrap();
    assert_eq!(r.defaulted, ["neutrophil_003.tif"]);
    assert!(tx.resolve(&ds, true).is_err());
}

// ---------------------------------------------------------------------------------------------
// Outputs (snapshots in the top-level `snapshots/` folder)

fn snapshot_fixture() -> division::Division {
    let ds = dataset(&[
        (
            "neutrophil_000.tif",
            vec![
                (P, 120.0),
                (P, 180.0),
                (S, 150.0),
                (S, 260.0),
                (EV, 160.0),
                (EV, 300.0),
                (EG, 200.0),
            ],
        ),
        (
            "neutrophil_001.tif",
            vec![(P, 90.0), (S, 100.0), (S, 130.0), (EV, 110.0)],
        ),
        ("neutrophil_002.tif", vec![(EV, 150.0), (EG, 90.0)]),
    ]);
    let scale =
        ScaleTable::from_pairs([("neutrophil_000.tif", 400.0), ("neutrophil_001.tif", 500.0)]);
    reclassify(&ds, &scale, &Rules::default_rules()).unwrap()
}

#[test]
fn snapshots_of_statistics_and_audit() {
    let div = snapshot_fixture();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let csv = text(div.statistics.to_csv().unwrap());
    assert!(csv.starts_with(
        "image_name,px_per_um,granules,mean_diameter_um,median_diameter_um,mean_primary_um,mean_secondary_um,average_diameter_sg_pg\n"
    ));
    let audit = text(audit_csv(&div.audit).unwrap());
    assert!(audit.starts_with("annotation_id,image_name,source_class,diameter_um,threshold_um,threshold_kind,target_class\n"));
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("division_statistics_csv", csv);
        insta::assert_snapshot!("division_statistics_json", text(div.statistics.to_json().unwrap()));
        insta::assert_snapshot!("division_audit_csv", audit);
    });
}

#[test]
fn statistics_xlsx_reads_back() {
    use calamine::{DataType, Reader};
    let div = snapshot_fixture();
    let bytes = div.statistics.to_xlsx().unwrap();
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("statistics").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header, division::STATS_CSV_HEADER);
    assert_eq!(range.height(), 4);
    assert_eq!(
        range.get((1, 4)).unwrap().as_f64(),
        div.statistics.images[0].median
    );
}

// ---------------------------------------------------------------------------------------------
// CVAT update by matching

const CVAT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>1</id>
      <name>neutrophils &amp; friends</name>
      <labels>
        <label>
          <name>Primary granules</name>
          <color>#e6194b</color>
          <type>ellipse</type>
          <attributes>
          </attributes>
        </label>
        <label>
          <name>Secondary granules</name>
          <color>#0082c8</color>
          <type>ellipse</type>
          <attributes>
          </attributes>
        </label>
        <label>
          <name>Empty vesicles</name>
          <color>#f58230</color>
          <type>ellipse</type>
          <attributes>
          </attributes>
        </label>
        <label>
          <name>Emptying vesicles</name>
          <color>#911eb4</color>
          <type>ellipse</type>
          <attributes>
          </attributes>
        </label>
      </labels>
    </task>
  </meta>
  <image id="0" name="a.tif" width="640" height="660">
    <ellipse label="Primary granules" source="manual" occluded="0" cx="100.00" cy="100.00" rx="10.00" ry="10.00" z_order="0">
    </ellipse>
    <ellipse label="Primary granules" source="manual" occluded="0" cx="130.40" cy="100.00" rx="20.00" ry="16.00" rotation="30.00" z_order="0">
      <attribute name="note">big &amp; round</attribute>
    </ellipse>
    <ellipse label="Secondary granules" source="manual" occluded="1" cx="300.00" cy="300.00" rx="12.00" ry="11.00" z_order="0">
    </ellipse>
    <box label="Secondary granules" source="manual" occluded="0" xtl="400.00" ytl="400.00" xbr="430.00" ybr="428.00" z_order="0">
    </box>
    <ellipse label="Empty vesicles" source="manual" occluded="0" cx="500.00" cy="500.00" rx="40.00" ry="35.00" z_order="0"/>
  </image>
  <image id="1" name="b.tif" width="640" height="660">
    <ellipse label="Empty vesicles" source="manual" occluded="0" cx="50.00" cy="60.00" rx="8.00" ry="7.00" z_order="0">
    </ellipse>
    <ellipse label="Emptying vesicles" source="manual" occluded="0" cx="200.00" cy="200.00" rx="9.00" ry="9.00" z_order="0">
    </ellipse>
  </image>
</annotations>
"#;

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let s = tag.find(&key)? + key.len();
    Some(tag[s..s + tag[s..].find('"')?].to_string())
}

/// A minimal CVAT reader for these tests: images, ellipses and boxes with their byte spans.
fn read_cvat(xml: &str) -> Dataset {
    let four = LabelSet::four_class();
    let mut ds = Dataset {
        categories: four.categories(),
        ..Dataset::default()
    };
    let mut pos = 0;
    let mut image_id = ImageId(0);
    let mut n = 0;
    while let Some(off) = xml[pos..].find('<') {
        let start = pos + off;
        let tag_end = start + xml[start..].find('>').unwrap() + 1;
        let tag = &xml[start..tag_end];
        let f = |k: &str| attr(tag, k).unwrap().parse::<f64>().unwrap();
        let kind = tag[1..].split([' ', '>', '/']).next().unwrap();
        if kind == "image" {
            image_id = ImageId(attr(tag, "id").unwrap().parse().unwrap());
            ds.images.push(Image {
                file_name: attr(tag, "name").unwrap(),
                ..image(image_id.0, "")
            });
        } else if kind == "ellipse" || kind == "box" {
            let end = if tag.ends_with("/>") {
                tag_end
            } else {
                tag_end + xml[tag_end..].find(&format!("</{kind}>")).unwrap() + kind.len() + 3
            };
            let shape = if kind == "ellipse" {
                Shape::Ellipse(Ellipse {
                    cx: f("cx"),
                    cy: f("cy"),
                    rx: f("rx"),
                    ry: f("ry"),
                    rotation: attr(tag, "rotation").map_or(0.0, |r| r.parse().unwrap()),
                })
            } else {
                Shape::Box(BoxShape {
                    xtl: f("xtl"),
                    ytl: f("ytl"),
                    xbr: f("xbr"),
                    ybr: f("ybr"),
                    rotation: 0.0,
                })
            };
            n += 1;
            let cat = four.by_name(&attr(tag, "label").unwrap()).unwrap().id;
            let mut a = Annotation::new(AnnotationId(n), image_id, cat, shape);
            let (line, column) = neutrostruct::error::line_col(xml.as_bytes(), start);
            a.loc = Some(SourceLoc {
                line,
                column,
                start,
                end,
            });
            ds.annotations.push(a);
        }
        pos = tag_end;
    }
    ds
}

/// The COCO counterpart: same shapes in another order with other ids, boxes rounded to whole
/// pixels as CVAT's mask export does.
fn coco_from(cvat: &Dataset) -> Dataset {
    let mut ds = cvat.clone();
    ds.images.reverse();
    for im in &mut ds.images {
        im.id = ImageId(im.id.0 + 10);
    }
    for a in &mut ds.annotations {
        a.image_id = ImageId(a.image_id.0 + 10);
        a.id = AnnotationId(1000 - a.id.0);
        a.loc = None;
        let b = a.shape.bbox().unwrap();
        let (x0, y0) = (b[0].round(), b[1].round());
        a.coco = Some(Box::new(CocoExtra {
            bbox: Some([
                x0,
                y0,
                (b[0] + b[2]).round() - x0,
                (b[1] + b[3]).round() - y0,
            ]),
            ..CocoExtra::default()
        }));
    }
    ds.annotations.reverse();
    ds
}

/// The text with every `label="…"` value and the `<labels>` block blanked, to compare the rest.
fn without_labels(x: &str) -> String {
    let mut out = String::new();
    let ls = x.find("<labels>").unwrap();
    let le = x.find("</labels>").unwrap();
    let x = format!("{}{}", &x[..ls], &x[le..]);
    let mut rest = x.as_str();
    while let Some(i) = rest.find(" label=\"") {
        out.push_str(&rest[..i + 8]);
        rest = &rest[i + 8..];
        rest = &rest[rest.find('"').unwrap()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn cvat_update_relabels_shape_for_shape_and_keeps_every_other_byte() {
    let cvat = read_cvat(CVAT);
    assert_eq!(cvat.annotations.len(), 7);
    let coco = coco_from(&cvat);
    let scale = ScaleTable::from_pairs([("a.tif", 40.0), ("b.tif", 40.0)]);
    let div = reclassify(&coco, &scale, &Rules::default_rules()).unwrap();
    let (bytes, report) = update_cvat(CVAT.as_bytes(), &cvat, &div).unwrap();
    assert!(report.is_ok(), "{:?}", report.errors());
    assert_eq!(report.matched, 7);
    assert!(report.unmatched_coco.is_empty());
    let out = String::from_utf8(bytes).unwrap();
    // Labels agree shape for shape with the COCO division (same geometry ⇒ same target).
    let relabelled = read_cvat_labels(&out);
    let by_geom: HashMap<String, String> = coco
        .annotations
        .iter()
        .zip(&div.audit)
        .map(|(a, r)| (format!("{:?}", a.shape), r.target_class.clone()))
        .collect();
    let expected: Vec<String> = cvat
        .annotations
        .iter()
        .map(|a| by_geom[&format!("{:?}", a.shape)].clone())
        .collect();
    assert_eq!(relabelled, expected);
    assert!(
        expected.iter().any(|t| t == "Vacuoles")
            && expected.iter().any(|t| t == "Specific granules"),
        "{expected:?}"
    );
    assert_eq!(without_labels(&out), without_labels(CVAT));
    // The label declarations are the 7-class set in CVAT's layout.
    assert!(out.contains(
        "      <labels>\n        <label>\n          <name>Specific granules</name>\n          <color>#e6194b</color>\n          <type>ellipse</type>\n          <attributes>\n          </attributes>\n        </label>\n"
    ));
    assert_eq!(out.matches("<label>").count(), 7);
    assert!(out.contains("<color>#46f0f0</color>"));
    // From a published 4-class + 7-class COCO pair: the same bytes.
    let (pair_bytes, pair_report) =
        division::update_cvat_from_pair(CVAT.as_bytes(), &cvat, &coco, &div.dataset).unwrap();
    assert_eq!(pair_report, report);
    assert_eq!(String::from_utf8(pair_bytes).unwrap(), out);
    // Running it again on the output is refused (already 7-class).
    let mut again = read_cvat_any(&out);
    again.categories = LabelSet::seven_class().categories();
    assert!(update_cvat(out.as_bytes(), &again, &div).is_err());
}

fn read_cvat_labels(xml: &str) -> Vec<String> {
    xml.match_indices("<ellipse ")
        .chain(xml.match_indices("<box "))
        .map(|(i, _)| {
            (
                i,
                attr(&xml[i..i + xml[i..].find('>').unwrap()], "label").unwrap(),
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect()
}

fn read_cvat_any(xml: &str) -> Dataset {
    let seven = LabelSet::seven_class();
    let neutral = xml.replace("label=\"", "label=\"Primary granules\" x7=\"");
    let mut ds = read_cvat(&neutral);
    // Re-point categories at the 7-class names actually written.
    let names = read_cvat_labels(xml);
    for (a, n) in ds.annotations.iter_mut().zip(names) {
        a.category_id = seven.by_name(&n).unwrap().id;
        a.loc = None;
    }
    ds
}

#[test]
fn cvat_update_reports_unmatched_and_double_matched_shapes() {
    // An extra shape nobody has; a near-duplicate of the first granule; a label mismatch.
    let extra = r#"    <ellipse label="Primary granules" source="manual" occluded="0" cx="600.00" cy="600.00" rx="5.00" ry="5.00" z_order="0">
    </ellipse>
    <ellipse label="Primary granules" source="manual" occluded="0" cx="100.50" cy="100.00" rx="10.00" ry="10.00" z_order="0">
    </ellipse>
  </image>
  <image id="1""#;
    let xml = CVAT.replacen("  </image>\n  <image id=\"1\"", extra, 1);
    let cvat = read_cvat(&xml);
    let clean = read_cvat(CVAT);
    let mut coco = coco_from(&clean);
    // The Secondary box in COCO is labelled Empty vesicles: same place, other class → no partner.
    let four = LabelSet::four_class();
    let box_id = coco
        .annotations
        .iter()
        .position(|a| matches!(a.shape, Shape::Box(_)))
        .unwrap();
    coco.annotations[box_id].category_id = four.by_name(EV).unwrap().id;
    let scale = ScaleTable::from_pairs([("a.tif", 40.0), ("b.tif", 40.0)]);
    let div = reclassify(&coco, &scale, &Rules::default_rules()).unwrap();
    let (_, report) = update_cvat(xml.as_bytes(), &cvat, &div).unwrap();
    assert!(!report.is_ok());
    let lines = |v: &[division::ShapeIssue]| v.iter().map(|i| i.line).collect::<Vec<_>>();
    let box_line = xml[..xml.find("<box").unwrap()].lines().count() as u32;
    let extra_line = xml[..xml.find("cx=\"600.00\"").unwrap()].lines().count() as u32;
    // Pairs are assigned one to one, best IoU first: the original granule keeps its exact
    // partner, and its near-duplicate, left without one, is reported (never guessed).
    let dup_line = extra_line + 2;
    assert_eq!(lines(&report.unmatched), [box_line, extra_line, dup_line]);
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    let dup = report
        .unmatched
        .iter()
        .find(|i| i.line == dup_line)
        .unwrap();
    assert!(dup.best_iou >= 0.5 && dup.image == "a.tif", "{dup:?}");
    let errors = report.errors();
    assert_eq!(errors.len(), 3);
    assert!(
        errors[2].starts_with(&format!("line {dup_line}: image \"a.tif\", ellipse")),
        "{errors:?}"
    );
    assert_eq!(report.matched, 6);
}

// ---------------------------------------------------------------------------------------------
// Plots and size

#[test]
fn plots_render_as_svg_and_png() {
    let div = snapshot_fixture();
    let dir = tempfile::tempdir().unwrap();
    for format in [
        division::plots::PlotFormat::Svg,
        division::plots::PlotFormat::Png,
    ] {
        let rep = division::plots::write_plots(&div.statistics, dir.path(), format).unwrap();
        assert_eq!(rep.files.len(), 4);
        for f in &rep.files {
            assert!(std::fs::metadata(f).unwrap().len() > 1000, "{f:?}");
        }
    }
    let svg = std::fs::read_to_string(dir.path().join("neutrophil_000.svg")).unwrap();
    assert!(svg.contains("<text") && svg.contains("median"));
    if let Ok(out) = std::env::var("NEUTROSTRUCT_PLOT_DIR") {
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, Path::new(&out).join(f.file_name().unwrap())).unwrap();
        }
    }
}

/// The published size: 93 images, ~261 ellipses each (24,293 in all).
fn published_size() -> (Dataset, ScaleTable) {
    let classes = [P, S, EV, EG];
    let mut s = 0x9e3779b97f4a7c15u64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let names: Vec<String> = (0..93).map(|i| format!("neutrophil_{i:03}.tif")).collect();
    let images: Vec<(&str, Vec<(&str, f64)>)> = names
        .iter()
        .map(|n| {
            (
                n.as_str(),
                (0..261)
                    .map(|_| {
                        (
                            classes[(rnd() % 10).min(3) as usize],
                            20.0 + (rnd() % 1000) as f64 / 10.0,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let ds = dataset(&images);
    let scale = ScaleTable::from_pairs(
        names
            .iter()
            .map(|n| (n.clone(), 375.0 + (n.len() % 7) as f64 * 10.0)),
    );
    (ds, scale)
}

#[test]
fn division_of_a_published_size_dataset_is_fast() {
    let (ds, scale) = published_size();
    assert_eq!(ds.annotations.len(), 93 * 261);
    let rules = Rules::default_rules();
    let t = std::time::Instant::now();
    let div = reclassify(&ds, &scale, &rules).unwrap();
    let took = t.elapsed();
    eprintln!(
        "division of {} annotations in {} images: {:?}",
        ds.annotations.len(),
        ds.images.len(),
        took
    );
    assert_eq!(div.audit.len(), ds.annotations.len());
    assert!(took.as_secs_f64() < 10.0, "{took:?}");
}
