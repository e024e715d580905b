"""Regenerate tests/data/vit_modes_regression.pt: what the ViT encoder's ``maskclip`` and
``baseline`` modes return on fixed inputs, with the weights that produced it.

    python .dev_scripts/generate_regression_tensors.py

tests/test_models/test_last_block_modes.py compares the encoder with these tensors, so a change
of the two original modes' outputs (e.g. while adding a new mode) fails the suite. Run this only
when such a change is intended, and say why in the commit. The tiny random ViT's weights are
stored too, so the test does not depend on how open_clip or torch initialise a model; weights
and images are rounded to float16 (and used as float32), which halves the file.
"""
import os.path as osp

import torch

from maskclip.models import MaskClipViT
from maskclip.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OUT = osp.join(ROOT, 'tests', 'data', 'vit_modes_regression.pt')
MODEL = 'tiny-ViT-16-test'
#: (input size, keys_through_out_proj): the native grid, a non-square grid, a size that is not a
#: multiple of the patch size
CASES = [((224, 224), False), ((48, 80), True), ((100, 230), False)]
FIELDS = ('dense', 'keys', 'global_embedding', 'pos_embed')


@torch.no_grad()
def main():
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    encoders = {mode: MaskClipViT(dict(model_name=MODEL, pretrained=None), mode=mode)
                for mode in ('maskclip', 'baseline')}
    weights = {k: v.half() for k, v in encoders['maskclip'].visual.state_dict().items()}
    for encoder in encoders.values():
        encoder.visual.load_state_dict({k: v.float() for k, v in weights.items()})
    generator = torch.Generator().manual_seed(1)
    cases = []
    for size, keys_through_out_proj in CASES:
        images = torch.randn(1, 3, *size, generator=generator).half()
        outputs = {}
        for mode, encoder in encoders.items():
            encoder.keys_through_out_proj = keys_through_out_proj
            out = encoder(images.float())
            outputs[mode] = {field: getattr(out, field).clone() for field in FIELDS}
        cases.append(dict(images=images, keys_through_out_proj=keys_through_out_proj,
                          outputs=outputs))
    torch.save(dict(model_name=MODEL, visual=weights, cases=cases), OUT)
    print(f'wrote {OUT} ({len(cases)} inputs x {len(encoders)} modes)')


if __name__ == '__main__':
    main()
