"""Moved: the dataset is kws.data.index (layouts, recipe, splits), kws.data.clips (decoded, cached clip banks)
and kws.data.stats (`kws data stats`). What remains are re-exports for modules being rewritten right now;
import from the new homes, and delete this file with its last re-export.
"""

# re-exported for kws.cli and kws.eval.report, remove when they import from kws.data.stats
from kws.data.stats import dataset_stats, print_stats
# re-exported for kws.eval.stream and kws.eval.device_eval, remove when they import from kws.data.clips
from kws.data.clips import ClipBank, load_background_noise, load_clips
# re-exported for kws.eval.stream and kws.eval.device_eval, remove when they import from kws.data.index
from kws.data.index import Example, build_splits

__all__ = ["ClipBank", "Example", "build_splits", "dataset_stats", "load_background_noise", "load_clips", "print_stats"]
