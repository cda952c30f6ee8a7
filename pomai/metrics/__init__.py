"""Image-fusion quality metrics with the conventions of the field's MATLAB evaluation suite.

All functions take numpy uint8 images, grey (H, W) or RGB (H, W, 3) (converted with MATLAB
``rgb2gray``), and return Python floats. ``compute_all(fused, ir, vis)`` gives every metric of
:data:`METRIC_NAMES` at once. Definitions, conventions and how they were verified:
``docs/metrics.md``.
"""

from .evaluate import METRIC_NAMES, compute_all
from .grey import RGB2GRAY_WEIGHTS, as_grey_uint8, read_grey, rgb2gray
from .information import entropy, mutual_information, mutual_information_pair
from .qabf import qabf
from .scd import corr2, scd
from .ssim import ssim, ssim_pair
from .statistics import average_gradient, spatial_frequency, standard_deviation
from .vif import vif, vifp_mscale

__all__ = [
    "METRIC_NAMES",
    "RGB2GRAY_WEIGHTS",
    "as_grey_uint8",
    "average_gradient",
    "compute_all",
    "corr2",
    "entropy",
    "mutual_information",
    "mutual_information_pair",
    "qabf",
    "read_grey",
    "rgb2gray",
    "scd",
    "spatial_frequency",
    "ssim",
    "ssim_pair",
    "standard_deviation",
    "vif",
    "vifp_mscale",
]
