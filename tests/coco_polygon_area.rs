//! The COCO `area` of a polygon is what pycocotools computes from it: the pixel count of its
//! rasterisation (`annToRLE` → `area`). The fixture holds polygons with pycocotools' areas,
//! written by `benches/polygon_area_pycocotools.py` (random polygons: self-intersecting,
//! outside the image, several rings; and polygons our writer wrote), so this runs without
//! Python.

use neutrostruct::coco::polygon_area::pycocotools_polygon_area;
use neutrostruct::coco::{self, WriteOptions};
use neutrostruct::model::{
    Annotation, AnnotationId, Category, CategoryId, Dataset, Ellipse, Image, ImageId, JsonMap,
    Shape,
};

#[test]
fn areas_equal_pycocotools_on_the_fixture() {
    let text = std::fs::read_to_string("tests/fixtures/pycocotools_polygon_areas.json").unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 400);
    let mut wrong = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let rings: Vec<Vec<[f64; 2]>> = c["rings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let flat: Vec<f64> = r
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                flat.chunks(2).map(|p| [p[0], p[1]]).collect()
            })
            .collect();
        let (h, w) = (
            c["h"].as_u64().unwrap() as u32,
            c["w"].as_u64().unwrap() as u32,
        );
        let want = c["area"].as_u64().unwrap();
        let got = pycocotools_polygon_area(&rings, h, w);
        if got != Some(want) {
            wrong.push((i, got, want));
        }
    }
    assert!(wrong.is_empty(), "case, ours, pycocotools: {wrong:?}");
}

#[test]
fn written_area_is_the_written_polygons_pixels() {
    let e = |cx: f64, cy: f64, rx: f64, ry: f64, rotation: f64| {
        Shape::Ellipse(Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        })
    };
    // Inside the image, and crossing its border (pycocotools counts pixels inside only).
    let shapes = [e(30.3, 20.7, 10.0, 6.0, 30.0), e(2.0, 20.0, 8.0, 5.0, 75.0)];
    let ds = Dataset {
        categories: vec![Category {
            id: CategoryId(1),
            name: "Primary granules".into(),
            supercategory: String::new(),
            color: None,
            kind: None,
            attributes: Vec::new(),
            coco_extra: JsonMap::new(),
        }],
        images: vec![Image::new(ImageId(1), "a.png", 64, 48)],
        annotations: shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Annotation::new(
                    AnnotationId(i as u64 + 1),
                    ImageId(1),
                    CategoryId(1),
                    s.clone(),
                )
            })
            .collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    coco::write_to(&ds, &mut out, &WriteOptions::default()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for (a, shape) in v["annotations"].as_array().unwrap().iter().zip(&shapes) {
        let ring: Vec<[f64; 2]> = a["segmentation"][0]
            .as_array()
            .unwrap()
            .chunks(2)
            .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
            .collect();
        let pixels = pycocotools_polygon_area(&[ring], 48, 64).unwrap();
        assert_eq!(a["area"].as_f64(), Some(pixels as f64), "{a}");
        // Not the exact ellipse's area, which lies above the inscribed polygon.
        assert!((pixels as f64) < shape.area());
    }
}
