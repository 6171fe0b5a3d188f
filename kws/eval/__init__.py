"""Evaluation: metrics as pure functions (tested on hand-computed cases), on-device evaluation, reports."""
