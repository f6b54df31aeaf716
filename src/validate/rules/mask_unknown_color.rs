//! `mask-unknown-color` (NS019).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports a mask with pixels whose colour is neither the background nor the colour of a
    /// class (the file's declared colours, else the label set's). The message gives the count
    /// of such pixels and the five most frequent colours.
    ///
    /// ## Why it matters
    /// Colour masks are read back by exact colour: anti-aliased edges, a JPEG round trip or a
    /// class drawn in a colour of another label set turn into pixels no class claims, and
    /// silently become background.
    ///
    /// ## Example
    /// A mask saved through JPEG has `#e3197a` next to `#e6194b`. Reported:
    /// `412 pixels have colours outside the label set: #e3197a (300), #e41a4c (112)`.
    pub(crate) struct MaskUnknownColor {
        code: "NS019",
        name: "mask-unknown-color",
        severity: Error,
        summary: "A mask has pixels of a colour no class uses.",
    }
}

impl Validation for MaskUnknownColor {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn uses(&self) -> Shared {
        Shared {
            masks: true,
            ..Shared::default()
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for m in ctx.mask_analyses() {
            let Some(p) = &m.path else { continue };
            if m.unknown_total == 0 {
                continue;
            }
            let im = &ctx.inputs.datasets[m.dataset].dataset.images[m.image];
            let list: Vec<String> = m
                .unknown
                .iter()
                .map(|(c, n)| format!("{} ({n})", c.to_hex()))
                .collect();
            out.push(
                Finding::new(
                    &Self::META,
                    ctx.inputs.display_path(p),
                    format!(
                        "{} pixels have colours outside the label set: {}",
                        m.unknown_total,
                        list.join(", ")
                    ),
                )
                .image(&im.file_name),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::shared::mask_analysis::fixture;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = fixture::good_mask();
        m.put_pixel(0, 0, image::Rgb([227, 25, 122]));
        m.put_pixel(1, 0, image::Rgb([227, 25, 122]));
        m.put_pixel(19, 9, image::Rgb([1, 1, 1]));
        fixture::write(dir.path(), "a.png", &m);
        let f = run(&MaskUnknownColor, &fixture::inputs(dir.path()));
        assert_eq!(f.len(), 1);
        snap!("mask_unknown_color__trigger", f);
    }

    #[test]
    fn clean() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), "a.png", &fixture::good_mask());
        snap!(
            "mask_unknown_color__clean",
            run(&MaskUnknownColor, &fixture::inputs(dir.path()))
        );
    }
}
