//! render_dataset and overlay_dir on a tiny dataset in a temporary folder.

use neutrostruct::labelset::LabelSet;
use neutrostruct::masks::overlay::overlay_dir;
use neutrostruct::masks::{render_dataset, MaskKind, RenderOptions};
use neutrostruct::model::{
    Annotation, AnnotationId, CategoryId, Dataset, Ellipse, Image, ImageId, Shape,
};

fn image(id: u64, name: &str) -> Image {
    Image {
        id: ImageId(id),
        file_name: name.into(),
        width: 40,
        height: 30,
        subset: None,
        coco_extra: Default::default(),
        cvat_attrs: Vec::new(),
        cvat_unknown: Vec::new(),
        loc: None,
    }
}

#[test]
fn renders_then_overlays() {
    let labels = LabelSet::four_class();
    let mut ds = Dataset {
        categories: labels.categories(),
        ..Dataset::default()
    };
    ds.images = vec![
        image(1, "train/a.tif"),
        image(2, "../evil.tif"),
        image(3, "b.png"),
        image(4, "other/a.tif"),
    ];
    let e = Shape::Ellipse(Ellipse {
        cx: 20.0,
        cy: 15.0,
        rx: 8.0,
        ry: 5.0,
        rotation: 20.0,
    });
    ds.annotations = vec![
        Annotation::new(AnnotationId(1), ImageId(1), CategoryId(1), e.clone()),
        Annotation::new(AnnotationId(2), ImageId(3), CategoryId(9), e.clone()),
        Annotation::new(
            AnnotationId(3),
            ImageId(3),
            CategoryId(2),
            Shape::Points(vec![[1.0, 1.0]]),
        ),
        Annotation::new(AnnotationId(4), ImageId(99), CategoryId(1), e),
    ];
    let dir = tempfile::tempdir().unwrap();
    let masks = dir.path().join("masks");
    let opts = RenderOptions {
        write_labelmap: true,
        quiet: true,
        compact: false,
    };
    let s = render_dataset(&ds, &labels, MaskKind::Color, &masks, &opts).unwrap();
    assert_eq!(s.images_written, 2);
    assert_eq!(
        (s.shapes_painted, s.no_class, s.orphan_annotations),
        (1, 1, 1)
    );
    assert_eq!(s.not_paintable.get("points"), Some(&1));
    assert_eq!(s.skipped.len(), 2, "{:?}", s.skipped);
    assert!(
        masks.join("a.png").is_file()
            && masks.join("b.png").is_file()
            && masks.join("labelmap.txt").is_file()
    );
    assert!(!dir.path().join("evil.png").exists());
    let m = image::open(masks.join("a.png")).unwrap().to_rgb8();
    assert_eq!(m.get_pixel(20, 15).0, [230, 25, 75]);

    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    image::GrayImage::from_pixel(40, 30, image::Luma([200]))
        .save(images.join("a.png"))
        .unwrap();
    image::GrayImage::from_pixel(40, 30, image::Luma([200]))
        .save(images.join("c.png"))
        .unwrap();
    let out = dir.path().join("overlays");
    let o = overlay_dir(&images, &masks, &out, 0.5).unwrap();
    assert_eq!(o.written, vec![out.join("a.png")]);
    assert_eq!(o.images_without_mask, vec![images.join("c.png")]);
    assert_eq!(o.masks_without_image, vec![masks.join("b.png")]);
    assert!(out.join("contact_sheet.png").is_file());
    let px = image::open(out.join("a.png")).unwrap().to_rgb8();
    assert_eq!(px.get_pixel(0, 0).0, [200, 200, 200]);
    assert_eq!(px.get_pixel(20, 15).0, [215, 113, 138]);
}
