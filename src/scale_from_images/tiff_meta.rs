//! Calibration stored in a TIFF file: ImageJ, OME-XML, the plain resolution tags and the
//! FEI/Thermo Fisher metadata tag.
//!
//! Facts used (from the formats' published descriptions):
//! - TIFF 6.0: `ImageDescription` (270, ASCII), `XResolution` (282, RATIONAL, pixels per
//!   `ResolutionUnit`), `ResolutionUnit` (296, SHORT: 1 none, 2 inch — the default when the tag
//!   is absent —, 3 centimetre).
//! - ImageJ: the description starts with `ImageJ=` and holds `key=value` lines; `unit=` names
//!   the length unit (`micron`, `um`, `µm`, written by ImageJ as `\u00B5m`, `nm`, …) and
//!   `XResolution` is then pixels per that unit (ImageJ writes `ResolutionUnit` 1 for units
//!   other than inch and cm).
//! - OME-TIFF: the description of the first IFD is OME-XML; `Pixels@PhysicalSizeX` is the
//!   width of one pixel in `Pixels@PhysicalSizeXUnit`, which defaults to µm.
//! - FEI/Thermo Fisher SEM/TEM: tag 34682 holds INI-style text; its `[Scan]` section has
//!   `PixelWidth=` in metres.
//!
//! Every value read is bounded: text tags by `MAX_TEXT_BYTES` (and the file's length), the
//! IFD chain by `MAX_IFDS`; a loop in the chain is an error (the `tiff` crate detects it).

use super::Source;
use std::io::{Read, Seek};

/// Largest text tag read (a description, an OME-XML document, the FEI block). Real OME-XML
/// headers of large plates run to a few MiB.
pub(crate) const MAX_TEXT_BYTES: usize = 16 << 20;
/// Most IFDs (pages) walked to check the chain.
pub(crate) const MAX_IFDS: usize = 65_536;
/// Largest image side accepted, as for annotations (`coco::MAX_SIDE`).
pub const MAX_SIDE: u32 = 100_000;
/// A resolution per centimetre or inch below this many px/µm (1000 px/cm, 2540 dpi) is a
/// print or screen resolution (72, 96, 300 dpi …), not a microscope calibration.
pub(crate) const MIN_CALIBRATED_PX_PER_UM: f64 = 0.1;
/// Calibrations outside this range are refused as implausible (0.001 px/µm is a millimetre
/// per pixel; 10⁶ px/µm a picometre per pixel).
pub(crate) const PLAUSIBLE_PX_PER_UM: (f64, f64) = (1e-3, 1e6);

/// A calibration found in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Pixels per µm.
    pub px_per_um: f64,
    /// Which tags it came from.
    pub source: Source,
    /// What was read, for the table's note (`unit=micron, XResolution=375`).
    pub detail: String,
}

/// What the TIFF's tags say about its scale.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TiffMeta {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Every calibration found, in the order sources are tried (ImageJ, OME, resolution, FEI).
    pub calibrations: Vec<Calibration>,
    /// Why a tag that was present is not a calibration (e.g. `72 dpi is a print resolution`).
    pub notes: Vec<String>,
}

impl TiffMeta {
    /// The calibration used: the first source in the order the sources are tried.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibrations.first()
    }
}

/// Whether `head` starts like a TIFF or BigTIFF file.
pub(crate) fn looks_like_tiff(head: &[u8]) -> bool {
    matches!(
        head.get(..4),
        Some(b"II*\0") | Some(b"MM\0*") | Some(b"II+\0") | Some(b"MM\0+")
    )
}

const TAG_FEI: u16 = 34682;

