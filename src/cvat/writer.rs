//! CVAT XML 1.1 writer, laid out exactly as CVAT's own exporter writes it (2-space indent,
//! attribute order `label source occluded <geometry> [rotation] z_order [group_id]`, numbers
//! with 2 decimals, `rotation` omitted when it prints as 0, `</shape>` on its own line), so a
//! CVAT file read and written again comes out byte-identical.

use super::mask_rle;
use super::{ImageIds, WriteOptions};
use crate::labelset::LabelSet;
use crate::lossiness::Lossiness;
use crate::model::{
    Annotation, AttributeSpec, Category, CategoryId, Dataset, Image, MaskData, Point, Rgb, Shape,
};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Renders the whole file into a string.
pub fn render(ds: &Dataset, opts: &WriteOptions) -> (String, Lossiness) {
    let mut w = Writer {
        image_ids: opts.image_ids,
        renumbered_images: 0,
        out: String::with_capacity(256 + ds.annotations.len() * 160),
        loss: Lossiness::default(),
        rounded: 0,
        names: ds
            .categories
            .iter()
            .map(|c| (c.id, c.name.as_str()))
            .collect(),
    };
    for (k, v) in ds.shape_counts() {
        w.loss.input.insert(k.to_string(), v);
    }
    w.out.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n",
    );
    w.meta(ds, opts.labelset.as_ref());
    let groups = ds.annotations_by_image();
    let placed: usize = groups.iter().map(|(_, a)| a.len()).sum();
    for (frame, (image, anns)) in groups.into_iter().enumerate() {
        w.image(frame, image, &anns);
    }
    for raw in &ds.meta.cvat_unknown {
        let _ = writeln!(w.out, "  {raw}");
    }
    w.out.push_str("</annotations>\n");

    w.loss.add(
        "dangling-annotation",
        ds.annotations.len() - placed,
        "annotations whose image is not in the dataset cannot be placed in CVAT XML and were not written",
    );
    w.loss.add(
        "image-ids-renumbered",
        w.renumbered_images,
        "CVAT numbers frames 0, 1, … in image order; image ids that were not those numbers were replaced",
    );
    w.loss.add(
        "rounded-to-2-decimals",
        w.rounded,
        "numbers changed by rounding to 2 decimals, as CVAT writes them",
    );
    let coco_fields = ds
        .images
        .iter()
        .filter(|i| !i.coco_extra.is_empty())
        .count()
        + ds.categories
            .iter()
            .filter(|c| !c.coco_extra.is_empty())
            .count()
        + ds.annotations
            .iter()
            .filter(|a| a.coco.as_ref().is_some_and(|c| !c.rare.extra.is_empty()))
            .count();
    w.loss.add(
        "coco-fields-dropped",
        coco_fields,
        "unknown COCO fields (images, categories, annotations) have no place in CVAT XML",
    );
    (w.out, w.loss)
}

struct Writer<'d> {
    image_ids: ImageIds,
    renumbered_images: usize,
    out: String,
    loss: Lossiness,
    rounded: usize,
    names: HashMap<CategoryId, &'d str>,
}

/// Escapes text content and attribute values (`crate::escape::xml`, shared by every XML
/// writer): markup, the white space attribute normalisation would lose, and characters XML
/// 1.0 cannot hold (shown as `\x01`, so the file stays well-formed).
fn esc_text(s: &str, out: &mut String) {
    out.push_str(&crate::escape::xml(s));
}

fn esc_attr(s: &str, out: &mut String) {
    out.push_str(&crate::escape::xml(s));
}

fn palette(i: usize) -> Rgb {
    crate::labelset::palette_color(i)
}

