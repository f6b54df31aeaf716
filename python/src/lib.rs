//! `neutrostruct._native`: the Python face of the library. Every function releases the GIL
//! while the library works, turns the library's errors into `InputError` (with `path`,
//! `line` and `column`) and hands structured results over as JSON text, which the Python
//! package (`python/neutrostruct/__init__.py`) turns into dicts with `json.loads` — one
//! conversion rule for every result, the same keys as the CLI's JSON outputs.

use neutrostruct::convert::{ConvertRequest, Format};
use neutrostruct::model::{Dataset as Model, Ellipse, ImageId};
use neutrostruct::validate::{self, report, ValidateRequest};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

pyo3::create_exception!(
    _native,
    InputError,
    PyValueError,
    "An input the library cannot use: a file that does not parse, a bad option or a refused \
     path. `path`, `line` and `column` say where (None when not known)."
);

/// The library's error as `InputError`, with its location as attributes.
fn input_error(py: Python<'_>, e: neutrostruct::Error) -> PyErr {
    use neutrostruct::Error as E;
    let (path, line, column) = match &e {
        E::Io { path, .. } | E::Invalid { path, .. } => (Some(path.clone()), None, None),
        E::Parse {
            path, line, column, ..
        } => (Some(path.clone()), Some(*line), Some(*column)),
        E::Usage(_) => (None, None, None),
    };
    let err = InputError::new_err(e.to_string());
    let value = err.value(py);
    let path = path.map(|p| p.display().to_string());
    // Setting attributes on a fresh exception object cannot fail in practice; if it did, the
    // message still says where.
    let _ = value.setattr("path", path);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    err
}

/// Runs `work` without the GIL, mapping its error.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> neutrostruct::Result<T> + Send,
) -> PyResult<T> {
    py.detach(work).map_err(|e| input_error(py, e))
}

/// A shape as a plain object with its `type`: the fields a Python user reads directly.
fn shape_json(shape: &neutrostruct::model::Shape) -> serde_json::Value {
    use neutrostruct::model::{MaskData, Shape};
    use serde_json::json;
    match shape {
        Shape::Ellipse(e) => {
            json!({"type": "ellipse", "cx": e.cx, "cy": e.cy, "rx": e.rx, "ry": e.ry, "rotation": e.rotation})
        }
        Shape::Box(b) => {
            json!({"type": "box", "xtl": b.xtl, "ytl": b.ytl, "xbr": b.xbr, "ybr": b.ybr, "rotation": b.rotation})
        }
        Shape::Polygon(rings) => json!({"type": "polygon", "rings": rings}),
        Shape::Polyline(points) => json!({"type": "polyline", "points": points}),
        Shape::Points(points) => json!({"type": "points", "points": points}),
        Shape::Mask(MaskData::Coco {
            height,
            width,
            counts,
        }) => {
            json!({"type": "mask", "encoding": "coco-rle", "height": height, "width": width, "counts": counts})
        }
        Shape::Mask(MaskData::Cvat {
            left,
            top,
            width,
            height,
            counts,
        }) => {
            json!({"type": "mask", "encoding": "cvat-rle", "left": left, "top": top, "width": width, "height": height, "counts": counts})
        }
        Shape::Tag => json!({"type": "tag"}),
    }
}

fn json_text(v: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

fn format_named(name: &str) -> PyResult<Format> {
    Ok(match name {
        "coco" => Format::Coco,
        "cvat" => Format::Cvat,
        "masks" => Format::Masks,
        "yolo" => Format::Yolo,
        "yolo-seg" => Format::YoloSeg,
        "yolo-obb" => Format::YoloObb,
        "voc" => Format::Voc,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown format {other:?} (coco, cvat, masks, yolo, yolo-seg, yolo-obb, voc)"
            )))
        }
    })
}

/// An annotation dataset held in Rust: read once, rendered and written without copies.
#[pyclass(module = "neutrostruct._native", frozen)]
struct Dataset {
    model: Model,
    /// The format it was read from (what a writer may carry over).
    origin: Format,
}

