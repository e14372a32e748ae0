"""Experiments users run on their own machine and models (`embedtune bench ...`)."""
