//! Dividing COCO and CVAT together gives the same 7-class label to every shape in both files,
//! for random datasets read back through the real readers (COCO as CVAT exports it).

use neutrostruct::division::{self, Rules, ScaleTable};
use neutrostruct::synth::{self, SynthConfig};
use neutrostruct::{coco, cvat};
use proptest::prelude::*;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn coco_and_cvat_get_the_same_labels(seed in 0u64..10_000, images in 1usize..4, per_image in 5usize..60) {
        // The published image size keeps the published scale (~375 px/µm): at a fraction of
        // it the smallest granules are 2–3 px wide, and CVAT's whole-pixel rounding can then
        // move a box below the IoU 0.5 that DESIGN §2 matches with.
        let cfg = SynthConfig { images, seed, size: Some((4096, 4224)), per_image, write_images: false, ..SynthConfig::default() };
        let s = synth::generate(&cfg);
        let (xml, _) = cvat::to_string(&s.dataset, &Default::default());
        let json = synth::cvat_style_coco(&s.dataset);
        let (coco4, _) = coco::read_bytes(json.as_bytes(), Path::new("a.json"), &Default::default()).expect("COCO reads");
        let (cvat4, _) = cvat::read_bytes(xml.as_bytes(), Path::new("a.xml"), &Default::default()).expect("CVAT reads");
        let scale = ScaleTable::from_pairs(s.scale.iter().map(|(n, v)| (n.clone(), *v)));
        let div = division::reclassify(&coco4, &scale, &Rules::default_rules()).expect("divides");
        let (xml7, report) = division::update_cvat(xml.as_bytes(), &cvat4, &div).expect("updates");
        prop_assert!(report.is_ok(), "{:?}", report.errors());
        let (cvat7, _) = cvat::read_bytes(&xml7, Path::new("b.xml"), &Default::default()).expect("reads back");
        // synth writes both files in the same order, so shapes pair up by position.
        prop_assert_eq!(cvat7.annotations.len(), div.dataset.annotations.len());
        for (c, k) in cvat7.annotations.iter().zip(&div.dataset.annotations) {
            let cvat_label = &cvat7.category(c.category_id).expect("declared").name;
            let coco_label = &div.dataset.category(k.category_id).expect("declared").name;
            prop_assert_eq!(cvat_label, coco_label);
        }
    }
}