#[pymethods]
impl Dataset {
    /// The images as JSON: id, file_name, width, height, subset.
    fn images_json(&self) -> PyResult<String> {
        let rows: Vec<_> = self
            .model
            .images
            .iter()
            .map(|i| {
                serde_json::json!({
                    "id": i.id.0, "file_name": i.file_name, "width": i.width,
                    "height": i.height, "subset": i.subset,
                })
            })
            .collect();
        json_text(&rows)
    }

    /// The categories as JSON: id, name, supercategory, color.
    fn categories_json(&self) -> PyResult<String> {
        let rows: Vec<_> = self
            .model
            .categories
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id.0, "name": c.name, "supercategory": c.supercategory,
                    "color": c.color.map(|rgb| rgb.0),
                })
            })
            .collect();
        json_text(&rows)
    }

    /// The annotations as JSON: id, image_id, category_id, shape (with its `type`),
    /// occluded, z_order, attributes.
    fn annotations_json(&self) -> PyResult<String> {
        let rows: Vec<_> = self
            .model
            .annotations
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id.0, "image_id": a.image_id.0, "category_id": a.category_id.0,
                    "shape": shape_json(&a.shape),
                    "occluded": a.occluded, "z_order": a.z_order,
                    "attributes": a.attributes,
                })
            })
            .collect();
        json_text(&rows)
    }

    /// The dataset as the COCO JSON text this library writes.
    fn to_coco_json(&self, py: Python<'_>) -> PyResult<String> {
        let mut ds = self.model.clone();
        Ok(py.detach(move || {
            neutrostruct::convert::carry_cvat_into_coco(&mut ds);
            neutrostruct::coco::to_string(&ds, &Default::default()).0
        }))
    }

    /// The format it was read from.
    #[getter]
    fn origin(&self) -> &'static str {
        self.origin.name()
    }

    fn __len__(&self) -> usize {
        self.model.annotations.len()
    }
}

/// Reads a COCO JSON or CVAT XML (or CVAT zip) file; `format=None` tells from the content.
#[pyfunction]
#[pyo3(signature = (path, format=None))]
fn read(py: Python<'_>, path: PathBuf, format: Option<&str>) -> PyResult<(Dataset, String)> {
    let given = format.map(format_named).transpose()?;
    let (model, loss, origin) = detached(py, || {
        let from = match given {
            Some(f) => f,
            None => Format::detect(&path)?,
        };
        let (ds, loss) = neutrostruct::convert::read(from, &path, &Default::default())?;
        Ok((ds, loss, from))
    })?;
    Ok((Dataset { model, origin }, json_text(&loss)?))
}

/// Writes a dataset as COCO or CVAT; returns the lossiness as JSON.
#[pyfunction]
fn write(py: Python<'_>, dataset: &Dataset, path: PathBuf, format: &str) -> PyResult<String> {
    let to = format_named(format)?;
    let ds = dataset.model.clone();
    let from = dataset.origin;
    let loss = detached(py, move || {
        neutrostruct::convert::write(ds, from, to, &path, &Default::default())
    })?;
    json_text(&loss)
}

/// A dataset from COCO JSON text (as `Dataset.to_coco()` gives, possibly edited).
#[pyfunction]
fn dataset_from_coco_json(py: Python<'_>, text: String) -> PyResult<Dataset> {
    let model = detached(py, move || {
        let (mut ds, _) = neutrostruct::coco::read_bytes(
            text.as_bytes(),
            std::path::Path::new("<dict>"),
            &Default::default(),
        )?;
        neutrostruct::convert::restore_cvat_from_coco(&mut ds);
        Ok(ds)
    })?;
    Ok(Dataset {
        model,
        origin: Format::Coco,
    })
}