impl Writer<'_> {
    fn attr(&mut self, key: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(key);
        self.out.push_str("=\"");
        esc_attr(value, &mut self.out);
        self.out.push('"');
    }

    /// `{:.2}` and a count of values the rounding changed.
    fn num(&mut self, v: f64) -> String {
        let s = format!("{v:.2}");
        if v.is_finite() && s.parse::<f64>().ok() != Some(v) {
            self.rounded += 1;
        }
        s
    }

    fn num_attr(&mut self, key: &str, v: f64) {
        let s = self.num(v);
        self.attr(key, &s);
    }

    /// `rotation`, omitted when it prints as zero (as CVAT does).
    fn rotation(&mut self, v: f64) {
        let s = self.num(v);
        if s != "0.00" && s != "-0.00" {
            self.attr("rotation", &s);
        }
    }

    fn points(&mut self, pts: &[Point]) -> String {
        let mut s = String::with_capacity(pts.len() * 16);
        for (i, p) in pts.iter().enumerate() {
            if i > 0 {
                s.push(';');
            }
            let (x, y) = (self.num(p[0]), self.num(p[1]));
            s.push_str(&x);
            s.push(',');
            s.push_str(&y);
        }
        s
    }

    fn meta(&mut self, ds: &Dataset, labels: Option<&LabelSet>) {
        // Only a regenerated labels block uses these; a verbatim <meta> is CVAT's own.
        let categories = styled_categories(ds, labels);
        match &ds.meta.cvat_meta {
            Some(m) if m.declared == ds.categories => {
                let _ = writeln!(
                    self.out,
                    "  {}{}{}",
                    m.before_labels, m.labels, m.after_labels
                );
            }
            Some(m) if !m.labels.is_empty() => {
                // Categories changed: regenerate only the labels block; task, project,
                // segments and dumped stay as they were.
                let labels = labels_block(&categories, &m.indent);
                let _ = writeln!(
                    self.out,
                    "  {}{}{}",
                    m.before_labels, labels, m.after_labels
                );
            }
            other => {
                if other.is_some() {
                    self.loss.add(
                        "meta-regenerated",
                        1,
                        "the <meta> had no <labels> block to update; a new <meta> was generated",
                    );
                }
                let _ = write!(
                    self.out,
                    "  <meta>\n    <task>\n      <size>{}</size>\n      <mode>annotation</mode>\n      {}\n    </task>\n  </meta>\n",
                    ds.images.len(),
                    labels_block(&categories, "      ")
                );
            }
        }
        // Verbatim labels came from CVAT and have none; generated ones cannot hold one.
        let sc = ds
            .categories
            .iter()
            .filter(|c| !c.supercategory.is_empty())
            .count();
        self.loss.add(
            "supercategory-dropped",
            sc,
            "CVAT labels have no supercategory",
        );
    }

    /// `frame`: the image's position in the file, 0-based.
    fn image(&mut self, frame: usize, image: &Image, anns: &[&Annotation]) {
        self.out.push_str("  <image");
        let id = match self.image_ids {
            ImageIds::Frames => {
                if image.id.0 != frame as u64 {
                    self.renumbered_images += 1;
                }
                frame.to_string()
            }
            // A project export repeats ids across subsets; the reader keeps the id as
            // written in `cvat_attrs` ("id") when the model had to renumber it.
            ImageIds::AsRead => image
                .cvat_attrs
                .iter()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| image.id.to_string()),
        };
        self.attr("id", &id);
        self.attr("name", &image.file_name);
        if let Some(s) = &image.subset {
            self.attr("subset", s);
        }
        for (k, v) in &image.cvat_attrs {
            if k != "id" {
                self.attr(k, v);
            }
        }
        self.attr("width", &image.width.to_string());
        self.attr("height", &image.height.to_string());
        self.out.push_str(">\n");
        for a in anns {
            self.annotation(a);
        }
        for raw in &image.cvat_unknown {
            let _ = writeln!(self.out, "    {raw}");
        }
        self.out.push_str("  </image>\n");
    }

    fn annotation(&mut self, a: &Annotation) {
        match &a.shape {
            Shape::Polygon(rings) if rings.len() > 1 => {
                self.loss.add(
                    "polygon-rings-split",
                    rings.len() - 1,
                    "a polygon with several rings was written as one <polygon> per ring",
                );
                for r in rings {
                    let r = r.to_vec();
                    self.element(a, "polygon", |w| {
                        let p = w.points(&r);
                        w.attr("points", &p);
                    });
                }
            }
            Shape::Polygon(rings) => {
                let ring = rings.first().map(|r| r.to_vec()).unwrap_or_default();
                self.element(a, "polygon", |w| {
                    let p = w.points(&ring);
                    w.attr("points", &p);
                });
            }
            Shape::Polyline(pts) | Shape::Points(pts) => {
                self.element(a, a.shape.kind(), |w| {
                    let p = w.points(pts);
                    w.attr("points", &p);
                });
            }
            Shape::Ellipse(e) => self.element(a, "ellipse", |w| {
                w.num_attr("cx", e.cx);
                w.num_attr("cy", e.cy);
                w.num_attr("rx", e.rx);
                w.num_attr("ry", e.ry);
                w.rotation(e.rotation);
            }),
            Shape::Box(b) => self.element(a, "box", |w| {
                w.num_attr("xtl", b.xtl);
                w.num_attr("ytl", b.ytl);
                w.num_attr("xbr", b.xbr);
                w.num_attr("ybr", b.ybr);
                w.rotation(b.rotation);
            }),
            Shape::Mask(m) => {
                let rle = match m {
                    MaskData::Cvat {
                        left,
                        top,
                        width,
                        height,
                        counts,
                    } => mask_rle::BoxRle {
                        left: *left,
                        top: *top,
                        width: *width,
                        height: *height,
                        counts: counts.clone(),
                    },
                    MaskData::Coco {
                        height,
                        width,
                        counts,
                    } => mask_rle::coco_to_cvat(*height, *width, counts).unwrap_or_else(|| {
                        self.loss.add(
                            "empty-mask",
                            1,
                            "a mask without foreground pixels was written as a 1×1 background box",
                        );
                        mask_rle::BoxRle {
                            left: 0,
                            top: 0,
                            width: 1,
                            height: 1,
                            counts: vec![1],
                        }
                    }),
                };
                self.element(a, "mask", |w| {
                    let counts: Vec<String> = rle.counts.iter().map(u32::to_string).collect();
                    // CVAT writes the runs as a Python list without brackets: "a, b, c".
                    w.attr("rle", &counts.join(", "));
                    w.attr("left", &rle.left.to_string());
                    w.attr("top", &rle.top.to_string());
                    w.attr("width", &rle.width.to_string());
                    w.attr("height", &rle.height.to_string());
                });
            }
            Shape::Tag => self.element(a, "tag", |_| {}),
        }
    }

    /// One shape element: common attributes around `geometry`, then `<attribute>` children.
    fn element(&mut self, a: &Annotation, kind: &str, geometry: impl FnOnce(&mut Self)) {
        *self.loss.output.entry(kind.to_string()).or_insert(0) += 1;
        let _ = write!(self.out, "    <{kind}");
        let label = match self.names.get(&a.category_id) {
            Some(n) => n.to_string(),
            None => {
                self.loss.add(
                    "dangling-category",
                    1,
                    "annotations of a category that is not declared were written with the category id as label",
                );
                a.category_id.to_string()
            }
        };
        self.attr("label", &label);
        // CVAT always writes a source; "manual" is its default, so it is not a loss.
        self.attr("source", a.cvat.source.as_deref().unwrap_or("manual"));
        let is_tag = kind == "tag";
        // CVAT writes neither occluded nor z_order on tags; keep them only when they say
        // something, so nothing is lost either way.
        if !is_tag || a.occluded {
            self.attr("occluded", if a.occluded { "1" } else { "0" });
        }
        geometry(self);
        if !is_tag || a.z_order != 0 {
            self.attr("z_order", &a.z_order.to_string());
        }
        if let Some(g) = a.cvat.group_id {
            self.attr("group_id", &g.to_string());
        }
        for (k, v) in &a.cvat.attrs {
            self.attr(k, v);
        }
        self.out.push_str(">\n");
        for (name, value) in &a.attributes {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    self.loss.add(
                        "attribute-to-text",
                        1,
                        "attribute values that are not text, numbers or booleans were written as JSON text",
                    );
                    other.to_string()
                }
            };
            self.out.push_str("      <attribute");
            self.attr("name", name);
            self.out.push('>');
            esc_text(&text, &mut self.out);
            self.out.push_str("</attribute>\n");
        }
        let _ = writeln!(self.out, "    </{kind}>");
    }
}

