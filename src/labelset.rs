//! Label sets: the classes of a dataset version (id, name, supercategory, colour), as data.
//!
//! The 4- and 7-class sets of TEM-NeutroStruct ship in `schemas/labelsets/` and are compiled
//! in; a user can pass their own file of the same shape (`schemas/labelset.schema.json`).

use crate::error::{Error, Result};
use crate::model::{Category, CategoryId, JsonMap, Rgb};
use serde::Deserialize;
use std::path::Path;

const FOUR: &str = include_str!("../schemas/labelsets/4class.json");
const SEVEN: &str = include_str!("../schemas/labelsets/7class.json");

/// One class of a label set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelClass {
    /// Class id (the index-mask value).
    pub id: CategoryId,
    /// Class name.
    pub name: String,
    /// COCO supercategory.
    pub supercategory: String,
    /// Mask colour.
    pub color: Rgb,
}

/// A named, ordered list of classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSet {
    /// Label set name (`4class`, `7class`, or the file's).
    pub name: String,
    /// Colour of unannotated pixels in colour masks.
    pub background: Rgb,
    /// The classes, in id order.
    pub classes: Vec<LabelClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClass {
    id: u64,
    name: String,
    #[serde(default)]
    supercategory: String,
    color: [u8; 3],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSet {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: String,
    #[serde(default)]
    background: Option<[u8; 3]>,
    classes: Vec<FileClass>,
}

impl LabelSet {
    /// The published 4-class set.
    pub fn four_class() -> LabelSet {
        Self::parse(FOUR, Path::new("schemas/labelsets/4class.json")).unwrap_or_else(|e| {
            // The file is compiled in and covered by tests; reaching this is a build defect.
            panic!("built-in 4-class label set is invalid: {e}")
        })
    }

    /// The published 7-class set.
    pub fn seven_class() -> LabelSet {
        Self::parse(SEVEN, Path::new("schemas/labelsets/7class.json"))
            .unwrap_or_else(|e| panic!("built-in 7-class label set is invalid: {e}"))
    }

    /// `4`, `7`, or a path to a label-set JSON file.
    pub fn resolve(spec: &str) -> Result<LabelSet> {
        match spec {
            "4" => Ok(Self::four_class()),
            "7" => Ok(Self::seven_class()),
            path => Self::load(Path::new(path)),
        }
    }

    /// Reads a label set JSON file.
    pub fn load(path: &Path) -> Result<LabelSet> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses label set JSON; errors name `path` with line and column.
    pub fn parse(text: &str, path: &Path) -> Result<LabelSet> {
        let f: FileSet = serde_json::from_str(text)
            .map_err(|e| Error::parse(path, e.line() as u32, e.column() as u32, e.to_string()))?;
        if f.classes.is_empty() {
            return Err(Error::invalid(path, "a label set needs at least one class"));
        }
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_names = std::collections::HashSet::new();
        for c in &f.classes {
            if c.id == 0 || c.id > 255 {
                return Err(Error::invalid(
                    path,
                    format!("class {:?}: id must be 1..=255 (0 is background)", c.name),
                ));
            }
            if !seen_ids.insert(c.id) {
                return Err(Error::invalid(
                    path,
                    format!("class id {} appears twice", c.id),
                ));
            }
            if !seen_names.insert(c.name.as_str()) {
                return Err(Error::invalid(
                    path,
                    format!("class name {:?} appears twice", c.name),
                ));
            }
        }
        Ok(LabelSet {
            name: f.name,
            background: Rgb(f.background.unwrap_or([0, 0, 0])),
            classes: f
                .classes
                .into_iter()
                .map(|c| LabelClass {
                    id: CategoryId(c.id),
                    name: c.name,
                    supercategory: c.supercategory,
                    color: Rgb(c.color),
                })
                .collect(),
        })
    }

    /// The class with this name, if any.
    pub fn by_name(&self, name: &str) -> Option<&LabelClass> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// Names compared without case, spacing or punctuation differences
    /// ("Non-specific primary granules" = "non specific  Primary-Granules").
    pub(crate) fn by_loose_name(&self, name: &str) -> Option<&LabelClass> {
        let key = loose(name);
        self.classes.iter().find(|c| loose(&c.name) == key)
    }

    /// The class with this id, if any.
    pub fn by_id(&self, id: CategoryId) -> Option<&LabelClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    /// The set as dataset categories.
    pub fn categories(&self) -> Vec<Category> {
        self.classes
            .iter()
            .map(|c| Category {
                id: c.id,
                name: c.name.clone(),
                supercategory: c.supercategory.clone(),
                color: Some(c.color),
                kind: Some("ellipse".into()),
                attributes: Vec::new(),
                coco_extra: JsonMap::new(),
            })
            .collect()
    }

    /// The label set a dataset's masks should use: `spec` (`4`, `7` or a file) when given,
    /// else the built-in set that has every category name of the dataset, else one made from
    /// the dataset's own categories (their colours, or a fixed palette).
    pub fn for_dataset(categories: &[Category], spec: Option<&str>) -> Result<LabelSet> {
        if let Some(spec) = spec {
            return Self::resolve(spec);
        }
        let names: Vec<&str> = categories.iter().map(|c| c.name.as_str()).collect();
        for set in [Self::four_class(), Self::seven_class()] {
            if !names.is_empty() && set.matches(&names) == names.len() {
                return Ok(set);
            }
        }
        Ok(Self::from_categories(categories))
    }

    /// A label set from dataset categories, ids renumbered 1.. in order (index-mask values
    /// must fit 1..=255).
    pub(crate) fn from_categories(categories: &[Category]) -> LabelSet {
        LabelSet {
            name: "from the dataset".into(),
            background: Rgb([0, 0, 0]),
            classes: categories
                .iter()
                .take(255)
                .enumerate()
                .map(|(i, c)| LabelClass {
                    id: CategoryId(i as u64 + 1),
                    name: c.name.clone(),
                    supercategory: c.supercategory.clone(),
                    color: c.color.unwrap_or(palette_color(i)),
                })
                .collect(),
        }
    }

    /// How many of `names` this set contains exactly.
    pub fn matches(&self, names: &[&str]) -> usize {
        names.iter().filter(|n| self.by_name(n).is_some()).count()
    }
}

/// Deterministic colours for classes that declare none: the 20 "distinct colours", whose
/// first entries are the TEM-NeutroStruct class colours. One table for every writer (CVAT
/// labels, masks, VOC), so a class gets the same colour in each.
pub(crate) const PALETTE: [[u8; 3]; 20] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 190],
    [0, 128, 128],
    [230, 190, 255],
    [170, 110, 40],
    [255, 250, 200],
    [128, 0, 0],
    [170, 255, 195],
    [128, 128, 0],
    [255, 215, 180],
    [0, 0, 128],
    [128, 128, 128],
];