/// One conversion, with the CLI's defaults; returns the lossiness as JSON.
#[pyfunction]
#[pyo3(signature = (src, dst, to, from_format=None, images=None, labelset=None, split=None, seed=0, copy_images=false, ellipses="auto", segmentation="polygon", force=false, crowd="keep"))]
#[allow(clippy::too_many_arguments)]
fn convert(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    to: &str,
    from_format: Option<&str>,
    images: Option<PathBuf>,
    labelset: Option<String>,
    split: Option<String>,
    seed: u64,
    copy_images: bool,
    ellipses: &str,
    segmentation: &str,
    force: bool,
    crowd: &str,
) -> PyResult<String> {
    use neutrostruct::coco::{EllipseRecovery, SegmentationMode};
    let mut req = ConvertRequest::new(src, dst, format_named(to)?);
    req.from = from_format.map(format_named).transpose()?;
    req.images = images;
    req.copy_images = copy_images;
    req.force = force;
    req.crowd = match crowd {
        "keep" => neutrostruct::coco::CrowdMode::Keep,
        "clear" => neutrostruct::coco::CrowdMode::Clear,
        other => {
            return Err(PyValueError::new_err(format!(
                "crowd={other:?}: keep or clear"
            )))
        }
    };
    req.ellipses = match ellipses {
        "auto" => EllipseRecovery::Auto,
        "always" => EllipseRecovery::Always,
        "never" => EllipseRecovery::Never,
        other => {
            return Err(PyValueError::new_err(format!(
                "ellipses={other:?}: auto, always or never"
            )))
        }
    };
    req.segmentation = match segmentation {
        "polygon" => SegmentationMode::Polygon,
        "rle" => SegmentationMode::Rle,
        other => {
            return Err(PyValueError::new_err(format!(
                "segmentation={other:?}: polygon or rle"
            )))
        }
    };
    let done = detached(py, move || {
        if let Some(spec) = &labelset {
            req.labelset = Some(neutrostruct::labelset::LabelSet::resolve(spec)?);
        }
        if let Some(spec) = &split {
            req.split = neutrostruct::training::SplitPlan::parse_ratios(spec, seed)?;
        }
        neutrostruct::convert::convert(&req)
    })?;
    json_text(
        &serde_json::json!({"loss": done.loss, "notes": done.notes, "from": done.from.name(), "to": done.to.name()}),
    )
}

/// One validation run; returns the JSON report's object plus `exit_code` and `notes`.
#[pyfunction]
#[pyo3(signature = (dir=None, coco=Vec::new(), cvat=Vec::new(), yolo=Vec::new(), masks=None, images=None, labelset=None, config=None, baseline=None, strict=false, source_coco=None, scale=None))]
#[allow(clippy::too_many_arguments)]
fn validate_files(
    py: Python<'_>,
    dir: Option<PathBuf>,
    coco: Vec<PathBuf>,
    cvat: Vec<PathBuf>,
    yolo: Vec<PathBuf>,
    masks: Option<PathBuf>,
    images: Option<PathBuf>,
    labelset: Option<String>,
    config: Option<PathBuf>,
    baseline: Option<PathBuf>,
    strict: bool,
    source_coco: Option<PathBuf>,
    scale: Option<PathBuf>,
) -> PyResult<String> {
    let text = detached(py, move || {
        let req = ValidateRequest {
            dir,
            coco,
            cvat,
            yolo,
            masks,
            images,
            labelset: labelset
                .as_deref()
                .map(neutrostruct::labelset::LabelSet::resolve)
                .transpose()?,
            division_source: source_coco.zip(scale),
            ..Default::default()
        };
        let config = match &config {
            Some(p) => validate::Config::load(p)?,
            None => validate::Config::default(),
        };
        let baseline = baseline
            .as_deref()
            .map(validate::baseline::Baseline::load)
            .transpose()?;
        let outcome = validate::check(&req, &config, baseline.as_ref())?;
        let opts = report::ReportOptions {
            color: false,
            ignored: outcome.ignored,
            baselined: outcome.baselined,
        };
        let json = report::render(report::Format::Json, &outcome.findings, &opts);
        let mut value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| neutrostruct::Error::Usage(format!("report: {e}")))?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("exit_code".into(), outcome.exit_code(strict).into());
            obj.insert("notes".into(), outcome.notes.clone().into());
        }
        Ok(value.to_string())
    })?;
    Ok(text)
}

/// Per-image statistics of a 4-class COCO, as the CLI's JSON table.
#[pyfunction]
#[pyo3(signature = (coco, scale, rules=None, strict=false))]
fn statistics(
    py: Python<'_>,
    coco: PathBuf,
    scale: PathBuf,
    rules: Option<PathBuf>,
    strict: bool,
) -> PyResult<(String, Vec<String>)> {
    detached(py, move || {
        let stats =
            neutrostruct::division::statistics_of_file(&neutrostruct::division::StatsRequest {
                coco,
                scale,
                rules,
                strict,
            })?;
        let table = String::from_utf8_lossy(&stats.to_json()?).into_owned();
        Ok((table, stats.warnings.clone()))
    })
}

