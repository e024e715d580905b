# ReCLIP rectification stage as the authors' released code, dogehhh/ReCLIP@99b64d7 (the last
# commit before the ReCLIP++ refactor d2bf59c; its ReCLIP code is byte-identical to 04c806c).
# Each setting and its file / line: docs/reproduction.md. Over the paper's base:
#   ImageNet mean/std (every 99b64d7 config; HEAD's CLIP statistics came with ReCLIP++),
#   exact GELU, LayerNorm eps 1e-6 in the blocks only, input padded to whole patches,
#   Reference prompt from token id 0 with their three name slots, W_r / its Frobenius norm,
#   one PE map per class with a final ReLU and their BN init, Eq. 5 as their loss,
#   class existence with >= (train from the cache: tools/cache_class_existence.py),
#   test-time PD on softmax(100 M) without keeping a class on purpose.
_base_ = ['./reclip-rectification_vit-b16.py']
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(mlp_act='gelu', ln_eps=1e-6, ln_eps_scope='blocks', patch_padding='corner'),
    decode_head=dict(
        reference_init=0,
        reference_name_layout='authors',
        reference_norm='matrix',
        contrastive_rule='authors',
        positional_final_relu=True,
        positional_zero_init=False,
        existence_inclusive=True,
        prompt_denoising=True,
        pd_scale=100.0,
        pd_keep_top_class=False))