/// The colour of the `i`-th class without one: [`PALETTE`], then past it a fixed integer
/// hash of the index (never random, so every run agrees).
pub(crate) fn palette_color(i: usize) -> Rgb {
    if let Some(c) = PALETTE.get(i) {
        return Rgb(*c);
    }
    let h = (i as u32).wrapping_mul(2_654_435_761);
    Rgb([(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8])
}

/// Lower-case alphanumerics only.
pub(crate) fn loose(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_sets_match_the_design_tables() {
        let four = LabelSet::four_class();
        assert_eq!(four.classes.len(), 4);
        assert_eq!(
            four.by_name("Emptying vesicles").map(|c| c.color),
            Some(Rgb([145, 30, 180]))
        );
        let seven = LabelSet::seven_class();
        assert_eq!(seven.classes.len(), 7);
        assert_eq!(
            seven.by_id(CategoryId(7)).map(|c| c.name.as_str()),
            Some("Vacuoles")
        );
        assert_eq!(
            seven.by_id(CategoryId(3)).map(|c| c.color),
            Some(Rgb([255, 225, 25]))
        );
        assert!(seven
            .classes
            .iter()
            .all(|c| c.supercategory == "granule/vesicle"));
        assert_eq!(
            seven
                .by_loose_name("non specific  Primary-Granules")
                .map(|c| c.id),
            Some(CategoryId(2))
        );
    }

    #[test]
    fn rejects_duplicate_ids_and_background_id() {
        let dup = r#"{"name":"x","classes":[{"id":1,"name":"a","color":[1,2,3]},{"id":1,"name":"b","color":[1,2,3]}]}"#;
        assert!(LabelSet::parse(dup, Path::new("x.json")).is_err());
        let zero = r#"{"name":"x","classes":[{"id":0,"name":"a","color":[1,2,3]}]}"#;
        assert!(LabelSet::parse(zero, Path::new("x.json")).is_err());
        let bad = r#"{"name":"x","classes":[{"id":1,"name":"a","color":[1,2]}]}"#;
        let err = LabelSet::parse(bad, Path::new("x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.json:1:"), "{err}");
    }
}