/// The 4→7 division; writes what is asked for and returns a summary as JSON and the
/// 7-class dataset.
#[pyfunction]
#[pyo3(signature = (coco, scale, cvat=None, rules=None, strict=false, out_coco=None, out_cvat=None, audit=None))]
#[allow(clippy::too_many_arguments)]
fn reclassify(
    py: Python<'_>,
    coco: PathBuf,
    scale: PathBuf,
    cvat: Option<PathBuf>,
    rules: Option<PathBuf>,
    strict: bool,
    out_coco: Option<PathBuf>,
    out_cvat: Option<PathBuf>,
    audit: Option<PathBuf>,
) -> PyResult<(String, Dataset)> {
    let (summary, model) = detached(py, move || {
        let done =
            neutrostruct::division::reclassify_files(&neutrostruct::division::ReclassifyRequest {
                coco,
                scale,
                cvat,
                rules,
                strict,
            })?;
        let mut written = Vec::new();
        if done.is_ok() {
            if let Some(p) = &out_coco {
                done.write_coco(p)?;
                written.push(p.display().to_string());
            }
            if let Some(p) = &out_cvat {
                if done.write_cvat(p)? {
                    written.push(p.display().to_string());
                }
            }
            if let Some(p) = &audit {
                done.division.write_audit(p)?;
                written.push(p.display().to_string());
            }
        }
        let summary = serde_json::json!({
            "per_class": done.per_class,
            "warnings": done.division.warnings,
            "cvat_errors": done.cvat_errors,
            "written": written,
            "annotations": done.division.audit.len(),
        });
        Ok((summary.to_string(), done.division.dataset))
    })?;
    Ok((
        summary,
        Dataset {
            model,
            origin: Format::Coco,
        },
    ))
}

/// The mask of one image (by file name or id): raw bytes, (height, width[, 3]), dtype name.
#[pyfunction]
#[pyo3(signature = (dataset, image, kind="color", labelset=None))]
fn render_mask<'py>(
    py: Python<'py>,
    dataset: &Dataset,
    image: Bound<'py, PyAny>,
    kind: &str,
    labelset: Option<String>,
) -> PyResult<(Bound<'py, PyBytes>, Vec<usize>, &'static str)> {
    use neutrostruct::masks::{ClassLookup, MaskBuffer, MaskKind};
    let kind = match kind {
        "color" => MaskKind::Color,
        "index" => MaskKind::Index,
        "instance" => MaskKind::Instance,
        other => {
            return Err(PyValueError::new_err(format!(
                "kind={other:?}: color, index or instance"
            )))
        }
    };
    let ds = &dataset.model;
    let found = if let Ok(id) = image.extract::<u64>() {
        ds.images.iter().find(|i| i.id == ImageId(id))
    } else {
        let name: String = image.extract()?;
        ds.images.iter().find(|i| i.file_name == name)
    };
    let Some(img) = found else {
        return Err(PyValueError::new_err(format!(
            "no image {image} in the dataset"
        )));
    };
    let (bytes, shape, dtype) = detached(py, || {
        let labels =
            neutrostruct::labelset::LabelSet::for_dataset(&ds.categories, labelset.as_deref())?;
        let lookup = ClassLookup::new(&ds.categories, &labels);
        let anns: Vec<_> = ds
            .annotations
            .iter()
            .filter(|a| a.image_id == img.id)
            .collect();
        let m = neutrostruct::masks::render(img, &anns, &lookup, kind)?;
        let (w, h) = (img.width as usize, img.height as usize);
        Ok(match m.buffer {
            MaskBuffer::Color(b) => (b.into_raw(), vec![h, w, 3], "uint8"),
            MaskBuffer::Index(b) => (b.into_raw(), vec![h, w], "uint8"),
            MaskBuffer::Instance(b) => (
                b.into_raw().iter().flat_map(|v| v.to_le_bytes()).collect(),
                vec![h, w],
                "<u2",
            ),
        })
    })?;
    Ok((PyBytes::new(py, &bytes), shape, dtype))
}

