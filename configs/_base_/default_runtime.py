# Runtime shared by every config: loads the plugin, mmseg scope, logging, vocabulary check.
default_scope = 'mmseg'
custom_imports = dict(
    imports=['maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation', 'maskclip.models'],
    allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# stops evaluation at once when the model's classes do not match the dataset's labels
custom_hooks = [dict(type='ClassVocabularyCheckHook')]
tta_model = dict(type='SegTTAModel')
