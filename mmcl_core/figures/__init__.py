"""Figure saving and the drawing functions of the notebooks (drawing only, no math), one module per paper.

:func:`savefig` writes PNG and PDF only when a figure directory is set (argument,
:func:`set_figure_dir`, or the ``MMCL_FIG_DIR`` environment variable that ``mmcl
reproduce`` sets), so interactive use never litters files and batch runs always produce
them. Metadata that would change from run to run (dates, software versions, SVG ids) is
removed: the same figure gives the same bytes.
"""

from . import common, huang2024, nakada2023, save, start_here, synthesis, xue2024, zhang2023
from .common import *  # noqa: F403
from .huang2024 import *  # noqa: F403
from .nakada2023 import *  # noqa: F403
from .save import *  # noqa: F403
from .start_here import *  # noqa: F403
from .synthesis import *  # noqa: F403
from .xue2024 import *  # noqa: F403
from .zhang2023 import *  # noqa: F403

__all__ = [*save.__all__, *common.__all__, *start_here.__all__, *zhang2023.__all__, *nakada2023.__all__,
           *xue2024.__all__, *huang2024.__all__, *synthesis.__all__]
