//! Snapshots of small rendered masks (as text grids) and of CVAT's labelmap.txt.

use neutrostruct::labelset::LabelSet;
use neutrostruct::masks::{labelmap_txt, render, ClassLookup, MaskBuffer, MaskKind};
use neutrostruct::model::{
    Annotation, AnnotationId, BoxShape, CategoryId, Ellipse, Image, ImageId, Shape,
};

fn image(w: u32, h: u32) -> Image {
    Image {
        id: ImageId(1),
        file_name: "grid.tif".into(),
        width: w,
        height: h,
        subset: None,
        coco_extra: Default::default(),
        cvat_attrs: Vec::new(),
        cvat_unknown: Vec::new(),
        loc: None,
    }
}

fn ann(id: u64, class: u64, z: i32, shape: Shape) -> Annotation {
    let mut a = Annotation::new(AnnotationId(id), ImageId(1), CategoryId(class), shape);
    a.z_order = z;
    a
}

/// Three ellipses on 24×16: an upright one, a rotated one drawn on top of it (higher z but
/// earlier in the document), one clipped at the right border; plus a box under everything.
fn scene() -> Vec<Annotation> {
    let e = |cx, cy, rx, ry, rotation| {
        Shape::Ellipse(Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        })
    };
    vec![
        ann(1, 3, 1, e(10.0, 8.0, 6.0, 2.5, 30.0)),
        ann(2, 1, 0, e(6.5, 6.5, 4.0, 4.0, 0.0)),
        ann(3, 7, 0, e(22.0, 9.0, 4.5, 3.0, -60.0)),
        ann(
            4,
            2,
            -1,
            Shape::Box(BoxShape {
                xtl: 1.0,
                ytl: 11.0,
                xbr: 9.0,
                ybr: 15.0,
                rotation: 0.0,
            }),
        ),
        ann(5, 2, 0, Shape::Polyline(vec![[0.0, 0.0], [5.0, 5.0]])),
    ]
}

fn text<T: Copy>(w: u32, h: u32, get: impl Fn(u32, u32) -> T, show: impl Fn(T) -> char) -> String {
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push(show(get(x, y)));
        }
        s.push('\n');
    }
    s
}

#[test]
fn index_mask_grid() {
    let labels = LabelSet::seven_class();
    let lookup = ClassLookup::new(&labels.categories(), &labels);
    let anns = scene();
    let refs: Vec<&Annotation> = anns.iter().collect();
    let r = render(&image(24, 16), &refs, &lookup, MaskKind::Index).unwrap();
    assert_eq!(
        (r.painted, r.not_paintable.get("polyline").copied()),
        (4, Some(1))
    );
    let MaskBuffer::Index(m) = &r.buffer else {
        unreachable!()
    };
    let grid = text(
        24,
        16,
        |x, y| m.get_pixel(x, y).0[0],
        |v| if v == 0 { '.' } else { char::from(b'0' + v) },
    );
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("index_mask_24x16", grid);
    });
}

#[test]
fn instance_mask_grid() {
    let labels = LabelSet::seven_class();
    let lookup = ClassLookup::new(&labels.categories(), &labels);
    let anns = scene();
    let refs: Vec<&Annotation> = anns.iter().collect();
    let r = render(&image(24, 16), &refs, &lookup, MaskKind::Instance).unwrap();
    // Paint order: box (z −1), then z 0 in document order (2, 3), then the z 1 ellipse.
    let ids: Vec<u64> = r.instances.iter().map(|a| a.0).collect();
    assert_eq!(ids, vec![4, 2, 3, 1]);
    let MaskBuffer::Instance(m) = &r.buffer else {
        unreachable!()
    };
    let grid = text(
        24,
        16,
        |x, y| m.get_pixel(x, y).0[0],
        |v| {
            if v == 0 {
                '.'
            } else {
                char::from(b'0' + v as u8)
            }
        },
    );
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("instance_mask_24x16", grid);
    });
}

#[test]
fn labelmap_of_the_seven_class_set() {
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("labelmap_7class", labelmap_txt(&LabelSet::seven_class()).expect("the 7 class names fit labelmap.txt"));
    });
}
