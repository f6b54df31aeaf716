//! Fixtures built in code, one per rule case (ruff's style), and a snapshot helper.

use super::{Context, DatasetInput, Finding, Inputs, SourceFormat, Thresholds, Validation};
use crate::labelset::LabelSet;
use crate::model::*;

pub(crate) fn image(id: u64, name: &str, w: u32, h: u32, line: u32) -> Image {
    Image {
        id: ImageId(id),
        file_name: name.into(),
        width: w,
        height: h,
        subset: None,
        coco_extra: JsonMap::new(),
        cvat_attrs: Vec::new(),
        cvat_unknown: Vec::new(),
        loc: Some(SourceLoc {
            line,
            column: 1,
            start: 0,
            end: 0,
        }),
    }
}

pub(crate) fn ellipse(cx: f64, cy: f64, rx: f64, ry: f64, rotation: f64) -> Shape {
    Shape::Ellipse(Ellipse {
        cx,
        cy,
        rx,
        ry,
        rotation,
    })
}

/// An annotation at `line`, without COCO extras.
pub(crate) fn ann(id: u64, image: u64, cat: u64, shape: Shape, line: u32) -> Annotation {
    let mut a = Annotation::new(AnnotationId(id), ImageId(image), CategoryId(cat), shape);
    a.loc = Some(SourceLoc {
        line,
        column: 1,
        start: 0,
        end: 0,
    });
    a
}

/// An annotation with COCO extras as CVAT exports them (`iscrowd: 0` here; bbox = tight box).
pub(crate) fn coco_ann(id: u64, image: u64, cat: u64, shape: Shape, line: u32) -> Annotation {
    let mut a = ann(id, image, cat, shape, line);
    let bbox = a.shape.bbox();
    let area = a.shape.area();
    a.coco = Some(Box::new(CocoExtra {
        iscrowd: Some(0),
        bbox,
        area: Some(area),
        ..CocoExtra::default()
    }));
    a
}

pub(crate) fn four() -> Vec<Category> {
    LabelSet::four_class().categories()
}

pub(crate) fn seven() -> Vec<Category> {
    LabelSet::seven_class().categories()
}

pub(crate) fn dataset(
    categories: Vec<Category>,
    images: Vec<Image>,
    annotations: Vec<Annotation>,
) -> Dataset {
    Dataset {
        categories,
        images,
        annotations,
        meta: DatasetMeta::default(),
    }
}

pub(crate) fn input(path: &str, format: SourceFormat, dataset: Dataset) -> DatasetInput {
    DatasetInput {
        path: path.into(),
        format,
        dataset,
    }
}

/// Inputs with one COCO file `train.json`.
pub(crate) fn coco_inputs(ds: Dataset) -> Inputs {
    Inputs {
        datasets: vec![input("train.json", SourceFormat::Coco, ds)],
        ..Inputs::default()
    }
}

/// One image `a.tif` 100×100 (line 3) with the given annotations, 4-class.
pub(crate) fn one_image(annotations: Vec<Annotation>) -> Inputs {
    coco_inputs(dataset(
        four(),
        vec![image(1, "a.tif", 100, 100, 3)],
        annotations,
    ))
}

/// Runs one rule with default thresholds; findings sorted.
pub(crate) fn run(rule: &dyn Validation, inputs: &Inputs) -> Vec<Finding> {
    run_with(rule, inputs, &Thresholds::default())
}

pub(crate) fn run_with(rule: &dyn Validation, inputs: &Inputs, t: &Thresholds) -> Vec<Finding> {
    let ctx = Context::new(inputs, t);
    let mut f = rule.check(&ctx);
    super::sort_findings(&mut f);
    f
}

/// Snapshot of findings in `snapshots/` (YAML).
macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_yaml_snapshot!($name, $value);
        })
    };
}
pub(crate) use snap;
