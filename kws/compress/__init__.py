"""Compression: quantization-aware training (qat.py) and pruning (prune.py)."""
