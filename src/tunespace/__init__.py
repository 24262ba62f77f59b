"""tunespace: music audio embeddings trained by contrastive learning with chosen data
augmentation, and the neighbourhood analysis that tells which musical properties they keep.

Data flows: audio -> corpus/datasets -> features -> augment -> pairs -> models -> losses ->
train -> embed -> neighbours -> locality / probes -> study -> cli.
"""

__version__ = "0.1.0"
