//! Plots on a machine without fonts: this test binary never registers one, so plotters has
//! no font at all. SVG must still be written (with its text), PNG drawn without text.

use neutrostruct::division::plots::{histogram_bytes, overview_bytes, PlotFormat};
use neutrostruct::division::{reclassify, Rules, ScaleTable};
use neutrostruct::labelset::LabelSet;
use neutrostruct::model::*;

#[test]
fn svg_and_png_without_any_font() {
    let four = LabelSet::four_class();
    let mut ds = Dataset {
        categories: four.categories(),
        ..Dataset::default()
    };
    ds.images.push(Image {
        id: ImageId(1),
        file_name: "a.tif".into(),
        width: 100,
        height: 100,
        subset: None,
        coco_extra: Default::default(),
        cvat_attrs: vec![],
        cvat_unknown: vec![],
        loc: None,
    });
    for (i, d) in [30.0, 40.0, 55.0, 70.0].into_iter().enumerate() {
        let e = Ellipse {
            cx: 50.0,
            cy: 50.0,
            rx: d / 2.0,
            ry: d / 2.0,
            rotation: 0.0,
        };
        ds.annotations.push(Annotation::new(
            AnnotationId(i as u64 + 1),
            ImageId(1),
            CategoryId(1 + i as u64 % 2),
            Shape::Ellipse(e),
        ));
    }
    let div = reclassify(
        &ds,
        &ScaleTable::from_pairs([("a.tif", 400.0)]),
        &Rules::default_rules(),
    )
    .unwrap();
    let st = &div.statistics.images[0];
    let d = div.statistics.granule_diameters(st.image_id);
    let svg = String::from_utf8(histogram_bytes(st, &d, PlotFormat::Svg, false).unwrap()).unwrap();
    assert!(
        svg.contains("<text") && svg.contains("median") && svg.contains("a.tif"),
        "{svg}"
    );
    assert!(svg.contains("<rect"));
    let png = histogram_bytes(st, &d, PlotFormat::Png, false).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let ov = overview_bytes(&div.statistics.images, PlotFormat::Svg, false).unwrap();
    assert!(String::from_utf8(ov).unwrap().contains("<polyline"));
    if let Ok(out) = std::env::var("NEUTROSTRUCT_PLOT_DIR") {
        std::fs::write(std::path::Path::new(&out).join("nofont.svg"), &svg).unwrap();
        std::fs::write(std::path::Path::new(&out).join("nofont.png"), &png).unwrap();
    }
}
