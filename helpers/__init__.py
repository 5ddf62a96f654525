"""Thin library behind the image-labeling workbook.

Modules, bottom to top: ``config``, ``data``, ``ssim`` -> ``model``, ``cluster``,
``matching``, ``artifacts`` -> ``plots``, ``widgets``.  Import what you need from the
module itself (``from helpers.ssim import pairwise_ssim``); importing ``helpers`` alone
loads nothing heavy.
"""

__version__ = "0.1.0"