/// Reads the scale tags of a TIFF of `len` bytes. The error is a sentence without the file
/// name (the caller names the file).
pub fn read<R: Read + Seek>(r: R, len: u64) -> Result<TiffMeta, String> {
    use tiff::decoder::{Decoder, Limits};
    use tiff::tags::Tag;
    let mut limits = Limits::default();
    let cap = MAX_TEXT_BYTES.min(usize::try_from(len).unwrap_or(usize::MAX));
    limits.decoding_buffer_size = cap;
    limits.ifd_value_size = cap.max(1 << 20);
    limits.intermediate_buffer_size = cap;
    let mut dec = Decoder::new(r)
        .map_err(|e| format!("not a readable TIFF: {e}"))?
        .with_limits(limits);
    let (width, height) = dec
        .dimensions()
        .map_err(|e| format!("not a readable TIFF: {e}"))?;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "image size {width} × {height} is out of range 1..={MAX_SIDE}"
        ));
    }
    let mut meta = TiffMeta {
        width,
        height,
        ..TiffMeta::default()
    };
    let description = text_tag(&mut dec, Tag::ImageDescription, cap)?;
    let fei = text_tag(&mut dec, Tag::Unknown(TAG_FEI), cap)?;
    let xres = match dec.find_tag(Tag::XResolution) {
        Ok(v) => v.and_then(|v| rational(&v)),
        Err(e) => return Err(format!("XResolution: {e}")),
    };
    let unit = match dec.find_tag_unsigned::<u16>(Tag::ResolutionUnit) {
        Ok(v) => v.unwrap_or(2),
        Err(e) => return Err(format!("ResolutionUnit: {e}")),
    };
    // The rest of the chain: a loop or a broken pointer makes the file unreadable for any
    // other tool too, so it is reported rather than ignored.
    let mut pages = 1usize;
    while dec.more_images() {
        if pages >= MAX_IFDS {
            return Err(format!("more than {MAX_IFDS} IFDs (pages)"));
        }
        dec.next_image()
            .map_err(|e| format!("IFD {} (page {}): {e}", pages, pages + 1))?;
        pages += 1;
    }

    if let Some(d) = &description {
        if let Some(c) = imagej(d, xres, &mut meta.notes) {
            meta.calibrations.push(c);
        }
        if let Some(c) = ome(d, &mut meta.notes) {
            meta.calibrations.push(c);
        }
    }
    let imagej_file = description
        .as_deref()
        .is_some_and(|d| d.starts_with("ImageJ="));
    if !imagej_file {
        if let Some(c) = resolution(xres, unit, &mut meta.notes) {
            meta.calibrations.push(c);
        }
    }
    if let Some(t) = &fei {
        if let Some(c) = fei_scan(t, &mut meta.notes) {
            meta.calibrations.push(c);
        }
    }
    meta.calibrations
        .retain(|c| plausible(c.px_per_um, &c.detail, &mut meta.notes));
    Ok(meta)
}

fn plausible(v: f64, detail: &str, notes: &mut Vec<String>) -> bool {
    let (lo, hi) = PLAUSIBLE_PX_PER_UM;
    let ok = v.is_finite() && v >= lo && v <= hi;
    if !ok {
        notes.push(format!(
            "{detail} gives {v} px/µm, outside the plausible {lo}..{hi}; not used"
        ));
    }
    ok
}

/// A text tag's bytes (ASCII, BYTE or UNDEFINED), at most `cap` bytes, up to the first NUL;
/// decoded as UTF-8, else as Latin-1 (some writers put a raw `µ`, 0xB5, in descriptions).
fn text_tag<R: Read + Seek>(
    dec: &mut tiff::decoder::Decoder<R>,
    tag: tiff::tags::Tag,
    cap: usize,
) -> Result<Option<String>, String> {
    let mut ifd = dec.image_ifd();
    let Some(entry) = ifd.find_entry(tag) else {
        return Ok(None);
    };
    let declared = entry.count();
    let n = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= cap)
        .ok_or_else(|| {
            format!(
                "tag {}: declares {declared} bytes, more than the {cap}-byte limit for a text tag (or the file)",
                tag.to_u16()
            )
        })?;
    use tiff::tags::Type;
    if !matches!(
        entry.field_type(),
        Type::ASCII | Type::BYTE | Type::UNDEFINED | Type::SBYTE
    ) {
        return Ok(None);
    }
    let mut buf = vec![0u8; n];
    let got = ifd
        .find_tag_bytes(tag, &mut buf, 0)
        .map_err(|e| format!("tag {}: {e}", tag.to_u16()))?
        .unwrap_or(0);
    buf.truncate(got.min(n));
    if let Some(z) = buf.iter().position(|&b| b == 0) {
        buf.truncate(z);
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    }))
}

