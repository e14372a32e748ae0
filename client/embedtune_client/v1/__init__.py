"""Generated from proto/embedtune/v1 by proto/generate.py: do not edit."""