/// The pixels of one ellipse on a `width × height` grid, as 0/1 bytes (row-major).
#[pyfunction]
#[pyo3(signature = (cx, cy, rx, ry, rotation, width, height, rule="pixel-centre"))]
#[allow(clippy::too_many_arguments)]
fn rasterize<'py>(
    py: Python<'py>,
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    rotation: f64,
    width: u32,
    height: u32,
    rule: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let e = Ellipse {
        cx,
        cy,
        rx,
        ry,
        rotation,
    };
    let pixels = (width as u64) * (height as u64);
    if pixels > neutrostruct::masks::MAX_PIXELS {
        return Err(PyValueError::new_err(format!(
            "{width}×{height} is larger than the mask limit"
        )));
    }
    let cvat = match rule {
        "pixel-centre" | "pixel-center" => false,
        "cvat" => true,
        other => {
            return Err(PyValueError::new_err(format!(
                "rule={other:?}: pixel-centre or cvat"
            )))
        }
    };
    let out = py.detach(move || {
        let mut out = vec![0u8; pixels as usize];
        let mut paint = |y: u32, a: u32, b: u32| {
            let row = y as usize * width as usize;
            out[row + a as usize..row + b as usize].fill(1);
        };
        let drawn = if cvat {
            neutrostruct::geometry::raster_cvat_export::cvat_export_ellipse_spans(
                &e, width, height, &mut paint,
            )
            .map_err(|why| why.to_string())
        } else {
            neutrostruct::geometry::raster::ellipse_spans(&e, width, height, &mut paint);
            Ok(())
        };
        drawn.map(|()| out)
    });
    match out {
        Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
        Err(why) => Err(PyValueError::new_err(format!("not drawable: {why}"))),
    }
}

/// `(cx, cy, rx, ry, rotation)`, as the Python side names them.
type EllipseTuple = (f64, f64, f64, f64, f64);

/// The ellipse with the second moments of the nonzero pixels of a row-major mask, or None
/// for an empty mask. `rule` says where a pixel's centre is, as in `rasterize`.
#[pyfunction]
#[pyo3(signature = (mask, width, height, rule="pixel-centre"))]
fn fit_ellipse(
    py: Python<'_>,
    mask: &[u8],
    width: usize,
    height: usize,
    rule: &str,
) -> PyResult<Option<EllipseTuple>> {
    if width.checked_mul(height) != Some(mask.len()) {
        return Err(PyValueError::new_err("mask size is not width × height"));
    }
    let offset = match rule {
        "pixel-centre" | "pixel-center" => 0.5,
        "cvat" => 0.0,
        other => {
            return Err(PyValueError::new_err(format!(
                "rule={other:?}: pixel-centre or cvat"
            )))
        }
    };
    let mask = mask.to_vec();
    Ok(py.detach(move || {
        let mut m = neutrostruct::geometry::fit::Moments::pixels();
        for (i, _) in mask.iter().enumerate().filter(|(_, v)| **v != 0) {
            m.add_pixel((i % width) as f64, (i / width) as f64);
        }
        neutrostruct::geometry::fit::ellipse_from_moments(&m, offset)
            .map(|e| (e.cx, e.cy, e.rx, e.ry, e.rotation))
    }))
}

/// Runs the command line with `argv` (program name first); returns its exit code.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> i32 {
    use clap::Parser;
    let cli = match neutrostruct::cli::Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    neutrostruct::atomic::install_signal_cleanup();
    py.detach(move || match neutrostruct::cli::run(cli) {
        Ok(status) => i32::from(status.exit_code()),
        Err(err) => {
            eprintln!(
                "error: {}",
                neutrostruct::escape::text_block(&err.to_string())
            );
            err.exit_code()
        }
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add_class::<Dataset>()?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_from_coco_json, m)?)?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(validate_files, m)?)?;
    m.add_function(wrap_pyfunction!(statistics, m)?)?;
    m.add_function(wrap_pyfunction!(reclassify, m)?)?;
    m.add_function(wrap_pyfunction!(render_mask, m)?)?;
    m.add_function(wrap_pyfunction!(rasterize, m)?)?;
    m.add_function(wrap_pyfunction!(fit_ellipse, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
