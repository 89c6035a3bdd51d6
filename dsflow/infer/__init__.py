"""nvinfer semantics: config files, preprocessing, engines, output parsing and clustering."""