fn rational(v: &tiff::decoder::ifd::Value) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    match v {
        Value::Rational(n, d) if *d != 0 => Some(f64::from(*n) / f64::from(*d)),
        Value::List(l) => l.first().and_then(rational),
        Value::Unsigned(n) => Some(f64::from(*n)),
        Value::Short(n) => Some(f64::from(*n)),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        _ => None,
    }
}

/// Micrometres in one `unit`, for the length units the formats write.
pub(crate) fn um_per_unit(unit: &str) -> Option<f64> {
    let u = unit.trim().trim_matches('"');
    let u = u.replace("\\u00B5", "µ").replace("\\u00b5", "µ");
    Some(match u.as_str() {
        "micron" | "microns" | "um" | "µm" | "μm" | "micrometer" | "micrometre" | "micrometers"
        | "micrometres" => 1.0,
        "nm" | "nanometer" | "nanometre" | "nanometers" | "nanometres" => 1e-3,
        "pm" => 1e-6,
        "Å" | "\\u00C5" | "angstrom" | "Angstrom" => 1e-4,
        "mm" | "millimeter" | "millimetre" => 1e3,
        "cm" => 1e4,
        "dm" => 1e5,
        "m" | "meter" | "metre" => 1e6,
        _ => return None,
    })
}

/// ImageJ: `unit=` in the description, `XResolution` in pixels per unit.
fn imagej(desc: &str, xres: Option<f64>, notes: &mut Vec<String>) -> Option<Calibration> {
    if !desc.starts_with("ImageJ=") {
        return None;
    }
    let unit = desc
        .lines()
        .find_map(|l| l.trim().strip_prefix("unit="))
        .map(str::trim)?;
    let Some(um) = um_per_unit(unit) else {
        notes.push(format!(
            "ImageJ unit={unit:?} is not a length ImageJ calibrates in; not used"
        ));
        return None;
    };
    let Some(x) = xres.filter(|x| *x > 0.0) else {
        notes.push(format!("ImageJ unit={unit} but no usable XResolution"));
        return None;
    };
    Some(Calibration {
        px_per_um: x / um,
        source: Source::ImageJ,
        detail: format!("ImageJ unit={unit}, XResolution={x}"),
    })
}

/// OME-XML: the first `Pixels` element's `PhysicalSizeX` and `PhysicalSizeXUnit`.
fn ome(desc: &str, notes: &mut Vec<String>) -> Option<Calibration> {
    use quick_xml::events::Event;
    let t = desc.trim_start();
    if !(t.starts_with("<?xml") || t.starts_with("<OME")) || !t.contains("OME") {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(t);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == b"Pixels" => {
                let mut size = None;
                let mut unit = "µm".to_string();
                for a in e.attributes().flatten() {
                    let raw = String::from_utf8_lossy(&a.value).into_owned();
                    let v = quick_xml::escape::unescape(&raw)
                        .map(|v| v.into_owned())
                        .unwrap_or(raw.clone());
                    match a.key.local_name().as_ref() {
                        b"PhysicalSizeX" => size = Some(v),
                        b"PhysicalSizeXUnit" => unit = v,
                        _ => {}
                    }
                }
                let size = size?;
                let Ok(s) = size.trim().parse::<f64>() else {
                    notes.push(format!("OME PhysicalSizeX={size:?} is not a number"));
                    return None;
                };
                let um = match unit.as_str() {
                    "in" | "inch" => Some(25_400.0),
                    u => um_per_unit(u),
                };
                let Some(um) = um else {
                    notes.push(format!("OME PhysicalSizeXUnit={unit:?} is not supported"));
                    return None;
                };
                if !(s.is_finite() && s > 0.0) {
                    notes.push(format!("OME PhysicalSizeX={size} is not a positive size"));
                    return None;
                }
                return Some(Calibration {
                    px_per_um: 1.0 / (s * um),
                    source: Source::Ome,
                    detail: format!("OME PhysicalSizeX={size} {unit}"),
                });
            }
            Ok(Event::Eof) => return None,
            Ok(_) => {}
            Err(e) => {
                notes.push(format!("OME-XML in ImageDescription does not parse: {e}"));
                return None;
            }
        }
    }
}