/// The categories as a generated `<labels>` block declares them: a category without a colour
/// takes the colour of the label-set class of its name (`labels` first, then the built-in 4-
/// and 7-class sets; exact name, then ignoring case and punctuation), else a palette colour;
/// a category without a type takes the CVAT label type of its shapes when they are all of
/// one kind (an ellipse-only label is `ellipse`), else `any`.
fn styled_categories(ds: &Dataset, labels: Option<&LabelSet>) -> Vec<Category> {
    let sets: Vec<LabelSet> = labels
        .cloned()
        .into_iter()
        .chain([LabelSet::four_class(), LabelSet::seven_class()])
        .collect();
    let set_color = |name: &str| {
        sets.iter().find_map(|set| {
            set.by_name(name)
                .or_else(|| set.by_loose_name(name))
                .map(|c| c.color)
        })
    };
    // Per category: the one label type of all its shapes, or None once two kinds are seen.
    let mut kinds: HashMap<CategoryId, Option<&'static str>> = HashMap::new();
    for a in &ds.annotations {
        let t = label_type(&a.shape);
        kinds
            .entry(a.category_id)
            .and_modify(|k| {
                if *k != Some(t) {
                    *k = None;
                }
            })
            .or_insert(Some(t));
    }
    ds.categories
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut c = c.clone();
            if c.color.is_none() {
                c.color = Some(set_color(&c.name).unwrap_or_else(|| palette(i)));
            }
            if c.kind.is_none() {
                let t = kinds.get(&c.id).copied().flatten().unwrap_or("any");
                c.kind = Some(t.to_string());
            }
            c
        })
        .collect()
}

