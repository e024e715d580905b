from .cli import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args, apply_clip_weight_args,
                  check_clip_weights, clip_cfgs_of, exit_on_user_error, load_tool_cfg)
from .dist import init_cpu_process_group
from .setup_env import REGISTERING_MODULES, register_all_modules

__all__ = [
    'REGISTERING_MODULES', 'RANDOM_WEIGHTS_BANNER', 'add_clip_weight_args',
    'apply_clip_weight_args', 'check_clip_weights', 'clip_cfgs_of', 'exit_on_user_error',
    'init_cpu_process_group', 'load_tool_cfg', 'register_all_modules'
]