/// Plain `XResolution` per centimetre; per inch only when far beyond any print resolution.
fn resolution(xres: Option<f64>, unit: u16, notes: &mut Vec<String>) -> Option<Calibration> {
    let x = xres?;
    let (per_um, name) = match unit {
        3 => (x / 1e4, "cm"),
        2 => (x / 25_400.0, "inch"),
        _ => return None,
    };
    if unit == 2 || per_um < MIN_CALIBRATED_PX_PER_UM {
        if unit == 2 {
            notes.push(format!(
                "XResolution {x} per inch is a print resolution (dpi), not a calibration"
            ));
        } else {
            notes.push(format!(
                "XResolution {x} per cm ({:.0} dpi) is a print resolution, not a calibration",
                x * 2.54
            ));
        }
        return None;
    }
    Some(Calibration {
        px_per_um: per_um,
        source: Source::TiffResolution,
        detail: format!("XResolution={x} per {name}"),
    })
}

/// FEI/Thermo Fisher: `[Scan]` `PixelWidth=` in metres.
fn fei_scan(text: &str, notes: &mut Vec<String>) -> Option<Calibration> {
    let mut in_scan = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_scan = l.eq_ignore_ascii_case("[Scan]");
            continue;
        }
        if !in_scan {
            continue;
        }
        let Some(v) = l.strip_prefix("PixelWidth=") else {
            continue;
        };
        return match v.trim().parse::<f64>() {
            Ok(m) if m.is_finite() && m > 0.0 => Some(Calibration {
                px_per_um: 1.0 / (m * 1e6),
                source: Source::Fei,
                detail: format!("FEI [Scan] PixelWidth={} m", v.trim()),
            }),
            _ => {
                notes.push(format!(
                    "FEI [Scan] PixelWidth={:?} is not a positive number",
                    v.trim()
                ));
                None
            }
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagej_units() {
        let mut n = Vec::new();
        let c = imagej(
            "ImageJ=1.53t\nimages=1\nunit=\\u00B5m\n",
            Some(375.0),
            &mut n,
        )
        .unwrap();
        assert_eq!(c.px_per_um, 375.0);
        let c = imagej("ImageJ=1.53t\nunit=nm\n", Some(0.375), &mut n).unwrap();
        assert!((c.px_per_um - 375.0).abs() < 1e-9);
        assert!(imagej("ImageJ=1.53t\nunit=pixel\n", Some(1.0), &mut n).is_none());
        assert!(imagej("ImageJ=1.53t\n", Some(72.0), &mut n).is_none());
        assert!(imagej("something else\nunit=um", Some(72.0), &mut n).is_none());
    }

    #[test]
    fn ome_physical_size() {
        let mut n = Vec::new();
        let x = r#"<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" PhysicalSizeX="2.5" PhysicalSizeXUnit="nm" SizeX="4"/></Image></OME>"#;
        let c = ome(x, &mut n).unwrap();
        assert!((c.px_per_um - 400.0).abs() < 1e-9, "{c:?}");
        let x = r#"<OME><Image><Pixels PhysicalSizeX="0.0025"/></Image></OME>"#;
        assert!((ome(x, &mut n).unwrap().px_per_um - 400.0).abs() < 1e-9);
        assert!(ome(r#"<OME><Image><Pixels SizeX="3"/></Image></OME>"#, &mut n).is_none());
    }

    #[test]
    fn dpi_is_not_a_calibration() {
        let mut n = Vec::new();
        for dpi in [72.0, 96.0, 300.0, 600.0] {
            assert!(resolution(Some(dpi), 2, &mut n).is_none());
            assert!(resolution(Some(dpi / 2.54), 3, &mut n).is_none());
        }
        assert!(resolution(Some(72.0), 1, &mut n).is_none());
        let c = resolution(Some(3_750_000.0), 3, &mut n).unwrap();
        assert!((c.px_per_um - 375.0).abs() < 1e-9);
    }

    #[test]
    fn fei_scan_pixel_width() {
        let mut n = Vec::new();
        let t =
            "[User]\nDate=1\n[Beam]\nPixelWidth=9\n[Scan]\nInternalScan=1\nPixelWidth=2.5e-009\n";
        let c = fei_scan(t, &mut n).unwrap();
        assert!((c.px_per_um - 400.0).abs() < 1e-6, "{c:?}");
        assert!(fei_scan("[Beam]\nPixelWidth=1e-9\n", &mut n).is_none());
    }
}