/// The CVAT label type that admits a shape (CVAT's `LabelType`: a box is `rectangle`).
fn label_type(shape: &Shape) -> &'static str {
    match shape {
        Shape::Ellipse(_) => "ellipse",
        Shape::Box(_) => "rectangle",
        Shape::Polygon(_) => "polygon",
        Shape::Polyline(_) => "polyline",
        Shape::Points(_) => "points",
        Shape::Mask(_) => "mask",
        Shape::Tag => "tag",
    }
}

/// A `<labels>` block as CVAT writes it; `indent` is the indentation of `<labels>` itself
/// (the first line is not indented: the caller has written it already).
pub fn labels_block(categories: &[Category], indent: &str) -> String {
    let mut s = String::from("<labels>\n");
    let tag = |s: &mut String, depth: &str, name: &str, value: &str| {
        let _ = write!(s, "{indent}{depth}<{name}>");
        esc_text(value, s);
        let _ = writeln!(s, "</{name}>");
    };
    for (i, c) in categories.iter().enumerate() {
        let _ = writeln!(s, "{indent}  <label>");
        tag(&mut s, "    ", "name", &c.name);
        tag(
            &mut s,
            "    ",
            "color",
            &c.color.unwrap_or_else(|| palette(i)).to_hex(),
        );
        tag(&mut s, "    ", "type", c.kind.as_deref().unwrap_or("any"));
        let _ = writeln!(s, "{indent}    <attributes>");
        for a in &c.attributes {
            attribute_spec(&mut s, indent, a);
        }
        let _ = writeln!(s, "{indent}    </attributes>");
        let _ = writeln!(s, "{indent}  </label>");
    }
    let _ = write!(s, "{indent}</labels>");
    s
}

