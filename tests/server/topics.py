"""Thirty unrelated subjects: documents about them are easy to tell apart."""

TOPICS = (
    "volcanoes", "violins", "tax law", "honeybees", "submarines", "chess openings",
    "sourdough bread", "glaciers", "cricket", "quantum computing", "origami", "desert foxes",
    "jazz drumming", "medieval castles", "coral reefs", "electric cars", "tea ceremonies", "black holes",
    "knitting", "marathon training", "wine tasting", "tornadoes", "bonsai trees", "railway history",
    "sign language", "beekeeping law", "solar panels", "opera singers", "mountain goats", "cheese making",
)  # fmt: skip
