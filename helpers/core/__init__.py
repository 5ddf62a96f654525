"""The ground floor: settings and profiles, atomic files, the run directory, the
neighbour graph, random views of an image, and where per-image work runs (the engine).
Nothing here knows about images' meaning, the model or labels."""
