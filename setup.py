"""MaskCLIP / ReCLIP on MMSegmentation 1.x (see README.md)."""
from setuptools import find_packages, setup


def requirements(path='requirements/runtime.txt'):
    with open(path, encoding='utf-8') as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


setup(
    name='maskclip-mmseg',
    version='0.1.0',
    description='Annotation-free CLIP semantic segmentation (MaskCLIP, MaskCLIP+, ReCLIP) on '
                'MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['maskclip', 'maskclip.*', 'reclip', 'reclip.*']),
    package_data={'maskclip': ['text/class_names/*.txt', 'clip/model_configs/*.json']},
    install_requires=requirements(),
    extras_require={'tests': requirements('requirements/tests.txt')},
    license='Apache-2.0',
)