fn attribute_spec(s: &mut String, indent: &str, a: &AttributeSpec) {
    let _ = writeln!(s, "{indent}      <attribute>");
    let fields = [
        ("name", Some(&a.name)),
        ("mutable", a.mutable.as_ref()),
        ("input_type", a.input_type.as_ref()),
        ("default_value", a.default_value.as_ref()),
        ("values", a.values.as_ref()),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            let _ = write!(s, "{indent}        <{name}>");
            esc_text(v, s);
            let _ = writeln!(s, "</{name}>");
        }
    }
    let _ = writeln!(s, "{indent}      </attribute>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Annotation, AnnotationId, Ellipse, ImageId, JsonMap};

    fn one_ellipse(e: Ellipse) -> Dataset {
        let cat = Category {
            id: CategoryId(1),
            name: "c".into(),
            supercategory: "granule/vesicle".into(),
            color: None,
            kind: None,
            attributes: Vec::new(),
            coco_extra: JsonMap::new(),
        };
        let image = Image {
            id: ImageId(1),
            file_name: "a.png".into(),
            width: 10,
            height: 10,
            subset: None,
            coco_extra: JsonMap::new(),
            cvat_attrs: Vec::new(),
            cvat_unknown: Vec::new(),
            loc: None,
        };
        let a = Annotation::new(
            AnnotationId(1),
            ImageId(1),
            CategoryId(1),
            Shape::Ellipse(e),
        );
        Dataset {
            categories: vec![cat],
            images: vec![image],
            annotations: vec![a],
            ..Default::default()
        }
    }

    #[test]
    fn rotation_omitted_when_it_prints_as_zero() {
        let e = Ellipse {
            cx: 1.0,
            cy: 2.0,
            rx: 3.0,
            ry: 4.0,
            rotation: -0.004,
        };
        let (s, loss) = render(&one_ellipse(e), &WriteOptions::default());
        assert!(
            s.contains("cx=\"1.00\" cy=\"2.00\" rx=\"3.00\" ry=\"4.00\" z_order=\"0\""),
            "{s}"
        );
        let codes: Vec<_> = loss.losses.iter().map(|l| (l.code, l.count)).collect();
        assert_eq!(
            codes,
            [("supercategory-dropped", 1), ("rounded-to-2-decimals", 1)]
        );
    }

    #[test]
    fn escapes_attribute_whitespace_and_markup() {
        let mut out = String::new();
        esc_attr("a\"b<c>&\n\t", &mut out);
        assert_eq!(out, "a&quot;b&lt;c&gt;&amp;&#10;&#9;");
        let mut out = String::new();
        esc_text("x<y\nz\u{1}", &mut out);
        assert_eq!(out, "x&lt;y&#10;z\\x01");
    }

    #[test]
    fn generated_labels_take_label_set_colours_and_shape_types() {
        let mut ds = one_ellipse(Ellipse {
            cx: 5.0,
            cy: 5.0,
            rx: 2.0,
            ry: 1.0,
            rotation: 0.0,
        });
        let cat = |id: u64, name: &str| Category {
            id: CategoryId(id),
            name: name.into(),
            supercategory: String::new(),
            color: None,
            kind: None,
            attributes: Vec::new(),
            coco_extra: JsonMap::new(),
        };
        ds.categories = vec![
            cat(1, "secondary GRANULES"),
            cat(2, "Vacuoles"),
            cat(3, "mine"),
            cat(4, "unknown"),
        ];
        let b = crate::model::BoxShape {
            xtl: 1.0,
            ytl: 1.0,
            xbr: 2.0,
            ybr: 2.0,
            rotation: 0.0,
        };
        let mut add = |id: u64, cat: u64, shape: Shape| {
            ds.annotations.push(Annotation::new(
                AnnotationId(id),
                ImageId(1),
                CategoryId(cat),
                shape,
            ))
        };
        add(2, 2, Shape::Box(b));
        add(3, 3, Shape::Box(b));
        add(4, 3, Shape::Tag);
        let custom = LabelSet::parse(
            r#"{"name":"x","classes":[{"id":1,"name":"mine","color":[1,2,3]},{"id":2,"name":"Vacuoles","color":[9,9,9]}]}"#,
            std::path::Path::new("x.json"),
        )
        .unwrap();
        let opts = WriteOptions {
            labelset: Some(custom),
            ..Default::default()
        };
        let (s, _) = render(&ds, &opts);
        let label = |name: &str| {
            let at = s.find(&format!("<name>{name}</name>")).unwrap();
            s[at..].lines().take(3).collect::<Vec<_>>().join("|")
        };
        // Loose name match on the built-in set; ellipse-only label.
        assert!(label("secondary GRANULES").contains("#0082c8</color>|          <type>ellipse"));
        // The given set wins over the built-in one; box-only is CVAT's `rectangle`.
        assert!(label("Vacuoles").contains("#090909</color>|          <type>rectangle"));
        // Several kinds: `any`.
        assert!(label("mine").contains("#010203</color>|          <type>any"));
        // Known to no set and without shapes: palette colour (its position), `any`.
        assert!(label("unknown").contains(&format!(
            "{}</color>|          <type>any",
            palette(3).to_hex()
        )));
    }

    #[test]
    fn frame_ids_count_from_zero_in_image_order() {
        let mut ds = one_ellipse(Ellipse {
            cx: 5.0,
            cy: 5.0,
            rx: 2.0,
            ry: 1.0,
            rotation: 0.0,
        });
        let mut second = ds.images[0].clone();
        second.id = ImageId(7);
        second.file_name = "b.png".into();
        ds.images.push(second);
        let opts = WriteOptions {
            image_ids: ImageIds::Frames,
            ..Default::default()
        };
        let (s, loss) = render(&ds, &opts);
        assert!(s.contains("<image id=\"0\" name=\"a.png\""), "{s}");
        assert!(s.contains("<image id=\"1\" name=\"b.png\""), "{s}");
        assert_eq!(loss.count("image-ids-renumbered"), 2);
        let (s, loss) = render(&ds, &WriteOptions::default());
        assert!(s.contains("<image id=\"1\" name=\"a.png\""), "{s}");
        assert!(s.contains("<image id=\"7\" name=\"b.png\""), "{s}");
        assert_eq!(loss.count("image-ids-renumbered"), 0);
    }

    #[test]
    fn palette_is_deterministic_past_its_end() {
        assert_eq!(palette(0).to_hex(), "#e6194b");
        assert_eq!(palette(25), palette(25));
        assert_ne!(palette(25), palette(26));
    }
}
